"""Marten's event store in one schema: sequence head, high-water mark, and per async shard its position,
lag, oldest unprocessed event, stall time and poisoned (dead-letter) events.

One statement reads the head, the mark and every shard row; the oldest unprocessed event is found per
shard by primary key (``seq_id > last_seq_id ORDER BY seq_id LIMIT 1``), so the cost does not grow with
``mt_events``. Marten 8 leaves ``last_updated`` frozen when a shard advances, so stalls are detected
here, by watching ``last_seq_id`` across reads (:class:`StallTracker`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from critterops import metrics as m
from critterops.watch.pg_layout import Statement
from critterops.watch.samples import Sample, sample

HIGH_WATER_MARK = "HighWaterMark"
SEQUENCE = "mt_events_sequence"
DEAD_LETTER_TABLE = "mt_doc_deadletterevent"
TABLES: Mapping[str, tuple[str, ...]] = {
    "mt_events": ("seq_id", "timestamp"),
    "mt_event_progression": ("name", "last_seq_id"),
    SEQUENCE: (),
}
"""What the events statement reads; a schema without them has no Marten event store."""

_EVENTS = sql.SQL(
    "SELECT (SELECT CASE WHEN q.is_called THEN q.last_value ELSE 0 END FROM {s}.mt_events_sequence AS q),"
    " (SELECT h.last_seq_id FROM {s}.mt_event_progression AS h WHERE h.name = %(mark)s),"
    " p.name, p.last_seq_id,"
    " (SELECT greatest(extract(epoch FROM now() - e.timestamp)::float8, 0) FROM {s}.mt_events AS e"
    "   WHERE e.seq_id > p.last_seq_id ORDER BY e.seq_id LIMIT 1)"
    " FROM (VALUES (1)) AS one (x)"
    " LEFT JOIN {s}.mt_event_progression AS p ON p.name NOT LIKE %(mark_prefix)s"
    " ORDER BY p.name"
)
# JasperFx's DeadLetterEvent stores ProjectionName = ShardName.Name and ShardName = ShardName.ShardKey
# ("All"): the version is not recorded, so rows are matched to progression rows in Python.
_DEAD_LETTERS = sql.SQL(
    "SELECT d.data ->> 'ProjectionName', d.data ->> 'ShardName', count(*) FROM {s}.{t} AS d GROUP BY 1, 2"
)


def events_statement(schema: str) -> Statement:
    """Head (0 before the first event: a fresh sequence is not yet ``is_called``), mark, and one row
    per shard (one row of NULLs when there is none). Master's ``HighWaterMark:{tenant}`` rows are
    neither the mark nor shards."""
    query = _EVENTS.format(s=sql.Identifier(schema))
    return Statement("mt_event_progression", query, {"mark": HIGH_WATER_MARK, "mark_prefix": f"{HIGH_WATER_MARK}%"})


def dead_letter_statement(schema: str) -> Statement:
    query = _DEAD_LETTERS.format(s=sql.Identifier(schema), t=sql.Identifier(DEAD_LETTER_TABLE))
    return Statement(DEAD_LETTER_TABLE, query, {})


@dataclass(frozen=True, slots=True)
class Shard:
    name: str
    last_seq_id: int
    oldest_unprocessed_s: float  # 0 when no event after last_seq_id exists


@dataclass(frozen=True, slots=True)
class EventStore:
    head: int
    high_water_mark: int | None  # None: no daemon has ever run (no HighWaterMark row)
    shards: tuple[Shard, ...]


def parse_events(rows: list[tuple[Any, ...]]) -> EventStore:
    head, mark = rows[0][0], rows[0][1]
    shards = tuple(
        Shard(str(name), int(last or 0), float(oldest or 0.0)) for _, _, name, last, oldest in rows if name is not None
    )
    return EventStore(int(head or 0), None if mark is None else int(mark), shards)


class StallTracker:
    """Seconds each shard of one schema has not moved while behind.

    The clock starts at the first read that finds the shard behind (its last move, or when it fell
    behind, happened at most one scrape interval earlier), restarts whenever ``last_seq_id`` changes,
    and is forgotten while the shard is caught up, so a shard that idled caught up does not look
    stalled the moment new events arrive. Shards that disappear are forgotten too."""

    def __init__(self) -> None:
        self._since: dict[str, tuple[int, float]] = {}  # shard behind -> (last_seq_id, since)

    def observe(self, store: EventStore, now: float) -> dict[str, float]:
        stalled: dict[str, float] = {}
        since: dict[str, tuple[int, float]] = {}
        for shard in store.shards:
            if _lag(store, shard) <= 0:
                stalled[shard.name] = 0.0
                continue
            previous = self._since.get(shard.name)
            since[shard.name] = previous if previous and previous[0] == shard.last_seq_id else (shard.last_seq_id, now)
            stalled[shard.name] = now - since[shard.name][1]
        self._since = since
        return stalled


def _lag(store: EventStore, shard: Shard) -> int:
    """Events behind the mark; without a mark (no daemon ever ran), behind the head."""
    reference = store.high_water_mark if store.high_water_mark is not None else store.head
    return max(reference - shard.last_seq_id, 0)


def event_samples(store: EventStore, stalled: Mapping[str, float], labels: Mapping[str, str]) -> list[Sample]:
    out = [sample(m.EVENT_SEQUENCE_HEAD, store.head, **labels)]
    if store.high_water_mark is not None:
        out.append(sample(m.PROJECTION_HIGH_WATER_MARK, store.high_water_mark, **labels))
    for shard in store.shards:
        shard_labels = {**labels, "projection": shard.name}
        out.append(sample(m.PROJECTION_LAST_SEQUENCE, shard.last_seq_id, **shard_labels))
        if store.high_water_mark is not None:
            out.append(sample(m.PROJECTION_LAG, _lag(store, shard), **shard_labels))
        out.append(sample(m.PROJECTION_HEAD_LAG, max(store.head - shard.last_seq_id, 0), **shard_labels))
        out.append(sample(m.PROJECTION_OLDEST_UNPROCESSED, shard.oldest_unprocessed_s, **shard_labels))
        out.append(sample(m.PROJECTION_STALLED, stalled.get(shard.name, 0.0), **shard_labels))
    return out


def dead_letter_samples(
    rows: list[tuple[Any, ...]], shards: tuple[str, ...], labels: Mapping[str, str]
) -> list[Sample]:
    """Poisoned events per shard; 0 for every known shard without any, so alerts see the series.

    A dead letter names its projection and shard key but not the version, so ``Trip`` + ``All`` counts
    against the newest ``Trip:V{n}:All`` row in the progression table (the version running now), or
    ``Trip:All`` when no row matches."""
    counts = dict.fromkeys(shards, 0)
    for projection, key, count in rows:
        shard = _owning_shard(str(projection or ""), str(key or "All"), shards)
        counts[shard] = counts.get(shard, 0) + int(count)
    return [
        sample(m.PROJECTION_DEAD_LETTER_EVENTS, count, **labels, projection=shard)
        for shard, count in sorted(counts.items())
    ]


_VERSIONED = re.compile(r"(?P<name>.+?)(?::V(?P<version>[0-9]+))?:(?P<key>[^:]+)")


def _owning_shard(projection: str, key: str, shards: tuple[str, ...]) -> str:
    best, best_version = f"{projection}:{key}", 0
    for shard in shards:
        match = _VERSIONED.fullmatch(shard)
        if match is None or match["name"] != projection or match["key"] != key:
            continue
        version = int(match["version"] or 1)
        if version >= best_version:
            best, best_version = shard, version
    return best
