"""``critterops review``: Critter-aware findings over a repository and its infrastructure files.

Rules (one per module under :mod:`critterops.review.rules`, each with its labelled cases) run over the
discovered system and the repository's files; hadolint, zizmor, actionlint and checkov are folded in
when installed. Findings can be accepted inline or through a fingerprinted baseline, and rendered as
text, JSON, markdown or SARIF 2.1.0 for GitHub code scanning.
"""

from __future__ import annotations

from critterops.review.engine import review
from critterops.review.model import Finding, ReviewReport, Rule, ToolRun
from critterops.review.rules import RULES, RULES_BY_ID

__all__ = ["RULES", "RULES_BY_ID", "Finding", "ReviewReport", "Rule", "ToolRun", "review"]
