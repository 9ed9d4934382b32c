"""What ``critterops status`` shows: the exporter's samples arranged per projection, message store, saga
state and queue, and the problems in them.

Built from samples only, so the same assessment works on a read made in-process and on the
``/metrics`` of a running exporter (which also has the stall and time-in-state history).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

from critterops import metrics as m
from critterops.jsonsafe import json_safe
from critterops.model.sagas import SAGA_TERMINAL_STATES, SAGA_WAITING_STATES, duration_seconds
from critterops.watch.config import Limits
from critterops.watch.samples import Sample

SCHEMA: Final = "critterops.status/v1"
Severity = Literal["critical", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    severity: Severity
    area: str  # source | projection | store | saga | queue
    subject: str
    message: str


@dataclass(frozen=True, slots=True)
class SourceRow:
    target: str
    up: bool
    duration_s: float | None
    errors: float | None
    error: str | None = None


@dataclass(slots=True)
class ProjectionRow:
    service: str
    bounded_context: str
    schema: str
    projection: str
    last_sequence: float | None = None
    high_water_mark: float | None = None
    sequence_head: float | None = None
    lag: float | None = None
    head_lag: float | None = None
    oldest_unprocessed_s: float | None = None
    stalled_s: float | None = None
    dead_letter_events: float | None = None

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.projection}"


@dataclass(slots=True)
class StoreRow:
    """Wolverine's durable storage in one schema."""

    service: str
    bounded_context: str
    schema: str
    inbox_incoming: float = 0.0
    inbox_scheduled: float = 0.0
    inbox_unowned: float = 0.0
    outbox: float = 0.0
    orphaned: float = 0.0
    dead_letters: float = 0.0
    oldest_dead_letter_s: float | None = None
    nodes: int = 0
    stale_nodes: int = 0
    max_heartbeat_age_s: float | None = None
    leaders: float | None = None
    versions: list[str] = field(default_factory=list)
    top_dead_letters: list[tuple[str, str, float]] = field(default_factory=list)  # (message, exception, count)

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.schema}"

    @property
    def leader_problem(self) -> bool:
        """Nodes and no leader, or more than one: the agents are not (or doubly) assigned."""
        return (bool(self.nodes) and self.leaders == 0) or (self.leaders or 0) > 1


@dataclass(slots=True)
class SagaRow:
    service: str
    saga: str
    state: str
    instances: float = 0.0
    idle: float | None = None
    oldest_in_state_s: float | None = None
    limit_s: float | None = None

    @property
    def subject(self) -> str:
        return f"{self.service}/{self.saga}/{self.state}"


@dataclass(slots=True)
class QueueRow:
    vhost: str
    queue: str
    service: str
    messages: float | None = None
    ready: float | None = None
    unacked: float | None = None
    consumers: float | None = None
    publish_rate: float | None = None
    ack_rate: float | None = None


@dataclass(slots=True)
class Status:
    at: float
    sources: list[SourceRow]
    projections: list[ProjectionRow]
    stores: list[StoreRow]
    sagas: list[SagaRow]
    queues: list[QueueRow]
    problems: list[Problem]
    origin: str  # "direct" or the exporter URL read

    @property
    def worst(self) -> Severity | None:
        severities = {p.severity for p in self.problems}
        return "critical" if "critical" in severities else ("warning" if severities else None)

    def to_dict(self) -> dict[str, Any]:
        data = json_safe(asdict(self))
        return {"schema": SCHEMA, **data, "worst": self.worst}


def assess(
    samples: Sequence[Sample],
    limits: Limits,
    at: float,
    errors: dict[str, str] | None = None,
    origin: str = "direct",
) -> Status:
    """The status in ``samples``; ``errors`` are the reasons of down sources (direct reads only)."""
    index = _Index(samples)
    sources = _sources(index, errors or {})
    projections = _projections(index)
    stores = _stores(index, limits)
    sagas = _sagas(index, limits)
    queues = _queues(index)
    problems = [
        *_source_problems(sources),
        *_projection_problems(projections, limits),
        *_store_problems(stores, limits),
        *_saga_problems(sagas),
        *_queue_problems(queues, limits),
    ]
    order = {"critical": 0, "warning": 1}
    problems.sort(key=lambda p: (order[p.severity], p.area, p.subject))
    return Status(at, sources, projections, stores, sagas, queues, problems, origin)


class _Index:
    def __init__(self, samples: Iterable[Sample]) -> None:
        self.by_name: dict[str, list[Sample]] = {}
        for item in samples:
            self.by_name.setdefault(item.name, []).append(item)

    def get(self, name: str) -> list[Sample]:
        return self.by_name.get(name, [])


def _key(item: Sample, *labels: str) -> tuple[str, ...]:
    return tuple(item.label(label) for label in labels)


def _sources(index: _Index, errors: dict[str, str]) -> list[SourceRow]:
    durations = {s.label("target"): s.value for s in index.get(m.SCRAPE_DURATION)}
    counts = {s.label("target"): s.value for s in index.get(m.SCRAPE_ERRORS)}
    return [
        SourceRow(
            s.label("target"),
            s.value >= 1,
            durations.get(s.label("target")),
            counts.get(s.label("target")),
            errors.get(s.label("target")),
        )
        for s in sorted(index.get(m.SOURCE_UP), key=lambda s: s.label("target"))
    ]


_SHARD = ("service", "bounded_context", "schema", "projection")
_STORE_KEY = ("service", "bounded_context", "schema")


def _projections(index: _Index) -> list[ProjectionRow]:
    rows: dict[tuple[str, ...], ProjectionRow] = {}

    def row(item: Sample) -> ProjectionRow:
        key = _key(item, *_SHARD)
        if key not in rows:
            rows[key] = ProjectionRow(key[0], key[1], key[2], key[3])
        return rows[key]

    fields = {
        m.PROJECTION_LAST_SEQUENCE: "last_sequence",
        m.PROJECTION_LAG: "lag",
        m.PROJECTION_HEAD_LAG: "head_lag",
        m.PROJECTION_OLDEST_UNPROCESSED: "oldest_unprocessed_s",
        m.PROJECTION_STALLED: "stalled_s",
    }
    for name, attr in fields.items():
        for item in index.get(name):
            setattr(row(item), attr, item.value)
    for item in index.get(m.PROJECTION_DEAD_LETTER_EVENTS):
        if _key(item, *_SHARD) in rows or item.value > 0:
            row(item).dead_letter_events = item.value
    marks = {_key(s, *_STORE_KEY): s.value for s in index.get(m.PROJECTION_HIGH_WATER_MARK)}
    heads = {_key(s, *_STORE_KEY): s.value for s in index.get(m.EVENT_SEQUENCE_HEAD)}
    for key, projection in rows.items():
        projection.high_water_mark = marks.get(key[:3])
        projection.sequence_head = heads.get(key[:3])
    return sorted(rows.values(), key=lambda r: (r.service, r.schema, r.projection))


def _stores(index: _Index, limits: Limits) -> list[StoreRow]:
    rows: dict[tuple[str, ...], StoreRow] = {}

    def row(item: Sample) -> StoreRow:
        key = _key(item, *_STORE_KEY)
        if key not in rows:
            rows[key] = StoreRow(key[0], key[1], key[2])
        return rows[key]

    for item in index.get(m.INBOX_PENDING):
        store = row(item)
        if item.label("status") == "Scheduled":
            store.inbox_scheduled += item.value
        else:
            store.inbox_incoming += item.value
            if item.label("owner") == "any":
                store.inbox_unowned += item.value
    for item in index.get(m.OUTBOX_PENDING):
        row(item).outbox += item.value
    for item in index.get(m.ENVELOPES_ORPHANED):
        row(item).orphaned += item.value
    for item in index.get(m.DEAD_LETTERS):
        store = row(item)
        store.dead_letters += item.value
        store.top_dead_letters.append((item.label("message_type"), item.label("exception_type"), item.value))
    for item in index.get(m.DEAD_LETTER_OLDEST):
        row(item).oldest_dead_letter_s = item.value
    for item in index.get(m.NODE_HEARTBEAT_AGE):
        store = row(item)
        store.nodes += 1
        store.stale_nodes += item.value > limits.heartbeat_stale_s
        store.max_heartbeat_age_s = max(store.max_heartbeat_age_s or 0.0, item.value)
    for item in index.get(m.NODE_INFO):
        store = row(item)
        version = item.label("version")
        if version and version not in store.versions:
            store.versions.append(version)
    for item in index.get(m.LEADERS):
        row(item).leaders = item.value
    for store in rows.values():
        store.top_dead_letters.sort(key=lambda t: -t[2])
        del store.top_dead_letters[5:]
        store.versions.sort()
    return sorted(rows.values(), key=lambda r: (r.service, r.schema))


def _sagas(index: _Index, limits: Limits) -> list[SagaRow]:
    rows: dict[tuple[str, ...], SagaRow] = {}
    keys = ("service", "saga", "state")

    def row(item: Sample) -> SagaRow:
        key = _key(item, *keys)
        if key not in rows:
            rows[key] = SagaRow(key[0], key[1], key[2], limit_s=_saga_limit(limits, key[1], key[2]))
        return rows[key]

    for item in index.get(m.SAGA_INSTANCES):
        row(item).instances = item.value
    for item in index.get(m.SAGA_IDLE):
        row(item).idle = item.value
    for item in index.get(m.SAGA_OLDEST_IN_STATE):
        row(item).oldest_in_state_s = item.value
    return sorted(rows.values(), key=lambda r: (r.service, r.saga, r.state))


def _saga_limit(limits: Limits, saga: str, state: str) -> float:
    """The state's own limit (from the model's lifecycle or the configuration); without one, the
    well-known names decide as they do for the generated alerts (terminal: never; waiting: their limit),
    and every other state gets the default."""
    for name, known, limit in limits.saga_state_limits:
        if name == saga and known == state:
            return limit
    if state in SAGA_TERMINAL_STATES:
        return float("inf")
    if state in SAGA_WAITING_STATES:
        return duration_seconds(SAGA_WAITING_STATES[state])
    return limits.saga_in_state_s


def _queues(index: _Index) -> list[QueueRow]:
    rows: dict[tuple[str, str], QueueRow] = {}
    fields = {
        m.QUEUE_MESSAGES: "messages",
        m.QUEUE_READY: "ready",
        m.QUEUE_UNACKED: "unacked",
        m.QUEUE_CONSUMERS: "consumers",
        m.QUEUE_PUBLISH_RATE: "publish_rate",
        m.QUEUE_ACK_RATE: "ack_rate",
    }
    for name, attr in fields.items():
        for item in index.get(name):
            key = (item.label("vhost"), item.label("queue"))
            if key not in rows:
                rows[key] = QueueRow(key[0], key[1], item.label("service"))
            setattr(rows[key], attr, item.value)
    return sorted(rows.values(), key=lambda r: (-(r.messages or 0), r.vhost, r.queue))


# --- problems --------------------------------------------------------------------------------------------------


def human_duration(value: float) -> str:
    """``42s``, ``5m``, ``2.5h``, ``3.0d`` or ``forever``: the unit a person reads at a glance."""
    if value == float("inf"):
        return "forever"
    if value != value:
        return "?"
    if value < 120:
        return f"{value:.0f}s"
    if value < 7200:
        return f"{value / 60:.0f}m"
    if value < 172800:
        return f"{value / 3600:.1f}h"
    return f"{value / 86400:.1f}d"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _source_problems(sources: list[SourceRow]) -> list[Problem]:
    return [
        Problem("critical", "source", s.target, f"cannot be read: {s.error}" if s.error else "cannot be read")
        for s in sources
        if not s.up
    ]


def _projection_problems(rows: list[ProjectionRow], limits: Limits) -> list[Problem]:
    out: list[Problem] = []
    for r in rows:
        subject = r.subject
        if r.stalled_s is not None and r.stalled_s > limits.stalled_after_s:
            out.append(
                Problem(
                    "critical",
                    "projection",
                    subject,
                    f"stalled for {human_duration(r.stalled_s)} at sequence {_n(r.last_sequence or 0)}, "
                    f"{_n(r.lag or r.head_lag or 0)} events behind",
                )
            )
        elif r.lag is not None and r.lag > limits.projection_lag:
            out.append(
                Problem(
                    "warning",
                    "projection",
                    subject,
                    f"{_n(r.lag)} events behind the high-water mark (limit {_n(limits.projection_lag)})",
                )
            )
        if r.dead_letter_events:
            out.append(
                Problem(
                    "warning",
                    "projection",
                    subject,
                    f"{_n(r.dead_letter_events)} events skipped as poison (mt_doc_deadletterevent)",
                )
            )
    behind: dict[tuple[str, str], float] = {}
    for r in rows:
        if r.sequence_head is not None and r.high_water_mark is not None:
            behind[(r.service, r.schema)] = r.sequence_head - r.high_water_mark
    for (service, schema), gap in sorted(behind.items()):
        if gap > limits.projection_lag:
            out.append(
                Problem(
                    "warning",
                    "projection",
                    f"{service}/{schema}",
                    f"the high-water mark is {_n(gap)} events behind the sequence head: is an async daemon running?",
                )
            )
    return out


def _store_problems(rows: list[StoreRow], limits: Limits) -> list[Problem]:
    out: list[Problem] = []
    for r in rows:
        subject = r.subject
        if r.nodes and r.leaders == 0:
            out.append(
                Problem(
                    "critical",
                    "store",
                    subject,
                    f"{r.nodes} Wolverine node(s) and no leader: agents and managed projections do not run",
                )
            )
        elif r.leaders is not None and r.leaders > 1:
            out.append(Problem("critical", "store", subject, f"{_n(r.leaders)} nodes hold wolverine://leader"))
        if r.stale_nodes:
            out.append(
                Problem(
                    "warning",
                    "store",
                    subject,
                    f"{r.stale_nodes} node(s) without a heartbeat for over {human_duration(limits.heartbeat_stale_s)} "
                    f"(oldest {human_duration(r.max_heartbeat_age_s or 0)})",
                )
            )
        if r.orphaned > limits.orphaned:
            out.append(
                Problem(
                    "warning", "store", subject, f"{_n(r.orphaned)} envelopes owned by a node that no longer exists"
                )
            )
        if r.dead_letters > limits.dead_letters:
            worst = r.top_dead_letters[0] if r.top_dead_letters else ("", "", 0)
            detail = f"; most: {worst[0]} ({worst[1] or 'no exception type'})" if worst[0] else ""
            out.append(Problem("warning", "store", subject, f"{_n(r.dead_letters)} dead letters{detail}"))
    return out


def _saga_problems(rows: list[SagaRow]) -> list[Problem]:
    return [
        Problem(
            "warning",
            "saga",
            r.subject,
            f"the oldest of {_n(r.instances)} has been in {r.state} for {human_duration(r.oldest_in_state_s)} "
            f"(limit {human_duration(r.limit_s)})",
        )
        for r in rows
        if r.oldest_in_state_s is not None and r.limit_s is not None and r.oldest_in_state_s > r.limit_s
    ]


def _queue_problems(rows: list[QueueRow], limits: Limits) -> list[Problem]:
    out: list[Problem] = []
    for r in rows:
        if r.queue == m.RABBITMQ_DLQ:
            if (r.messages or 0) > limits.dead_letters:
                out.append(Problem("warning", "queue", r.queue, f"{_n(r.messages or 0)} dead-lettered messages"))
        elif (r.messages or 0) > limits.queue_messages_without_consumers and r.consumers == 0:
            out.append(
                Problem(
                    "warning",
                    "queue",
                    r.queue,
                    f"{_n(r.messages or 0)} messages and no consumer"
                    + (f" ({r.service} should consume it)" if r.service else ""),
                )
            )
    return out
