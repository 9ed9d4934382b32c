"""The RabbitMQ collector: per-queue depth, consumers and throughput as ``critterops_queue_*`` samples.

Two sources, either one enough on its own:

- the **management API** (``GET /api/queues/{vhost}``, paged 500 at a time with ``columns=`` so the
  payload stays small with hundreds of queues): depth, consumers, and the ``message_stats`` publish and
  ack counters and rates;
- **rabbitmq_prometheus** (``/metrics/detailed?vhost=…&family=queue_coarse_metrics&family=queue_consumer_count``,
  ``rabbitmq_detailed_*`` series): depth and consumers only.

With both configured the management API is read first and preferred; rabbitmq_prometheus is read only to
fill gaps: when the management API fails (the source stays up with ``partial=("management: …",)``), or
when it lists queues without ``consumers`` or message counts. That happens when the management metrics
collector is disabled (``management_agent.disable_metrics_collector = true``, as in the official docker
images) or ``disable_stats`` is set: only basic fields come back, and ``enable_queue_totals`` restores the
message counts but never ``consumers``. Counters and rates (``critterops_queue_published_total``,
``critterops_queue_acked_total``, ``critterops_queue_publish_rate``, ``critterops_queue_ack_rate``) come from
the management API alone; they are emitted (0 until the first publish or ack) for queues whose statistics
the broker keeps, and left out for queues it keeps none for.

Wolverine's per-node reply queues ``wolverine.response.{guid}`` are left out of the per-queue series:
they are auto-delete, one per live node, and churn with every deployment, so each would be a short-lived
series. The first read that meets them says so once in ``notes``. Wolverine's shared dead-letter queue
``wolverine-dead-letter-queue`` is an ordinary queue here and always reported when it exists.

Labels: ``vhost``, ``queue``, and ``service`` / ``bounded_context`` of the queue's owner
(:class:`~critterops.watch.targets.QueueOwner`, matched on the queue name), empty when unknown.

A read never raises: an unreachable broker, a timeout, a refused login or a body that is not what the API
serves gives ``up=False`` and a one-line reason without credentials. Nothing is kept between reads except
which one-time notes were given, so the next read after an outage simply works again.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from critterops import metrics as m
from critterops.watch import promtext
from critterops.watch.samples import Sample, SourceResult, sample
from critterops.watch.targets import QueueOwner, RabbitTarget

"""Wolverine's default dead-letter queue (and exchange) on RabbitMQ: one per broker/vhost, shared by all services."""

REPLY_QUEUE_PREFIX = "wolverine.response."
"""Wolverine's per-node reply queues, left out of the per-queue series."""

PAGE_SIZE = 500  # the management API's maximum
MANAGEMENT_COLUMNS = (
    "name",
    "vhost",
    "messages",
    "messages_ready",
    "messages_unacknowledged",
    "consumers",
    "message_stats.publish",
    "message_stats.ack",
    "message_stats.publish_details.rate",
    "message_stats.ack_details.rate",
)
PROMETHEUS_FAMILIES = ("queue_coarse_metrics", "queue_consumer_count")
_PROM_FIELDS = {
    "rabbitmq_detailed_queue_messages": "messages",
    "rabbitmq_detailed_queue_messages_ready": "ready",
    "rabbitmq_detailed_queue_messages_unacked": "unacked",
    "rabbitmq_detailed_queue_consumers": "consumers",
}
_GAUGES = ("messages", "ready", "unacked", "consumers")
_SERIES = (
    (m.QUEUE_MESSAGES, "messages"),
    (m.QUEUE_READY, "ready"),
    (m.QUEUE_UNACKED, "unacked"),
    (m.QUEUE_CONSUMERS, "consumers"),
    (m.QUEUE_PUBLISHED, "published"),
    (m.QUEUE_ACKED, "acked"),
    (m.QUEUE_PUBLISH_RATE, "publish_rate"),
    (m.QUEUE_ACK_RATE, "ack_rate"),
)


_MAX_BODY = 64 * 1024 * 1024
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True, slots=True)
class QueueStats:
    """What was read about one queue; None where the source did not say."""

    vhost: str
    name: str
    messages: float | None = None
    ready: float | None = None
    unacked: float | None = None
    consumers: float | None = None
    published: float | None = None
    acked: float | None = None
    publish_rate: float | None = None
    ack_rate: float | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.vhost, self.name)

    def gaps(self) -> bool:
        return any(getattr(self, field) is None for field in _GAUGES)

    def filled_from(self, other: QueueStats | None) -> QueueStats:
        """These values, with the depth and consumer values this read lacks taken from ``other``."""
        if other is None:
            return self
        missing = {field: getattr(other, field) for field in _GAUGES if getattr(self, field) is None}
        return replace(self, **{k: v for k, v in missing.items() if v is not None})


class _ReadError(Exception):
    """One source could not be read; the message is one line and holds no credentials."""


class _Endpoint:
    """One HTTP base URL: credentials split off (from ``user:password@`` in the URL or the target)."""

    def __init__(self, url: str, user: str | None, password: str | None, timeout_s: float) -> None:
        parts = urllib.parse.urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _ReadError(f"URL must be http(s)://host:port, not {_safe_url(url)!r}")
        if parts.username is not None and password is None:
            user, password = urllib.parse.unquote(parts.username), urllib.parse.unquote(parts.password or "")
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        try:
            port = parts.port
        except ValueError as exc:
            raise _ReadError(f"URL has a bad port: {_safe_url(url)!r}") from exc
        if port is not None:
            netloc += f":{port}"
        self.base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self.password = password
        self.timeout_s = timeout_s
        self._auth: str | None = None
        if user is not None and password is not None:
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self._auth = f"Basic {token}"
        handlers: list[urllib.request.BaseHandler] = []
        if parts.hostname in _LOOPBACK:
            handlers.append(urllib.request.ProxyHandler({}))  # loopback never goes through http_proxy
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def has_credentials(self) -> bool:
        return self._auth is not None

    def get(self, path: str, accept: str) -> bytes:
        """The body of ``GET base+path``; raises urllib/http/socket errors (see :func:`_describe`)."""
        request = urllib.request.Request(self.base + path, headers={"Accept": accept})
        if self._auth is not None:
            request.add_unredirected_header("Authorization", self._auth)
        with self._opener.open(request, timeout=self.timeout_s) as response:
            body: bytes = response.read(_MAX_BODY + 1)
        if len(body) > _MAX_BODY:
            raise _ReadError(f"response larger than {_MAX_BODY // (1024 * 1024)} MiB")
        return body


class RabbitCollector:
    """Reads the broker's queues (see the module docstring). Implements the ``Collector`` protocol."""

    def __init__(self, target: RabbitTarget) -> None:
        self._target = target
        owners: dict[str, QueueOwner] = {}
        for owner in target.owners:
            owners.setdefault(owner.queue, owner)
        self._owners: Mapping[str, QueueOwner] = owners
        self._noted: set[str] = set()
        self._management: _Endpoint | None = None
        self._prometheus: _Endpoint | None = None
        self._config_errors: list[str] = []
        if target.management_url:
            try:
                self._management = _Endpoint(target.management_url, target.user, target.password, target.timeout_s)
            except _ReadError as exc:
                self._config_errors.append(f"management: {exc}")
        if target.prometheus_url:
            try:
                # rabbitmq_prometheus serves without authentication: the broker password is not sent there
                self._prometheus = _Endpoint(target.prometheus_url, None, None, target.timeout_s)
            except _ReadError as exc:
                self._config_errors.append(f"prometheus: {exc}")

    @property
    def target(self) -> str:
        return self._target.target

    def close(self) -> None:
        """Nothing to release: every read opens and closes its own connections."""

    def collect(self) -> SourceResult:
        started = time.perf_counter()
        try:
            return self._collect(started)
        except Exception as exc:  # never raise: a bug here must not take the exporter down
            return SourceResult(
                target=self.target,
                up=False,
                duration_s=time.perf_counter() - started,
                error=self._scrub(f"unexpected {type(exc).__name__}: {exc}"),
            )

    # --- one read --------------------------------------------------------------------------------------------

    def _collect(self, started: float) -> SourceResult:
        notes: list[str] = []
        failures: list[str] = list(self._config_errors)
        if self._management is None and self._prometheus is None:
            if not failures:
                failures.append("neither management_url nor prometheus_url is configured")
            return self._down(started, failures)

        managed: list[QueueStats] | None = None
        if self._management is not None:
            try:
                managed = self._read_management(self._management)
            except _ReadError as exc:
                failures.append(f"management: {exc}")

        scraped: dict[tuple[str, str], QueueStats] | None = None
        want_prometheus = managed is None or any(queue.gaps() for queue in managed)
        prometheus_failure: str | None = None
        if self._prometheus is not None and want_prometheus:
            try:
                scraped = self._read_prometheus(self._prometheus, notes)
            except _ReadError as exc:
                prometheus_failure = f"prometheus: {exc}"

        if managed is not None:
            queues = [queue.filled_from(scraped.get(queue.key) if scraped else None) for queue in managed]
            # a queue declared a moment ago lacks statistics too; a disabled collector leaves all without them
            if managed and all(queue.consumers is None for queue in managed):
                if self._prometheus is None:
                    self._note_once(
                        notes,
                        "stats-missing",
                        "the management API lists queues without consumers or message counts (management "
                        "metrics collector disabled?); set prometheus_url to read them from rabbitmq_prometheus",
                    )
                elif scraped is not None:
                    self._note_once(
                        notes,
                        "stats-filled",
                        "the management API lists queues without consumers or message counts (management "
                        "metrics collector disabled?); taking them from rabbitmq_prometheus",
                    )
            partial = tuple(failures) + ((prometheus_failure,) if prometheus_failure else ())
        elif scraped is not None:
            queues = sorted(scraped.values(), key=lambda queue: queue.key)
            partial = tuple(failures)
        else:
            if prometheus_failure:
                failures.append(prometheus_failure)
            return self._down(started, failures)

        return SourceResult(
            target=self.target,
            up=True,
            duration_s=time.perf_counter() - started,
            samples=tuple(self._samples(queues, notes)),
            notes=tuple(notes),
            partial=tuple(self._scrub(item) for item in partial),
        )

    def _down(self, started: float, failures: list[str]) -> SourceResult:
        return SourceResult(
            target=self.target,
            up=False,
            duration_s=time.perf_counter() - started,
            error=self._scrub("; ".join(failures)),
        )

    def _samples(self, queues: Iterable[QueueStats], notes: list[str]) -> list[Sample]:
        out: list[Sample] = []
        replies = 0
        for queue in queues:
            if queue.name.startswith(REPLY_QUEUE_PREFIX):
                replies += 1
                continue
            owner = self._owners.get(queue.name)
            labels = {
                "vhost": queue.vhost,
                "queue": queue.name,
                "service": owner.service if owner else "",
                "bounded_context": owner.bounded_context if owner else "",
            }
            for name, field in _SERIES:
                value = getattr(queue, field)
                if value is None or math.isnan(value):
                    continue
                out.append(sample(name, value, **labels))
        if replies:
            self._note_once(
                notes,
                "reply-queues",
                f"{replies} Wolverine reply queue(s) {REPLY_QUEUE_PREFIX}* (one per node, auto-delete) are left "
                "out of the per-queue series",
            )
        return out

    def _note_once(self, notes: list[str], key: str, text: str) -> None:
        if key not in self._noted:
            self._noted.add(key)
            notes.append(text)

    def _scrub(self, text: str) -> str:
        """One line, without the password even if some library echoed it."""
        line = " ".join(text.split())
        for secret in {self._target.password, *(e.password for e in (self._management, self._prometheus) if e)}:
            if secret:
                line = line.replace(secret, "***")
        return line

    # --- management API ------------------------------------------------------------------------------------

    def _read_management(self, endpoint: _Endpoint) -> list[QueueStats]:
        vhost = self._target.vhost
        path = "/api/queues" if vhost is None else f"/api/queues/{urllib.parse.quote(vhost, safe='')}"
        found: dict[tuple[str, str], QueueStats] = {}
        page = 1
        while True:  # the broker sorts by vhost and name unless told otherwise: pages do not overlap
            query = urllib.parse.urlencode(
                {"page": page, "page_size": PAGE_SIZE, "columns": ",".join(MANAGEMENT_COLUMNS)}
            )
            try:
                body = endpoint.get(f"{path}?{query}", "application/json")
            except urllib.error.HTTPError as exc:
                if exc.code == 400 and page > 1:
                    break  # queues were deleted while paging: the last page is gone
                raise _ReadError(_describe_http(exc, endpoint, vhost)) from exc
            except _ReadError:
                raise
            except Exception as exc:
                raise _ReadError(_describe(exc, endpoint)) from exc
            payload = _json(body, "the management API")
            if isinstance(payload, list):  # a broker that ignores paging answers with the plain list
                items, page_count = payload, page
            elif isinstance(payload, dict) and isinstance(payload.get("items"), list):
                items, page_count = payload["items"], _int(payload.get("page_count"), page)
            else:
                raise _ReadError("the management API answered with something that is not a queue list")
            for item in items:
                queue = _management_queue(item)
                if queue is not None and (vhost is None or queue.vhost == vhost):
                    found.setdefault(queue.key, queue)
            if page >= page_count or not items:
                break
            page += 1
        return sorted(found.values(), key=lambda queue: queue.key)

    # --- rabbitmq_prometheus ----------------------------------------------------------------------------------

    def _read_prometheus(self, endpoint: _Endpoint, notes: list[str]) -> dict[tuple[str, str], QueueStats]:
        vhost = self._target.vhost
        params = ([("vhost", vhost)] if vhost is not None else []) + [("family", f) for f in PROMETHEUS_FAMILIES]
        try:
            body = endpoint.get(f"/metrics/detailed?{urllib.parse.urlencode(params)}", "text/plain")
        except urllib.error.HTTPError as exc:
            raise _ReadError(_describe_http(exc, endpoint, None)) from exc
        except _ReadError:
            raise
        except Exception as exc:
            raise _ReadError(_describe(exc, endpoint)) from exc
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _ReadError("rabbitmq_prometheus answered with something that is not text") from exc
        parsed = promtext.parse(text)
        if parsed.malformed:
            skipped = f"rabbitmq_prometheus: skipped {parsed.malformed} malformed line(s)"
            self._note_once(notes, "prom-malformed", skipped)
        values: dict[tuple[str, str], dict[str, float]] = {}
        for item in parsed.named(*_PROM_FIELDS):
            queue, queue_vhost = item.labels.get("queue"), item.labels.get("vhost")
            if queue is None or queue_vhost is None or (vhost is not None and queue_vhost != vhost):
                continue
            values.setdefault((queue_vhost, queue), {})[_PROM_FIELDS[item.name]] = item.value
        if not values and not any(item.name.startswith("rabbitmq_") for item in parsed.samples):
            raise _ReadError("the answer holds no rabbitmq_* series (is this the rabbitmq_prometheus port?)")
        return {key: QueueStats(key[0], key[1], **fields) for key, fields in values.items()}


# --- helpers -------------------------------------------------------------------------------------------------------


def _management_queue(item: Any) -> QueueStats | None:
    if not isinstance(item, dict):
        return None
    name, vhost = item.get("name"), item.get("vhost")
    if not isinstance(name, str) or not isinstance(vhost, str):
        return None
    raw_stats = item.get("message_stats")
    stats = raw_stats if isinstance(raw_stats, dict) else {}
    # the broker keeps statistics for this queue (its metrics collector is on): a missing counter is 0 so far.
    # Right after a declare the fields arrive one by one over a few seconds, message_stats sometimes first.
    kept = "consumers" in item or isinstance(raw_stats, dict)
    default = 0.0 if kept else None
    return QueueStats(
        vhost=vhost,
        name=name,
        messages=_number(item.get("messages")),
        ready=_number(item.get("messages_ready")),
        unacked=_number(item.get("messages_unacknowledged")),
        consumers=_number(item.get("consumers")),
        published=_number(stats.get("publish"), default),
        acked=_number(stats.get("ack"), default),
        publish_rate=_number(_rate(stats.get("publish_details")), default),
        ack_rate=_number(_rate(stats.get("ack_details")), default),
    )


def _rate(details: Any) -> Any:
    return details.get("rate") if isinstance(details, dict) else None


def _number(value: Any, default: float | None = None) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _ReadError(f"{what} answered with something that is not JSON") from exc


def _safe_url(url: str) -> str:
    """``url`` without a ``user:password@`` part."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    if "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _describe_http(exc: urllib.error.HTTPError, endpoint: _Endpoint, vhost: str | None) -> str:
    where = endpoint.base
    if exc.code == 401:
        hint = "" if endpoint.has_credentials else " (no password configured)"
        return f"{where}: authentication failed (HTTP 401){hint}"
    if exc.code == 403:
        return f"{where}: access denied (HTTP 403; the user needs the monitoring tag and vhost permissions)"
    if exc.code == 404 and vhost is not None:
        return f"{where}: not found (HTTP 404): no vhost {vhost!r}, or not the management API"
    return f"{where}: HTTP {exc.code} {exc.reason}"


def _describe(exc: BaseException, endpoint: _Endpoint) -> str:
    where = endpoint.base
    reason: object = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, TimeoutError | socket.timeout):
        return f"{where}: timed out after {endpoint.timeout_s:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return f"{where}: connection refused"
    if isinstance(reason, ConnectionError):
        return f"{where}: connection failed ({type(reason).__name__})"
    if isinstance(reason, socket.gaierror):
        return f"{where}: cannot resolve host ({reason.strerror})"
    if isinstance(exc, http.client.HTTPException):
        return f"{where}: bad HTTP answer ({type(exc).__name__})"
    if isinstance(reason, OSError) and reason.strerror:
        return f"{where}: {reason.strerror}"
    return f"{where}: {type(exc).__name__}: {reason}"
