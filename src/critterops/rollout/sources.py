"""Metric sources: per-version request, error and latency counts for one analysis interval.

Two sources, one shape (:class:`SourceReading`):

- :class:`HAProxySource` reads the local proxy's ``show stat`` and returns the change since the
  previous read: requests routed (``lbtot``), errors (5xx answers plus refused or broken connections)
  and HAProxy's ``rtime`` (its average over the server's last 1024 requests, not just this interval);
- :class:`PrometheusSource` runs one instant PromQL query per version and metric through the HTTP
  API (``/api/v1/query``).

A source that cannot be read returns ``available=False`` with the reason, never raises: the caller
turns that into an inconclusive look (no judging, no promotion), as Argo Rollouts does for a metric
provider error.
"""

from __future__ import annotations

import json
import math
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


class PrometheusSource:
    """Per-version counts from PromQL instant queries.

    ``queries`` maps ``"<role>.<metric>"`` to PromQL, metric one of ``requests``, ``errors``,
    ``latency_ms``; for example ``{"canary.requests": 'sum(increase(http_requests_total{version="2"}[1m]))'}``.
    Each query's vector is summed; an empty vector counts 0 requests or errors and no latency.
    """

    def __init__(self, base_url: str, queries: Mapping[str, str], *, timeout: float = 3.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"Prometheus URL must be http(s)://host:port, not {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.name = f"prometheus {self.base_url}"
        self.queries: dict[tuple[str, str], str] = {}
        for key, promql in queries.items():
            role, _, metric = key.partition(".")
            if not role or metric not in METRICS:
                raise UserError(
                    f"Prometheus query key {key!r} must be '<version>.<metric>' with metric one of {', '.join(METRICS)}"
                )
            if not promql.strip():
                raise UserError(f"Prometheus query {key!r} is empty")
            self.queries[(role, metric)] = promql
        roles = {role for role, _ in self.queries}
        without_requests = sorted(role for role in roles if (role, "requests") not in self.queries)
        if not roles or without_requests:
            raise UserError(
                "every version needs a '<version>.requests' query"
                + (f" (missing for {', '.join(without_requests)})" if without_requests else "")
            )
        host = parts.hostname or ""
        handlers: list[urllib.request.BaseHandler] = []
        if host in ("127.0.0.1", "localhost", "::1"):
            handlers.append(urllib.request.ProxyHandler({}))  # loopback never goes through http_proxy
        self._opener = urllib.request.build_opener(*handlers)

    def query(self, promql: str) -> list[tuple[dict[str, str], float]]:
        """Run one instant query; the (labels, value) pairs of its vector (a scalar is one pair).

        Raises BackendError: unreachable server, HTTP error, or an error reported by Prometheus.
        """
        url = f"{self.base_url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
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
        return _samples(payload.get("data"))

    def read(self) -> SourceReading:
        values: dict[tuple[str, str], float | None] = {}
        for (role, metric), promql in self.queries.items():
            try:
                samples = self.query(promql)
            except BackendError as exc:
                return _unavailable(self.name, f"{role}.{metric}: {exc}")
            finite = [value for _, value in samples if not math.isnan(value)]
            values[(role, metric)] = sum(finite) if finite else None
        versions: dict[str, VersionCounts] = {}
        for role in dict.fromkeys(role for role, _ in self.queries):
            requests = _count(values.get((role, "requests")))
            errors = _count(values.get((role, "errors")))
            latency = values.get((role, "latency_ms"))
            versions[role] = VersionCounts(
                requests=requests,
                errors=min(errors, requests),
                latency_ms=latency if latency is not None and math.isfinite(latency) else None,
            )
        return SourceReading(source=self.name, available=True, versions=versions)


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


def _samples(data: Any) -> list[tuple[dict[str, str], float]]:
    if not isinstance(data, dict):
        raise BackendError(f"unexpected Prometheus query data: {data!r}")
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [({}, float(result[1]))]
    if kind == "vector" and isinstance(result, list):
        samples: list[tuple[dict[str, str], float]] = []
        for item in result:
            labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
            samples.append((labels, float(item["value"][1])))
        return samples
    if kind == "matrix":
        raise BackendError("the query returned a range vector: wrap it, e.g. sum(increase(metric[1m]))")
    raise BackendError(f"unsupported Prometheus result type {kind!r}")
