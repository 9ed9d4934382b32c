"""Marten 8 and Wolverine 5 tables, as the services create them, for tests and benchmarks of the exporter.

The columns follow ``docs/reference/critter-ops.md`` sections 1–3 (Marten ``V8.29.3``, Wolverine
``V5.29.0``); ``optional=True`` adds the columns that only exist when a feature is switched on
(extended progression tracking, stale-time and dead-letter expiry columns, event metadata), so the
collector can be tested against both layouts. Every function takes an open autocommit connection and
the schema; bulk fills run as one ``generate_series`` statement, so a million events take seconds.
Times are given as seconds *ago* on the database's clock, which is the clock the collector reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

Conn = psycopg.Connection[Any]

LEADER = "wolverine://leader"


Params = Sequence[object] | Mapping[str, object]


def _run(conn: Conn, statement: str, schema: str, params: Params = (), **names: str) -> None:
    _fetch(conn, statement, schema, params, **names)


def _fetch(conn: Conn, statement: str, schema: str, params: Params = (), **names: str) -> list[Any]:
    """Run ``statement`` with ``{s}`` bound to the schema and each ``{name}`` to an identifier."""
    idents = {key: sql.Identifier(value) for key, value in names.items()}
    cursor = conn.execute(sql.SQL(statement).format(s=sql.Identifier(schema), **idents), params or None)
    return cursor.fetchall() if cursor.description else []


# --- Marten event store -------------------------------------------------------------------------------------------


def create_marten(conn: Conn, schema: str, *, optional: bool = False, dead_letter_table: bool = True) -> None:
    """``mt_events`` (+ ``mt_events_sequence``), ``mt_streams``, ``mt_event_progression`` and, unless
    ``dead_letter_table`` is False, ``mt_doc_deadletterevent``. ``optional`` adds the event metadata
    columns and the optimized-rebuild and extended-tracking columns of the progression table."""
    _run(conn, "CREATE SCHEMA IF NOT EXISTS {s}", schema)
    _run(conn, "CREATE SEQUENCE {s}.mt_events_sequence", schema)
    event_extras = (
        ", correlation_id varchar, causation_id varchar, headers jsonb, user_name varchar"
        ", is_skipped boolean DEFAULT false"
        if optional
        else ""
    )
    sequence = sql.Literal(f"{_quoted(schema)}.mt_events_sequence")
    conn.execute(
        sql.SQL(
            "CREATE TABLE {s}.mt_events ("
            " seq_id bigint NOT NULL DEFAULT nextval({seq}::regclass),"
            " id uuid NOT NULL, stream_id uuid, version bigint NOT NULL, data jsonb NOT NULL,"
            " type varchar(500) NOT NULL, timestamp timestamptz NOT NULL DEFAULT now(),"
            " tenant_id varchar DEFAULT '*DEFAULT*', mt_dotnet_type varchar, is_archived boolean DEFAULT false"
            + event_extras
            + ", CONSTRAINT pkey_mt_events_seq_id PRIMARY KEY (seq_id))"
        ).format(s=sql.Identifier(schema), seq=sequence)
    )
    _run(conn, "ALTER SEQUENCE {s}.mt_events_sequence OWNED BY {s}.mt_events.seq_id", schema)
    _run(
        conn,
        "CREATE TABLE {s}.mt_streams (id uuid PRIMARY KEY, type varchar, version bigint,"
        " timestamp timestamptz NOT NULL DEFAULT now(), snapshot jsonb, snapshot_version integer,"
        " created timestamptz NOT NULL DEFAULT now(), tenant_id varchar DEFAULT '*DEFAULT*',"
        " is_archived boolean DEFAULT false)",
        schema,
    )
    progression_extras = (
        ", mode varchar DEFAULT 'none', rebuild_threshold bigint DEFAULT 0, assigned_node integer DEFAULT 0"
        ", heartbeat timestamptz, agent_status varchar, pause_reason varchar, running_on_node integer"
        ", warning_behind_threshold bigint, critical_behind_threshold bigint"
        if optional
        else ""
    )
    _run(
        conn,
        "CREATE TABLE {s}.mt_event_progression (name varchar CONSTRAINT pk_mt_event_progression PRIMARY KEY,"
        " last_seq_id bigint, last_updated timestamptz DEFAULT transaction_timestamp()" + progression_extras + ")",
        schema,
    )
    if dead_letter_table:
        create_document_table(conn, schema, "mt_doc_deadletterevent")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def append_events(conn: Conn, schema: str, count: int, *, ago_s: float = 0.0, step_s: float = 0.0) -> int:
    """Append ``count`` events (sequence numbers from ``mt_events_sequence``, as Marten does) to
    ``count // 10 + 1`` streams; the first is ``ago_s`` seconds old, each next one ``step_s`` younger.
    Returns the last sequence number handed out."""
    if count <= 0:
        return head(conn, schema)
    _run(
        conn,
        "INSERT INTO {s}.mt_events (id, stream_id, version, data, type, timestamp, mt_dotnet_type)"
        " SELECT gen_random_uuid(), streams.id[1 + i %% cardinality(streams.id)], i / cardinality(streams.id) + 1,"
        " jsonb_build_object('OrderId', gen_random_uuid(), 'Sku', 'SKU-' || (i %% 997), 'Quantity', 1 + i %% 7,"
        "   'Warehouse', 'WH-' || (i %% 13), 'Reason', 'restock after inventory count', 'Sequence', i),"
        " 'inventory_adjusted', now() - make_interval(secs => %(ago)s - i * %(step)s),"
        " 'Inventory.InventoryAdjusted, Inventory'"
        " FROM generate_series(0, %(n)s - 1) AS i,"
        " (SELECT array_agg(gen_random_uuid()) AS id FROM generate_series(0, %(n)s / 10)) AS streams"
        " ORDER BY i",
        schema,
        {"n": count, "ago": ago_s, "step": step_s},
    )
    return head(conn, schema)


def head(conn: Conn, schema: str) -> int:
    """The last sequence number handed out (0 before the first event)."""
    row = _fetch(conn, "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {s}.mt_events_sequence", schema)
    return int(row[0][0])


def set_progression(conn: Conn, schema: str, name: str, last_seq_id: int) -> None:
    """Insert or move a progression row (a shard such as ``Trip:All``, or ``HighWaterMark``); like
    Marten 8, a move leaves ``last_updated`` as it was."""
    _run(
        conn,
        "INSERT INTO {s}.mt_event_progression (name, last_seq_id) VALUES (%s, %s)"
        " ON CONFLICT (name) DO UPDATE SET last_seq_id = excluded.last_seq_id",
        schema,
        (name, last_seq_id),
    )


def add_dead_letter_events(conn: Conn, schema: str, shard: str, count: int) -> None:
    """``count`` poisoned events of ``shard`` (``Trip:All`` or ``Trip:V2:All``) in ``mt_doc_deadletterevent``,
    stored as JasperFx does: ``ProjectionName`` is the name, ``ShardName`` only the shard key (no version)."""
    projection, key = shard.split(":", 1)[0], shard.rsplit(":", 1)[-1]
    _run(
        conn,
        "INSERT INTO {s}.mt_doc_deadletterevent (id, data, mt_dotnet_type)"
        " SELECT gen_random_uuid(), jsonb_build_object('ProjectionName', %(p)s::text, 'ShardName', %(s)s::text,"
        "  'Timestamp', now(), 'ExceptionMessage', 'boom', 'ExceptionType', 'System.InvalidOperationException',"
        "  'EventSequence', i), 'JasperFx.Events.Daemon.DeadLetterEvent, JasperFx.Events'"
        " FROM generate_series(1, %(n)s) AS i",
        schema,
        {"p": projection, "s": key, "n": count},
    )


# --- Wolverine durable storage ----------------------------------------------------------------------------------


def create_wolverine(conn: Conn, schema: str, *, optional: bool = False) -> None:
    """The envelope, dead-letter and node tables; ``optional`` adds the ``timestamp`` columns
    (``InboxStaleTime``/``OutboxStaleTime``) and the dead letters' ``expires``."""
    _run(conn, "CREATE SCHEMA IF NOT EXISTS {s}", schema)
    stale = ", timestamp timestamptz DEFAULT now()" if optional else ""
    _run(
        conn,
        "CREATE TABLE {s}.wolverine_incoming_envelopes (id uuid PRIMARY KEY, status varchar NOT NULL,"
        " owner_id integer NOT NULL, execution_time timestamptz, attempts integer DEFAULT 0, body bytea NOT NULL,"
        " message_type varchar NOT NULL, received_at varchar, keep_until timestamptz" + stale + ")",
        schema,
    )
    _run(
        conn,
        "CREATE TABLE {s}.wolverine_outgoing_envelopes (id uuid PRIMARY KEY, owner_id integer NOT NULL,"
        " destination varchar NOT NULL, deliver_by timestamptz, body bytea NOT NULL, attempts integer DEFAULT 0,"
        " message_type varchar NOT NULL" + stale + ")",
        schema,
    )
    expires = ", expires timestamptz" if optional else ""
    _run(
        conn,
        "CREATE TABLE {s}.wolverine_dead_letters (id uuid PRIMARY KEY, execution_time timestamptz, body bytea,"
        " message_type varchar, received_at varchar, source varchar, exception_type varchar,"
        " exception_message varchar, sent_at timestamptz, replayable boolean" + expires + ")",
        schema,
    )
    _run(
        conn,
        "CREATE TABLE {s}.wolverine_nodes (id uuid PRIMARY KEY, node_number SERIAL NOT NULL UNIQUE,"
        " description varchar NOT NULL DEFAULT '', uri varchar NOT NULL DEFAULT '',"
        " started timestamptz NOT NULL DEFAULT now(), health_check timestamptz NOT NULL DEFAULT now(),"
        " version varchar, capabilities text[])",
        schema,
    )
    _run(
        conn,
        "CREATE TABLE {s}.wolverine_node_assignments (id varchar PRIMARY KEY,"
        " node_id uuid REFERENCES {s}.wolverine_nodes (id) ON DELETE CASCADE, started timestamptz DEFAULT now())",
        schema,
    )
    _run(
        conn,
        "CREATE TABLE {s}.wolverine_node_records (id SERIAL PRIMARY KEY, node_number integer NOT NULL,"
        " event_name varchar NOT NULL, timestamp timestamptz NOT NULL DEFAULT now(), description varchar)",
        schema,
    )


def add_incoming(
    conn: Conn,
    schema: str,
    count: int,
    *,
    status: str = "Incoming",
    owner_id: int = 0,
    message_type: str = "PlaceOrder",
) -> None:
    _run(
        conn,
        "INSERT INTO {s}.wolverine_incoming_envelopes (id, status, owner_id, execution_time, body, message_type,"
        " received_at, keep_until)"
        " SELECT gen_random_uuid(), %(status)s::text, %(owner)s,"
        " CASE WHEN %(status)s::text = 'Scheduled' THEN now() + interval '1 hour' END, '\\x00'::bytea, %(type)s,"
        " 'local://order-placement', CASE WHEN %(status)s::text = 'Handled' THEN now() + interval '5 minutes' END"
        " FROM generate_series(1, %(n)s)",
        schema,
        {"status": status, "owner": owner_id, "type": message_type, "n": count},
    )


def add_outgoing(
    conn: Conn, schema: str, count: int, *, destination: str, owner_id: int = 0, message_type: str = "ReserveStock"
) -> None:
    _run(
        conn,
        "INSERT INTO {s}.wolverine_outgoing_envelopes (id, owner_id, destination, body, message_type)"
        " SELECT gen_random_uuid(), %(owner)s, %(dest)s, '\\x00'::bytea, %(type)s FROM generate_series(1, %(n)s)",
        schema,
        {"owner": owner_id, "dest": destination, "type": message_type, "n": count},
    )


def add_dead_letters(
    conn: Conn,
    schema: str,
    count: int,
    *,
    message_type: str = "PlaceOrder",
    exception_type: str = "System.InvalidOperationException",
    ago_s: float = 0.0,
) -> None:
    """``count`` dead letters, the oldest dead-lettered ``ago_s`` seconds ago (the rest up to now)."""
    _run(
        conn,
        "INSERT INTO {s}.wolverine_dead_letters (id, execution_time, body, message_type, received_at, source,"
        " exception_type, exception_message, sent_at, replayable)"
        " SELECT gen_random_uuid(), NULL, convert_to(repeat('OrderId=42;', 8), 'UTF8'), %(type)s,"
        " 'rabbitmq://queue/orders', 'orders-api', %(exc)s, 'Something went wrong while handling the message',"
        " now() - make_interval(secs => %(ago)s * (%(n)s - i) / %(n)s), false"
        " FROM generate_series(0, %(n)s - 1) AS i",
        schema,
        {"type": message_type, "exc": exception_type, "ago": ago_s, "n": count},
    )


def add_node(conn: Conn, schema: str, *, version: str = "1.0.0", heartbeat_ago_s: float = 0.0) -> tuple[uuid.UUID, int]:
    """A running node whose last heartbeat was ``heartbeat_ago_s`` ago; its (id, node_number)."""
    node_id = uuid.uuid4()
    rows = _fetch(
        conn,
        "INSERT INTO {s}.wolverine_nodes (id, description, uri, health_check, version, capabilities)"
        " VALUES (%s, 'node', 'http://localhost:5000', now() - make_interval(secs => %s), %s,"
        " ARRAY['wolverine://leader']) RETURNING node_number",
        schema,
        (node_id, heartbeat_ago_s, version),
    )
    return node_id, int(rows[0][0])


def assign(conn: Conn, schema: str, agent: str, node_id: uuid.UUID) -> None:
    """Record that ``node_id`` runs the agent ``agent`` (e.g. ``wolverine://leader``)."""
    _run(conn, "INSERT INTO {s}.wolverine_node_assignments (id, node_id) VALUES (%s, %s)", schema, (agent, node_id))


def remove_node(conn: Conn, schema: str, node_id: uuid.UUID) -> None:
    """Delete the node row (and, by cascade, its assignments) without releasing its envelopes: what a
    crash followed by another node ejecting it leaves behind."""
    _run(conn, "DELETE FROM {s}.wolverine_nodes WHERE id = %s", schema, (node_id,))


# --- Marten documents (sagas) ------------------------------------------------------------------------------------


def create_document_table(conn: Conn, schema: str, table: str) -> None:
    """A Marten document table with the default metadata columns (numeric revisions, as Wolverine
    forces on sagas)."""
    _run(conn, "CREATE SCHEMA IF NOT EXISTS {s}", schema)
    _run(
        conn,
        "CREATE TABLE {s}.{t} (id uuid CONSTRAINT {pk} PRIMARY KEY, data jsonb NOT NULL,"
        " mt_last_modified timestamptz DEFAULT transaction_timestamp(), mt_version integer NOT NULL DEFAULT 0,"
        " mt_dotnet_type varchar)",
        schema,
        t=table,
        pk=f"pkey_{table}_id",
    )


def add_sagas(
    conn: Conn, schema: str, table: str, count: int, *, state: str, ago_s: float = 0.0, member: str = "Status"
) -> list[uuid.UUID]:
    """``count`` saga documents in ``state``, last saved ``ago_s`` seconds ago; their ids. The document
    carries what an order saga holds (customer, lines, totals), about 600 bytes of JSON."""
    rows = _fetch(
        conn,
        "INSERT INTO {s}.{t} AS d (id, data, mt_last_modified, mt_version, mt_dotnet_type)"
        " SELECT g.id, jsonb_build_object('Id', g.id, %(member)s::text, %(state)s::text,"
        "   'CustomerId', gen_random_uuid(), 'PlacedAt', now() - make_interval(secs => %(ago)s),"
        "   'Lines', jsonb_build_array("
        "     jsonb_build_object('Sku', 'SKU-' || (g.i %% 997), 'Quantity', 1 + g.i %% 5, 'UnitPrice', 19.99),"
        "     jsonb_build_object('Sku', 'SKU-' || (g.i %% 991), 'Quantity', 1, 'UnitPrice', 5.25)),"
        "   'ShippingAddress', jsonb_build_object('Street', '12 Harbour Road', 'City', 'Portsmouth',"
        "     'PostalCode', 'PO1 2AB', 'Country', 'GB'),"
        "   'Total', 45.23, 'PaymentId', gen_random_uuid(), 'ReservationIds', jsonb_build_array(gen_random_uuid())),"
        " now() - make_interval(secs => %(ago)s), 1, 'Orders.Placement.Order, Orders'"
        " FROM (SELECT gen_random_uuid() AS id, i FROM generate_series(1, %(n)s) AS i) AS g"
        " RETURNING d.id",
        schema,
        {"member": member, "state": state, "ago": ago_s, "n": count},
        t=table,
    )
    return [row[0] for row in rows]


def save_saga(
    conn: Conn, schema: str, table: str, saga_id: uuid.UUID, *, state: str, ago_s: float = 0.0, member: str = "Status"
) -> None:
    """Save a saga as Wolverine does: new state, ``mt_last_modified`` moved, revision bumped."""
    _run(
        conn,
        "UPDATE {s}.{t} SET data = jsonb_set(data, ARRAY[%(member)s::text], to_jsonb(%(state)s::text)),"
        " mt_last_modified = now() - make_interval(secs => %(ago)s), mt_version = mt_version + 1 WHERE id = %(id)s",
        schema,
        {"member": member, "state": state, "ago": ago_s, "id": saga_id},
        t=table,
    )


def complete_saga(conn: Conn, schema: str, table: str, saga_id: uuid.UUID) -> None:
    """``MarkCompleted()``: the document is deleted."""
    _run(conn, "DELETE FROM {s}.{t} WHERE id = %s", schema, (saga_id,), t=table)
