"""Runbooks: one Markdown page per alert, written for the person paged at 3 am.

Every page has the same sections (Symptoms, Impact, Diagnosis, Remediation, Rollback, Escalation)
and is built from the same :func:`~critterops.generate.observability.alerts` list as the rules, so
each alert's ``runbook_url`` resolves. Diagnosis queries name the real tables of each service the
alert covers: Marten's ``{schema}.mt_event_progression`` and ``mt_doc_<saga>``, Wolverine's
``{schema}.wolverine_*`` envelope, dead-letter and node tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from critterops import metrics as m
from critterops.generate.alerts.record import Alert
from critterops.generate.collector import EXPORTER_JOB, EXPORTER_PORT
from critterops.generate.context import KitContext
from critterops.generate.observability import DEAD_LETTER_LIMIT, alerts, table_cells
from critterops.generate.traits import rabbitmq_name
from critterops.model import Saga, Service
from critterops.model.sagas import saga_limits, saga_table
from critterops.model.storage import events_schema, message_schema

PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_SERVICE = "prometheus"  # the Prometheus the analysis templates query: prometheus.monitoring.svc:9090


@dataclass(frozen=True, slots=True)
class _Page:
    """The parts of a runbook that differ per alert."""

    summary: str
    symptoms: list[str]
    impact: list[str]
    diagnosis: list[str]
    remediation: list[str]
    rollback: list[str]
    escalation: list[str]


def runbook_files(ctx: KitContext) -> dict[str, str]:
    """``runbooks/<alert>.md`` for every alert, and ``runbooks/README.md`` indexing them."""
    found = alerts(ctx)
    names = list(dict.fromkeys(a.name for a in found))
    files: dict[str, str] = {}
    for name in names:
        rules = [a for a in found if a.name == name]
        files[f"runbooks/{name}.md"] = _render(ctx, name, rules, _PAGES[name](ctx, rules))
    files["runbooks/README.md"] = _index(ctx, names, found)
    return dict(sorted(files.items()))


# -- shared pieces ----------------------------------------------------------------------------------------------


def _render(ctx: KitContext, name: str, rules: list[Alert], page: _Page) -> str:
    services = list(dict.fromkeys(a.service for a in rules))
    severity = "/".join(dict.fromkeys(a.severity for a in rules))
    group = f"{ctx.name}-{rules[0].concern}"
    covered = [a.service for a in rules if ctx.system.service(a.service) is not None]
    svc = [f"SVC={covered[0]}   # the alert's service label: " + ", ".join(dict.fromkeys(covered))] if covered else []
    lines = [
        f"# {name}",
        "",
        f"**Severity** {severity} · **Rule group** `{group}` · **Covers** " + ", ".join(f"`{s}`" for s in services),
        "",
        page.summary,
        "",
        "## Before you start",
        "",
        "```sh",
        f"NS={ctx.name}-production   # the alert's environment label: "
        + ", ".join(f"{ctx.name}-{env.name}" for env in ctx.environments),
        *svc,
        f"kubectl -n {PROMETHEUS_NAMESPACE} port-forward svc/{PROMETHEUS_SERVICE} 9090 >/dev/null &",
        'q() { promtool query instant http://localhost:9090 "$1"; }   # or paste the PromQL into the Prometheus UI',
        "```",
        "",
        "SQL runs in the service's own database as its owner: `psql -h <postgres host> -U <user> -d <database>` "
        "(credentials in the service's secret). In dev the database runs in the cluster: "
        "`kubectl -n $NS exec -it postgres-0 -- psql -U postgres -d <database>`.",
        "",
        "## Symptoms",
        "",
        *page.symptoms,
        "",
        "## Impact",
        "",
        *page.impact,
        "",
        "## Diagnosis",
        "",
        *page.diagnosis,
        "",
        "## Remediation",
        "",
        *page.remediation,
        "",
        "## Rollback",
        "",
        *page.rollback,
        "",
        "## Escalation",
        "",
        *page.escalation,
    ]
    return "\n".join(_squash(lines)).rstrip("\n") + "\n"


def _squash(lines: list[str]) -> list[str]:
    """No double blank lines."""
    out: list[str] = []
    for line in lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out


def _services(ctx: KitContext, rules: list[Alert]) -> list[Service]:
    seen: dict[str, Service] = {}
    for rule in rules:
        service = ctx.system.service(rule.service)
        if service is not None and service.name not in seen:
            seen[service.name] = service
    return list(seen.values())


def _heading(service: Service, schema: str | None = None) -> str:
    where = []
    if service.database:
        where.append(f"database `{service.database}`")
    if schema:
        where.append(f"schema `{schema}`")
    return f"### {service.name}" + (f" ({', '.join(where)})" if where else "")


def _sql(*statements: str) -> list[str]:
    return ["```sql", *statements, "```", ""]


def _sh(*commands: str) -> list[str]:
    return ["```sh", *commands, "```", ""]


def _promql(*queries: str | tuple[str, str]) -> list[str]:
    """``q '<query>'`` lines; a (query, comment) pair gets a trailing shell comment."""
    lines = []
    for query in queries:
        if isinstance(query, tuple):
            lines.append(f"q '{query[0]}'   # {query[1]}")
        else:
            lines.append(f"q '{query}'")
    return _sh(*lines)


def _workload(ctx: KitContext, service: str) -> str:
    return f"rollout/{service}" if ctx.argo else f"deployment/{service}"


def _pods(service: str) -> str:
    return f"-l app.kubernetes.io/name={service}"


def _logs(service: str, pattern: str) -> str:
    return f"kubectl -n $NS logs {_pods(service)} --since=30m --prefix | grep -E '{pattern}' | tail -50"


def _restart(ctx: KitContext, service: str) -> str:
    if ctx.argo:
        return f"kubectl argo rollouts restart {service} -n $NS"
    return f"kubectl -n $NS rollout restart deployment/{service}"


def _dotnet_cli(service: Service, verb: str) -> str:
    """A JasperFx command run from a checkout of the deployed commit against the service's database."""
    project = service.project.rsplit("/", 1)[0]
    keys = service.connection_strings or ("postgres",)
    env = f'ConnectionStrings__{keys[0]}="$CONNECTION_STRING" '
    return f'{env}dotnet run --project "{project}" -- {verb}'


def _rollback(ctx: KitContext, caveats: list[str]) -> list[str]:
    lines = [
        "Roll back `$SVC` when the alert started within an hour of its deploy (the revision's age shows it):",
        "",
    ]
    if ctx.argo:
        lines += _sh(
            "kubectl argo rollouts get rollout $SVC -n $NS   # revisions, their age, the step in progress",
            "kubectl argo rollouts abort $SVC -n $NS         # mid-rollout: traffic back to stable",
            "kubectl argo rollouts undo $SVC -n $NS          # promoted already: the previous revision",
            "kubectl argo rollouts status $SVC -n $NS --timeout 10m",
        )
    else:
        lines += _sh(
            "kubectl -n $NS rollout history deployment/$SVC",
            "kubectl -n $NS rollout undo deployment/$SVC",
            "kubectl -n $NS rollout status deployment/$SVC --timeout 10m",
        )
    return lines + [f"- {caveat}" for caveat in caveats]


def _owners(services: list[Service]) -> str:
    contexts = sorted({s.bounded_context for s in services if s.bounded_context})
    if not contexts:
        return "the team that owns the service"
    return (
        "the team owning the "
        + ", ".join(f"{c}" for c in contexts)
        + " bounded context"
        + ("s" if len(contexts) > 1 else "")
    )


# -- projections ------------------------------------------------------------------------------------------------


def _projection_sql(schema: str) -> list[str]:
    return _sql(
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
    return _sql(
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


def _rebuild(ctx: KitContext, service: Service) -> list[str]:
    names = [p.name for p in service.marten.projections if p.lifecycle == "Async"] if service.marten else []
    name = names[0] if names else "<projection>"
    workload = _workload(ctx, service.name)
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
        *_sh(
            f"REPLICAS=$(kubectl -n $NS get {workload} -o jsonpath='{{.spec.replicas}}')",
            f"kubectl -n $NS scale {workload} --replicas=0",
            "# from a checkout of the deployed commit; CONNECTION_STRING from the service's secret",
            _dotnet_cli(service, "projections --list") + "   # the names Marten uses",
            _dotnet_cli(service, f"projections --rebuild -p {name}"),
            f'kubectl -n $NS scale {workload} --replicas="$REPLICAS"',
        ),
    ]


def _lag_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    limit = rules[0].expr.rsplit(">", 1)[-1].strip()
    diagnosis: list[str] = []
    for service in services:
        schema = events_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            _daemon_note(service),
            "",
            "1. Is it catching up? A falling lag after a deploy, a rebuild or a bulk import needs only patience:",
            "",
            *_promql(
                f'{m.PROJECTION_LAG}{{service="{service.name}"}}',
                (f'deriv({m.PROJECTION_LAG}{{service="{service.name}"}}[15m])', "below 0: catching up"),
            ),
            "2. Which shards, how far behind, and how old the oldest unprocessed event is:",
            "",
            *_projection_sql(schema),
            "3. Errors and contention in the daemon, and which node runs which shard:",
            "",
            *_sh(_logs(service.name, "ProgressionProgressOutOfOrderException|Projection|Daemon|Exception")),
            *_assignments_sql(message_schema(service)),
        ]
    remediation = [
        "- **Lag falling**: wait, and watch `deriv(...)` above. Nothing to do unless it stops.",
        "- **Flat or rising, exceptions in the logs**: the projection throws on an event. Fix forward, or roll back "
        "if a deploy introduced it (below). Events it skips are in `mt_doc_deadletterevent` (see "
        "[MartenProjectionEventsSkipped](MartenProjectionEventsSkipped.md)).",
        "- **`ProgressionProgressOutOfOrderException`**: two daemons run the same shard. With `Solo`, scale to one "
        "replica until the code uses `HotCold` or Wolverine-managed distribution:",
        "",
        *_sh(f"kubectl -n $NS scale {_workload(ctx, '$SVC')} --replicas=1"),
        "- **One node runs every shard and is CPU-bound**: with Wolverine-managed distribution, more replicas spread "
        "the shards (the leader rebalances).",
        "- **Documents are wrong, not just late**: rebuild.",
        "",
    ]
    for service in services:
        remediation += [*_rebuild(ctx, service), ""]
    return _Page(
        f"An async projection is more than {limit} events behind the high-water mark (the last event every "
        "earlier transaction has committed) for 10 minutes.",
        [
            "- Read models built by async projections show old data; newly created items are missing from lists.",
            f"- `{m.PROJECTION_LAG}` above {limit} for one or more `projection` labels.",
        ],
        [
            "- Queries on the projection's documents are stale by the lag; users see old numbers.",
            "- Blue/green deploys of the service wait at the projection catch-up gate.",
            "- Nothing is lost: the events are stored, the projection applies them when it catches up.",
        ],
        diagnosis,
        remediation,
        _rollback(
            ctx,
            [
                "Rolling back the code does not roll back projection progress. If the new version bumped "
                "`ProjectionVersion`, the old version keeps using the old shard and table: safe.",
                "If the new version changed a projection without a version bump, rebuild it after the rollback.",
            ],
        ),
        [
            f"- Lag still rising 30 minutes after remediation, or any data correction needed: {_owners(services)}.",
            "- Exceptions from PostgreSQL (timeouts, locks, disk): the database owner.",
        ],
    )


def _stalled_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    for service in services:
        schema = events_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            _daemon_note(service),
            "",
            *_promql(
                (f'changes({m.PROJECTION_LAST_SEQUENCE}{{service="{service.name}"}}[10m])', "0: the stalled shard"),
                f'{m.PROJECTION_STALLED}{{service="{service.name}"}}',
            ),
            *_projection_sql(schema),
            "Is the shard assigned to a live node? (no row for the shard: nobody runs it)",
            "",
            *_assignments_sql(message_schema(service)),
            "Is it failing on one event? The same exception repeating in the logs names it:",
            "",
            *_sh(_logs(service.name, "Exception|Error|Paused|ShardStop")),
        ]
        if service.marten and service.marten.daemon_mode == "HotCold":
            diagnosis += [
                "HotCold: the advisory lock of the shard may be held by a session that is no longer running the "
                "daemon:",
                "",
                *_sql(
                    "SELECT l.objid, a.pid, a.application_name, a.state, now() - a.state_change AS for",
                    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid",
                    f"WHERE l.locktype = 'advisory' AND a.datname = '{service.database or '<database>'}';",
                ),
            ]
    remediation = [
        "- **No assignment row / shard not running**: restart the service; the leader reassigns every shard on "
        "startup:",
        "",
        *_sh(_restart(ctx, "$SVC")),
        "- **An exception on one event repeats**: the projection cannot apply it. Fix the projection (or its event "
        "data) and deploy; to unblock now, enable skipping in the projection's options "
        "(`opts.Projections.Errors.SkipApplyErrors = true`), which records the event in `mt_doc_deadletterevent` "
        "and moves on, then rebuild after the fix.",
        "- **HotCold lock held by a dead session**: end it, and the next poll (5 s) takes the lock: "
        "`SELECT pg_terminate_backend(<pid>);`",
        "",
    ]
    for service in services:
        remediation += [*_rebuild(ctx, service), ""]
    return _Page(
        "An async projection's position (`last_seq_id`) has not moved for 10 minutes while the high-water mark "
        "moved: new events arrive and this projection is not applying them.",
        [
            "- One projection's read model stops changing while others keep up.",
            f"- `changes({m.PROJECTION_LAST_SEQUENCE}[10m]) == 0` and the lag grows steadily.",
        ],
        [
            "- The projection's documents freeze at the stalled event; the lag grows until it is fixed.",
            "- Blue/green deploys of the service cannot pass the projection catch-up gate.",
        ],
        diagnosis,
        remediation,
        _rollback(
            ctx,
            ["A stall that began with a deploy is usually the new projection code throwing: roll back, then rebuild."],
        ),
        [f"- Not moving 15 minutes after a restart: {_owners(services)}."],
    )


def _hwm_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    for service in services:
        schema = events_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            _daemon_note(service),
            "",
            *_sql(
                f"SELECT name, last_seq_id, last_updated FROM {schema}.mt_event_progression "
                "WHERE name LIKE 'HighWaterMark%';",
                f"SELECT last_value FROM {schema}.mt_events_sequence;",
            ),
            "Are pods running, and is there a leader?",
            "",
            *_sh(f"kubectl -n $NS get pods {_pods(service.name)} -o wide"),
            *_sql(
                "SELECT n.node_number, n.version, now() - n.health_check AS since_heartbeat, a.id AS agent",
                f"FROM {message_schema(service)}.wolverine_nodes n",
                f"LEFT JOIN {message_schema(service)}.wolverine_node_assignments a ON a.node_id = n.id",
                "ORDER BY n.node_number;",
            ),
            *_sh(_logs(service.name, "HighWater|Daemon|leader|Leader|Exception")),
        ]
    return _Page(
        "Events are being appended but the `HighWaterMark` row of `mt_event_progression` has not moved for 10 "
        "minutes. Only a running async daemon moves it, so no daemon is running for this event store.",
        [
            "- Every async projection of the service is frozen.",
            f"- `{m.PROJECTION_LAG}` may look fine: it is measured against the frozen mark.",
        ],
        [
            "- All async read models of the service are stale and stay stale.",
            "- Subscriptions and event forwarding driven by the daemon stop.",
        ],
        diagnosis,
        [
            "- **No pods, or pods crash-looping**: fix that first (`kubectl -n $NS describe pod ...`).",
            "- **Pods run, no leader / no shard assignments**: restart; a node becomes leader and assigns the shards:",
            "",
            *_sh(_restart(ctx, "$SVC")),
            "- **The daemon is disabled in this environment** (e.g. `DaemonMode.Disabled` outside Development, or "
            "a config switch): the async projections need it somewhere; enable it and deploy.",
        ],
        _rollback(
            ctx,
            ["If the deploy changed daemon registration (`AddAsyncDaemon`, distribution settings), roll it back."],
        ),
        [f"- Daemon not back within 15 minutes: {_owners(services)}."],
    )


def _skipped_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    for service in services:
        schema = events_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            *_sql(
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
    remediation = [
        "1. Fix the projection code (or the bad event data with an upcaster) and deploy.",
        "2. Rebuild the projection so the skipped events are applied:",
        "",
    ]
    for service in services:
        remediation += [*_rebuild(ctx, service), ""]
    remediation += [
        "3. Clear the rows once rebuilt, or the alert keeps firing:",
        "",
        *[
            line
            for service in services
            for line in _sql(
                f"DELETE FROM {events_schema(service)}.mt_doc_deadletterevent "
                "WHERE data->>'ProjectionName' = '<projection>';"
            )
        ],
    ]
    return _Page(
        "The async daemon skipped events because a projection threw while applying them; they are recorded in "
        "`mt_doc_deadletterevent`.",
        [
            "- Some documents of the projection lack changes that happened (wrong totals, missing items).",
            f"- `{m.PROJECTION_DEAD_LETTER_EVENTS}` above 0 for the shard.",
        ],
        [
            "- The read model is silently wrong for the affected streams until the projection is fixed and rebuilt.",
            "- The events themselves are safe in `mt_events`.",
        ],
        diagnosis,
        remediation,
        _rollback(
            ctx,
            [
                "Rolling back stops new skips if a deploy introduced the failure; the skipped events still need "
                "a rebuild."
            ],
        ),
        [f"- {_owners(services)}: a projection bug is theirs to fix; this is not urgent at night unless it spreads."],
    )


# -- Wolverine durable storage ----------------------------------------------------------------------------------


def _dead_letters_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    dead, failed = ctx.policy.metrics.dead_letters, ctx.policy.metrics.handler_failed
    diagnosis: list[str] = []
    remediation = [
        "1. Find and fix the cause first (a failing dependency, a bad message, a bug). Replaying before that only "
        "fills the table again.",
        "2. Replay: the durability agent moves rows with `replayable = true` back to the inbox within seconds.",
        "3. Discard what must not run again, after keeping a copy.",
        "",
    ]
    for service in services:
        schema = message_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            *_sql(
                "SELECT message_type, exception_type, received_at, count(*),",
                "       min(sent_at) AS oldest, max(sent_at) AS newest",
                f"FROM {schema}.wolverine_dead_letters GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
                "",
                "SELECT id, message_type, exception_message, sent_at",
                f"FROM {schema}.wolverine_dead_letters ORDER BY sent_at DESC LIMIT 10;",
            ),
            *_promql(
                f'sum by (message_type) (increase({dead}{{job="{service.name}"}}[1h]))',
                f'topk(5, sum by (exception_type) (rate({failed}{{job="{service.name}"}}[15m])))',
            ),
        ]
        remediation += [
            _heading(service, schema),
            "",
            *_sql(
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
    return _Page(
        f"More than {DEAD_LETTER_LIMIT} messages sit in `wolverine_dead_letters`: they failed every retry of their "
        "error policy.",
        [
            "- Work that should have happened did not (orders not advanced, stock not reserved, emails not sent).",
            "- Errors with the same exception in the service's logs.",
        ],
        [
            "- Each dead letter is a business action that did not happen; sagas waiting for them stay stuck.",
            "- Nothing is lost while the rows exist; they are replayable.",
        ],
        diagnosis,
        remediation,
        _rollback(
            ctx,
            [
                "If a deploy started the failures, roll back, then replay: the old handler processes the replayed "
                "messages."
            ],
        ),
        [
            f"- Dead letters still growing after 30 minutes, or unsure whether a replay is safe (payments!): "
            f"{_owners(services)}.",
        ],
    )


def _outbox_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    broker = rabbitmq_name(ctx.system)
    diagnosis: list[str] = []
    for service in services:
        schema = message_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            *_promql(f'sum by (destination) ({ctx.policy.metrics.outbox_backlog}{{service="{service.name}"}})'),
            *_sql(
                "SELECT destination, owner_id, owner_id = 0 AS unowned, count(*), max(attempts) AS max_attempts",
                f"FROM {schema}.wolverine_outgoing_envelopes GROUP BY 1, 2 ORDER BY 4 DESC;",
                "",
                "-- owners that no longer exist",
                f"SELECT count(*) FROM {schema}.wolverine_outgoing_envelopes",
                f" WHERE owner_id <> 0 AND owner_id NOT IN (SELECT node_number FROM {schema}.wolverine_nodes);",
            ),
            *_sh(_logs(service.name, "BrokerUnreachable|RabbitMQ|Sending|circuit|Exception")),
        ]
    return _Page(
        "The service's durable outbox (`wolverine_outgoing_envelopes`) holds more envelopes than the policy allows "
        "and the count has grown for 10 minutes: messages are stored but not leaving.",
        [
            "- Downstream services stop receiving this service's messages; their queues run dry.",
            "- The rows group by one `destination` (a broken route) or by every destination (broker unreachable).",
        ],
        [
            "- Everything downstream of the service is delayed; nothing is lost while the rows exist.",
            "- A blue/green switch of this service waits at the outbox-drained gate.",
        ],
        diagnosis,
        [
            "- **Every destination**: the broker is unreachable from the service"
            + (
                f"; see [RabbitMqDown](RabbitMqDown.md) and check `{broker}` credentials and address."
                if broker
                else "."
            ),
            "- **One destination**: the queue or exchange is missing or refuses messages (deleted queue, "
            "`x-max-length` reject, permissions). Recreate it (Wolverine's `AutoProvision` does on startup) and "
            "restart.",
            "- **Rows owned by a node that no longer exists**: release them so a live node sends them "
            "(see [WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md)).",
            "- **High `attempts`, sender circuit breaker open**: after fixing the cause, restart to reset the "
            "sending agents:",
            "",
            *_sh(_restart(ctx, "$SVC")),
        ],
        _rollback(
            ctx,
            [
                "Only if a deploy changed routing (queue names, `PublishMessage<T>().To...`): the old version "
                "sends the stored envelopes to the old destinations."
            ],
        ),
        [
            "- Broker problems: the platform on-call that runs RabbitMQ.",
            f"- Routing or code problems: {_owners(services)}.",
        ],
    )


def _inbox_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    succeeded, failed = ctx.policy.metrics.handler_succeeded, ctx.policy.metrics.handler_failed
    time = f"{m.WOLVERINE_EXECUTION_TIME}_bucket"
    diagnosis: list[str] = []
    for service in services:
        schema = message_schema(service)
        job = f'{{job="{service.name}"}}'
        diagnosis += [
            _heading(service, schema),
            "",
            *_sql(
                "SELECT message_type, received_at AS listener, owner_id, count(*), max(attempts) AS max_attempts",
                f"FROM {schema}.wolverine_incoming_envelopes WHERE status = 'Incoming'",
                "GROUP BY 1, 2, 3 ORDER BY 4 DESC;",
            ),
            *_promql(
                f"sum by (message_type) (rate({succeeded}{job}[5m]))",
                f"sum by (message_type, exception_type) (rate({failed}{job}[5m]))",
                f"histogram_quantile(0.95, sum by (le, message_type) (rate({time}{job}[5m])))",
            ),
        ]
    return _Page(
        "Received messages (`status = 'Incoming'` in `wolverine_incoming_envelopes`) pile up and the count has grown "
        "for 10 minutes: handlers are slower than the arrival rate, or fail and retry.",
        [
            "- Work arrives but completes late; sagas and downstream messages lag behind.",
            "- `max(attempts)` above 1 means retries; high execution time means slow handlers.",
        ],
        ["- Processing delay grows with the backlog; nothing is lost while the rows exist."],
        diagnosis,
        [
            "- **Failures and retries**: treat as "
            "[WolverineHandlerFailureRateHigh](WolverineHandlerFailureRateHigh.md).",
            "- **Slow handlers** (execution time up): check the database (`pg_stat_activity`, locks) and the HTTP "
            "dependencies the handler calls.",
            "- **Healthy handlers, just more work**: scale out; durable local queues and listeners spread over nodes:",
            "",
            *_sh(
                f"kubectl -n $NS scale {_workload(ctx, '$SVC')} --replicas=6   # more than now; the leader rebalances"
            ),
            "- **Rows owned by a node that is gone** (`owner_id` not in `wolverine_nodes`): "
            "[WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md).",
        ],
        _rollback(ctx, ["Roll back if a deploy made a handler slow or failing."]),
        [f"- Backlog still growing 30 minutes after scaling: {_owners(services)}."],
    )


def _orphaned_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    remediation = [
        'Reset ownership to 0 ("any node"); the durability agent of a live node picks the rows up within seconds. '
        "This is what Wolverine does itself when it ejects a dead node, and is safe while nodes run.",
        "",
    ]
    for service in services:
        schema = message_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            *_sql(
                "SELECT 'incoming' AS tbl, owner_id, status, count(*)",
                f"  FROM {schema}.wolverine_incoming_envelopes",
                f" WHERE owner_id <> 0 AND owner_id NOT IN (SELECT node_number FROM {schema}.wolverine_nodes)",
                " GROUP BY 1, 2, 3",
                "UNION ALL",
                "SELECT 'outgoing', owner_id, destination, count(*)",
                f"  FROM {schema}.wolverine_outgoing_envelopes",
                f" WHERE owner_id <> 0 AND owner_id NOT IN (SELECT node_number FROM {schema}.wolverine_nodes)",
                " GROUP BY 1, 2, 3;",
                "",
                f"SELECT node_number, description, started, health_check FROM {schema}.wolverine_nodes;",
                f"SELECT * FROM {schema}.wolverine_node_records ORDER BY timestamp DESC LIMIT 20;",
            ),
        ]
        remediation += [
            _heading(service, schema),
            "",
            *_sql(
                f"UPDATE {schema}.wolverine_incoming_envelopes SET owner_id = 0",
                f" WHERE owner_id <> 0 AND owner_id NOT IN (SELECT node_number FROM {schema}.wolverine_nodes);",
                f"UPDATE {schema}.wolverine_outgoing_envelopes SET owner_id = 0",
                f" WHERE owner_id <> 0 AND owner_id NOT IN (SELECT node_number FROM {schema}.wolverine_nodes);",
            ),
            "Or with Wolverine's own command (releases every envelope owned by a missing node):",
            "",
            *_sh(_dotnet_cli(service, "storage release")),
        ]
    return _Page(
        "Envelopes in the inbox or outbox belong to a node number that no longer exists in `wolverine_nodes`. Nobody "
        "processes or sends them until their `owner_id` goes back to 0.",
        [
            "- Some messages never get handled or sent, although the service is healthy.",
            "- Usually after a crash, an OOM kill or a forced deletion of pods (normal shutdowns release their rows).",
        ],
        ["- The affected messages wait indefinitely; sagas waiting on them stay stuck."],
        diagnosis,
        remediation,
        ["No rollback needed: this is recovery of stored messages, independent of the deployed version."],
        [
            "- Rows come back after every restart: pods are killed before they release (raise "
            f"`terminationGracePeriodSeconds`, check OOM kills) — {_owners(services)}.",
        ],
    )


def _heartbeat_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    for service in services:
        schema = message_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            *_sql(
                "SELECT n.node_number, n.uri, n.version, n.started, now() - n.health_check AS since_heartbeat,",
                "       array_agg(a.id) FILTER (WHERE a.id IS NOT NULL) AS agents",
                f"FROM {schema}.wolverine_nodes n LEFT JOIN {schema}.wolverine_node_assignments a ON a.node_id = n.id",
                "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;",
                f"SELECT * FROM {schema}.wolverine_node_records ORDER BY timestamp DESC LIMIT 20;",
            ),
            *_sh(
                f"kubectl -n $NS get pods {_pods(service.name)} -o wide",
                _logs(service.name, "health|Health|leader|Npgsql|Exception"),
            ),
        ]
    return _Page(
        "A node's `health_check` in `wolverine_nodes` has not been updated for over 2 minutes. Wolverine writes it "
        "every 10 seconds and the leader ejects nodes silent for a minute, so either the node hangs or lost its "
        "database, or no leader is ejecting dead nodes.",
        [
            "- The node's agents (projection shards, scheduled jobs, listeners assigned by the leader) may not run.",
            "- `wolverine_node_records` shows no recent `DormantNodeEjected` for the node.",
        ],
        [
            "- Work assigned to the silent node stops until it is ejected and reassigned.",
            "- Its inbox/outbox rows stay owned by it "
            "(see [WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md)).",
        ],
        diagnosis,
        [
            "- **The pod is gone** but the row stays: no node is leader. Restart the service so a node takes "
            "leadership and ejects the stale one:",
            "",
            *_sh(_restart(ctx, "$SVC")),
            "- **The pod runs but is stuck** (thread starvation, database connection pool exhausted): delete that pod; "
            "the leader reassigns its agents:",
            "",
            *_sh("kubectl -n $NS delete pod <pod>"),
        ],
        _rollback(ctx, ["Roll back if nodes of the new version hang (compare `version`)."]),
        [f"- Nodes keep going silent: {_owners(services)}; database connectivity: the database owner."],
    )


def _no_leader_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    for service in services:
        schema = message_schema(service)
        diagnosis += [
            _heading(service, schema),
            "",
            *_sql(
                f"SELECT a.id AS agent, n.node_number, n.version FROM {schema}.wolverine_node_assignments a",
                f"  JOIN {schema}.wolverine_nodes n ON n.id = a.node_id WHERE a.id LIKE 'wolverine://leader%';",
                f"SELECT * FROM {schema}.wolverine_node_records",
                " WHERE event_name IN ('LeadershipAssumed', 'NodeStopped', 'DormantNodeEjected')",
                " ORDER BY timestamp DESC LIMIT 20;",
                "-- the leader lock is a PostgreSQL advisory lock: who holds advisory locks?",
                "SELECT pid, application_name, state, backend_start FROM pg_stat_activity",
                " WHERE pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory');",
            ),
            *_sh(_logs(service.name, "leader|Leader|advisory|Npgsql|Exception")),
        ]
    return _Page(
        "The service has rows in `wolverine_nodes`, but no node holds the `wolverine://leader` assignment in "
        "`wolverine_node_assignments`. The leader is elected through a PostgreSQL advisory lock and assigns "
        "every other agent.",
        [
            "- `critterops status` shows the store with nodes and `leader` not `yes`.",
            "- No recent `LeadershipAssumed` in `wolverine_node_records`.",
        ],
        [
            "- Agents are not (re)assigned: projection shards under managed distribution, scheduled-message and "
            "durability agents stop moving on nodes that lose them.",
            "- Dead nodes are not ejected, so their inbox/outbox rows stay orphaned "
            "(see [WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md)).",
        ],
        diagnosis,
        [
            "- **A session holds the advisory lock but its node is gone** (a stuck connection): terminate that "
            "backend (`SELECT pg_terminate_backend(<pid>)`); a live node takes the lock within seconds.",
            "- **All nodes are stale rows** (the pods are gone): restart the service so a node starts and takes "
            "leadership:",
            "",
            *_sh(_restart(ctx, "$SVC")),
        ],
        _rollback(ctx, ["Roll back if the leaderless state began with a deployment (compare `version`)."]),
        [f"- Leadership keeps failing: {_owners(services)}; database locks and connections: the database owner."],
    )


def _handler_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    failed = ctx.policy.metrics.handler_failed
    diagnosis: list[str] = []
    for service in services:
        diagnosis += [
            _heading(service),
            "",
            *_promql(
                f'topk(10, sum by (message_type, exception_type) (rate({failed}{{job="{service.name}"}}[5m])))',
                f'sum by (message_type) (increase({ctx.policy.metrics.dead_letters}{{job="{service.name}"}}[30m]))',
            ),
            *_sh(_logs(service.name, "Exception|Failed|Error")),
        ]
    return _Page(
        "A larger share of Wolverine handler attempts fail than the policy allows (retries included).",
        [
            "- Exceptions in the logs for one message type (a bug or bad data) or for all (a dependency is down).",
            "- Inbox backlog and dead letters follow once retries are exhausted.",
        ],
        [
            "- Messages are delayed by retries; after the last retry they are dead-lettered and the business action "
            "does not happen.",
        ],
        diagnosis,
        [
            "- **One message type, one exception**: a bug or a bad message. Roll back if a deploy introduced it; "
            "otherwise fix forward and replay the dead letters "
            "([WolverineDeadLettersHigh](WolverineDeadLettersHigh.md)).",
            "- **Every message type, connection or timeout exceptions**: a dependency is down (database, broker, an "
            "HTTP service). Fix the dependency; retries recover by themselves.",
            "- **Concurrency exceptions** (`ConcurrencyException`, `EventStreamUnexpectedMaxEventIdException`): "
            "contention on the same streams or sagas; they usually resolve with retries. If sustained, check "
            "whether two versions process the same messages during a rollout.",
        ],
        _rollback(ctx, ["Roll back when failures started with the deploy."]),
        [f"- Failures sustained 30 minutes: {_owners(services)}."],
    )


# -- sagas ------------------------------------------------------------------------------------------------------


def _saga_table(service: Service, saga: Saga) -> str:
    schema = events_schema(service)
    return f"{schema}.{saga_table(saga.name)}"


def _saga_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    diagnosis: list[str] = []
    limits_text: list[str] = []
    for service in services:
        for saga in service.sagas:
            if not saga.state_member or service.marten is None:
                continue
            table = _saga_table(service, saga)
            state = saga.state_member
            limits, terminal, known = saga_limits(ctx.system, saga)
            limits_text += [
                f"**{service.name} / {saga.name}** (state in `data->>'{state}'` of `{table}`; "
                + ("states from its enum" if known else "well-known state names: discovery did not give the enum")
                + "):",
                "",
            ]
            for limit in limits:
                named = ", ".join(f"`{s}`" for s in limit.states) or "every state not listed"
                if limit.default and not known:
                    named = "every state not listed"
                limits_text.append(f"- {limit.limit}: {named}")
            limits_text += ["- never: " + (", ".join(f"`{s}`" for s in terminal) or "(none)"), ""]
            diagnosis += [
                _heading(service, events_schema(service)) + f": saga {saga.name}",
                "",
                *_promql(
                    f'sum by (state) ({m.SAGA_INSTANCES}{{service="{service.name}",saga="{saga.name}"}})',
                    f'max by (state) ({m.SAGA_OLDEST_IN_STATE}{{service="{service.name}",saga="{saga.name}"}})',
                ),
                *_sql(
                    f"SELECT data->>'{state}' AS state, count(*), min(mt_last_modified) AS oldest_save,",
                    "       count(*) FILTER (WHERE now() - mt_last_modified > interval '5 minutes') AS idle_over_5m",
                    f"FROM {table} GROUP BY 1 ORDER BY 1;",
                    "",
                    "-- the stuck ones (state from the alert's state label)",
                    f"SELECT id, data->>'{state}' AS state, mt_last_modified, mt_version",
                    f"FROM {table} WHERE data->>'{state}' = '<state>' ORDER BY mt_last_modified LIMIT 20;",
                    "",
                    "-- its scheduled timeouts, and its messages in the inbox and dead letters",
                    f"SELECT message_type, status, min(execution_time), count(*) FROM {message_schema(service)}"
                    ".wolverine_incoming_envelopes",
                    " GROUP BY 1, 2 ORDER BY 1;",
                    "SELECT message_type, exception_type, count(*)",
                    f"  FROM {message_schema(service)}.wolverine_dead_letters",
                    " GROUP BY 1, 2 ORDER BY 3 DESC;",
                ),
            ]
            if saga.handled_messages:
                diagnosis += [
                    f"{saga.name} moves on when it handles: "
                    + ", ".join(f"`{msg}`" for msg in saga.handled_messages)
                    + ". Find which one the stuck state waits for, then where it is: not sent (the sender's outbox), "
                    "in a queue without consumers, failing (dead letters), or scheduled for later.",
                    "",
                ]
    return _Page(
        "The oldest saga in a state has been in it longer than that state's limit: the message that moves it on has "
        "not arrived, is failing, or was lost.",
        [
            f"- `{m.SAGA_OLDEST_IN_STATE}` above the limit; the alert's `state` and `state_limit` labels say which.",
            "- Customers see orders (or whatever the saga tracks) not progressing.",
            "",
            "Limits per state (terminal states never alert; states that wait by design get long limits):",
            "",
            *limits_text,
            "To change a limit see `observability/README.md` (Saga state limits).",
        ],
        [
            "- Each stuck saga is a business process that stopped half-way (e.g. payment taken, nothing shipped).",
            "- Timeouts the saga scheduled may fire and cancel it.",
        ],
        diagnosis,
        [
            "- **The awaited message is dead-lettered**: fix and replay ([WolverineDeadLettersHigh]"
            "(WolverineDeadLettersHigh.md)).",
            "- **It waits in a queue nobody consumes**: [RabbitMqQueueWithoutConsumers]"
            "(RabbitMqQueueWithoutConsumers.md).",
            "- **It never left the sender**: the sender's outbox ([WolverineOutboxBacklogGrowing]"
            "(WolverineOutboxBacklogGrowing.md)).",
            "- **It was never sent** (a bug, or an upstream service lost it): have the owning team resend the message "
            "for the affected ids. Do not edit saga documents by hand: `mt_version` guards concurrent updates and a "
            "wrong state skips compensation.",
        ],
        _rollback(
            ctx,
            [
                "A rollback is safe only if the old version can read sagas saved by the new one (no removed or "
                "renamed state, no new required field); otherwise fix forward.",
            ],
        ),
        [f"- More than a handful of sagas stuck, or money involved: {_owners(services)}."],
    )


# -- RabbitMQ ---------------------------------------------------------------------------------------------------


def _no_consumer_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    broker = rabbitmq_name(ctx.system) or "rabbitmq"
    services = _services(ctx, rules)
    diagnosis = ["Which queues, and whose:", ""]
    for service in services:
        queues = sorted({lst.queue for lst in service.listens if lst.transport == "rabbitmq"})
        diagnosis += [
            f"- `{service.name}` consumes " + ", ".join(f"`{q}`" for q in queues),
        ]
    diagnosis += [
        "",
        *_sh(
            f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl list_queues -p / name messages messages_ready consumers",
            f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl list_consumers -p /",
        ),
        "Is the consumer (`$SVC`) running and connected?",
        "",
        *_sh(
            f"kubectl -n $NS get pods {_pods('$SVC')}",
            _logs("$SVC", "RabbitMQ|BrokerUnreachable|circuit|Connection|Listener"),
        ),
    ]
    return _Page(
        "A RabbitMQ queue that a service listens to holds messages and has had no consumer for 5 minutes.",
        [
            "- The queue's message count grows; the consuming service does nothing with them.",
            "- Typical causes: the service is down or crash-looping, it lost its broker connection and did not "
            "reconnect, or Wolverine paused the listener (circuit breaker after repeated failures).",
        ],
        [
            "- Everything this service does in response to these messages stops; upstream sagas wait.",
            "- Messages are kept (durable queues) until a consumer returns, unless they expire or hit a length limit.",
        ],
        diagnosis,
        [
            "- **Pods not running / crash-looping**: fix that first (`kubectl -n $NS describe pod ...`, logs of the "
            "previous container: `--previous`).",
            "- **Running, no connection, or listener paused by the circuit breaker**: restart; Wolverine reconnects "
            "and restarts listeners on startup:",
            "",
            *_sh(_restart(ctx, "$SVC")),
            "- **Credentials rotated or vhost permissions changed**: fix the secret, then restart.",
        ],
        _rollback(
            ctx,
            [
                "If the new version stopped listening to the queue (renamed), roll back until the rename is done "
                "expand/contract."
            ],
        ),
        [
            f"- Service will not start or connect within 15 minutes: {_owners(services)}.",
            "- Broker-side problems (connections refused, alarms): the platform on-call that runs RabbitMQ.",
        ],
    )


def _rabbit_dlq_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    broker = rabbitmq_name(ctx.system) or "rabbitmq"
    consumers = sorted(
        {(lst.queue, s.name) for s in ctx.deployable() for lst in s.listens if lst.transport == "rabbitmq"}
    )
    return _Page(
        f"More than {DEAD_LETTER_LIMIT} messages are in `{m.RABBITMQ_DLQ}`, the dead-letter queue (and exchange) every "
        "Wolverine listener on the broker shares: messages that failed every retry in any service.",
        [
            "- Handler errors in one or more services; their messages end up here instead of "
            "`wolverine_dead_letters` (durable local queues use the table).",
        ],
        ["- Each message is a business action that did not happen; they wait here until moved or purged."],
        [
            "Which queue did they come from? The `x-death` header names it, and Wolverine adds the exception:",
            "",
            *_sh(
                f"kubectl -n $NS exec {broker}-0 -- rabbitmqadmin get queue={m.RABBITMQ_DLQ} count=20 "
                "ackmode=ack_requeue_true -f pretty_json | jq '.[] | {routing_key, headers: .properties.headers}'",
            ),
            "Queues and the services consuming them:",
            "",
            *[f"- `{queue}`: `{service}`" for queue, service in consumers],
            "",
            "Then diagnose the failing service as in [WolverineHandlerFailureRateHigh]"
            "(WolverineHandlerFailureRateHigh.md).",
        ],
        [
            "1. Fix the cause in the failing service.",
            "2. Move the messages back to their queue. The queue is shared, so move only when every message comes "
            "from the same queue (check `x-death`); otherwise republish them selectively with a script.",
            "",
            *_sh(
                f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl set_parameter shovel dlq-replay \\",
                '  \'{"src-uri": "amqp://", "src-queue": "' + m.RABBITMQ_DLQ + '", '
                '"dest-uri": "amqp://", "dest-queue": "<original queue>", "src-delete-after": "queue-length"}\'',
            ),
            '(needs the `rabbitmq_shovel` plugin; the management UI\'s "Move messages" does the same.)',
            "3. Purge only what must not run again, after saving it:",
            "",
            *_sh(f"kubectl -n $NS exec {broker}-0 -- rabbitmqctl purge_queue {m.RABBITMQ_DLQ} -p /"),
        ],
        ["Roll back the service whose messages fail if a deploy started it (see its handler-failure runbook)."],
        ["- The team owning the failing service; the broker on-call only for shovel or plugin problems."],
    )


def _rabbit_down_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    broker = rabbitmq_name(ctx.system) or "rabbitmq"
    users = sorted(s.name for s in ctx.deployable() if s.wolverine and "rabbitmq" in s.wolverine.transports)
    return _Page(
        "critterops-exporter cannot reach the RabbitMQ management API for 2 minutes: the broker is down, unreachable, "
        "or refusing the exporter's credentials.",
        [
            "- Services log connection errors to RabbitMQ; queue metrics stop.",
            "- Services affected: " + ", ".join(f"`{s}`" for s in users) + ".",
        ],
        [
            "- Durable outboxes grow (messages wait in PostgreSQL and go out when the broker returns).",
            "- Listeners stop; non-durable sends and HTTP endpoints that publish without an outbox fail.",
        ],
        [
            *_sh(
                f"kubectl -n $NS get pods -l app.kubernetes.io/name={broker} -o wide",
                f"kubectl -n $NS exec {broker}-0 -- rabbitmq-diagnostics -q ping",
                f"kubectl -n $NS exec {broker}-0 -- rabbitmq-diagnostics -q alarms   # disk alarms block publishers",
                f"kubectl -n $NS exec {broker}-0 -- rabbitmq-diagnostics -q status",
            ),
            "Only the exporter affected? Check its errors (wrong credentials or address):",
            "",
            *_promql(f'increase({m.SCRAPE_ERRORS}{{target="rabbitmq"}}[10m])'),
            "Managed broker outside the cluster: check the provider's status page and the broker's address in the "
            "services' configuration (`RabbitMQ__hostname`).",
        ],
        [
            "- **Pod down or crash-looping**: check events and the data volume (`kubectl -n $NS describe pod "
            f"{broker}-0`); a full disk triggers the disk alarm.",
            "- **Disk or memory alarm**: free disk (purge queues nobody consumes, see "
            "[RabbitMqQueueWithoutConsumers](RabbitMqQueueWithoutConsumers.md)) or raise the limit.",
            "- **Broker fine, exporter refused**: fix the exporter's credentials.",
            "- After recovery: outboxes drain by themselves; watch "
            f"`sum by (service) ({ctx.policy.metrics.outbox_backlog})` fall.",
        ],
        ["No application rollback: this is infrastructure."],
        ["- Immediately: the platform on-call that runs RabbitMQ. Managed broker: the provider's support."],
    )


# -- HTTP -------------------------------------------------------------------------------------------------------


def _http_errors_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    count = ctx.policy.metrics.http_requests
    diagnosis: list[str] = []
    for service in services:
        diagnosis += [
            _heading(service),
            "",
            *_promql(
                f'sum by (http_route, http_response_status_code) (rate({count}{{job="{service.name}",'
                'http_response_status_code=~"5.."}[5m]))',
                f'sum by (service_version) (rate({count}{{job="{service.name}",'
                'http_response_status_code=~"5.."}[5m]))',
            ),
            *_sh(
                f"kubectl -n $NS get pods {_pods(service.name)}",
                _logs(service.name, "fail|Exception|Error"),
            ),
        ]
    return _Page(
        "More than the policy's share of HTTP responses are 5xx over 5 minutes.",
        [
            "- Users or calling services get errors; the routes and status codes above show where.",
            "- A split by `service_version` shows whether only the new version fails.",
        ],
        ["- Requests on the failing routes fail for users; callers may retry and add load."],
        diagnosis,
        [
            "- **Only the new version fails** (canary or preview): abort the rollout (below).",
            "- **A dependency fails** (database, another service, broker for endpoints that publish): fix the "
            "dependency; check its own alerts.",
            "- **Pods restarting or out of memory**: `kubectl -n $NS describe pod ...`, raise limits or scale out.",
        ],
        _rollback(ctx, ["Abort first, investigate after: 5xx are user-visible."]),
        [f"- Not resolved within 15 minutes: {_owners(services)}."],
    )


def _http_latency_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    services = _services(ctx, rules)
    bucket = ctx.policy.metrics.http_duration_bucket
    diagnosis: list[str] = []
    for service in services:
        diagnosis += [
            _heading(service),
            "",
            *_promql(
                f'histogram_quantile(0.95, sum by (le, http_route) (rate({bucket}{{job="{service.name}"}}[5m])))',
            ),
        ]
        if service.database:
            diagnosis += _sql(
                "-- slow or blocked queries right now",
                "SELECT pid, now() - query_start AS running, state, wait_event_type, left(query, 120)",
                f"FROM pg_stat_activity WHERE datname = '{service.database}' AND state <> 'idle'",
                "ORDER BY running DESC LIMIT 10;",
            )
    return _Page(
        "The 95th percentile of HTTP request duration is above the policy's limit for 10 minutes.",
        ["- Pages and API calls are slow on the routes above; timeouts in callers may follow."],
        ["- Slow responses for users; callers with short timeouts start failing."],
        diagnosis,
        [
            "- **Database queries slow or blocked**: end runaway queries (`SELECT pg_cancel_backend(<pid>);`), "
            "check missing indexes on new queries.",
            "- **CPU-throttled pods**: `kubectl -n $NS top pods` ; scale out or raise limits.",
            "- **A slow downstream service**: check its alerts.",
        ],
        _rollback(ctx, ["Roll back when latency rose with the deploy."]),
        [f"- Latency keeps rising or errors follow: {_owners(services)}."],
    )


# -- the exporter -----------------------------------------------------------------------------------------------


def _exporter_down_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    return _Page(
        f"Prometheus cannot scrape `{EXPORTER_JOB}` for 5 minutes.",
        [f'- `up{{job="{EXPORTER_JOB}"}} == 0`; every `critterops_*` series is stale.'],
        [
            "- Projection, outbox, inbox, dead-letter, saga, node and queue alerts cannot fire: the system is "
            "unwatched for those failures. Blue/green gates that read `critterops_*` metrics fail.",
        ],
        _sh(
            f"kubectl -n $NS get pods -l app.kubernetes.io/name={EXPORTER_JOB}",
            f"kubectl -n $NS logs -l app.kubernetes.io/name={EXPORTER_JOB} --since=30m | tail -50",
            f"kubectl -n $NS port-forward svc/{EXPORTER_JOB} {EXPORTER_PORT} >/dev/null &",
            f"curl -s localhost:{EXPORTER_PORT}/metrics | grep -v '^#' | head -40",
        ),
        [
            "- Crash-looping: read the logs (bad configuration, missing credentials for a database).",
            "- Running but slow: a scrape longer than the timeout (20 s) counts as down; see "
            f"`{m.SCRAPE_DURATION}` per target and fix the slow database.",
            f"- Restart: `kubectl -n $NS rollout restart deployment/{EXPORTER_JOB}`.",
        ],
        ["No application rollback: roll back the exporter's own deployment if a new version broke it."],
        ["- Whoever runs the monitoring stack; not a customer-facing emergency by itself."],
    )


def _exporter_errors_page(ctx: KitContext, rules: list[Alert]) -> _Page:
    return _Page(
        "critterops-exporter failed to read one of its targets (a service's database, or RabbitMQ) more than twice in "
        "10 minutes.",
        [
            "- The target's metrics are stale or missing: for `postgres:<service>` its projection, envelope, "
            "dead-letter, node and saga metrics; for `rabbitmq` the queue metrics.",
        ],
        ["- Alerts on the missing metrics cannot fire."],
        [
            *_promql(
                f"sum by (target) (increase({m.SCRAPE_ERRORS}[10m]))",
                f"max by (target) ({m.SCRAPE_DURATION})",
            ),
            *_sh(
                f"kubectl -n $NS logs -l app.kubernetes.io/name={EXPORTER_JOB} --since=30m"
                " | grep -iE 'error|fail' | tail -30"
            ),
        ],
        [
            "- **Authentication failed**: credentials rotated; update the exporter's secret and restart it.",
            "- **Relation does not exist**: the service has not created its tables yet (first deploy) or uses another "
            "schema; check the exporter's configuration against the service's schema.",
            "- **Timeouts**: the database is overloaded (the exporter's queries are small); see the database's "
            "own monitoring.",
        ],
        ["No application rollback."],
        ["- Whoever runs the monitoring stack; the database owner for database-side errors."],
    )


_PAGES: dict[str, Callable[[KitContext, list[Alert]], _Page]] = {
    "MartenProjectionLagHigh": _lag_page,
    "MartenProjectionStalled": _stalled_page,
    "MartenHighWaterMarkStale": _hwm_page,
    "MartenProjectionEventsSkipped": _skipped_page,
    "WolverineDeadLettersHigh": _dead_letters_page,
    "WolverineOutboxBacklogGrowing": _outbox_page,
    "WolverineInboxBacklogGrowing": _inbox_page,
    "WolverineEnvelopesOrphaned": _orphaned_page,
    "WolverineNodeHeartbeatStale": _heartbeat_page,
    "WolverineNoLeader": _no_leader_page,
    "WolverineHandlerFailureRateHigh": _handler_page,
    "SagaStuckInState": _saga_page,
    "RabbitMqQueueWithoutConsumers": _no_consumer_page,
    "RabbitMqDeadLetterQueueHigh": _rabbit_dlq_page,
    "RabbitMqDown": _rabbit_down_page,
    "HttpErrorRateHigh": _http_errors_page,
    "HttpLatencyHigh": _http_latency_page,
    "CritteropsExporterDown": _exporter_down_page,
    "CritteropsExporterScrapeErrors": _exporter_errors_page,
}


def _index(ctx: KitContext, names: list[str], found: list[Alert]) -> str:
    lines = [
        "# Runbooks",
        "",
        f"One page per alert of `observability/prometheus/alerts.yaml` for {ctx.name}; each alert's `runbook_url` "
        "points here. Every page: Symptoms, Impact, Diagnosis (PromQL and SQL against the service's own tables), "
        "Remediation, Rollback, Escalation.",
        "",
        "| alert | severity | covers | summary |",
        "|---|---|---|---|",
    ]
    for name in names:
        rules = [a for a in found if a.name == name]
        services, severity = table_cells(rules)
        summary = _PAGES[name](ctx, rules).summary.split(": ")[0].split(". ")[0].rstrip(".")
        lines.append(f"| [{name}]({name}.md) | {severity} | {services} | {summary} |")
    lines += [
        "",
        "Conventions: `NS` is the namespace of the alert's `environment` label; `q '<PromQL>'` runs a query with "
        "`promtool query instant`; SQL runs in the service's database. Commands that change state are marked in "
        "each page's Remediation section; run Diagnosis first.",
    ]
    return "\n".join(lines) + "\n"
