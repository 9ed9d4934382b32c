"""Wolverine message handlers: the share of handling attempts that fail.

Applies to services where Wolverine handles messages; the counters come from Wolverine's meter over
OTLP (``wolverine-execution-failure``, ``wolverine-messages-succeeded``, see
:data:`critterops.metrics.INSTRUMENTS`), with names from the policy's ``metrics`` section.
Rule group: ``messaging``.
"""

from __future__ import annotations

from critterops.generate.alerts.fixtures import app_labels, items, sel, shares
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import heading, logs, queries, roll_back, sh
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, indent, num, percent, wrap
from critterops.generate.traits import handles_messages
from critterops.model import Service
from critterops.model.storage import durable_storage, message_schema


def _failure_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not handles_messages(service):
        return []
    name = service.name
    thr = ctx.policy.thresholds_for(name).handler_failure_rate
    failed, succeeded = ctx.policy.metrics.handler_failed, ctx.policy.metrics.handler_succeeded
    job = f'{{job="{name}"}}'
    message = (service.wolverine.handled_messages if service.wolverine else ()) or ("Message",)
    ok = {**app_labels(service), "message_type": message[0][:30]}
    bad = {**ok, "exception_type": "InvalidOperationException"}
    fire, calm = shares(thr)
    failures = agg("sum by (environment, job)", f"rate({failed}{job}[5m])")
    successes = agg("sum by (environment, job)", f"rate({succeeded}{job}[5m])")
    return [
        Rule(
            name,
            f"{failures}\n/\n(\n{indent(successes)}\n  +\n{indent(failures)}\n)\n> {num(thr)}",
            f"{name}: {{{{ $value | humanizePercentage }}}} of message handling attempts fail",
            wrap(
                f"{{{{ $value | humanizePercentage }}}} of Wolverine handler attempts in {name} failed over the last "
                f"5 minutes (limit {percent(thr)}). Retries hide this until messages start dead-lettering."
            ),
            Case(
                (Sample(sel(failed, bad), f"0+{fire}x40"), Sample(sel(succeeded, ok), f"0+{100 - fire}x40")),
                "20m",
                items(app_labels(service)),
                fire / 100,
            ),
            Case((Sample(sel(failed, bad), f"0+{calm}x40"), Sample(sel(succeeded, ok), f"0+{100 - calm}x40")), "20m"),
            schema=message_schema(service) if durable_storage(service) else None,
            database=service.database,
        )
    ]


def _failure_diagnosis(covered: Covered) -> list[str]:
    metrics = covered.ctx.policy.metrics
    out: list[str] = []
    for service in covered.services:
        job = f'{{job="{service.name}"}}'
        out += [
            heading(service),
            "",
            *queries(
                f"topk(10, sum by (message_type, exception_type) (rate({metrics.handler_failed}{job}[5m])))",
                f"sum by (message_type) (increase({metrics.dead_letters}{job}[30m]))",
            ),
            *sh(logs(service.name, "Exception|Failed|Error")),
        ]
    return out


FAILURE_RATE_HIGH = AlertRecord(
    name="WolverineHandlerFailureRateHigh",
    concern="messaging",
    severity="warning",
    for_="10m",
    pending_at="5m",
    per_service=_failure_rule,
    runbook=Runbook(
        meaning="A larger share of Wolverine handler attempts fail than the policy allows (retries included).",
        symptoms=(
            "- Exceptions in the logs for one message type (a bug or bad data) or for all (a dependency is down).",
            "- Inbox backlog and dead letters follow once retries are exhausted.",
        ),
        impact=(
            "- Messages are delayed by retries; after the last retry they are dead-lettered and the business action "
            "does not happen.",
        ),
        diagnosis=_failure_diagnosis,
        remediation=(
            "- **One message type, one exception**: a bug or a bad message. Roll back if a deploy introduced it; "
            "otherwise fix forward and replay the dead letters "
            "([WolverineDeadLettersHigh](WolverineDeadLettersHigh.md)).",
            "- **Every message type, connection or timeout exceptions**: a dependency is down (database, broker, an "
            "HTTP service). Fix the dependency; retries recover by themselves.",
            "- **Concurrency exceptions** (`ConcurrencyException`, `EventStreamUnexpectedMaxEventIdException`): "
            "contention on the same streams or sagas; they usually resolve with retries. If sustained, check "
            "whether two versions process the same messages during a rollout.",
        ),
        rollback=roll_back("Roll back when failures started with the deploy."),
        escalation=lambda c: [f"- Failures sustained 30 minutes: {c.owners}."],
    ),
)

RECORDS = (FAILURE_RATE_HIGH,)
