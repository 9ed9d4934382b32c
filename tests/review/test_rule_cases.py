"""Every rule's labelled cases (the data in each rule's module): a bad case reports exactly the expected
lines, a good case nothing. Rules that compare commits get a two-commit git repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from critterops.review import RULES, review
from critterops.review.model import Case, Rule
from tests.review.conftest import materialise

CASES = [pytest.param(rule, case, id=f"{rule.id}-{case.label}") for rule in RULES for case in rule.cases]


@pytest.mark.parametrize(("rule", "case"), CASES)
def test_case(tmp_path: Path, rule: Rule, case: Case) -> None:
    root = materialise(tmp_path / "repo", case)
    report = review(root, base="base" if rule.needs_base else None, tools={}, rules=(rule,))
    found = sorted((f.file, f.line) for f in report.findings if f.rule == rule.id)
    assert found == sorted(case.expect)


@pytest.mark.parametrize("rule", RULES, ids=[r.id for r in RULES])
def test_every_rule_has_a_bad_and_a_good_case(rule: Rule) -> None:
    assert any(c.expect for c in rule.cases), "no case shows the problem"
    assert any(not c.expect for c in rule.cases), "no case shows the fix"


def test_rules_that_compare_commits_do_not_run_without_base(tmp_path: Path) -> None:
    rule = next(r for r in RULES if r.needs_base)
    root = materialise(tmp_path / "repo", next(c for c in rule.cases if c.expect))
    report = review(root, tools={}, rules=(rule,))
    assert not report.findings
    assert report.rules_not_run == ((rule.id, "compares two commits: pass --base REF"),)
