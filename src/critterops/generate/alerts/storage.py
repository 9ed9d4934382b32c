"""Wolverine's durable storage in PostgreSQL: dead letters, outbox and inbox backlog, orphaned envelopes.

These apply to services whose Wolverine envelopes live in PostgreSQL (``durable_storage``); the
exporter reads ``{schema}.wolverine_dead_letters``, ``wolverine_outgoing_envelopes``,
``wolverine_incoming_envelopes`` and ``wolverine_nodes``. Rule group: ``messaging``.
"""

from __future__ import annotations

from typing import Final

from critterops import metrics as m
from critterops.generate.alerts.fixtures import FIXTURE_ENV, exporter_labels, items, sel
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import (
    dotnet_cli,
    heading,
    logs,
    queries,
    restart,
    roll_back,
    sh,
    sql,
    workload,
)
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, num, wrap
from critterops.generate.traits import rabbitmq_name
from critterops.model import Service
from critterops.model.storage import durable_storage, message_schema

DEAD_LETTER_LIMIT: Final = 100
BY_STORE = "by (environment, service, schema)"


def _store(service: Service) -> dict[str, str]:
    """The labels of the service's message store on the exporter's series."""
    return {**FIXTURE_ENV, "service": service.name, "schema": message_schema(service)}


def _of(service: str) -> str:
    return f'{{service="{service}"}}'


def _backlog(limit: float) -> tuple[str, str, float]:
    """Backlog series relative to the limit: above it and growing, above it and shrinking, and the
    growing series' value at the firing case's evaluation time (25m)."""
    step = max(limit / 20, 1)
    return f"{num(2 * limit)}+{num(step)}x40", f"{num(5 * limit)}-{num(step)}x40", 2 * limit + 25 * step


def _unowned(schema: str) -> str:
    return f" WHERE owner_id <> 0 AND owner_id NOT IN (SELECT node_number FROM {schema}.wolverine_nodes)"


# -- WolverineDeadLettersHigh -----------------------------------------------------------------------------------


def _dead_letters_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not durable_storage(service):
        return []
    name, schema, store, exp = service.name, message_schema(service), _store(service), exporter_labels()
    handled = service.wolverine.handled_messages if service.wolverine else ()
    message = handled[0] if handled else "PlaceOrder"
    dl = {**store, "message_type": message[:30], "exception_type": "TimeoutException"}
    dl2 = {**store, "message_type": message[:30], "exception_type": "PostgresException"}
    return [
        Rule(
            name,
            f"{agg(BY_STORE, m.DEAD_LETTERS + _of(name), 'sum')} > {DEAD_LETTER_LIMIT}",
            f"{name} has more than {DEAD_LETTER_LIMIT} dead letters",
            wrap(
                f"{{{{ $value | humanize }}}} messages are in {schema}.wolverine_dead_letters: they failed every "
                "retry and wait for someone to fix the cause and replay or discard them."
            ),
            Case(
                (Sample(sel(m.DEAD_LETTERS, dl, exp), "120x30"), Sample(sel(m.DEAD_LETTERS, dl2, exp), "30x30")),
                "10m",
                items(store),
                150,
            ),
            Case((Sample(sel(m.DEAD_LETTERS, dl, exp), "40x30"),), "10m"),
            schema=schema,
            database=service.database,
        )
    ]


def _dead_letters_diagnosis(covered: Covered) -> list[str]:
    dead, failed = covered.ctx.policy.metrics.dead_letters, covered.ctx.policy.metrics.handler_failed
    out: list[str] = []
    for service in covered.services:
        schema, job = message_schema(service), f'{{job="{service.name}"}}'
        out += [
            heading(service, schema),
            "",
            *sql(
                "SELECT message_type, exception_type, received_at, count(*),",
                "       min(sent_at) AS oldest, max(sent_at) AS newest",
                f"FROM {schema}.wolverine_dead_letters GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
                "",
                "SELECT id, message_type, exception_message, sent_at",
                f"FROM {schema}.wolverine_dead_letters ORDER BY sent_at DESC LIMIT 10;",
            ),
            *queries(
                f"sum by (message_type) (increase({dead}{job}[1h]))",
                f"topk(5, sum by (exception_type) (rate({failed}{job}[15m])))",
            ),
        ]
    return out


def _dead_letters_remediation(covered: Covered) -> list[str]:
    out = [
        "1. Find and fix the cause first (a failing dependency, a bad message, a bug). Replaying before that only "
        "fills the table again.",
        "2. Replay: the durability agent moves rows with `replayable = true` back to the inbox within seconds.",
        "3. Discard what must not run again, after keeping a copy.",
        "",
    ]
    for service in covered.services:
        schema = message_schema(service)
        out += [
            heading(service, schema),
            "",
            *sql(
                "-- keep a copy",
                f"\\copy (SELECT * FROM {schema}.wolverine_dead_letters)"
                f" TO 'dead-letters-{service.name}.csv' CSV HEADER",
                "-- replay one kind, once its cause is fixed",
                f"UPDATE {schema}.wolverine_dead_letters SET replayable = true",
                " WHERE message_type = '<message type>' AND exception_type = '<exception type>';",
                "-- discard",
                f"DELETE FROM {schema}.wolverine_dead_letters",
                " WHERE message_type = '<message type>' AND sent_at < '<time>';",
            ),
        ]
    return out


DEAD_LETTERS_HIGH = AlertRecord(
    name="WolverineDeadLettersHigh",
    concern="messaging",
    severity="warning",
    for_="5m",
    pending_at="2m",
    per_service=_dead_letters_rule,
    runbook=Runbook(
        meaning=f"More than {DEAD_LETTER_LIMIT} messages sit in `wolverine_dead_letters`: they failed every retry of "
        "their error policy.",
        symptoms=(
            "- Work that should have happened did not (orders not advanced, stock not reserved, emails not sent).",
            "- Errors with the same exception in the service's logs.",
        ),
        impact=(
            "- Each dead letter is a business action that did not happen; sagas waiting for them stay stuck.",
            "- Nothing is lost while the rows exist; they are replayable.",
        ),
        diagnosis=_dead_letters_diagnosis,
        remediation=_dead_letters_remediation,
        rollback=roll_back(
            "If a deploy started the failures, roll back, then replay: the old handler processes the replayed messages."
        ),
        escalation=lambda c: [
            "- Dead letters still growing after 30 minutes, or unsure whether a replay is safe (payments!): "
            f"{c.owners}.",
        ],
    ),
)


# -- WolverineOutboxBacklogGrowing ------------------------------------------------------------------------------


def _first_destination(service: Service) -> str | None:
    return next((p.to for p in service.publishes if p.transport == "rabbitmq" and p.kind == "queue"), None)


def _outbox_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not durable_storage(service):
        return []
    name, schema, store = service.name, message_schema(service), _store(service)
    thr = ctx.policy.thresholds_for(name).outbox_backlog
    outbox = ctx.policy.metrics.outbox_backlog
    growing, shrinking, grown = _backlog(thr)
    destination = {**store, "destination": "rabbitmq://queue/" + (_first_destination(service) or "outgoing")[:30]}
    return [
        Rule(
            name,
            f"{agg(BY_STORE, outbox + _of(name), 'sum')} > {num(thr)}\n"
            "and on (environment, service, schema)\n"
            f"{agg(BY_STORE, f'deriv({outbox}{_of(name)}[10m])', 'sum')} > 0",
            f"{name}'s outbox is growing",
            wrap(
                f"{{{{ $value | humanize }}}} envelopes wait in {schema}.wolverine_outgoing_envelopes "
                f"(limit {num(thr)}) and the number has grown for 10 minutes: messages this service sends are "
                "not leaving."
            ),
            Case((Sample(sel(outbox, destination, exporter_labels()), growing),), "25m", items(store), grown),
            Case((Sample(sel(outbox, destination, exporter_labels()), shrinking),), "25m"),
            schema=schema,
            database=service.database,
        )
    ]


def _outbox_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = message_schema(service)
        out += [
            heading(service, schema),
            "",
            *queries(f"sum by (destination) ({covered.ctx.policy.metrics.outbox_backlog}{_of(service.name)})"),
            *sql(
                "SELECT destination, owner_id, owner_id = 0 AS unowned, count(*), max(attempts) AS max_attempts",
                f"FROM {schema}.wolverine_outgoing_envelopes GROUP BY 1, 2 ORDER BY 4 DESC;",
                "",
                "-- owners that no longer exist",
                f"SELECT count(*) FROM {schema}.wolverine_outgoing_envelopes",
                _unowned(schema) + ";",
            ),
            *sh(logs(service.name, "BrokerUnreachable|RabbitMQ|Sending|circuit|Exception")),
        ]
    return out


def _outbox_remediation(covered: Covered) -> list[str]:
    broker = rabbitmq_name(covered.ctx.system)
    unreachable = (
        f"; see [RabbitMqDown](RabbitMqDown.md) and check `{broker}` credentials and address." if broker else "."
    )
    return [
        "- **Every destination**: the broker is unreachable from the service" + unreachable,
        "- **One destination**: the queue or exchange is missing or refuses messages (deleted queue, "
        "`x-max-length` reject, permissions). Recreate it (Wolverine's `AutoProvision` does on startup) and "
        "restart.",
        "- **Rows owned by a node that no longer exists**: release them so a live node sends them "
        "(see [WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md)).",
        "- **High `attempts`, sender circuit breaker open**: after fixing the cause, restart to reset the "
        "sending agents:",
        "",
        *sh(restart(covered.ctx, "$SVC")),
    ]


OUTBOX_BACKLOG_GROWING = AlertRecord(
    name="WolverineOutboxBacklogGrowing",
    concern="messaging",
    severity="warning",
    for_="10m",
    pending_at="5m",
    per_service=_outbox_rule,
    runbook=Runbook(
        meaning="The service's durable outbox (`wolverine_outgoing_envelopes`) holds more envelopes than the policy "
        "allows and the count has grown for 10 minutes: messages are stored but not leaving.",
        symptoms=(
            "- Downstream services stop receiving this service's messages; their queues run dry.",
            "- The rows group by one `destination` (a broken route) or by every destination (broker unreachable).",
        ),
        impact=(
            "- Everything downstream of the service is delayed; nothing is lost while the rows exist.",
            "- A blue/green switch of this service waits at the outbox-drained gate.",
        ),
        diagnosis=_outbox_diagnosis,
        remediation=_outbox_remediation,
        rollback=roll_back(
            "Only if a deploy changed routing (queue names, `PublishMessage<T>().To...`): the old version "
            "sends the stored envelopes to the old destinations."
        ),
        escalation=lambda c: [
            "- Broker problems: the platform on-call that runs RabbitMQ.",
            f"- Routing or code problems: {c.owners}.",
        ],
    ),
)


# -- WolverineInboxBacklogGrowing -------------------------------------------------------------------------------


def _inbox_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not durable_storage(service):
        return []
    name, schema, store, exp = service.name, message_schema(service), _store(service), exporter_labels()
    thr = ctx.policy.thresholds_for(name).outbox_backlog
    growing, _, grown = _backlog(thr)
    inbox = f'{m.INBOX_PENDING}{{service="{name}",status="Incoming"}}'
    incoming, scheduled = {**store, "status": "Incoming"}, {**store, "status": "Scheduled"}
    return [
        Rule(
            name,
            f"{agg(BY_STORE, inbox, 'sum')} > {num(thr)}\n"
            "and on (environment, service, schema)\n"
            f"{agg(BY_STORE, f'deriv({inbox}[10m])', 'sum')} > 0",
            f"{name}'s inbox is growing",
            wrap(
                f"{{{{ $value | humanize }}}} received envelopes wait for a handler in "
                f"{schema}.wolverine_incoming_envelopes (limit {num(thr)}) and the number has grown for 10 minutes: "
                "handlers are failing and retrying, or slower than the arrival rate."
            ),
            Case((Sample(sel(m.INBOX_PENDING, incoming, exp), growing),), "25m", items(store), grown),
            Case(
                (
                    Sample(sel(m.INBOX_PENDING, incoming, exp), "10x40"),
                    Sample(sel(m.INBOX_PENDING, scheduled, exp), growing),
                ),
                "25m",
            ),
            schema=schema,
            database=service.database,
        )
    ]


def _inbox_diagnosis(covered: Covered) -> list[str]:
    metrics = covered.ctx.policy.metrics
    time = f"{m.WOLVERINE_EXECUTION_TIME}_bucket"
    out: list[str] = []
    for service in covered.services:
        schema, job = message_schema(service), f'{{job="{service.name}"}}'
        out += [
            heading(service, schema),
            "",
            *sql(
                "SELECT message_type, received_at AS listener, owner_id, count(*), max(attempts) AS max_attempts",
                f"FROM {schema}.wolverine_incoming_envelopes WHERE status = 'Incoming'",
                "GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
            ),
            *queries(
                f"sum by (message_type) (rate({metrics.handler_succeeded}{job}[5m]))",
                f"sum by (message_type, exception_type) (rate({metrics.handler_failed}{job}[5m]))",
                f"histogram_quantile(0.95, sum by (le, message_type) (rate({time}{job}[5m])))",
            ),
        ]
    return out


INBOX_BACKLOG_GROWING = AlertRecord(
    name="WolverineInboxBacklogGrowing",
    concern="messaging",
    severity="warning",
    for_="10m",
    pending_at="5m",
    per_service=_inbox_rule,
    runbook=Runbook(
        meaning="Received messages (`status = 'Incoming'` in `wolverine_incoming_envelopes`) pile up and the count "
        "has grown for 10 minutes: handlers are slower than the arrival rate, or fail and retry.",
        symptoms=(
            "- Work arrives but completes late; sagas and downstream messages lag behind.",
            "- `max(attempts)` above 1 means retries; high execution time means slow handlers.",
        ),
        impact=("- Processing delay grows with the backlog; nothing is lost while the rows exist.",),
        diagnosis=_inbox_diagnosis,
        remediation=lambda c: [
            "- **Failures and retries**: treat as "
            "[WolverineHandlerFailureRateHigh](WolverineHandlerFailureRateHigh.md).",
            "- **Slow handlers** (execution time up): check the database (`pg_stat_activity`, locks) and the HTTP "
            "dependencies the handler calls.",
            "- **Healthy handlers, just more work**: scale out; durable local queues and listeners spread over nodes:",
            "",
            *sh(
                f"kubectl -n $NS scale {workload(c.ctx, '$SVC')} --replicas=6   # more than now; the leader rebalances"
            ),
            "- **Rows owned by a node that is gone** (`owner_id` not in `wolverine_nodes`): "
            "[WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md).",
        ],
        rollback=roll_back("Roll back if a deploy made a handler slow or failing."),
        escalation=lambda c: [f"- Backlog still growing 30 minutes after scaling: {c.owners}."],
    ),
)


# -- WolverineEnvelopesOrphaned ---------------------------------------------------------------------------------


def _orphaned_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not durable_storage(service):
        return []
    name, schema = service.name, message_schema(service)
    orphaned = {**_store(service), "table": "incoming"}
    return [
        Rule(
            name,
            f"{agg('sum by (environment, service, schema, table)', m.ENVELOPES_ORPHANED + _of(name))} > 0",
            f"{name} has envelopes owned by a node that no longer exists",
            wrap(
                f"{{{{ $value | humanize }}}} {{{{ $labels.table }}}} envelopes in schema {schema} belong to a node "
                "missing from wolverine_nodes; no node recovers them until their owner_id is reset to 0."
            ),
            Case(
                (Sample(sel(m.ENVELOPES_ORPHANED, orphaned, exporter_labels()), "12x30"),), "10m", items(orphaned), 12
            ),
            Case((Sample(sel(m.ENVELOPES_ORPHANED, orphaned, exporter_labels()), "0x30"),), "10m"),
            schema=schema,
            database=service.database,
        )
    ]


def _orphaned_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = message_schema(service)
        out += [
            heading(service, schema),
            "",
            *sql(
                "SELECT 'incoming' AS tbl, owner_id, status, count(*)",
                f"  FROM {schema}.wolverine_incoming_envelopes",
                _unowned(schema),
                " GROUP BY 1, 2, 3",
                "UNION ALL",
                "SELECT 'outgoing', owner_id, destination, count(*)",
                f"  FROM {schema}.wolverine_outgoing_envelopes",
                _unowned(schema),
                " GROUP BY 1, 2, 3;",
                "",
                f"SELECT node_number, description, started, health_check FROM {schema}.wolverine_nodes;",
                f"SELECT * FROM {schema}.wolverine_node_records ORDER BY timestamp DESC LIMIT 20;",
            ),
        ]
    return out


def _orphaned_remediation(covered: Covered) -> list[str]:
    out = [
        'Reset ownership to 0 ("any node"); the durability agent of a live node picks the rows up within seconds. '
        "This is what Wolverine does itself when it ejects a dead node, and is safe while nodes run.",
        "",
    ]
    for service in covered.services:
        schema = message_schema(service)
        out += [
            heading(service, schema),
            "",
            *sql(
                f"UPDATE {schema}.wolverine_incoming_envelopes SET owner_id = 0",
                _unowned(schema) + ";",
                f"UPDATE {schema}.wolverine_outgoing_envelopes SET owner_id = 0",
                _unowned(schema) + ";",
            ),
            "Or with Wolverine's own command (releases every envelope owned by a missing node):",
            "",
            *sh(dotnet_cli(service, "storage release")),
        ]
    return out


ENVELOPES_ORPHANED = AlertRecord(
    name="WolverineEnvelopesOrphaned",
    concern="messaging",
    severity="warning",
    for_="5m",
    pending_at="2m",
    per_service=_orphaned_rule,
    runbook=Runbook(
        meaning="Envelopes in the inbox or outbox belong to a node number that no longer exists in `wolverine_nodes`. "
        "Nobody processes or sends them until their `owner_id` goes back to 0.",
        symptoms=(
            "- Some messages never get handled or sent, although the service is healthy.",
            "- Usually after a crash, an OOM kill or a forced deletion of pods (normal shutdowns release their rows).",
        ),
        impact=("- The affected messages wait indefinitely; sagas waiting on them stay stuck.",),
        diagnosis=_orphaned_diagnosis,
        remediation=_orphaned_remediation,
        rollback=("No rollback needed: this is recovery of stored messages, independent of the deployed version.",),
        escalation=lambda c: [
            "- Rows come back after every restart: pods are killed before they release (raise "
            f"`terminationGracePeriodSeconds`, check OOM kills) — {c.owners}.",
        ],
    ),
)

RECORDS = (DEAD_LETTERS_HIGH, OUTBOX_BACKLOG_GROWING, INBOX_BACKLOG_GROWING, ENVELOPES_ORPHANED)
