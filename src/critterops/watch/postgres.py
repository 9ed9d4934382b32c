"""The PostgreSQL collector: Marten event store, Wolverine durable storage and saga documents of one
database, turned into ``critterops_*`` samples.

It keeps one read-only autocommit connection (``default_transaction_read_only``, with the target's timeout
as ``statement_timeout`` and ``lock_timeout`` so a migration holding a lock cannot hang a scrape), and
reconnects when it is lost. A connection that dies between reads (a server restart, a failover, a
terminated backend) is found out by the next read's first statement: that read reconnects and runs
again once, if at least half of its deadline is left, so one lost connection is not a false ``up 0``;
a database that cannot be reached is reported down at once. Per schema it asks ``information_schema``
what exists (cached, read again after an error or every :data:`LAYOUT_TTL_S`), then runs one statement
per table group. A failing statement whose connection survives (a table dropped meanwhile, a timeout)
costs only its part, listed in ``partial``; a lost connection makes the whole read ``up=False``. Errors
never carry the password or the connection string.

Stall time and time in state are kept here across reads (see :mod:`critterops.watch.pg_marten` and
:mod:`critterops.watch.pg_sagas`), and so are the outbox destinations seen, which keep a 0 series for
:data:`DESTINATION_MEMORY_S` after their last row left; the statements are in those modules and in
:mod:`critterops.watch.pg_wolverine`.
"""

from __future__ import annotations

import logging
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
DESTINATION_MEMORY_S = 3600.0
"""How long an outbox destination keeps its 0 series after its last row left (a node's reply queue
that is gone for good stops being reported after that)."""

log = logging.getLogger("critterops.exporter")

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

    ``clock`` (epoch seconds) times stalls, the layout cache and the outbox destinations' memory; ages and
    time in state use the database's clock. ``deadline_s`` is how long the exporter waits for one read
    (default: as :attr:`~critterops.watch.config.ExporterConfig.deadline_s` computes it from the timeout);
    a read that lost its connection is run again only within the first half of it."""

    def __init__(
        self, target: PostgresTarget, clock: Callable[[], float] = time.time, deadline_s: float | None = None
    ) -> None:
        self._target = target
        self._clock = clock
        self._deadline_s = max(10.0, target.timeout_s * 4 + 1) if deadline_s is None else deadline_s
        self._conn: Connection | None = None
        self._layouts: dict[str, Layout] = {}
        self._stalls: dict[str, pg_marten.StallTracker] = {}
        self._sagas: dict[tuple[str, str], pg_sagas.SagaTracker] = {}
        self._destinations: dict[str, dict[str, float]] = {}  # schema -> destination -> last seen (clock)
        self._noted: set[str] = set()
        self._notes: list[str] = []  # notes of the read in progress

    @property
    def target(self) -> str:
        return self._target.target

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def collect(self) -> SourceResult:
        started = time.perf_counter()
        self._notes = []
        reused = self._conn is not None and not self._conn.closed and not self._conn.broken
        try:
            samples, partial = self._read()
            error = None
        except psycopg.Error as failure:
            self.close()
            error = describe(failure, self._target)
            # a connection opened by an earlier read died since (restart, failover, terminated backend):
            # its first statement says so; a fresh connection answers unless the database is really gone
            if reused and time.perf_counter() - started < self._deadline_s / 2:
                log.info("%s: the connection was lost (%s); reconnecting", self.target, error)
                try:
                    samples, partial = self._read()
                    error = None
                except psycopg.Error as again:
                    self.close()
                    error = describe(again, self._target)
        if error is not None:
            samples, partial = [], []
        return SourceResult(
            target=self.target,
            up=error is None,
            duration_s=time.perf_counter() - started,
            samples=tuple(samples),
            error=error,
            notes=tuple(self._notes),
            partial=tuple(partial),
        )

    def _read(self) -> tuple[list[Sample], list[str]]:
        """Every schema, on the current connection (opened if need be); raises psycopg.Error when the
        connection cannot be had or is lost midway."""
        samples: list[Sample] = []
        partial: list[str] = []
        conn = self._connection()
        for schema in self._target.schemas:
            self._collect_schema(conn, schema, samples, partial, self._notes)
        return samples, partial

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
                parts.append(self._envelopes_part(name, labels, orphans=not layout.missing(pg_wolverine.ORPHAN_NEEDS)))
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

    def _envelopes_part(self, schema: str, labels: Mapping[str, str], *, orphans: bool) -> _Part:
        statement = pg_wolverine.envelopes_statement(schema, orphans=orphans)
        seen = self._destinations.setdefault(schema, {})

        def read(run: Runner) -> list[Sample]:
            rows = run(statement)
            now = self._clock()
            seen.update(dict.fromkeys(pg_wolverine.outbox_destinations(rows), now))
            for destination in [d for d, at in seen.items() if now - at > DESTINATION_MEMORY_S]:
                del seen[destination]
            return pg_wolverine.envelope_samples(rows, labels, orphans=orphans, destinations=seen)

        return _Part((statement,), read)

    def _saga_part(self, schema: SchemaTarget, saga: SagaTarget, id_type: str) -> _Part:
        name = schema.schema
        tracker = self._sagas.setdefault((name, saga.name), pg_sagas.SagaTracker(saga.idle_after_s))

        def read(run: Runner) -> list[Sample]:
            first = tracker.since() is None
            started = time.perf_counter()
            stale = tracker.apply_scan(run(pg_sagas.scan_statement(name, saga, id_type, tracker.since())))
            if stale:
                tracker.apply_resync(stale, run(pg_sagas.resync_statement(name, saga, id_type, stale)))
            if first:  # the warm-up: every document once, then only what changed
                self._notes.append(
                    f"{name}: saga {saga.name}: the first read loaded all {tracker.size:,} documents in "
                    f"{time.perf_counter() - started:.2f} s; later reads fetch only what changed"
                )
            summary = tracker.summary()
            return pg_sagas.saga_samples(saga, summary, schema.service, schema.bounded_context)

        statements = (
            pg_sagas.scan_statement(name, saga, id_type, tracker.since()),
            pg_sagas.resync_statement(name, saga, id_type, [0]),
        )
        return _Part(statements, read)
