"""Sagas stuck in a state longer than that state's limit.

Applies to sagas Marten stores (``mt_doc_<saga>``) whose state member discovery found. One rule per
limit: terminal states never alert, states that wait by design (a carrier, a return window, a
person) get long limits, the rest the default; :func:`critterops.model.sagas.saga_limits` decides,
and the exporter reports the age of the oldest saga in each state.
"""

from __future__ import annotations

from critterops import metrics as m
from critterops.generate.alerts.fixtures import FIXTURE_ENV, items, sel
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import heading, queries, roll_back, sql
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, alternation, none_of, num, wrap
from critterops.model import Saga, Service
from critterops.model.sagas import duration_seconds, saga_limits, saga_table
from critterops.model.storage import events_schema, message_schema


def watched_sagas(service: Service) -> list[Saga]:
    """The service's sagas the alert watches: stored by Marten, with a known state member."""
    return [saga for saga in service.sagas if service.marten is not None and saga.state_member]


def _rules(ctx: KitContext, service: Service) -> list[Rule]:
    return [rule for saga in watched_sagas(service) for rule in _saga_rules(ctx, service, saga)]


def _saga_rules(ctx: KitContext, service: Service, saga: Saga) -> list[Rule]:
    name = service.name
    limits, terminal, _ = saga_limits(ctx.system, saga)
    out: list[Rule] = []
    for limit in limits:
        limit_s = duration_seconds(limit.limit)
        for_ = "2m" if limit_s < 3600 else "15m"
        head = f'{m.SAGA_OLDEST_IN_STATE}{{service="{name}",saga="{saga.name}"'
        if limit.default:
            selector = head + none_of("state", limit.excluded, "    ") + "}" if limit.excluded else head + "}"
            example = limit.states[0] if limit.states else "InProgress"
            covers = "states that are neither terminal nor waiting by design"
        else:
            states = list(limit.states)
            one = len(states) == 1
            selector = head + (f',state="{states[0]}"' if one else f',state=~"{alternation(states)}"') + "}"
            example = limit.states[0]
            covers = "state " + limit.states[0] if len(limit.states) == 1 else "states " + ", ".join(limit.states)
        ids = {**FIXTURE_ENV, "service": name, "saga": saga.name, "state": example}
        stuck = limit_s + 600
        quiet = [Sample(sel(m.SAGA_OLDEST_IN_STATE, ids), f"{num(max(limit_s - 60, 0))}x30")]
        if limit.default and terminal:
            done = {**ids, "state": terminal[0]}
            quiet.append(Sample(sel(m.SAGA_OLDEST_IN_STATE, done), f"{num(limit_s * 100)}x30"))
        eval_at = "7m" if for_ == "2m" else "20m"
        out.append(
            Rule(
                name,
                f"{agg('max by (environment, service, saga, state)', selector)} > {num(limit_s)}",
                f"{saga.name} sagas in {name} stuck in {{{{ $labels.state }}}}",
                wrap(
                    f"The oldest {saga.name} saga in state {{{{ $labels.state }}}} has been there for "
                    f"{{{{ $value | humanizeDuration }}}} (limit {limit.limit} for {covers}): the message that moves "
                    "it on has not arrived or keeps failing."
                ),
                Case((Sample(sel(m.SAGA_OLDEST_IN_STATE, ids), f"{num(stuck)}x30"),), eval_at, items(ids), stuck),
                Case(tuple(quiet), eval_at),
                for_=for_,
                subject=f"{saga.name} {limit.limit}",
                labels=(("saga", saga.name), ("state_limit", limit.limit)),
                schema=events_schema(service),
                database=service.database,
            )
        )
    return out


def _table(service: Service, saga: Saga) -> str:
    return f"{events_schema(service)}.{saga_table(saga.name)}"


def _limits(covered: Covered) -> list[str]:
    """The limits of every saga the page covers, and where its state lives."""
    out: list[str] = []
    for service in covered.services:
        for saga in watched_sagas(service):
            limits, terminal, known = saga_limits(covered.ctx.system, saga)
            out += [
                f"**{service.name} / {saga.name}** (state in `data->>'{saga.state_member}'` of "
                f"`{_table(service, saga)}`; "
                + ("states from its enum" if known else "well-known state names: discovery did not give the enum")
                + "):",
                "",
            ]
            for limit in limits:
                named = ", ".join(f"`{s}`" for s in limit.states) or "every state not listed"
                if limit.default and not known:
                    named = "every state not listed"
                out.append(f"- {limit.limit}: {named}")
            out += ["- never: " + (", ".join(f"`{s}`" for s in terminal) or "(none)"), ""]
    return out


def _diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        for saga in watched_sagas(service):
            table, state, messages = _table(service, saga), saga.state_member, message_schema(service)
            which = f'{{service="{service.name}",saga="{saga.name}"}}'
            out += [
                heading(service, events_schema(service)) + f": saga {saga.name}",
                "",
                *queries(
                    f"sum by (state) ({m.SAGA_INSTANCES}{which})",
                    f"max by (state) ({m.SAGA_OLDEST_IN_STATE}{which})",
                ),
                *sql(
                    f"SELECT data->>'{state}' AS state, count(*), min(mt_last_modified) AS oldest_save,",
                    "       count(*) FILTER (WHERE now() - mt_last_modified > interval '5 minutes') AS idle_over_5m",
                    f"FROM {table} GROUP BY 1 ORDER BY 1;",
                    "",
                    "-- the stuck ones (state from the alert's state label)",
                    f"SELECT id, data->>'{state}' AS state, mt_last_modified, mt_version",
                    f"FROM {table} WHERE data->>'{state}' = '<state>' ORDER BY mt_last_modified LIMIT 20;",
                    "",
                    "-- its scheduled timeouts, and its messages in the inbox and dead letters",
                    f"SELECT message_type, status, min(execution_time), count(*) FROM {messages}"
                    ".wolverine_incoming_envelopes",
                    " GROUP BY 1, 2 ORDER BY 1;",
                    "SELECT message_type, exception_type, count(*)",
                    f"  FROM {messages}.wolverine_dead_letters",
                    " GROUP BY 1, 2 ORDER BY 3 DESC;",
                ),
            ]
            if saga.handled_messages:
                out += [
                    f"{saga.name} moves on when it handles: "
                    + ", ".join(f"`{msg}`" for msg in saga.handled_messages)
                    + ". Find which one the stuck state waits for, then where it is: not sent (the sender's outbox), "
                    "in a queue without consumers, failing (dead letters), or scheduled for later.",
                    "",
                ]
    return out


STUCK_IN_STATE = AlertRecord(
    name="SagaStuckInState",
    concern="sagas",
    severity="warning",
    for_="2m",  # each rule's own: 15m for limits of an hour or more
    pending_at="1m",
    per_service=_rules,
    runbook=Runbook(
        meaning="The oldest saga in a state has been in it longer than that state's limit: the message that moves "
        "it on has not arrived, is failing, or was lost.",
        symptoms=lambda c: [
            f"- `{m.SAGA_OLDEST_IN_STATE}` above the limit; the alert's `state` and `state_limit` labels say which.",
            "- Customers see orders (or whatever the saga tracks) not progressing.",
            "",
            "Limits per state (terminal states never alert; states that wait by design get long limits):",
            "",
            *_limits(c),
            "To change a limit see `observability/README.md` (Saga state limits).",
        ],
        impact=(
            "- Each stuck saga is a business process that stopped half-way (e.g. payment taken, nothing shipped).",
            "- Timeouts the saga scheduled may fire and cancel it.",
        ),
        diagnosis=_diagnosis,
        remediation=(
            "- **The awaited message is dead-lettered**: fix and replay ([WolverineDeadLettersHigh]"
            "(WolverineDeadLettersHigh.md)).",
            "- **It waits in a queue nobody consumes**: [RabbitMqQueueWithoutConsumers]"
            "(RabbitMqQueueWithoutConsumers.md).",
            "- **It never left the sender**: the sender's outbox ([WolverineOutboxBacklogGrowing]"
            "(WolverineOutboxBacklogGrowing.md)).",
            "- **It was never sent** (a bug, or an upstream service lost it): have the owning team resend the message "
            "for the affected ids. Do not edit saga documents by hand: `mt_version` guards concurrent updates and a "
            "wrong state skips compensation.",
        ),
        rollback=roll_back(
            "A rollback is safe only if the old version can read sagas saved by the new one (no removed or "
            "renamed state, no new required field); otherwise fix forward.",
        ),
        escalation=lambda c: [f"- More than a handful of sagas stuck, or money involved: {c.owners}."],
    ),
)

RECORDS = (STUCK_IN_STATE,)
