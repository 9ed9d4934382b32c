"""What a review is made of: rules, the findings they raise, and the runs of the external tools.

Frozen data only. A :class:`Rule` carries its own labelled good and bad cases (:class:`Case`), in the
spirit of sqlfluff's rule fixtures: the tests iterate over them, so a rule cannot exist without its
proof, and the documentation of a rule is the rule itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from critterops.review.context import ReviewContext

SEVERITIES: Final = ("note", "warning", "error")  # SARIF 2.1.0 result.level values, lowest first
CRITTEROPS: Final = "critterops"


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass(frozen=True, slots=True)
class Hit:
    """One place a rule's check found the problem; the rule adds id, why and fix."""

    file: str
    line: int
    message: str
    severity: str | None = None  # None: the rule's own severity
    # the text identifying the problem where the line's own text does not (a manifest's object name)
    anchor: str = ""


@dataclass(frozen=True, slots=True)
class Case:
    """A labelled repository for a rule: ``files`` written to a folder, ``expect`` the (file, line)
    pairs the rule must report there (empty for a good case). ``base`` (optional) is the repository's
    previous commit, for rules that compare two versions."""

    label: str
    files: dict[str, str]
    expect: tuple[tuple[str, int], ...] = ()
    base: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """A Critter-aware review rule. ``check`` takes the review context and yields hits."""

    id: str  # stable: CR101 ... (SARIF ruleId, suppressions and baselines refer to it)
    name: str  # kebab-case, stable too
    severity: str  # note | warning | error
    summary: str
    why: str
    fix: str
    check: Callable[[ReviewContext], Iterable[Hit]]
    cases: tuple[Case, ...] = ()
    needs_base: bool = False  # compares the repository with an earlier commit (--base)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str
    file: str  # POSIX, relative to the repository root ("" when not tied to a file)
    line: int
    message: str
    tool: str = CRITTEROPS
    why: str = ""
    fix: str = ""
    fingerprint: str = ""
    suppressed: str | None = None  # "inline: <reason>" or "baseline"
    help_uri: str = ""

    @property
    def location(self) -> str:
        if not self.file:
            return "(repository)"
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class ToolRun:
    """One external tool (or critterops itself): what it checked and why it may not have run."""

    tool: str
    version: str = ""
    status: str = "ran"  # ran | skipped | failed
    detail: str = ""  # why skipped or failed
    checked: int = 0  # files given to it
    rules: tuple[tuple[str, str], ...] = ()  # (id, short description) seen in its results


@dataclass(frozen=True, slots=True)
class ReviewReport:
    root: str
    findings: tuple[Finding, ...]
    runs: tuple[ToolRun, ...]
    warnings: tuple[str, ...] = ()
    rules_not_run: tuple[tuple[str, str], ...] = ()  # (rule id, reason)
    seconds: float = 0.0
    baseline_entries: int = 0
    repository: str = ""

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed is None)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(reversed(SEVERITIES), 0)
        for f in self.active:
            out[f.severity] = out.get(f.severity, 0) + 1
        return out


@dataclass(frozen=True, slots=True)
class Suppression:
    file: str
    line: int
    rules: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Baseline:
    repository: str
    fingerprints: frozenset[str] = field(default_factory=frozenset)
