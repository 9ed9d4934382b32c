"""Async Marten projections: lag, stall, a frozen high-water mark and skipped events.

These apply to services whose Marten projections run in the async daemon. The exporter reads
``{schema}.mt_event_progression`` (one row per shard, plus ``HighWaterMark``), the event sequence
and ``mt_doc_deadletterevent``; lag is measured against the high-water mark, so a stopped daemon
needs its own alert (:data:`HIGH_WATER_MARK_STALE`).
"""

from __future__ import annotations

from critterops import metrics as m
from critterops.generate.alerts.fixtures import FIXTURE_ENV, exporter_labels, items, sel
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import (
    dotnet_cli,
    heading,
    logs,
    pods,
    queries,
    restart,
    roll_back,
    sh,
    sql,
    workload,
)
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, num, wrap
from critterops.generate.traits import async_projections
from critterops.model import Service
from critterops.model.storage import events_schema, message_schema

BY_SHARD = "max by (environment, service, schema, projection)"
BY_STORE = "max by (environment, service, schema)"


def _store(service: Service) -> dict[str, str]:
    """The labels of the service's event store on the exporter's series."""
    return {**FIXTURE_ENV, "service": service.name, "schema": events_schema(service)}


def _shard(service: Service) -> dict[str, str]:
    """The labels of its first async projection's shard (``Name:All``, or ``Name:V2:All`` from version 2)."""
    assert service.marten is not None
    projection = next(p for p in service.marten.projections if p.lifecycle == "Async")
    base = projection.name[:30]
    shard = f"{base}:V{projection.version}:All" if projection.version > 1 else f"{base}:All"
    return {**_store(service), "projection": shard}


def _of(service: str) -> str:
    return f'{{service="{service}"}}'


# -- runbook pieces shared by the projection alerts -------------------------------------------------------------


def _projection_sql(schema: str) -> list[str]:
    return sql(
        "-- lag of every shard against the high-water mark and the sequence head, oldest unprocessed event",
        f"WITH hwm  AS (SELECT last_seq_id AS mark FROM {schema}.mt_event_progression WHERE name = 'HighWaterMark'),",
        f"     head AS (SELECT last_value  AS seq  FROM {schema}.mt_events_sequence)",
        "SELECT p.name, p.last_seq_id,",
        "       hwm.mark - p.last_seq_id AS lag_vs_high_water,",
        "       head.seq - p.last_seq_id AS lag_vs_sequence_head,",
        f"       (SELECT now() - e.timestamp FROM {schema}.mt_events e",
        "         WHERE e.seq_id > p.last_seq_id ORDER BY e.seq_id LIMIT 1) AS oldest_unprocessed_age",
        f"FROM {schema}.mt_event_progression p, hwm, head",
        "WHERE p.name NOT LIKE 'HighWaterMark%'",
        "ORDER BY lag_vs_high_water DESC;",
    )


def _assignments_sql(schema: str) -> list[str]:
    return sql(
        "-- which node runs which shard (Wolverine-managed distribution) and who leads",
        "SELECT a.id AS agent, n.node_number, n.version, now() - n.health_check AS since_heartbeat",
        f"FROM {schema}.wolverine_node_assignments a JOIN {schema}.wolverine_nodes n ON n.id = a.node_id",
        "WHERE a.id LIKE 'event-subscriptions://%' OR a.id LIKE 'wolverine://leader%'",
        "ORDER BY a.id;",
    )


def _daemon_note(service: Service) -> str:
    marten = service.marten
    if marten is None or not marten.daemon_mode:
        return f"{service.name}: daemon mode not found in code."
    parts = [f"{service.name} runs the async daemon as `DaemonMode.{marten.daemon_mode}`"]
    if marten.managed_distribution:
        parts.append("with Wolverine-managed distribution (the leader assigns each shard to one node)")
    note = " ".join(parts) + "."
    if marten.daemon_mode == "Solo" and not marten.managed_distribution:
        note += " Solo takes no locks: with more than one replica every replica runs every shard."
    if marten.daemon_mode == "HotCold":
        note += " HotCold holds one advisory lock per shard; a stuck session can keep a shard from running anywhere."
    return note


def rebuild(ctx: KitContext, service: Service) -> list[str]:
    """How to rebuild one of the service's async projections: a version bump, or in place with the daemons stopped."""
    names = async_projections(service)
    name = names[0] if names else "<projection>"
    target = workload(ctx, service.name)
    return [
        f"Rebuild a projection of {service.name} (its documents are incomplete until it finishes; async "
        f"projections here: {', '.join(f'`{n}`' for n in names)}):",
        "",
        "- Preferred, no downtime: bump the projection's `ProjectionVersion` and deploy. The new shard "
        "(`Name:V2:All`) builds from event 0 into a new table while the old one keeps serving; the blue/green "
        "gate waits for its lag to reach 0.",
        "- In place: stop every daemon for this store first (a rebuild racing a running shard fails with "
        "`ProgressionProgressOutOfOrderException`), then run the rebuild against the database:",
        "",
        *sh(
            f"REPLICAS=$(kubectl -n $NS get {target} -o jsonpath='{{.spec.replicas}}')",
            f"kubectl -n $NS scale {target} --replicas=0",
            "# from a checkout of the deployed commit; CONNECTION_STRING from the service's secret",
            dotnet_cli(service, "projections --list") + "   # the names Marten uses",
            dotnet_cli(service, f"projections --rebuild -p {name}"),
            f'kubectl -n $NS scale {target} --replicas="$REPLICAS"',
        ),
    ]


def _rebuilds(covered: Covered) -> list[str]:
    return [line for service in covered.services for line in (*rebuild(covered.ctx, service), "")]


# -- MartenProjectionLagHigh ------------------------------------------------------------------------------------


def _lag_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not async_projections(service):
        return []
    thr = ctx.policy.thresholds_for(service.name).projection_lag_events
    metric = ctx.policy.metrics.projection_lag
    ids, high = _shard(service), thr * 5
    return [
        Rule(
            service.name,
            f"{agg(BY_SHARD, metric + _of(service.name))} > {num(thr)}",
            f"Projection {{{{ $labels.projection }}}} of {service.name} is behind",
            wrap(
                f"{{{{ $labels.projection }}}} (schema {{{{ $labels.schema }}}}) is {{{{ $value | humanize }}}} "
                f"events behind the high-water mark (limit {num(thr)}) for 10 minutes: reads from it are stale "
                "and blue/green cut-over of this service waits."
            ),
            Case((Sample(sel(metric, ids, exporter_labels()), f"{num(high)}x40"),), "20m", items(ids), high),
            Case((Sample(sel(metric, ids, exporter_labels()), f"{num(thr / 2)}x40"),), "20m"),
            schema=events_schema(service),
            database=service.database,
        )
    ]


def _lag_limit(covered: Covered) -> str:
    return covered.rules[0].expr.rsplit(">", 1)[-1].strip()


def _lag_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = events_schema(service)
        out += [
            heading(service, schema),
            "",
            _daemon_note(service),
            "",
            "1. Is it catching up? A falling lag after a deploy, a rebuild or a bulk import needs only patience:",
            "",
            *queries(
                f"{m.PROJECTION_LAG}{_of(service.name)}",
                (f"deriv({m.PROJECTION_LAG}{_of(service.name)}[15m])", "below 0: catching up"),
            ),
            "2. Which shards, how far behind, and how old the oldest unprocessed event is:",
            "",
            *_projection_sql(schema),
            "3. Errors and contention in the daemon, and which node runs which shard:",
            "",
            *sh(logs(service.name, "ProgressionProgressOutOfOrderException|Projection|Daemon|Exception")),
            *_assignments_sql(message_schema(service)),
        ]
    return out


def _lag_remediation(covered: Covered) -> list[str]:
    return [
        "- **Lag falling**: wait, and watch `deriv(...)` above. Nothing to do unless it stops.",
        "- **Flat or rising, exceptions in the logs**: the projection throws on an event. Fix forward, or roll back "
        "if a deploy introduced it (below). Events it skips are in `mt_doc_deadletterevent` (see "
        "[MartenProjectionEventsSkipped](MartenProjectionEventsSkipped.md)).",
        "- **`ProgressionProgressOutOfOrderException`**: two daemons run the same shard. With `Solo`, scale to one "
        "replica until the code uses `HotCold` or Wolverine-managed distribution:",
        "",
        *sh(f"kubectl -n $NS scale {workload(covered.ctx, '$SVC')} --replicas=1"),
        "- **One node runs every shard and is CPU-bound**: with Wolverine-managed distribution, more replicas spread "
        "the shards (the leader rebalances).",
        "- **Documents are wrong, not just late**: rebuild.",
        "",
        *_rebuilds(covered),
    ]


LAG_HIGH = AlertRecord(
    name="MartenProjectionLagHigh",
    concern="projections",
    severity="warning",
    for_="10m",
    pending_at="5m",
    per_service=_lag_rule,
    runbook=Runbook(
        meaning=lambda c: (
            f"An async projection is more than {_lag_limit(c)} events behind the high-water mark (the last event "
            "every earlier transaction has committed) for 10 minutes."
        ),
        symptoms=lambda c: [
            "- Read models built by async projections show old data; newly created items are missing from lists.",
            f"- `{m.PROJECTION_LAG}` above {_lag_limit(c)} for one or more `projection` labels.",
        ],
        impact=(
            "- Queries on the projection's documents are stale by the lag; users see old numbers.",
            "- Blue/green deploys of the service wait at the projection catch-up gate.",
            "- Nothing is lost: the events are stored, the projection applies them when it catches up.",
        ),
        diagnosis=_lag_diagnosis,
        remediation=_lag_remediation,
        rollback=roll_back(
            "Rolling back the code does not roll back projection progress. If the new version bumped "
            "`ProjectionVersion`, the old version keeps using the old shard and table: safe.",
            "If the new version changed a projection without a version bump, rebuild it after the rollback.",
        ),
        escalation=lambda c: [
            f"- Lag still rising 30 minutes after remediation, or any data correction needed: {c.owners}.",
            "- Exceptions from PostgreSQL (timeouts, locks, disk): the database owner.",
        ],
    ),
)


# -- MartenProjectionStalled ------------------------------------------------------------------------------------


def _stalled_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not async_projections(service):
        return []
    lag, svc = ctx.policy.metrics.projection_lag, _of(service.name)
    ids, store, exp = _shard(service), _store(service), exporter_labels()
    return [
        Rule(
            service.name,
            f"{agg(BY_SHARD, lag + svc)} > 0\n"
            "and on (environment, service, schema, projection)\n"
            f"{agg(BY_SHARD, f'changes({m.PROJECTION_LAST_SEQUENCE}{svc}[10m])')} == 0\n"
            "and on (environment, service, schema)\n"
            f"{agg(BY_STORE, f'changes({m.PROJECTION_HIGH_WATER_MARK}{svc}[10m])')} > 0",
            f"Projection {{{{ $labels.projection }}}} of {service.name} has stopped",
            wrap(
                "{{ $labels.projection }} (schema {{ $labels.schema }}) has not advanced for 10 minutes "
                "while new events arrive; it is {{ $value | humanize }} events behind and falling further behind."
            ),
            Case(
                (
                    Sample(sel(lag, ids, exp), "50x40"),
                    Sample(sel(m.PROJECTION_LAST_SEQUENCE, ids, exp), "1000x40"),
                    Sample(sel(m.PROJECTION_HIGH_WATER_MARK, store, exp), "1050+10x40"),
                ),
                "20m",
                items(ids),
                50,
            ),
            Case(
                (
                    Sample(sel(lag, ids, exp), "50x40"),
                    Sample(sel(m.PROJECTION_LAST_SEQUENCE, ids, exp), "1000+10x40"),
                    Sample(sel(m.PROJECTION_HIGH_WATER_MARK, store, exp), "1050+10x40"),
                ),
                "20m",
            ),
            schema=events_schema(service),
            database=service.database,
        )
    ]


def _stalled_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = events_schema(service)
        out += [
            heading(service, schema),
            "",
            _daemon_note(service),
            "",
            *queries(
                (f"changes({m.PROJECTION_LAST_SEQUENCE}{_of(service.name)}[10m])", "0: the stalled shard"),
                f"{m.PROJECTION_STALLED}{_of(service.name)}",
            ),
            *_projection_sql(schema),
            "Is the shard assigned to a live node? (no row for the shard: nobody runs it)",
            "",
            *_assignments_sql(message_schema(service)),
            "Is it failing on one event? The same exception repeating in the logs names it:",
            "",
            *sh(logs(service.name, "Exception|Error|Paused|ShardStop")),
        ]
        if service.marten and service.marten.daemon_mode == "HotCold":
            out += [
                "HotCold: the advisory lock of the shard may be held by a session that is no longer running the "
                "daemon:",
                "",
                *sql(
                    "SELECT l.objid, a.pid, a.application_name, a.state, now() - a.state_change AS for",
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid",
                    f"WHERE l.locktype = 'advisory' AND a.datname = '{service.database or '<database>'}';",
                ),
            ]
    return out


def _stalled_remediation(covered: Covered) -> list[str]:
    return [
        "- **No assignment row / shard not running**: restart the service; the leader reassigns every shard on "
        "startup:",
        "",
        *sh(restart(covered.ctx, "$SVC")),
        "- **An exception on one event repeats**: the projection cannot apply it. Fix the projection (or its event "
        "data) and deploy; to unblock now, enable skipping in the projection's options "
        "(`opts.Projections.Errors.SkipApplyErrors = true`), which records the event in `mt_doc_deadletterevent` "
        "and moves on, then rebuild after the fix.",
        "- **HotCold lock held by a dead session**: end it, and the next poll (5 s) takes the lock: "
        "`SELECT pg_terminate_backend(<pid>);`",
        "",
        *_rebuilds(covered),
    ]


STALLED = AlertRecord(
    name="MartenProjectionStalled",
    concern="projections",
    severity="critical",
    for_="5m",
    pending_at="3m",
    per_service=_stalled_rule,
    runbook=Runbook(
        meaning="An async projection's position (`last_seq_id`) has not moved for 10 minutes while the high-water "
        "mark moved: new events arrive and this projection is not applying them.",
        symptoms=(
            "- One projection's read model stops changing while others keep up.",
            f"- `changes({m.PROJECTION_LAST_SEQUENCE}[10m]) == 0` and the lag grows steadily.",
        ),
        impact=(
            "- The projection's documents freeze at the stalled event; the lag grows until it is fixed.",
            "- Blue/green deploys of the service cannot pass the projection catch-up gate.",
        ),
        diagnosis=_stalled_diagnosis,
        remediation=_stalled_remediation,
        rollback=roll_back(
            "A stall that began with a deploy is usually the new projection code throwing: roll back, then rebuild."
        ),
        escalation=lambda c: [f"- Not moving 15 minutes after a restart: {c.owners}."],
    ),
)


# -- MartenHighWaterMarkStale -----------------------------------------------------------------------------------


def _hwm_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not async_projections(service):
        return []
    svc, store, exp = _of(service.name), _store(service), exporter_labels()
    return [
        Rule(
            service.name,
            f"{agg(BY_STORE, f'changes({m.EVENT_SEQUENCE_HEAD}{svc}[10m])')} > 0\n"
            "and on (environment, service, schema)\n"
            f"{agg(BY_STORE, f'changes({m.PROJECTION_HIGH_WATER_MARK}{svc}[10m])')} == 0",
            f"No async daemon is running for {service.name}",
            wrap(
                f"Events are appended to {service.name}'s event store (schema {{{{ $labels.schema }}}}) but its "
                "HighWaterMark has not moved for 10 minutes: no async daemon runs, every async projection is frozen, "
                "and the lag alert cannot see it (lag is measured against the frozen mark)."
            ),
            Case(
                (
                    Sample(sel(m.EVENT_SEQUENCE_HEAD, store, exp), "2000+10x40"),
                    Sample(sel(m.PROJECTION_HIGH_WATER_MARK, store, exp), "1500x40"),
                ),
                "20m",
                items(store),
                10,
            ),
            Case(
                (
                    Sample(sel(m.EVENT_SEQUENCE_HEAD, store, exp), "2000+10x40"),
                    Sample(sel(m.PROJECTION_HIGH_WATER_MARK, store, exp), "1990+10x40"),
                ),
                "20m",
            ),
            schema=events_schema(service),
            database=service.database,
        )
    ]


def _hwm_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema, messages = events_schema(service), message_schema(service)
        out += [
            heading(service, schema),
            "",
            _daemon_note(service),
            "",
            *sql(
                f"SELECT name, last_seq_id, last_updated FROM {schema}.mt_event_progression "
                "WHERE name LIKE 'HighWaterMark%';",
                f"SELECT last_value FROM {schema}.mt_events_sequence;",
            ),
            "Are pods running, and is there a leader?",
            "",
            *sh(f"kubectl -n $NS get pods {pods(service.name)} -o wide"),
            *sql(
                "SELECT n.node_number, n.version, now() - n.health_check AS since_heartbeat, a.id AS agent",
                f"FROM {messages}.wolverine_nodes n",
                f"LEFT JOIN {messages}.wolverine_node_assignments a ON a.node_id = n.id",
                "ORDER BY n.node_number;",
            ),
            *sh(logs(service.name, "HighWater|Daemon|leader|Leader|Exception")),
        ]
    return out


HIGH_WATER_MARK_STALE = AlertRecord(
    name="MartenHighWaterMarkStale",
    concern="projections",
    severity="critical",
    for_="5m",
    pending_at="3m",
    per_service=_hwm_rule,
    runbook=Runbook(
        meaning="Events are being appended but the `HighWaterMark` row of `mt_event_progression` has not moved for "
        "10 minutes. Only a running async daemon moves it, so no daemon is running for this event store.",
        symptoms=(
            "- Every async projection of the service is frozen.",
            f"- `{m.PROJECTION_LAG}` may look fine: it is measured against the frozen mark.",
        ),
        impact=(
            "- All async read models of the service are stale and stay stale.",
            "- Subscriptions and event forwarding driven by the daemon stop.",
        ),
        diagnosis=_hwm_diagnosis,
        remediation=lambda c: [
            "- **No pods, or pods crash-looping**: fix that first (`kubectl -n $NS describe pod ...`).",
            "- **Pods run, no leader / no shard assignments**: restart; a node becomes leader and assigns the shards:",
            "",
            *sh(restart(c.ctx, "$SVC")),
            "- **The daemon is disabled in this environment** (e.g. `DaemonMode.Disabled` outside Development, or "
            "a config switch): the async projections need it somewhere; enable it and deploy.",
        ],
        rollback=roll_back(
            "If the deploy changed daemon registration (`AddAsyncDaemon`, distribution settings), roll it back."
        ),
        escalation=lambda c: [f"- Daemon not back within 15 minutes: {c.owners}."],
    ),
)


# -- MartenProjectionEventsSkipped ------------------------------------------------------------------------------


def _skipped_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not async_projections(service):
        return []
    schema, ids, exp = events_schema(service), _shard(service), exporter_labels()
    return [
        Rule(
            service.name,
            f"{agg(BY_SHARD, m.PROJECTION_DEAD_LETTER_EVENTS + _of(service.name))} > 0",
            f"Projection {{{{ $labels.projection }}}} of {service.name} skipped events",
            wrap(
                "{{ $value | humanize }} events are in "
                f"{schema}.mt_doc_deadletterevent for {{{{ $labels.projection }}}}: the projection threw on them "
                "and the daemon skipped them, so its documents are missing their effect."
            ),
            Case((Sample(sel(m.PROJECTION_DEAD_LETTER_EVENTS, ids, exp), "3x30"),), "5m", items(ids), 3),
            Case((Sample(sel(m.PROJECTION_DEAD_LETTER_EVENTS, ids, exp), "0x30"),), "5m"),
            schema=schema,
            database=service.database,
        )
    ]


def _skipped_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = events_schema(service)
        out += [
            heading(service, schema),
            "",
            *sql(
                "-- ProjectionName is the projection, ShardName only the shard key (All); the version is not stored",
                "SELECT data->>'ProjectionName' AS projection, data->>'ShardName' AS shard,",
                "       data->>'ExceptionType' AS exception, count(*),",
                "       min((data->>'EventSequence')::bigint) AS first_seq, max(data->>'Timestamp') AS last_seen",
                f"FROM {schema}.mt_doc_deadletterevent GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
                "",
                "-- the events themselves",
                "SELECT e.seq_id, e.type, e.stream_id, e.timestamp, d.data->>'ExceptionMessage' AS error",
                f"FROM {schema}.mt_doc_deadletterevent d",
                f"JOIN {schema}.mt_events e ON e.seq_id = (d.data->>'EventSequence')::bigint",
                "ORDER BY e.seq_id LIMIT 20;",
            ),
        ]
    return out


def _skipped_remediation(covered: Covered) -> list[str]:
    return [
        "1. Fix the projection code (or the bad event data with an upcaster) and deploy.",
        "2. Rebuild the projection so the skipped events are applied:",
        "",
        *_rebuilds(covered),
        "3. Clear the rows once rebuilt, or the alert keeps firing:",
        "",
        *[
            line
            for service in covered.services
            for line in sql(
                f"DELETE FROM {events_schema(service)}.mt_doc_deadletterevent "
                "WHERE data->>'ProjectionName' = '<projection>';"
            )
        ],
    ]


EVENTS_SKIPPED = AlertRecord(
    name="MartenProjectionEventsSkipped",
    concern="projections",
    severity="warning",
    for_="1m",
    pending_at="0m",
    per_service=_skipped_rule,
    runbook=Runbook(
        meaning="The async daemon skipped events because a projection threw while applying them; they are recorded "
        "in `mt_doc_deadletterevent`.",
        symptoms=(
            "- Some documents of the projection lack changes that happened (wrong totals, missing items).",
            f"- `{m.PROJECTION_DEAD_LETTER_EVENTS}` above 0 for the shard.",
        ),
        impact=(
            "- The read model is silently wrong for the affected streams until the projection is fixed and rebuilt.",
            "- The events themselves are safe in `mt_events`.",
        ),
        diagnosis=_skipped_diagnosis,
        remediation=_skipped_remediation,
        rollback=roll_back(
            "Rolling back stops new skips if a deploy introduced the failure; the skipped events still need a rebuild."
        ),
        escalation=lambda c: [
            f"- {c.owners}: a projection bug is theirs to fix; this is not urgent at night unless it spreads."
        ],
    ),
)

RECORDS = (LAG_HIGH, STALLED, HIGH_WATER_MARK_STALE, EVENTS_SKIPPED)
