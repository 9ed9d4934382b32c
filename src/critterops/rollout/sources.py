"""Metric sources: per-version request, error and latency counts for one analysis interval.

Two sources, one shape (:class:`SourceReading`):

- :class:`HAProxySource` reads the local proxy's ``show stat`` and returns the change since the
  previous read: requests routed (``lbtot``), errors (5xx answers plus refused or broken connections)
  and HAProxy's ``rtime`` (its average over the server's last 1024 requests, not just this interval);
- :class:`PrometheusSource` reads cumulative counters per version and metric through the HTTP API
  (``/api/v1/query``) and returns their increase since the previous read, differenced per series by
  critterops itself: the judge multiplies evidence across looks, so looks must count disjoint events
  (``increase(x[1m])`` read every 10 s would count each error about six times).

A source that cannot be read returns ``available=False`` with the reason, never raises: the caller
turns that into an inconclusive look (no judging, no promotion), as Argo Rollouts does for a metric
provider error.
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from critterops.errors import BackendError, UserError
from critterops.rollout.local.haproxy import HAProxy, ServerStats

METRICS = ("requests", "errors", "latency_ms")
ROLES = ("stable", "canary")


@dataclass(frozen=True, slots=True)
class VersionCounts:
    """One version's traffic in one interval."""

    requests: int
    errors: int
    latency_ms: float | None  # None: no requests, or no latency metric

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


@dataclass(frozen=True, slots=True)
class SourceReading:
    """What one read of a source gave: counts per role (``stable``, ``canary``), or why there are none."""

    source: str
    available: bool
    versions: Mapping[str, VersionCounts] = field(default_factory=dict)
    error: str | None = None
    interval_s: float | None = None  # since the previous read (HAProxy); None for windowed queries
    at: float = field(default_factory=time.time)

    def get(self, role: str) -> VersionCounts | None:
        return self.versions.get(role)

    @property
    def stable(self) -> VersionCounts | None:
        return self.versions.get("stable")

    @property
    def canary(self) -> VersionCounts | None:
        return self.versions.get("canary")


class MetricSource(Protocol):
    name: str

    def read(self) -> SourceReading: ...


def _unavailable(source: str, error: str) -> SourceReading:
    return SourceReading(source=source, available=False, versions={}, error=error)


# --- HAProxy ----------------------------------------------------------------------------------------------------


class HAProxySource:
    """Interval counts per version from HAProxy's per-server counters.

    Each :meth:`read` returns the change since the previous read (the first one: since construction,
    or since HAProxy started if it was not reachable then). A counter that went backwards means
    HAProxy restarted: the new value is the interval's count.
    """

    def __init__(self, haproxy: HAProxy, stable: str = "stable", canary: str = "canary") -> None:
        self.haproxy = haproxy
        self.roles = {"stable": stable, "canary": canary}
        self.name = "haproxy"
        self._last: dict[str, ServerStats] | None = None
        self._last_at: float | None = None
        self.reset()

    def reset(self) -> None:
        """Take the current counters as the baseline (nothing if HAProxy is not reachable)."""
        try:
            self._last = self.haproxy.stats()
            self._last_at = time.monotonic()
        except BackendError:
            self._last, self._last_at = None, None

    def read(self) -> SourceReading:
        pid = self.haproxy.pid()
        try:
            current = self.haproxy.stats()
        except BackendError as exc:
            state = "not running" if pid is None else f"not answering (pid {pid})"
            return _unavailable(self.name, f"HAProxy is {state}: {exc}")
        now = time.monotonic()
        missing = [server for server in self.roles.values() if server not in current]
        if missing:
            return _unavailable(self.name, f"HAProxy has no server {', '.join(missing)} (has {', '.join(current)})")
        previous, previous_at = self._last, self._last_at
        self._last, self._last_at = current, now
        versions: dict[str, VersionCounts] = {}
        for role, server in self.roles.items():
            cur = current[server]
            old = previous.get(server) if previous else None
            requests = _delta(cur.requests, old.requests if old else None)
            errors = _delta(cur.errors, old.errors if old else None)
            versions[role] = VersionCounts(
                requests=requests, errors=min(errors, requests), latency_ms=float(cur.rtime) if requests else None
            )
        return SourceReading(
            source=self.name,
            available=True,
            versions=versions,
            interval_s=now - previous_at if previous_at is not None else None,
        )


def _delta(current: int, previous: int | None) -> int:
    if previous is None or current < previous:
        return current
    return current - previous


# --- Prometheus -------------------------------------------------------------------------------------------------


Sample = tuple[dict[str, str], float]
Matrix = list[tuple[dict[str, str], list[tuple[float, float]]]]


class PrometheusClient:
    """Prometheus' HTTP API (``/api/v1/query`` and ``/api/v1/query_range``); errors are ``BackendError``."""

    def __init__(self, base_url: str, *, timeout: float = 3.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"Prometheus URL must be http(s)://host:port, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        handlers: list[urllib.request.BaseHandler] = []
        if parts.hostname in ("127.0.0.1", "localhost", "::1"):
            handlers.append(urllib.request.ProxyHandler({}))  # loopback never goes through http_proxy
        self._opener = urllib.request.build_opener(*handlers)

    def _get(self, path: str, params: Mapping[str, str]) -> Any:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        try:
            with self._opener.open(url, timeout=self.timeout) as response:
                payload = json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            detail = _prometheus_error(exc)
            raise BackendError(f"Prometheus rejected the query (HTTP {exc.code}): {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise BackendError(f"Prometheus at {self.base_url} is unavailable: {reason}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise BackendError(f"Prometheus at {self.base_url} sent something that is not JSON: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("status") != "success":
            detail = payload.get("error", payload) if isinstance(payload, dict) else payload
            raise BackendError(f"Prometheus query failed: {detail}")
        return payload.get("data")

    def query(self, promql: str) -> list[Sample]:
        """One instant query: the (labels, value) pairs of its vector (a scalar is one pair)."""
        return _samples(self._get("/api/v1/query", {"query": promql}))

    def query_range(self, promql: str, start: float, end: float, step: float) -> Matrix:
        """One range query: per series, its labels and (time, value) points."""
        data = self._get(
            "/api/v1/query_range", {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        )
        if not isinstance(data, dict) or data.get("resultType") != "matrix" or not isinstance(data.get("result"), list):
            raise BackendError(f"unexpected Prometheus range data: {data!r}")
        out: Matrix = []
        for item in data["result"]:
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            out.append((labels, [(float(t), float(v)) for t, v in item.get("values") or []]))
        return out


COUNTERS = ("requests", "errors")
# sum(...), sum by (a, b) (...), sum without (a) (...) around the whole query
_SUM = re.compile(
    r"^\s*sum\s*(?:(?:by|without)\s*\([^()]*\)\s*)?\((?P<inner>.*)\)\s*(?:(?:by|without)\s*\([^()]*\)\s*)?$", re.S
)
# increase/rate/irate of one selector with a window: the form that overlaps when read more often than the window
_WINDOWED = re.compile(
    r"^\s*(?P<fn>increase|rate|irate)\s*\(\s*(?P<sel>[A-Za-z_:][\w:]*\s*(?:\{[^{}]*\})?)\s*\[[^\]]+\]\s*\)\s*$", re.S
)
_RANGE = re.compile(r"\[\s*\d+[smhdwy]")


def counter_query(key: str, promql: str) -> tuple[str, str | None]:
    """The expression whose per-series values are cumulative counters, and a note when it was unwrapped.

    Evidence the judge multiplies across looks must come from disjoint counts, so the source reads
    counters and differences them itself. ``increase(x[1m])``, ``rate(x[1m])`` and ``irate(x[1m])`` of
    one selector (alone or in one ``sum``) are unwrapped to ``x``; any other windowed form
    (``sum_over_time``, a subquery, ``increase`` of an expression) is rejected: it cannot be unwrapped
    without guessing, and read every interval it would count the same errors several times.
    """
    text = promql.strip()
    inner = text
    summed = _SUM.match(text)
    if summed and _balanced(summed.group("inner")):
        inner = summed.group("inner").strip()
    windowed = _WINDOWED.match(inner)
    if windowed:
        selector = re.sub(r"\s+", " ", windowed.group("sel")).strip()
        return selector, (
            f"{key}: read as the counter {selector} (differenced per series between reads); "
            f"{windowed.group('fn')}(...[window]) was unwrapped because overlapping windows count each event "
            "several times"
        )
    if _RANGE.search(inner):
        raise UserError(
            f"Prometheus query {key!r} uses a range window ({text!r}): give the cumulative counter itself, "
            f'e.g. http_requests_total{{version="2"}} or sum(http_requests_total{{version="2"}}); critterops '
            "differences it between reads (windows read more often than their length count each error several times)"
        )
    return inner, None


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


class PrometheusSource:
    """Per-version interval counts from Prometheus counters.

    ``queries`` maps ``"<role>.<metric>"`` to PromQL, metric one of ``requests``, ``errors``,
    ``latency_ms``. ``requests`` and ``errors`` name cumulative counters, for example
    ``{"canary.requests": 'http_requests_total{version="2"}'}``: each :meth:`read` returns, per version,
    the increase since the previous read, differenced per series and then summed (a series whose value
    went down restarted: its new value is the increase; a series that appeared since counts whole). A top
    level ``sum(...)`` is read per series; ``increase``/``rate``/``irate`` of a selector are unwrapped to the
    selector (see :func:`counter_query`, the reasons are in :attr:`notes`); other windowed forms are
    refused. ``latency_ms`` is read as a gauge at each read (for example HAProxy's or the app's mean).
    The first read's baseline is taken when the source is built (or, if Prometheus was down then, at the
    first read that reaches it, which returns no counts).
    """

    def __init__(self, base_url: str, queries: Mapping[str, str], *, timeout: float = 3.0) -> None:
        self.client = PrometheusClient(base_url, timeout=timeout)
        self.base_url = self.client.base_url
        self.timeout = timeout
        self.name = f"prometheus {self.base_url}"
        self.queries: dict[tuple[str, str], str] = {}
        self.notes: list[str] = []
        for key, promql in queries.items():
            role, _, metric = key.partition(".")
            if not role or metric not in METRICS:
                raise UserError(
                    f"Prometheus query key {key!r} must be '<version>.<metric>' with metric one of {', '.join(METRICS)}"
                )
            if not promql.strip():
                raise UserError(f"Prometheus query {key!r} is empty")
            if metric in COUNTERS:
                promql, note = counter_query(key, promql)
                if note:
                    self.notes.append(note)
            self.queries[(role, metric)] = promql
        roles = {role for role, _ in self.queries}
        without_requests = sorted(role for role in roles if (role, "requests") not in self.queries)
        if not roles or without_requests:
            raise UserError(
                "every version needs a '<version>.requests' query"
                + (f" (missing for {', '.join(without_requests)})" if without_requests else "")
            )
        self._last: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], float]] | None = None
        self.reset()

    def query(self, promql: str) -> list[Sample]:
        """Run one instant query (see :meth:`PrometheusClient.query`). Raises BackendError."""
        return self.client.query(promql)

    def _counters(self) -> dict[tuple[str, str], dict[tuple[tuple[str, str], ...], float]]:
        out: dict[tuple[str, str], dict[tuple[tuple[str, str], ...], float]] = {}
        for (role, metric), promql in self.queries.items():
            if metric not in COUNTERS:
                continue
            try:
                samples = self.client.query(promql)
            except BackendError as exc:
                raise BackendError(f"{role}.{metric}: {exc}") from exc
            out[(role, metric)] = {
                tuple(sorted(labels.items())): value for labels, value in samples if math.isfinite(value)
            }
        return out

    def reset(self) -> None:
        """Take the counters' current values as the baseline (nothing if Prometheus is not reachable)."""
        try:
            self._last = self._counters()
        except BackendError:
            self._last = None

    def read(self) -> SourceReading:
        try:
            current = self._counters()
        except BackendError as exc:
            return _unavailable(self.name, str(exc))
        previous, self._last = self._last, current
        if previous is None:
            return _unavailable(self.name, "Prometheus was not reachable before: this read is the baseline")
        gauges: dict[tuple[str, str], float | None] = {}
        for (role, metric), promql in self.queries.items():
            if metric in COUNTERS:
                continue
            try:
                samples = self.client.query(promql)
            except BackendError as exc:
                return _unavailable(self.name, f"{role}.{metric}: {exc}")
            finite = [value for _, value in samples if not math.isnan(value)]
            gauges[(role, metric)] = sum(finite) if finite else None
        versions: dict[str, VersionCounts] = {}
        for role in dict.fromkeys(role for role, _ in self.queries):
            increase = {
                metric: sum(
                    _delta_float(value, previous.get((role, metric), {}).get(series))
                    for series, value in current.get((role, metric), {}).items()
                )
                for metric in COUNTERS
            }
            requests = _count(increase["requests"])
            errors = _count(increase["errors"])
            latency = gauges.get((role, "latency_ms"))
            versions[role] = VersionCounts(
                requests=requests,
                errors=min(errors, requests),
                latency_ms=latency if latency is not None and math.isfinite(latency) and requests else None,
            )
        return SourceReading(source=self.name, available=True, versions=versions)


def _delta_float(current: float, previous: float | None) -> float:
    if previous is None or current < previous:
        return current
    return current - previous


def _count(value: float | None) -> int:
    if value is None or not math.isfinite(value) or value < 0:
        return 0
    return round(value)


def _prometheus_error(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode("utf-8"))
        return f"{body.get('errorType', 'error')}: {body.get('error', body)}"
    except (ValueError, UnicodeDecodeError, OSError, AttributeError):
        return str(exc.reason)


def _samples(data: Any) -> list[Sample]:
    if not isinstance(data, dict):
        raise BackendError(f"unexpected Prometheus query data: {data!r}")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [({}, float(result[1]))]
    if kind == "vector" and isinstance(result, list):
        samples: list[Sample] = []
        for item in result:
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            samples.append((labels, float(item["value"][1])))
        return samples
    if kind == "matrix":
        raise BackendError(
            "the query returned a range vector: give the counter itself (an instant vector such as "
            "metric{...}); critterops differences it between reads"
        )
    raise BackendError(f"unsupported Prometheus result type {kind!r}")
