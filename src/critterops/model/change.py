"""What a change does: rule findings, per-service risk, the affected set.

Produced by :mod:`critterops.change` from two versions of a repository; consumed by the planner
and the reports. Frozen data only.
"""

from __future__ import annotations

from dataclasses import dataclass

from critterops.model.system import Location, ScanWarning

RISK_SCHEMA = "critterops.risk/v1"

# Rule ids, in the order reports list them. Each finding names exactly one.
RULES = (
    "contract-breaking",
    "event-breaking",
    "saga-state-changed",
    "migration-destructive",
    "projection-changed",
    "wiring-changed",
    "service-added",
    "service-removed",
    "contract-additive",
    "event-additive",
    "migration-additive",
    "config-changed",
    "infra-changed",
    "code-changed",
    "no-deploy",
)


@dataclass(frozen=True, slots=True)
class TypeChange:
    """One difference in one type: ``member-removed``, ``type-moved-namespace``, ``member-added`` ..."""

    type: str  # full name at base (or head for new types)
    change: str
    member: str | None = None
    detail: str = ""
    breaking: bool = False
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    services: tuple[str, ...]
    detail: str
    files: tuple[Location, ...] = ()
    message_types: tuple[str, ...] = ()
    changes: tuple[TypeChange, ...] = ()
    # rule-specific facts the planner reads, e.g. ("mitigated", "true"), ("lifecycle", "Async")
    facts: tuple[tuple[str, str], ...] = ()

    def fact(self, key: str, default: str = "") -> str:
        return next((v for k, v in self.facts if k == key), default)


@dataclass(frozen=True, slots=True)
class Reason:
    text: str
    weight: float  # contribution to the score, for ordering
    rule: str | None = None  # rule id, or None for the statistical model
    locations: tuple[Location, ...] = ()


@dataclass(frozen=True, slots=True)
class ServiceRisk:
    """A service's level is the higher of two visible parts, never a blend of them.

    ``rule_level``: the most severe rule finding (deterministic). ``model_level``: the calibrated
    P(later fix) of the riskiest commit touching the service against the model's thresholds.
    ``score`` is that calibrated probability (0.0 when no commit of the service was scored).
    """

    service: str
    score: float
    level: str  # low | medium | high
    affected_by: tuple[str, ...]  # direct | reference | flow | new
    reasons: tuple[Reason, ...] = ()
    rules: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()  # commits in the range that touched the service's own files
    model_probability: float | None = None
    rule_level: str = "low"
    model_level: str | None = None  # None: no commit of the service was scored

    @property
    def basis(self) -> str:
        """Why the level is what it is, in words: ``rules high; model p 0.12 (low)``."""
        model = (
            f"model p {self.model_probability:.2f} ({self.model_level})" if self.model_probability is not None else ""
        )
        return "; ".join(part for part in (f"rules {self.rule_level}", model) if part)


@dataclass(frozen=True, slots=True)
class CommitRisk:
    sha: str
    subject: str
    probability: float
    top_terms: tuple[tuple[str, float, float], ...] = ()  # (feature, contribution, raw value)


@dataclass(frozen=True, slots=True)
class RangeRisk:
    """The model's view of a whole range without a quantity that grows with its number of commits:
    the highest calibrated p, and how many commits reach the ``high`` threshold."""

    max_probability: float
    commits: int
    above_high: int
    high_threshold: float


@dataclass(frozen=True, slots=True)
class AffectedTest:
    project: str
    kind: str
    services: tuple[str, ...]
    reason: str  # changed | covers-affected-service


@dataclass(frozen=True, slots=True)
class RiskReport:
    repository: str
    base: str  # the ref as given
    head: str
    base_commit: str  # the merge base actually compared
    head_commit: str
    commits: tuple[CommitRisk, ...]
    files_changed: int
    findings: tuple[Finding, ...]
    services: tuple[ServiceRisk, ...]
    tests: tuple[AffectedTest, ...]
    deploy: bool  # False when only docs or tests changed
    range_risk: RangeRisk | None  # None: no commit was scored
    warnings: tuple[ScanWarning, ...] = ()
    model: str | None = None  # provenance of the statistical model

    def service(self, name: str) -> ServiceRisk | None:
        return next((s for s in self.services if s.service == name), None)
