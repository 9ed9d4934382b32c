"""Saga documents: live instances by state, idle ones, and how long the oldest has been in its state.

Completed sagas are deleted, so every row is live; but the document only says when it was last saved
(``mt_last_modified``), not when its state was entered. :class:`SagaTracker` therefore remembers every
saga's ``(state, entered_at)``: a saga first seen counts from its last save (a lower bound), a saga whose
state changed counts from the save that changed it, a deleted saga is forgotten. Counts and idle
instances are computed from the same memory, so the table is never grouped by its JSON state.

Keeping that memory must stay cheap with 100,000 documents and no index but the primary key:

- each read runs one statement: per-bucket row counts (``hash(id) & 1023``, an index-only scan of the
  primary key) and the rows saved since the previous read's database clock minus :data:`SLACK_S`
  (a filtered sequential scan that reads only ``mt_last_modified`` for unchanged rows);
- a bucket whose count differs from the remembered one (a saga completed, or a save was missed) is read
  again in full, which is a few hundred rows per bucket; the first read loads every bucket.

An index on ``mt_last_modified`` (Marten's ``IndexLastModified()``) turns the sequential scan into an
index range scan; nothing here needs it.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from critterops import metrics as m
from critterops.watch.pg_layout import Statement
from critterops.watch.samples import Sample, sample
from critterops.watch.targets import SagaTarget

BUCKETS = 1024
SLACK_S = 10.0
"""Re-read saves this much older than the previous read: Marten stamps ``mt_last_modified`` with the
transaction's start, so a save that commits after a read may carry an earlier time."""

NEEDS = ("id", "data", "mt_last_modified")

_SCAN = sql.SQL(
    "SELECT 'bucket', b.bucket, b.n, NULL, NULL, NULL::float8"
    " FROM (SELECT {hash} & {mask} AS bucket, count(*) AS n FROM {s}.{t} GROUP BY 1) AS b"
    " UNION ALL"
    " SELECT 'saved', {hash} & {mask}, NULL, id::text, {state}, extract(epoch FROM mt_last_modified)::float8"
    " FROM {s}.{t} WHERE mt_last_modified > to_timestamp(%(since)s)"
    " UNION ALL"
    " SELECT 'now', NULL, NULL, NULL, NULL, extract(epoch FROM now())::float8"
)
_RESYNC = sql.SQL(
    "SELECT {hash} & {mask}, id::text, {state}, extract(epoch FROM mt_last_modified)::float8"
    " FROM {s}.{t} WHERE {hash} & {mask} IN (SELECT unnest(%(buckets)s::int[]))"
)


def _expressions(saga: SagaTarget, id_type: str) -> dict[str, sql.Composable]:
    """``uuid_hash`` for Guid ids (most sagas) is several times cheaper than hashing the id's text."""
    hashed = sql.SQL("uuid_hash(id)") if id_type == "uuid" else sql.SQL("hashtext(id::text)")
    state = sql.SQL("''") if saga.state_member is None else sql.SQL("data ->> %(member)s")
    return {"hash": hashed, "mask": sql.Literal(BUCKETS - 1), "state": state}


def _params(saga: SagaTarget, **values: object) -> dict[str, object]:
    return values if saga.state_member is None else {**values, "member": saga.state_member}


def scan_statement(schema: str, saga: SagaTarget, id_type: str, since: float | None) -> Statement:
    """Bucket counts, rows saved after ``since`` (epoch seconds; None: none), and the database clock."""
    query = _SCAN.format(s=sql.Identifier(schema), t=sql.Identifier(saga.table), **_expressions(saga, id_type))
    return Statement(f"saga {saga.name}", query, _params(saga, since=since))


def resync_statement(schema: str, saga: SagaTarget, id_type: str, buckets: Iterable[int]) -> Statement:
    """Every row of ``buckets`` (ids, states, saves), to replace what is remembered of them."""
    query = _RESYNC.format(s=sql.Identifier(schema), t=sql.Identifier(saga.table), **_expressions(saga, id_type))
    return Statement(f"saga {saga.name} resync", query, _params(saga, buckets=sorted(buckets)))


@dataclass(slots=True)
class _Saga:
    state: str
    entered: float  # when it entered its state (its first save seen, or the save that changed the state)
    modified: float  # mt_last_modified
    bucket: int
    recent: bool = False  # saved at or after the idle cutoff, counted in its state's ``recent``


@dataclass(slots=True)
class _State:
    instances: int = 0
    recent: int = 0  # instances saved at or after the idle cutoff; the rest are idle
    entered: list[tuple[float, str]] = field(default_factory=list)  # min-heap; entries of sagas gone are stale


@dataclass(frozen=True, slots=True)
class StateSummary:
    state: str
    instances: int
    idle: int
    oldest_in_state_s: float


class SagaTracker:
    """One saga table's documents as last read, with per-state tallies kept up to date on every change.

    A read touches only what changed: per-state instance and recent-save counts are adjusted as sagas
    are saved, change state or are deleted; sagas fall idle when their save drops out of a heap of recent
    saves; the oldest time in state is the top of a per-state heap of entry times whose stale entries
    (sagas that left the state) are dropped when they reach the top."""

    def __init__(self, idle_after_s: float) -> None:
        self._idle_after_s = idle_after_s
        self._sagas: dict[str, _Saga] = {}
        self._members: list[set[str]] = [set() for _ in range(BUCKETS)]
        self._states: dict[str, _State] = {}
        self._recent: list[tuple[float, str]] = []  # min-heap of (modified, id) of recent sagas
        self._cutoff = -math.inf  # saves before this are idle
        self._watermark: float | None = None  # database clock of the previous read
        self.now: float | None = None

    @property
    def size(self) -> int:
        """How many sagas are remembered."""
        return len(self._sagas)

    def since(self) -> float | None:
        return None if self._watermark is None else self._watermark - SLACK_S

    def apply_scan(self, rows: list[tuple[Any, ...]]) -> set[int]:
        """Take in a scan's clock and saves; the buckets whose count no longer matches (to resync)."""
        counts = [0] * BUCKETS
        for kind, bucket, count, _, _, at in rows:
            if kind == "bucket":
                counts[bucket] = count
            elif kind == "now":
                self._tick(at)
        for kind, bucket, _, saga_id, state, at in rows:
            if kind == "saved":
                self._save(saga_id, state or "", at, bucket)
        return {bucket for bucket in range(BUCKETS) if counts[bucket] != len(self._members[bucket])}

    def apply_resync(self, buckets: set[int], rows: list[tuple[Any, ...]]) -> None:
        """Replace what is known of ``buckets`` by their rows: sagas not among them were completed."""
        seen: set[str] = set()
        for bucket, saga_id, state, at in rows:
            self._save(saga_id, state or "", at, bucket)
            seen.add(saga_id)
        for bucket in buckets:
            for saga_id in self._members[bucket] - seen:
                self._delete(saga_id)

    def summary(self) -> list[StateSummary]:
        """Per state: instances, idle ones, and seconds since the earliest entry (database clock)."""
        now = self.now
        if now is None:
            return []
        out: list[StateSummary] = []
        for name, state in sorted(self._states.items()):
            heap = state.entered
            while heap and not self._current(name, heap[0]):
                heapq.heappop(heap)
            if len(heap) > 2 * state.instances + 64:  # too many stale entries below the top
                heap[:] = [entry for entry in heap if self._current(name, entry)]
                heapq.heapify(heap)
            if state.instances:
                oldest = max(now - heap[0][0], 0.0)
                out.append(StateSummary(name, state.instances, state.instances - state.recent, oldest))
        return out

    def _current(self, state: str, entry: tuple[float, str]) -> bool:
        saga = self._sagas.get(entry[1])
        return saga is not None and saga.state == state and saga.entered == entry[0]

    def _tick(self, now: float) -> None:
        """Move the clock: sagas whose last save is now older than the idle threshold become idle."""
        self.now = self._watermark = now
        self._cutoff = now - self._idle_after_s
        while self._recent and self._recent[0][0] < self._cutoff:
            modified, saga_id = heapq.heappop(self._recent)
            saga = self._sagas.get(saga_id)
            if saga is not None and saga.recent and saga.modified == modified:
                saga.recent = False
                self._states[saga.state].recent -= 1

    def _save(self, saga_id: str, state: str, modified: float, bucket: int) -> None:
        saga = self._sagas.get(saga_id)
        if saga is None:
            saga = self._sagas[saga_id] = _Saga(state, modified, modified, bucket)
            self._members[bucket].add(saga_id)
            entering = True
        elif saga.state == state and saga.modified == modified:
            return
        else:
            self._detach(saga)
            entering = saga.state != state
            if entering:
                saga.state, saga.entered = state, modified
            saga.modified = modified
        self._attach(saga_id, saga, entering)

    def _attach(self, saga_id: str, saga: _Saga, entering: bool) -> None:
        state = self._states.setdefault(saga.state, _State())
        state.instances += 1
        if entering:
            heapq.heappush(state.entered, (saga.entered, saga_id))
        saga.recent = saga.modified >= self._cutoff
        if saga.recent:
            state.recent += 1
            heapq.heappush(self._recent, (saga.modified, saga_id))

    def _detach(self, saga: _Saga) -> None:
        state = self._states[saga.state]
        state.instances -= 1
        if saga.recent:
            state.recent -= 1
            saga.recent = False

    def _delete(self, saga_id: str) -> None:
        saga = self._sagas.pop(saga_id)
        self._members[saga.bucket].discard(saga_id)
        self._detach(saga)


def saga_samples(saga: SagaTarget, summary: list[StateSummary], service: str, bounded_context: str) -> list[Sample]:
    out: list[Sample] = []
    for row in summary:
        labels = {"service": service, "bounded_context": bounded_context, "saga": saga.name, "state": row.state}
        out.append(sample(m.SAGA_INSTANCES, row.instances, **labels))
        out.append(sample(m.SAGA_IDLE, row.idle, **labels))
        out.append(sample(m.SAGA_OLDEST_IN_STATE, row.oldest_in_state_s, **labels))
    return out
