"""Wolverine nodes: a node that stopped writing its heartbeat, and a store with no leader.

These apply to services whose Wolverine envelopes live in PostgreSQL: the exporter reads
``{schema}.wolverine_nodes`` (``health_check``, written every 10 s) and the
``wolverine://leader`` row of ``wolverine_node_assignments``.
"""

from __future__ import annotations

from typing import Final

from critterops import metrics as m
from critterops.generate.alerts.fixtures import FIXTURE_ENV, exporter_labels, items, sel
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import heading, logs, pods, restart, roll_back, sh, sql
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, wrap
from critterops.model import Service
from critterops.model.storage import durable_storage, message_schema

HEARTBEAT_LIMIT_SECONDS: Final = 120


def _of(service: str) -> str:
    return f'{{service="{service}"}}'


# -- WolverineNodeHeartbeatStale --------------------------------------------------------------------------------


def _heartbeat_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not durable_storage(service):
        return []
    name, schema = service.name, message_schema(service)
    node = {**FIXTURE_ENV, "service": name, "schema": schema, "node": "2"}
    return [
        Rule(
            name,
            agg("max by (environment, service, schema, node)", m.NODE_HEARTBEAT_AGE + _of(name))
            + f" > {HEARTBEAT_LIMIT_SECONDS}",
            f"Wolverine node {{{{ $labels.node }}}} of {name} stopped reporting",
            wrap(
                f"Node {{{{ $labels.node }}}} in {schema}.wolverine_nodes last updated its health_check "
                "{{ $value | humanizeDuration }} ago (Wolverine writes it every 10 s and ejects nodes after 1 minute): "
                "the node hangs, lost its database, or no leader is ejecting dead nodes."
            ),
            Case((Sample(sel(m.NODE_HEARTBEAT_AGE, node, exporter_labels()), "300+60x30"),), "10m", items(node), 900),
            Case((Sample(sel(m.NODE_HEARTBEAT_AGE, node, exporter_labels()), "10x30"),), "10m"),
            schema=schema,
            database=service.database,
        )
    ]


def _heartbeat_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = message_schema(service)
        out += [
            heading(service, schema),
            "",
            *sql(
                "SELECT n.node_number, n.uri, n.version, n.started, now() - n.health_check AS since_heartbeat,",
                "       array_agg(a.id) FILTER (WHERE a.id IS NOT NULL) AS agents",
                f"FROM {schema}.wolverine_nodes n LEFT JOIN {schema}.wolverine_node_assignments a ON a.node_id = n.id",
                "GROUP BY 1, 2, 3, 4, 5 ORDER BY 1;",
                f"SELECT * FROM {schema}.wolverine_node_records ORDER BY timestamp DESC LIMIT 20;",
            ),
            *sh(
                f"kubectl -n $NS get pods {pods(service.name)} -o wide",
                logs(service.name, "health|Health|leader|Npgsql|Exception"),
            ),
        ]
    return out


HEARTBEAT_STALE = AlertRecord(
    name="WolverineNodeHeartbeatStale",
    concern="nodes",
    severity="warning",
    for_="2m",
    pending_at="1m",
    per_service=_heartbeat_rule,
    runbook=Runbook(
        meaning="A node's `health_check` in `wolverine_nodes` has not been updated for over 2 minutes. Wolverine "
        "writes it every 10 seconds and the leader ejects nodes silent for a minute, so either the node hangs or "
        "lost its database, or no leader is ejecting dead nodes.",
        symptoms=(
            "- The node's agents (projection shards, scheduled jobs, listeners assigned by the leader) may not run.",
            "- `wolverine_node_records` shows no recent `DormantNodeEjected` for the node.",
        ),
        impact=(
            "- Work assigned to the silent node stops until it is ejected and reassigned.",
            "- Its inbox/outbox rows stay owned by it "
            "(see [WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md)).",
        ),
        diagnosis=_heartbeat_diagnosis,
        remediation=lambda c: [
            "- **The pod is gone** but the row stays: no node is leader. Restart the service so a node takes "
            "leadership and ejects the stale one:",
            "",
            *sh(restart(c.ctx, "$SVC")),
            "- **The pod runs but is stuck** (thread starvation, database connection pool exhausted): delete that pod; "
            "the leader reassigns its agents:",
            "",
            *sh("kubectl -n $NS delete pod <pod>"),
        ],
        rollback=roll_back("Roll back if nodes of the new version hang (compare `version`)."),
        escalation=lambda c: [f"- Nodes keep going silent: {c.owners}; database connectivity: the database owner."],
    ),
)


# -- WolverineNoLeader ------------------------------------------------------------------------------------------


def _no_leader_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not durable_storage(service):
        return []
    name, schema = service.name, message_schema(service)
    store = {**FIXTURE_ENV, "service": name, "schema": schema}
    node = {**store, "node": "1", "version": "1.0.0", "leader": "false"}
    leaders = Sample(sel(m.LEADERS, store, exporter_labels()), "0x30")
    return [
        Rule(
            name,
            agg("max by (environment, service, schema)", m.LEADERS + _of(name))
            + " == 0\nand on (environment, service, schema)\n"
            + agg("count by (environment, service, schema)", m.NODE_INFO + _of(name))
            + " > 0",
            f"No Wolverine node of {name} is leader",
            wrap(
                f"{name} has nodes in {schema}.wolverine_nodes but none holds wolverine://leader: nobody assigns "
                "agents (projection shards under managed distribution, durability agents), ejects dead nodes or "
                "recovers their envelopes."
            ),
            Case((leaders, Sample(sel(m.NODE_INFO, node), "1x30")), "10m", items(store), 0),
            Case(
                (Sample(sel(m.LEADERS, store, exporter_labels()), "1x30"), Sample(sel(m.NODE_INFO, node), "1x30")),
                "10m",
            ),
            schema=schema,
            database=service.database,
        )
    ]


def _no_leader_diagnosis(covered: Covered) -> list[str]:
    out: list[str] = []
    for service in covered.services:
        schema = message_schema(service)
        out += [
            heading(service, schema),
            "",
            *sql(
                f"SELECT a.id AS agent, n.node_number, n.version FROM {schema}.wolverine_node_assignments a",
                f"  JOIN {schema}.wolverine_nodes n ON n.id = a.node_id WHERE a.id LIKE 'wolverine://leader%';",
                f"SELECT * FROM {schema}.wolverine_node_records",
                " WHERE event_name IN ('LeadershipAssumed', 'NodeStopped', 'DormantNodeEjected')",
                " ORDER BY timestamp DESC LIMIT 20;",
                "-- the leader lock is a PostgreSQL advisory lock: who holds advisory locks?",
                "SELECT pid, application_name, state, backend_start FROM pg_stat_activity",
                " WHERE pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory');",
            ),
            *sh(logs(service.name, "leader|Leader|advisory|Npgsql|Exception")),
        ]
    return out


NO_LEADER = AlertRecord(
    name="WolverineNoLeader",
    concern="nodes",
    severity="critical",
    for_="2m",
    pending_at="1m",
    per_service=_no_leader_rule,
    runbook=Runbook(
        meaning="The service has rows in `wolverine_nodes`, but no node holds the `wolverine://leader` assignment in "
        "`wolverine_node_assignments`. The leader is elected through a PostgreSQL advisory lock and assigns "
        "every other agent.",
        symptoms=(
            "- `critterops status` shows the store with nodes and `leader` not `yes`.",
            "- No recent `LeadershipAssumed` in `wolverine_node_records`.",
        ),
        impact=(
            "- Agents are not (re)assigned: projection shards under managed distribution, scheduled-message and "
            "durability agents stop moving on nodes that lose them.",
            "- Dead nodes are not ejected, so their inbox/outbox rows stay orphaned "
            "(see [WolverineEnvelopesOrphaned](WolverineEnvelopesOrphaned.md)).",
        ),
        diagnosis=_no_leader_diagnosis,
        remediation=lambda c: [
            "- **A session holds the advisory lock but its node is gone** (a stuck connection): terminate that "
            "backend (`SELECT pg_terminate_backend(<pid>)`); a live node takes the lock within seconds.",
            "- **All nodes are stale rows** (the pods are gone): restart the service so a node starts and takes "
            "leadership:",
            "",
            *sh(restart(c.ctx, "$SVC")),
        ],
        rollback=roll_back("Roll back if the leaderless state began with a deployment (compare `version`)."),
        escalation=lambda c: [
            f"- Leadership keeps failing: {c.owners}; database locks and connections: the database owner."
        ],
    ),
)

RECORDS = (HEARTBEAT_STALE, NO_LEADER)
