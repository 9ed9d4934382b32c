"""The PostgreSQL collector: Marten event store, Wolverine durable storage and saga documents of one
database, turned into ``critterops_*`` samples.

It keeps one read-only autocommit connection (``default_transaction_read_only``, with the target's timeout
as ``statement_timeout`` and ``lock_timeout`` so a migration holding a lock cannot hang a scrape), and
opens a new one on the next read after the connection failed. Per schema it asks ``information_schema``
what exists (cached, read again after an error or every :data:`LAYOUT_TTL_S`), then runs one statement
per table group. A failing statement whose connection survives (a table dropped meanwhile, a timeout)
costs only its part, listed in ``partial``; a lost connection makes the whole read ``up=False``. Errors
never carry the password or the connection string.

Stall time and time in state are kept here across reads (see :mod:`critterops.watch.pg_marten` and
:mod:`critterops.watch.pg_sagas`); the statements are in those modules and in
:mod:`critterops.watch.pg_wolverine`.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from critterops.watch import pg_marten, pg_sagas, pg_wolverine
from critterops.watch.pg_layout import Connection, Layout, Statement, introspect
from critterops.watch.samples import Sample, SourceResult
from critterops.watch.targets import PostgresTarget, SagaTarget, SchemaTarget

APPLICATION_NAME = "critterops-exporter"
LAYOUT_TTL_S = 60.0

_SECRETS = (
    re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE),
    re.compile(r"(://[^:/@\s]*:)[^@\s]*(@)"),
)


def connect(target: PostgresTarget) -> Connection:
    """A connection with the collector's settings: autocommit, read-only transactions, the target's
    timeout for connecting (whole seconds), statements and lock waits. Raises psycopg.Error.

    The settings go in the startup ``options`` (after any the connection string has) and are checked
    with ``SHOW``: a connection pooler that drops startup options silently gets them as session
    ``SET`` commands instead, so no read ever runs without the read-only guard and the timeouts."""
    timeout_ms = max(1, round(target.timeout_s * 1000))
    settings = {
        "default_transaction_read_only": "on",
        "statement_timeout": str(timeout_ms),
        "lock_timeout": str(timeout_ms),
    }
    ours = " ".join(f"-c {name}={value}" for name, value in settings.items())
    given = psycopg.conninfo.conninfo_to_dict(target.conninfo).get("options")
    conn = psycopg.connect(
        target.conninfo,
        autocommit=True,
        connect_timeout=max(1, math.ceil(target.timeout_s)),
        application_name=APPLICATION_NAME,
        options=f"{given} {ours}" if given else ours,
        password=target.password,
        # a server that vanishes mid-query (network partition) must not hold the read until TCP gives up
        keepalives=1,
        keepalives_idle=max(1, math.ceil(target.timeout_s)),
        keepalives_interval=1,
        keepalives_count=3,
        tcp_user_timeout=timeout_ms * 3,
    )
    try:
        row = conn.execute("SHOW default_transaction_read_only").fetchone()
        if row is None or row[0] != "on":
            for name, value in settings.items():
                conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))
    except BaseException:
        conn.close()
        raise
    return conn


def describe(error: BaseException, target: PostgresTarget) -> str:
    """A one-line reason without the password or the connection string (libpq quotes parts of a
    connection string it cannot parse)."""
    diag = getattr(error, "diag", None)
    text = (diag.message_primary if diag is not None else None) or str(error) or type(error).__name__
    if target.password:
        text = text.replace(target.password, "***")
    if target.conninfo:
        text = text.replace(target.conninfo, "<conninfo>")
    text = _SECRETS[0].sub(r"\1***", text)
    text = _SECRETS[1].sub(r"\1***\2", text)
    return " ".join(text.split())


Rows = list[tuple[Any, ...]]
Runner = Callable[[Statement], Rows]


class _PartFailed(Exception):
    """A statement failed but the connection is fine: the part is reported in ``partial``."""


@dataclass(frozen=True, slots=True)
class _Part:
    """One table group of a schema: the statements it may run and how it reads them into samples."""

    statements: tuple[Statement, ...]
    read: Callable[[Runner], list[Sample]]


class PostgresCollector:
    """Reads one database (:class:`~critterops.watch.targets.PostgresTarget`); see the module docstring.

    ``clock`` (epoch seconds) times stalls and the layout cache; ages and time in state use the
    database's clock."""

    def __init__(self, target: PostgresTarget, clock: Callable[[], float] = time.time) -> None:
        self._target = target
        self._clock = clock
        self._conn: Connection | None = None
        self._layouts: dict[str, Layout] = {}
        self._stalls: dict[str, pg_marten.StallTracker] = {}
        self._sagas: dict[tuple[str, str], pg_sagas.SagaTracker] = {}
        self._noted: set[str] = set()

    @property
    def target(self) -> str:
        return self._target.target

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def collect(self) -> SourceResult:
        started = time.perf_counter()
        samples: list[Sample] = []
        partial: list[str] = []
        notes: list[str] = []
        error: str | None = None
        try:
            conn = self._connection()
            for schema in self._target.schemas:
                self._collect_schema(conn, schema, samples, partial, notes)
        except psycopg.Error as failure:
            self.close()
            error = describe(failure, self._target)
        return SourceResult(
            target=self.target,
            up=error is None,
            duration_s=time.perf_counter() - started,
            samples=tuple(samples),
            error=error,
            notes=tuple(notes),
            partial=tuple(partial),
        )

    def statements(self, schema: str) -> list[Statement]:
        """Every statement a read of ``schema`` may run, as it would run now (the saga resync as for one
        bucket whose count changed). For ``EXPLAIN``: connects if needed, raises psycopg.Error."""
        found = [s for s in self._target.schemas if s.schema == schema]
        if not found:
            raise KeyError(f"{schema!r} is not a schema of {self.target}")
        parts, _ = self._plan(found[0], self._layout(self._connection(), found[0]))
        return [statement for part in parts for statement in part.statements]

    # --- connection and layout ---------------------------------------------------------------------------------

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self.close()
            self._conn = connect(self._target)
        return self._conn

    def _layout(self, conn: Connection, schema: SchemaTarget) -> Layout:
        now = self._clock()
        cached = self._layouts.get(schema.schema)
        if cached is None or now - cached.read_at >= LAYOUT_TTL_S:
            tables = [*pg_marten.TABLES, pg_marten.DEAD_LETTER_TABLE, *pg_wolverine.TABLES]
            tables += [saga.table for saga in schema.sagas]
            cached = introspect(conn, schema.schema, tables, [pg_marten.SEQUENCE], now)
            self._layouts[schema.schema] = cached
        return cached

    def _collect_schema(
        self, conn: Connection, schema: SchemaTarget, samples: list[Sample], partial: list[str], notes: list[str]
    ) -> None:
        """Read every part of one schema; a part that fails with the connection intact goes to
        ``partial`` (and the layout is read again next time); a lost connection propagates."""

        def run(statement: Statement) -> Rows:
            try:
                return statement.run(conn)
            except psycopg.Error as error:
                if conn.closed or conn.broken:
                    raise
                self._layouts.pop(schema.schema, None)
                raise _PartFailed(f"{schema.schema}: {statement.part}: {describe(error, self._target)}") from error

        try:
            layout = self._layout(conn, schema)
        except psycopg.Error as error:
            if conn.closed or conn.broken:
                raise
            partial.append(f"{schema.schema}: information_schema: {describe(error, self._target)}")
            return
        parts, remarks = self._plan(schema, layout)
        notes.extend(remark for remark in remarks if remark not in self._noted)
        self._noted.update(remarks)
        for part in parts:
            try:
                samples.extend(part.read(run))
            except _PartFailed as failed:
                partial.append(str(failed))

    # --- what to read in one schema ---------------------------------------------------------------------------

    def _plan(self, schema: SchemaTarget, layout: Layout) -> tuple[list[_Part], list[str]]:
        """The parts whose tables and columns exist, and a remark for each expected group that is
        missing (the caller reports each remark once)."""
        name = schema.schema
        labels = {"service": schema.service, "bounded_context": schema.bounded_context, "schema": name}
        parts: list[_Part] = []
        remarks: list[str] = []

        def usable(needs: Mapping[str, Iterable[str]], what: str) -> bool:
            missing = layout.missing(needs)
            if missing:
                remarks.append(f"{name}: {what}: {', '.join(missing)} not found; skipped")
            return not missing

        if schema.events is not False and usable(pg_marten.TABLES, "no Marten event store"):
            parts += self._marten_parts(name, layout, labels)
        if schema.wolverine is not False and usable({pg_wolverine.INCOMING: ()}, "no Wolverine tables"):
            if usable(pg_wolverine.ENVELOPE_NEEDS, "Wolverine inbox and outbox"):
                parts.append(_envelopes_part(name, labels, orphans=not layout.missing(pg_wolverine.ORPHAN_NEEDS)))
            if usable(pg_wolverine.DEAD_LETTER_NEEDS, "Wolverine dead letters"):
                statement = pg_wolverine.dead_letters_statement(name)
                parts.append(_Part((statement,), lambda run: pg_wolverine.dead_letter_samples(run(statement), labels)))
            if usable(pg_wolverine.NODE_NEEDS, "Wolverine nodes"):
                nodes = pg_wolverine.nodes_statement(name)
                parts.append(_Part((nodes,), lambda run: pg_wolverine.node_samples(run(nodes), labels)))
        for saga in schema.sagas:
            if usable({saga.table: pg_sagas.NEEDS}, f"saga {saga.name}"):
                parts.append(self._saga_part(schema, saga, layout.columns[saga.table]["id"]))
        return parts, remarks

    def _marten_parts(self, schema: str, layout: Layout, labels: Mapping[str, str]) -> list[_Part]:
        """The events statement, and the dead-letter events (0 for every shard the first one found)."""
        stalls = self._stalls.setdefault(schema, pg_marten.StallTracker())
        events = pg_marten.events_statement(schema)
        shards: list[str] = []

        def read_events(run: Runner) -> list[Sample]:
            store = pg_marten.parse_events(run(events))
            shards.extend(shard.name for shard in store.shards)
            return pg_marten.event_samples(store, stalls.observe(store, self._clock()), labels)

        parts = [_Part((events,), read_events)]
        if layout.has(pg_marten.DEAD_LETTER_TABLE):
            dead = pg_marten.dead_letter_statement(schema)
            parts.append(_Part((dead,), lambda run: pg_marten.dead_letter_samples(run(dead), tuple(shards), labels)))
        return parts

    def _saga_part(self, schema: SchemaTarget, saga: SagaTarget, id_type: str) -> _Part:
        name = schema.schema
        tracker = self._sagas.setdefault((name, saga.name), pg_sagas.SagaTracker(saga.idle_after_s))

        def read(run: Runner) -> list[Sample]:
            stale = tracker.apply_scan(run(pg_sagas.scan_statement(name, saga, id_type, tracker.since())))
            if stale:
                tracker.apply_resync(stale, run(pg_sagas.resync_statement(name, saga, id_type, stale)))
            summary = tracker.summary()
            return pg_sagas.saga_samples(saga, summary, schema.service, schema.bounded_context)

        statements = (
            pg_sagas.scan_statement(name, saga, id_type, tracker.since()),
            pg_sagas.resync_statement(name, saga, id_type, [0]),
        )
        return _Part(statements, read)


def _envelopes_part(schema: str, labels: Mapping[str, str], *, orphans: bool) -> _Part:
    statement = pg_wolverine.envelopes_statement(schema, orphans=orphans)
    return _Part((statement,), lambda run: pg_wolverine.envelope_samples(run(statement), labels, orphans=orphans))
