"""One alert, declared once: its rule for each service, its promtool test data and its runbook.

The model is the monitoring mixins (kubernetes-monitoring/kubernetes-mixin, ``alerts/*.libsonnet``
and ``runbook.md``): each alert is one record, and the rules file, the PrometheusRule, the promtool
unit tests, the runbook page and the READMEs' alert tables are rendered from it, so a name, a
threshold or a query lives in exactly one place.

An :class:`AlertRecord` holds what is the same wherever the alert applies (name, concern, severity,
``for:``, the pending check, the runbook's sections) and a builder that writes the :class:`Rule` for
one service, or for the system (the broker, the exporter): expression, annotations and a firing and
a quiet :class:`Case`. :meth:`AlertRecord.alerts` joins them into :class:`Alert`, one alerting rule
as the files show it. Runbook sections are static lines where the text never changes, and functions
of :class:`Covered` (the kit and the rules the page covers) where they name the system's services,
schemas and limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from critterops.generate.context import KitContext
from critterops.model import Service

CONCERNS: Final = ("projections", "messaging", "nodes", "sagas", "rabbitmq", "http", "exporter")
"""The rule groups, in the order the files list them."""


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
class Rule:
    """What an alert's rule says for one service (or the broker, or the exporter)."""

    service: str  # the service, or the infrastructure piece (rabbitmq, critterops-exporter)
    expr: str
    summary: str
    description: str
    firing: Case
    quiet: Case
    for_: str | None = None  # None: the record's
    subject: str = ""  # what the rule covers beyond the service (e.g. "Order 15d")
    schema: str | None = None
    database: str | None = None
    labels: tuple[tuple[str, str], ...] = ()  # rule labels beyond severity and service
    scope: tuple[str, ...] = ()  # what the selector is limited to, when not just the service


@dataclass(frozen=True, slots=True)
class Alert:
    """One alerting rule as the files show it. Several rules share a name (one per service, or per
    saga-state limit)."""

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


@dataclass(frozen=True, slots=True)
class Covered:
    """What one runbook page covers: the kit, the alert's rules and the services they watch."""

    ctx: KitContext
    rules: tuple[Alert, ...]
    services: tuple[Service, ...]  # the system's services among the rules' (not the broker or the exporter)

    @classmethod
    def of(cls, ctx: KitContext, rules: list[Alert]) -> Covered:
        seen: dict[str, Service] = {}
        for rule in rules:
            service = ctx.system.service(rule.service)
            if service is not None and service.name not in seen:
                seen[service.name] = service
        return cls(ctx, tuple(rules), tuple(seen.values()))

    @property
    def owners(self) -> str:
        """Who to escalate to: the teams of the services' bounded contexts, when discovery knows them."""
        contexts = sorted({s.bounded_context for s in self.services if s.bounded_context})
        if not contexts:
            return "the team that owns the service"
        return "the team owning the " + ", ".join(contexts) + " bounded context" + ("s" if len(contexts) > 1 else "")


Lines = tuple[str, ...] | Callable[[Covered], list[str]]
"""A runbook section: Markdown lines as written, or written for the services a page covers."""
Text = str | Callable[[Covered], str]


def lines(section: Lines, covered: Covered) -> list[str]:
    return list(section) if isinstance(section, tuple) else section(covered)


def text(section: Text, covered: Covered) -> str:
    return section if isinstance(section, str) else section(covered)


@dataclass(frozen=True, slots=True, kw_only=True)
class Runbook:
    """The sections of an alert's runbook page, written for the person paged at 3 am."""

    meaning: Text  # what the alert means: the page's opening, and the runbook index's summary
    symptoms: Lines
    impact: Lines
    diagnosis: Lines  # how to check: PromQL, SQL against the service's own tables, kubectl
    remediation: Lines  # what to do
    rollback: Lines
    escalation: Lines


ServiceRules = Callable[[KitContext, Service], list[Rule]]
SystemRules = Callable[[KitContext], list[Rule]]


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRecord:
    """One alert: everything the rules file, the promtool tests and the runbook say about it.

    Exactly one builder is given. ``per_service`` writes the rules for one service (none when the
    alert does not apply to it, several for per-state saga limits); ``per_system`` writes the rules
    about the system's shared pieces (the broker, the exporter).
    """

    name: str
    concern: str  # one of CONCERNS: the rule group
    severity: str  # critical | warning
    for_: str  # a rule may give its own (saga limits of hours or days wait longer)
    pending_at: str  # in the firing case, a time at which the rule is pending, not firing yet
    runbook: Runbook
    per_service: ServiceRules | None = None
    per_system: SystemRules | None = None

    def __post_init__(self) -> None:
        if self.concern not in CONCERNS:
            raise ValueError(f"{self.name}: concern {self.concern!r} is not one of {CONCERNS}")
        if (self.per_service is None) == (self.per_system is None):
            raise ValueError(f"{self.name}: give exactly one of per_service and per_system")

    def alerts(self, ctx: KitContext, rules: list[Rule]) -> list[Alert]:
        """The rules as alerting rules of this alert, linked to its runbook."""
        return [
            Alert(
                self.name,
                self.concern,
                rule.service,
                self.severity,
                rule.expr,
                rule.for_ or self.for_,
                rule.summary,
                rule.description,
                runbook_url(ctx, self.name),
                rule.firing,
                rule.quiet,
                pending_at=self.pending_at,
                subject=rule.subject,
                schema=rule.schema,
                database=rule.database,
                labels=rule.labels,
                scope=rule.scope,
            )
            for rule in rules
        ]


def runbook_url(ctx: KitContext, name: str) -> str:
    """Where the alert's ``runbook_url`` annotation points: the page under the context's base."""
    return f"{ctx.runbook_base_url.rstrip('/')}/{name}.md"
