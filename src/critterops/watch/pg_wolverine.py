"""Wolverine's durable storage in one schema: inbox and outbox backlog by owner, envelopes orphaned by a
vanished node, dead letters, nodes with their heartbeat, version and leadership.

``owner_id = 0`` means any node's durability agent may recover the row; another value is the owning
node's ``node_number``, and a row whose owner is no longer in ``wolverine_nodes`` is recovered by
nobody. ``Handled`` inbox rows are kept for a while after handling and are not backlog. Each table
group is one statement: both envelope tables (joined to the nodes for orphans), the dead letters, the
nodes with their leader assignment. The optional ``timestamp``/``expires`` columns are never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from psycopg import sql

from critterops import metrics as m
from critterops.watch.pg_layout import Statement
from critterops.watch.samples import Sample, sample

INCOMING = "wolverine_incoming_envelopes"
OUTGOING = "wolverine_outgoing_envelopes"
DEAD_LETTERS = "wolverine_dead_letters"
NODES = "wolverine_nodes"
ASSIGNMENTS = "wolverine_node_assignments"
TABLES = (INCOMING, OUTGOING, DEAD_LETTERS, NODES, ASSIGNMENTS)

ENVELOPE_NEEDS: Mapping[str, tuple[str, ...]] = {
    INCOMING: ("status", "owner_id"),
    OUTGOING: ("destination", "owner_id"),
}
ORPHAN_NEEDS: Mapping[str, tuple[str, ...]] = {NODES: ("node_number",)}
DEAD_LETTER_NEEDS: Mapping[str, tuple[str, ...]] = {DEAD_LETTERS: ("message_type", "exception_type", "sent_at")}
NODE_NEEDS: Mapping[str, tuple[str, ...]] = {
    NODES: ("id", "node_number", "version", "health_check"),
    ASSIGNMENTS: ("id", "node_id"),
}

PENDING_STATUSES = ("Incoming", "Scheduled")
OWNERS = {True: "any", False: "node"}  # keyed by owner_id = 0
_HANDLED = "Handled"
_LEADER_PREFIX = "wolverine://leader%"  # stored with or without a trailing slash

_ENVELOPES = sql.SQL(
    "SELECT 'incoming', i.status, i.owner_id = 0, count(*), {orphan_in}"
    " FROM {s}.{incoming} AS i {join_in} WHERE i.status <> %(handled)s GROUP BY 2, 3"
    " UNION ALL"
    " SELECT 'outgoing', o.destination, o.owner_id = 0, count(*), {orphan_out}"
    " FROM {s}.{outgoing} AS o {join_out} GROUP BY 2, 3"
)
_ORPHANS = sql.SQL("count(*) FILTER (WHERE {a}.owner_id <> 0 AND {n}.node_number IS NULL)")
_JOIN = sql.SQL("LEFT JOIN {s}.{nodes} AS {n} ON {n}.node_number = {a}.owner_id")
_DEAD_LETTERS = sql.SQL(
    "SELECT d.message_type, d.exception_type, count(*), extract(epoch FROM now() - min(d.sent_at))::float8"
    " FROM {s}.{t} AS d GROUP BY 1, 2 ORDER BY 1, 2"
)
_NODES = sql.SQL(
    "SELECT n.node_number, n.version, extract(epoch FROM now() - n.health_check)::float8,"
    " EXISTS (SELECT 1 FROM {s}.{assignments} AS a WHERE a.node_id = n.id AND a.id LIKE %(leader)s)"
    " FROM {s}.{nodes} AS n ORDER BY n.node_number"
)


def envelopes_statement(schema: str, *, orphans: bool) -> Statement:
    """Pending inbox rows by status and owner, outbox rows by destination and owner; with ``orphans``
    (the nodes table exists) also how many of them belong to a node that is gone."""
    s = sql.Identifier(schema)
    parts: dict[str, sql.Composable] = {}
    for alias, side in (("i", "in"), ("o", "out")):
        a, n = sql.Identifier(alias), sql.Identifier(f"n{alias}")
        if orphans:
            parts[f"orphan_{side}"] = _ORPHANS.format(a=a, n=n)
            parts[f"join_{side}"] = _JOIN.format(s=s, nodes=sql.Identifier(NODES), n=n, a=a)
        else:
            parts[f"orphan_{side}"] = sql.SQL("NULL::bigint")
            parts[f"join_{side}"] = sql.SQL("")
    query = _ENVELOPES.format(s=s, incoming=sql.Identifier(INCOMING), outgoing=sql.Identifier(OUTGOING), **parts)
    return Statement("wolverine envelopes", query, {"handled": _HANDLED})


def dead_letters_statement(schema: str) -> Statement:
    query = _DEAD_LETTERS.format(s=sql.Identifier(schema), t=sql.Identifier(DEAD_LETTERS))
    return Statement(DEAD_LETTERS, query, {})


def nodes_statement(schema: str) -> Statement:
    query = _NODES.format(
        s=sql.Identifier(schema), nodes=sql.Identifier(NODES), assignments=sql.Identifier(ASSIGNMENTS)
    )
    return Statement(NODES, query, {"leader": _LEADER_PREFIX})


def envelope_samples(
    rows: list[tuple[Any, ...]],
    labels: Mapping[str, str],
    *,
    orphans: bool,
    destinations: Iterable[str] = (),
) -> list[Sample]:
    """Zeros where there are no rows, so the series never vanish and a ``sum`` reads 0 rather than
    nothing: the inbox for every status and owner, the outbox for every owner of each destination in
    ``destinations`` (those seen in earlier reads) and of each destination read now. An outbox whose
    destinations are all unknown (nothing was ever sent through it) gets one zero per owner without a
    destination label. Orphan counts per table (0 included) when the nodes table exists."""
    inbox = {(status, owner): 0 for status in PENDING_STATUSES for owner in OWNERS.values()}
    outbox = {(destination, owner): 0 for destination in destinations for owner in OWNERS.values()}
    orphaned = {"incoming": 0, "outgoing": 0}
    for table, key, unowned, count, orphan_count in rows:
        owner = OWNERS[bool(unowned)]
        if table == "incoming":
            inbox[(str(key), owner)] = int(count)
        else:
            outbox[(str(key), owner)] = int(count)
        orphaned[table] += int(orphan_count or 0)
    for destination in {key for key, _ in outbox}:
        for owner in OWNERS.values():
            outbox.setdefault((destination, owner), 0)
    if not outbox:
        outbox = {("", owner): 0 for owner in OWNERS.values()}
    out = [sample(m.INBOX_PENDING, n, **labels, status=s, owner=o) for (s, o), n in sorted(inbox.items())]
    out += [sample(m.OUTBOX_PENDING, n, **labels, destination=d, owner=o) for (d, o), n in sorted(outbox.items())]
    if orphans:
        out += [sample(m.ENVELOPES_ORPHANED, n, **labels, table=t) for t, n in orphaned.items()]
    return out


def outbox_destinations(rows: list[tuple[Any, ...]]) -> set[str]:
    """The destinations of the outbox rows among the rows of :func:`envelopes_statement`."""
    return {str(key) for table, key, *_ in rows if table == "outgoing"}


def dead_letter_samples(rows: list[tuple[Any, ...]], labels: Mapping[str, str]) -> list[Sample]:
    """Counts by message and exception type; the oldest age only when there is a row to be old."""
    counts: dict[tuple[str, str], int] = {}
    for message_type, exception_type, count, _ in rows:  # NULL and '' are one series: add them up
        key = (str(message_type or ""), str(exception_type or ""))
        counts[key] = counts.get(key, 0) + int(count)
    out = [
        sample(m.DEAD_LETTERS, count, **labels, message_type=message_type, exception_type=exception_type)
        for (message_type, exception_type), count in sorted(counts.items())
    ]
    ages = [age for *_, age in rows if age is not None]
    if ages:
        out.append(sample(m.DEAD_LETTER_OLDEST, max(max(ages), 0.0), **labels))
    return out


def node_samples(rows: list[tuple[Any, ...]], labels: Mapping[str, str]) -> list[Sample]:
    out: list[Sample] = []
    for number, version, heartbeat_age, leader in rows:
        node = str(number)
        out.append(sample(m.NODE_INFO, 1, **labels, node=node, version=version or "", leader=str(leader).lower()))
        if heartbeat_age is not None:
            out.append(sample(m.NODE_HEARTBEAT_AGE, max(heartbeat_age, 0.0), **labels, node=node))
    out.append(sample(m.LEADERS, sum(1 for *_, leader in rows if leader), **labels))
    return out
