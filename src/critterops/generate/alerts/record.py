"""An alerting rule and its promtool test data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

CONCERNS: Final = ("projections", "messaging", "nodes", "sagas", "rabbitmq", "http", "exporter")


@dataclass(frozen=True, slots=True)
class Sample:
    """One promtool input series: ``metric{labels}`` and its values in expanding notation."""

    series: str
    values: str


@dataclass(frozen=True, slots=True)
class Case:
    """Input for one promtool test; ``labels``/``value`` describe the alert expected at ``at``
    (``value`` None: no alert expected)."""

    samples: tuple[Sample, ...]
    at: str
    labels: tuple[tuple[str, str], ...] = ()
    value: float | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    """One alerting rule. Several rules share a name (one per service, or per saga-state limit)."""

    name: str
    concern: str  # one of CONCERNS: the rule group
    service: str  # the service, or the infrastructure piece (rabbitmq, critterops-exporter)
    severity: str  # critical | warning
    expr: str
    for_: str
    summary: str
    description: str
    runbook_url: str
    firing: Case
    quiet: Case
    pending_at: str | None = None  # in the firing case, a time at which the rule is pending, not firing
    subject: str = ""  # what the rule covers, for the runbooks (e.g. "states Shipped: 15d")
    schema: str | None = None
    database: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # rule labels beyond severity and service
    scope: tuple[str, ...] = ()  # what the selector is limited to, when not just the service

    def keys(self) -> tuple[str, ...]:
        """Values that keep this rule's test data from firing another rule of the same name."""
        return self.scope or (f"{self.service} {self.subject}",)

    def rule_labels(self) -> dict[str, str]:
        return {"severity": self.severity, "service": self.service, **dict(self.labels)}

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr}
        if self.for_:
            rule["for"] = self.for_
        rule["labels"] = self.rule_labels()
        rule["annotations"] = {
            "summary": self.summary,
            "description": self.description,
            "runbook_url": self.runbook_url,
        }
        return rule
