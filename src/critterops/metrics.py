"""The metric catalog: every Prometheus metric name critterops generates queries for, in one place.

Alerts, dashboards and the planner's analysis gates query these names; ``critterops exporter``
implements exactly the ``critterops_*`` ones. Four other sources appear:

- ``wolverine``: Wolverine's meter (``Wolverine:<ServiceName>``, captured with
  ``AddMeter("Wolverine*")``) exported over OTLP to the OpenTelemetry Collector's Prometheus exporter.
  The instruments are declared below as Wolverine declares them (``INSTRUMENTS``: name, kind, unit,
  tags, source at a pinned tag) and their Prometheus names are *derived* by the translation rules of
  the collector's exporter (``prometheus_name``): Wolverine's unit ``Messages`` becomes part of the
  name (``wolverine_execution_failure_Messages_total``). Tags such as ``exception.type`` become labels
  such as ``exception_type``, and ``service.name`` the ``job`` label (scraped with ``honor_labels``).
- ``aspnetcore``: ASP.NET Core's ``http.server.request.duration`` histogram (unit ``s``), same path.
- ``rabbitmq``: the broker's ``rabbitmq_prometheus`` plugin, ``/metrics/detailed`` on port 15692.
- ``prometheus``: series Prometheus itself writes for every scrape target (``up``).

Labels listed for the ``critterops_*`` metrics are the exporter's own; Prometheus adds ``job`` and
``instance`` of the exporter target. ``service`` is always the critterops service name (``orders-api``),
``schema`` the PostgreSQL schema the tables live in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

MetricType = Literal["counter", "gauge", "histogram"]
Source = Literal["critterops-exporter", "wolverine", "aspnetcore", "rabbitmq", "prometheus"]

PREFIXES: Final[dict[str, tuple[str, ...]]] = {
    "critterops-exporter": ("critterops_",),
    "wolverine": ("wolverine_",),
    "aspnetcore": ("http_server_",),
    "rabbitmq": ("rabbitmq_",),
    "prometheus": ("up",),
}
"""The name prefix each source's metrics must carry."""


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One metric as Prometheus stores it. Counters are named with their ``_total`` suffix;
    histograms by their base name (Prometheus stores ``_bucket``, ``_count`` and ``_sum``)."""

    name: str
    type: MetricType
    help: str
    labels: tuple[str, ...]
    source: Source

    def series(self) -> tuple[str, ...]:
        """The series names a query may use."""
        if self.type == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_count", f"{self.name}_sum")
        return (self.name,)


# --- critterops exporter: Marten event store (per events schema) ------------------------------------------------

PROJECTION_LAG: Final = "critterops_projection_lag_events"
PROJECTION_LAST_SEQUENCE: Final = "critterops_projection_last_sequence"
PROJECTION_HIGH_WATER_MARK: Final = "critterops_projection_high_water_mark"
EVENT_SEQUENCE_HEAD: Final = "critterops_event_sequence_head"
PROJECTION_STALLED: Final = "critterops_projection_stalled_seconds"
PROJECTION_DEAD_LETTER_EVENTS: Final = "critterops_projection_dead_letter_events"
PROJECTION_HEAD_LAG: Final = "critterops_projection_head_lag_events"
PROJECTION_OLDEST_UNPROCESSED: Final = "critterops_projection_oldest_unprocessed_seconds"

# --- critterops exporter: Wolverine durable storage (per message schema) ------------------------------------------

DEAD_LETTERS: Final = "critterops_dead_letters"
DEAD_LETTER_OLDEST: Final = "critterops_dead_letter_oldest_seconds"
INBOX_PENDING: Final = "critterops_inbox_pending"
OUTBOX_PENDING: Final = "critterops_outbox_pending"
ENVELOPES_ORPHANED: Final = "critterops_envelopes_orphaned"
NODE_HEARTBEAT_AGE: Final = "critterops_node_heartbeat_age_seconds"
NODE_INFO: Final = "critterops_node_info"
LEADERS: Final = "critterops_wolverine_leaders"

# --- critterops exporter: sagas stored as Marten documents -----------------------------------------------------------

SAGA_INSTANCES: Final = "critterops_saga_instances"
SAGA_OLDEST_IN_STATE: Final = "critterops_saga_oldest_in_state_seconds"
SAGA_IDLE: Final = "critterops_saga_idle_instances"

# --- critterops exporter: RabbitMQ management API, and the exporter itself ---------------------------------------

QUEUE_MESSAGES: Final = "critterops_queue_messages"
QUEUE_READY: Final = "critterops_queue_messages_ready"
QUEUE_UNACKED: Final = "critterops_queue_messages_unacked"
QUEUE_CONSUMERS: Final = "critterops_queue_consumers"
QUEUE_PUBLISHED: Final = "critterops_queue_published_total"
QUEUE_ACKED: Final = "critterops_queue_acked_total"
QUEUE_PUBLISH_RATE: Final = "critterops_queue_publish_rate"
QUEUE_ACK_RATE: Final = "critterops_queue_ack_rate"
SOURCE_UP: Final = "critterops_up"
SCRAPE_ERRORS: Final = "critterops_scrape_errors_total"
SCRAPE_DURATION: Final = "critterops_scrape_duration_seconds"
SOURCE_WARMING_UP: Final = "critterops_warming_up"

RABBITMQ_DLQ: Final = "wolverine-dead-letter-queue"
"""Wolverine's default dead-letter queue (and exchange): one per broker and vhost, shared by every service."""

# --- applications and the broker ----------------------------------------------------------------------------------

InstrumentKind = Literal["counter", "histogram", "gauge", "updowncounter"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument as its source declares it (``System.Diagnostics.Metrics``), with where it is declared."""

    name: str
    kind: InstrumentKind
    unit: str
    tags: tuple[str, ...]
    declared: str  # repository@tag:file:line


TRANSLATION_STRATEGY: Final = "UnderscoreEscapingWithSuffixes"
"""How the collector's Prometheus exporter names metrics. It is the default of the exporter
(opentelemetry-collector-contrib exporter/prometheusexporter@v0.165.1 collector.go:104-129: with the
``DisableAddMetricSuffixes`` gate on by default) and of Prometheus' own OTLP receiver
(prometheus@v0.315.1 config/config.go:280-287); the kit writes it into the collector config anyway."""

# prometheus/otlptranslator@v1.0.0 metric_namer.go:34-80 (unitMap, perUnitMap)
_UNITS: Final = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PER_UNITS: Final = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}


def _clean_unit(unit: str) -> str:
    return re.sub(r"_+", "_", re.sub(r"[^a-zA-Z0-9:]", "_", unit)).removeprefix("_")


def prometheus_name(instrument: Instrument) -> str:
    """The Prometheus name of an OTLP instrument under ``UnderscoreEscapingWithSuffixes``.

    A port of prometheus/otlptranslator@v1.0.0 ``normalizeName`` (metric_namer.go:225-265) and
    ``buildUnitSuffixes``/``cleanUpUnit`` (unit_namer.go:94-128): the name split on every character
    outside ``[a-zA-Z0-9:]``; the unit mapped (``s`` -> ``seconds``), or kept as written (``Messages``),
    or dropped when it holds braces (``{message}``), and added unless the name holds it already;
    ``total`` last for monotonic counters; ``ratio`` for gauges of unit ``1``. Histograms are stored as
    ``<name>_bucket``, ``_sum`` and ``_count``.
    """
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]", instrument.name) if t]
    main_unit, _, per_unit = (part.strip() for part in instrument.unit.partition("/"))
    main = "" if not main_unit or re.search(r"[{}]", main_unit) else _UNITS.get(main_unit, main_unit)
    per = "per_" + _PER_UNITS.get(per_unit, per_unit) if per_unit and not re.search(r"[{}]", per_unit) else ""
    main, per = _clean_unit(main), _clean_unit(per)
    if main in tokens:
        main = ""
    per = "" if per == "per_" else per.removesuffix("_")
    if per in tokens:
        per = ""
    if per:
        main = main.removesuffix("_")
    tokens += [t for t in (main, per) if t]
    if instrument.kind == "counter":
        tokens = [t for t in tokens if t != "total"] + ["total"]
    if instrument.unit == "1" and instrument.kind == "gauge":
        tokens = [t for t in tokens if t != "ratio"] + ["ratio"]
    name = "_".join(tokens)
    return "_" + name if name[:1].isdigit() else name


_W = "JasperFx/wolverine@V5.40.1:src/Wolverine/"
_WTAGS = ("message.type", "message.destination", "tenant.id")
INSTRUMENTS: Final[dict[str, Instrument]] = {
    i.name: i
    for i in (
        # names: src/Wolverine/MetricsConstants.cs:5-25; meter "Wolverine:" + ServiceName:
        # Runtime/WolverineRuntime.cs:81; tags: Envelope.Internals.cs:157-171 (+ source: Runtime/Tracking.cs:62-95,
        # exception.type: Tracking.cs:128-133)
        Instrument(
            "wolverine-messages-sent",
            "counter",
            "Messages",
            (*_WTAGS, "source"),
            _W + "Runtime/WolverineRuntime.cs:106",
        ),
        Instrument(
            "wolverine-execution-time", "histogram", "Milliseconds", _WTAGS, _W + "Runtime/WolverineRuntime.cs:108"
        ),
        Instrument(
            "wolverine-messages-succeeded", "counter", "Messages", _WTAGS, _W + "Runtime/WolverineRuntime.cs:110"
        ),
        Instrument(
            "wolverine-execution-failure",
            "counter",
            "Messages",
            (*_WTAGS, "exception.type"),
            _W + "Runtime/WolverineRuntime.cs:113",
        ),
        Instrument(
            "wolverine-dead-letter-queue", "counter", "Messages", _WTAGS, _W + "Runtime/WolverineRuntime.cs:116"
        ),
        Instrument(
            "wolverine-messages-received",
            "counter",
            "Messages",
            (*_WTAGS, "source"),
            _W + "Runtime/WolverineRuntime.cs:119",
        ),
        Instrument(
            "wolverine-effective-time", "histogram", "Milliseconds", _WTAGS, _W + "Runtime/WolverineRuntime.cs:122"
        ),
        # ASP.NET Core (meter Microsoft.AspNetCore.Hosting): src/Hosting/Hosting/src/Internal/HostingMetrics.cs:29-33
        Instrument(
            "http.server.request.duration",
            "histogram",
            "s",
            (
                "url.scheme",
                "http.request.method",
                "network.protocol.version",
                "http.response.status_code",
                "http.route",
                "error.type",
            ),
            "dotnet/aspnetcore:src/Hosting/Hosting/src/Internal/HostingMetrics.cs:29",
        ),
    )
}

WOLVERINE_SUCCEEDED: Final = prometheus_name(INSTRUMENTS["wolverine-messages-succeeded"])
WOLVERINE_RECEIVED: Final = prometheus_name(INSTRUMENTS["wolverine-messages-received"])
WOLVERINE_SENT: Final = prometheus_name(INSTRUMENTS["wolverine-messages-sent"])
WOLVERINE_FAILURES: Final = prometheus_name(INSTRUMENTS["wolverine-execution-failure"])
WOLVERINE_DEAD_LETTERED: Final = prometheus_name(INSTRUMENTS["wolverine-dead-letter-queue"])
WOLVERINE_EXECUTION_TIME: Final = prometheus_name(INSTRUMENTS["wolverine-execution-time"])
WOLVERINE_EFFECTIVE_TIME: Final = prometheus_name(INSTRUMENTS["wolverine-effective-time"])
HTTP_SERVER_DURATION: Final = prometheus_name(INSTRUMENTS["http.server.request.duration"])
RABBITMQ_QUEUE_READY: Final = "rabbitmq_detailed_queue_messages_ready"
RABBITMQ_QUEUE_UNACKED: Final = "rabbitmq_detailed_queue_messages_unacked"
UP: Final = "up"

_STORE = ("service", "bounded_context", "schema")
_PROJECTION = (*_STORE, "projection")
_SAGA = ("service", "bounded_context", "saga", "state")
_QUEUE = ("vhost", "queue", "service", "bounded_context")
_WOLVERINE = ("job", "message_type")

CATALOG: Final[tuple[MetricSpec, ...]] = (
    MetricSpec(
        PROJECTION_LAG,
        "gauge",
        "Events an async projection shard is behind: last_seq_id of the HighWaterMark row of "
        "{schema}.mt_event_progression minus the shard row's last_seq_id (events). projection is the row "
        "name, e.g. StockLevelView:All or Name:V2:All.",
        _PROJECTION,
        "critterops-exporter",
    ),
    MetricSpec(
        PROJECTION_LAST_SEQUENCE,
        "gauge",
        "last_seq_id of the shard's row in {schema}.mt_event_progression (event sequence number).",
        _PROJECTION,
        "critterops-exporter",
    ),
    MetricSpec(
        PROJECTION_HIGH_WATER_MARK,
        "gauge",
        "last_seq_id of the HighWaterMark row in {schema}.mt_event_progression (event sequence number); "
        "only a running async daemon advances it.",
        _STORE,
        "critterops-exporter",
    ),
    MetricSpec(
        EVENT_SEQUENCE_HEAD,
        "gauge",
        "last_value of {schema}.mt_events_sequence: the newest event sequence number handed out "
        "(may run ahead of the high-water mark across gaps).",
        _STORE,
        "critterops-exporter",
    ),
    MetricSpec(
        PROJECTION_STALLED,
        "gauge",
        "Seconds since the shard's last_seq_id in mt_event_progression last moved while it was behind the "
        "high-water mark (the sequence head when there is no HighWaterMark row); 0 when caught up. Kept by the "
        "exporter across scrapes from the first one that sees the shard behind (Marten 8 leaves last_updated "
        "frozen).",
        _PROJECTION,
        "critterops-exporter",
    ),
    MetricSpec(
        PROJECTION_DEAD_LETTER_EVENTS,
        "gauge",
        "Rows in {schema}.mt_doc_deadletterevent per shard: events the async daemon skipped because the "
        "projection threw (events). projection is the ShardName field.",
        _PROJECTION,
        "critterops-exporter",
    ),
    MetricSpec(
        PROJECTION_HEAD_LAG,
        "gauge",
        "Events the shard is behind the newest event sequence number (mt_events_sequence last_value minus "
        "the shard's last_seq_id): unlike the high-water lag it still grows when no daemon runs anywhere.",
        _PROJECTION,
        "critterops-exporter",
    ),
    MetricSpec(
        PROJECTION_OLDEST_UNPROCESSED,
        "gauge",
        "Seconds since the oldest event the shard has not processed yet was appended (now() - timestamp of "
        "the first {schema}.mt_events row after the shard's last_seq_id in mt_event_progression, read by "
        "primary key); 0 when caught up.",
        _PROJECTION,
        "critterops-exporter",
    ),
    MetricSpec(
        DEAD_LETTERS,
        "gauge",
        "Rows in {schema}.wolverine_dead_letters (messages), by message type and exception type. Messages "
        'dead-lettered natively to RabbitMQ are in critterops_queue_messages{queue="wolverine-dead-letter-queue"}.',
        (*_STORE, "message_type", "exception_type"),
        "critterops-exporter",
    ),
    MetricSpec(
        DEAD_LETTER_OLDEST,
        "gauge",
        "Seconds since the oldest row in {schema}.wolverine_dead_letters was dead-lettered (sent_at); "
        "absent when the table is empty.",
        _STORE,
        "critterops-exporter",
    ),
    MetricSpec(
        INBOX_PENDING,
        "gauge",
        "Rows in {schema}.wolverine_incoming_envelopes not yet handled (messages), by status: Incoming "
        "(waiting for a handler) or Scheduled (timeouts and delayed messages, waiting by design).",
        (*_STORE, "status", "owner"),
        "critterops-exporter",
    ),
    MetricSpec(
        OUTBOX_PENDING,
        "gauge",
        "Rows in {schema}.wolverine_outgoing_envelopes (messages) by destination URI, e.g. "
        "rabbitmq://queue/fulfillment-requests. No per-row age exists: alert on deriv() instead.",
        (*_STORE, "destination", "owner"),
        "critterops-exporter",
    ),
    MetricSpec(
        ENVELOPES_ORPHANED,
        "gauge",
        "Envelopes owned by a node_number that is no longer in {schema}.wolverine_nodes (messages); "
        "table is incoming or outgoing. Nobody recovers them until ownership is reset to 0.",
        (*_STORE, "table"),
        "critterops-exporter",
    ),
    MetricSpec(
        NODE_HEARTBEAT_AGE,
        "gauge",
        "Seconds since the node's health_check column in {schema}.wolverine_nodes was updated "
        "(Wolverine polls every 10 s; nodes are stale after 1 min). node is the node_number.",
        (*_STORE, "node"),
        "critterops-exporter",
    ),
    MetricSpec(
        NODE_INFO,
        "gauge",
        "1 per row in {schema}.wolverine_nodes; version is the application assembly version (identifies "
        "the colour during blue/green), leader is true for the node holding wolverine://leader.",
        (*_STORE, "node", "version", "leader"),
        "critterops-exporter",
    ),
    MetricSpec(
        LEADERS,
        "gauge",
        "Nodes holding the wolverine://leader assignment in {schema}.wolverine_node_assignments: 1 is healthy, "
        "0 means no node runs the agents (projections under managed distribution, scheduled jobs).",
        _STORE,
        "critterops-exporter",
    ),
    MetricSpec(
        SAGA_INSTANCES,
        "gauge",
        "Live saga documents (completed sagas are deleted) by the value of the saga's state member, e.g. "
        "count(*) from orders.mt_doc_order group by data->>'Status'. saga is the saga type's name.",
        _SAGA,
        "critterops-exporter",
    ),
    MetricSpec(
        SAGA_OLDEST_IN_STATE,
        "gauge",
        "Seconds the oldest live saga in this state has been in it: the exporter remembers (id, state, first "
        "seen); until it has seen a change it uses now() - mt_last_modified.",
        _SAGA,
        "critterops-exporter",
    ),
    MetricSpec(
        SAGA_IDLE,
        "gauge",
        "Live sagas in this state not saved for longer than the saga's idle threshold (now() - "
        "mt_last_modified, default 5 minutes; exporter.sagas in critterops.yaml sets it).",
        _SAGA,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_MESSAGES,
        "gauge",
        "Messages in the RabbitMQ queue, ready plus unacknowledged (management API /api/queues field messages).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_READY,
        "gauge",
        "Messages ready for delivery in the RabbitMQ queue (management API field messages_ready).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_UNACKED,
        "gauge",
        "Messages delivered to a consumer and not acknowledged yet (management API field messages_unacknowledged).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_CONSUMERS,
        "gauge",
        "Consumers attached to the RabbitMQ queue (management API field consumers; when the management "
        "stats collector is disabled the exporter reads rabbitmq_prometheus /metrics/detailed instead).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_PUBLISHED,
        "counter",
        "Messages published into the queue since it was declared (management API message_stats.publish; "
        "resets when the queue is re-declared).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_ACKED,
        "counter",
        "Messages consumers acknowledged from the queue since it was declared (management API message_stats.ack).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_PUBLISH_RATE,
        "gauge",
        "Messages per second published into the queue, as the broker averages it (management API "
        "message_stats.publish_details.rate); prefer rate() of the counter in queries.",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        QUEUE_ACK_RATE,
        "gauge",
        "Messages per second acknowledged from the queue, as the broker averages it (management API "
        "message_stats.ack_details.rate).",
        _QUEUE,
        "critterops-exporter",
    ),
    MetricSpec(
        SOURCE_UP,
        "gauge",
        "1 when the exporter's last read of the target succeeded, else 0. target is rabbitmq or "
        "postgres:<database>; the other targets are still served while one is down.",
        ("target",),
        "critterops-exporter",
    ),
    MetricSpec(
        SCRAPE_ERRORS,
        "counter",
        "Failed or partial reads by the exporter (connection, authentication or query errors). target is "
        "rabbitmq or postgres:<database>.",
        ("target",),
        "critterops-exporter",
    ),
    MetricSpec(
        SCRAPE_DURATION,
        "gauge",
        "Seconds the exporter's last read of the target took.",
        ("target",),
        "critterops-exporter",
    ),
    MetricSpec(
        SOURCE_WARMING_UP,
        "gauge",
        "1 while the exporter's first read of the target is still running (its warm-up: the first read of "
        "a database loads every saga document, later ones only what changed), else 0. critterops_up is "
        "absent for the target until that read finishes.",
        ("target",),
        "critterops-exporter",
    ),
    MetricSpec(
        WOLVERINE_SUCCEEDED,
        "counter",
        "Messages a Wolverine handler finished successfully (wolverine-messages-succeeded).",
        _WOLVERINE,
        "wolverine",
    ),
    MetricSpec(
        WOLVERINE_RECEIVED,
        "counter",
        "Messages received by a Wolverine listener (wolverine-messages-received).",
        (*_WOLVERINE, "message_destination"),
        "wolverine",
    ),
    MetricSpec(
        WOLVERINE_SENT,
        "counter",
        "Messages sent by Wolverine (wolverine-messages-sent).",
        (*_WOLVERINE, "message_destination"),
        "wolverine",
    ),
    MetricSpec(
        WOLVERINE_FAILURES,
        "counter",
        "Failed handler attempts, retries included (wolverine-execution-failure).",
        (*_WOLVERINE, "exception_type"),
        "wolverine",
    ),
    MetricSpec(
        WOLVERINE_DEAD_LETTERED,
        "counter",
        "Messages moved to a dead-letter queue, database or broker (wolverine-dead-letter-queue).",
        _WOLVERINE,
        "wolverine",
    ),
    MetricSpec(
        WOLVERINE_EXECUTION_TIME,
        "histogram",
        "Handler execution time in milliseconds (wolverine-execution-time).",
        _WOLVERINE,
        "wolverine",
    ),
    MetricSpec(
        WOLVERINE_EFFECTIVE_TIME,
        "histogram",
        "Milliseconds from a message being sent to its handler finishing (wolverine-effective-time).",
        _WOLVERINE,
        "wolverine",
    ),
    MetricSpec(
        HTTP_SERVER_DURATION,
        "histogram",
        "ASP.NET Core request duration in seconds (http.server.request.duration).",
        ("job", "http_request_method", "http_route", "http_response_status_code"),
        "aspnetcore",
    ),
    MetricSpec(
        RABBITMQ_QUEUE_READY,
        "gauge",
        "Messages ready for delivery (rabbitmq_prometheus /metrics/detailed, family queue_coarse_metrics).",
        ("vhost", "queue"),
        "rabbitmq",
    ),
    MetricSpec(
        RABBITMQ_QUEUE_UNACKED,
        "gauge",
        "Messages delivered and not yet acknowledged (rabbitmq_prometheus /metrics/detailed).",
        ("vhost", "queue"),
        "rabbitmq",
    ),
    MetricSpec(
        UP,
        "gauge",
        "1 when Prometheus' last scrape of the target succeeded, else 0.",
        ("job", "instance"),
        "prometheus",
    ),
)

EXPORTER_METRICS: Final[tuple[MetricSpec, ...]] = tuple(m for m in CATALOG if m.source == "critterops-exporter")
"""What ``critterops exporter`` exposes."""

SERIES: Final[frozenset[str]] = frozenset(name for spec in CATALOG for name in spec.series())
"""Every series name a generated query may use."""


_BY_SERIES: Final[dict[str, MetricSpec]] = {
    **{name: entry for entry in CATALOG for name in entry.series()},
    **{entry.name: entry for entry in CATALOG},
}


def spec(name: str) -> MetricSpec:
    """The catalog entry for a metric or one of a histogram's series; KeyError if not catalogued."""
    try:
        return _BY_SERIES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the critterops metric catalog (critterops.metrics.CATALOG)") from None


# --- PromQL: which metric names does an expression use? ----------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"inf", "nan", "start", "end"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, keywords, label names and durations
    are not metric names). Good enough for generated expressions; not a full PromQL parser."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _BRACKETS.sub("", text)
    text = _GROUPING.sub("", text)
    names: set[str] = set()
    for match in _IDENT.finditer(text):
        word = match.group(0)
        rest = text[match.end() :].lstrip()
        before = text[: match.start()]
        if rest.startswith("(") or word.lower() in _KEYWORDS:
            continue
        if before and (before[-1].isdigit() or before[-1] == "."):  # 1e-9, 5m inside numbers
            continue
        names.add(word)
    return names


def uncatalogued(expr: str) -> set[str]:
    """Metric names in ``expr`` that the catalog does not know."""
    return metric_names(expr) - SERIES
