"""Synthetic load: an open-loop request generator, always labelled as such.

:class:`LoadGenerator` sends requests at a fixed rate from a schedule (``start + i / rps``) that
never waits for answers: slow responses do not slow the load down, as real users would not. At most
``concurrency`` requests are in flight; a request due while all are busy is *dropped* and counted,
never delayed. Each answer is recorded with its status, latency and the version that served it
(the ``X-Version`` response header).

Every number it produces carries ``source = "synthetic load"``: a rollout judged on it was judged on
traffic critterops made up, and reports must say so.
"""

from __future__ import annotations

import http.client
import random
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from critterops.errors import UserError
from critterops.rollout.local.httpfile import Request

SOURCE = "synthetic load"
VERSION_HEADER = "X-Version"
UNKNOWN_VERSION = "unknown"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request sent. ``status`` 0: no HTTP answer (connection refused, reset, timeout)."""

    at_s: float  # when it was sent, seconds since the load started
    status: int
    latency_ms: float
    version: str | None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


@dataclass(frozen=True, slots=True)
class VersionLoad:
    """What one version answered."""

    requests: int
    errors: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None


@dataclass(frozen=True, slots=True)
class LoadSnapshot:
    """Counts since the load started."""

    elapsed_s: float
    target_rps: float
    sent: int
    completed: int
    dropped: int  # due while ``concurrency`` requests were in flight: not sent
    errors: int  # 5xx answers plus requests without an answer
    statuses: dict[int, int]
    versions: dict[str, VersionLoad]
    source: str = SOURCE

    @property
    def achieved_rps(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def in_flight(self) -> int:
        return self.sent - self.completed


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@dataclass
class _Tally:
    sent: int = 0
    completed: int = 0
    dropped: int = 0
    errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    version_errors: Counter[str] = field(default_factory=Counter)
    outcomes: list[Outcome] = field(default_factory=list)


class LoadGenerator:
    """Open-loop load at ``rps`` requests per second against ``url`` (for ``duration`` s, or until stopped).

    ``requests`` is the mix, sent round-robin (for example parsed from a ``.http`` file); only their
    path and query are used, the host is always ``url``'s. Without a mix it sends ``GET <url path>``.
    """

    def __init__(
        self,
        url: str,
        rps: float,
        duration: float | None = None,
        requests: Sequence[Request] | None = None,
        *,
        concurrency: int = 32,
        timeout: float = 10.0,
        seed: int | None = None,
        keep_outcomes: bool = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise UserError(f"load URL must be http://host:port[/path], not {url!r}")
        if not rps > 0:
            raise UserError(f"requests per second must be above 0, not {rps}")
        if duration is not None and not duration > 0:
            raise UserError(f"load duration must be above 0 seconds, not {duration}")
        if concurrency < 1:
            raise UserError(f"concurrency must be at least 1, not {concurrency}")
        self.url = url
        self.host = parts.hostname
        self.port = parts.port or 80
        self.rps = float(rps)
        self.duration = duration
        self.requests: tuple[Request, ...] = (
            tuple(requests) if requests else (Request("GET", parts.path or "/", source="default"),)
        )
        self.concurrency = concurrency
        self.timeout = timeout
        self.keep_outcomes = keep_outcomes
        self.source = SOURCE
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._tally = _Tally()
        self._stop = threading.Event()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None
        self._started: float | None = None
        self._ended: float | None = None
        self._connections: list[http.client.HTTPConnection] = []

    # --- control ------------------------------------------------------------------------------------------------

    def start(self) -> LoadGenerator:
        if self._scheduler is not None:
            raise UserError("this load generator was already started")
        self._pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="critterops-load")
        self._started = time.monotonic()
        self._scheduler = threading.Thread(target=self._schedule, name="critterops-load-scheduler", daemon=True)
        self._scheduler.start()
        return self

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a load with a duration to finish scheduling; True once it has."""
        if self._scheduler is None:
            return True
        self._scheduler.join(timeout)
        return not self._scheduler.is_alive()

    def stop(self, timeout: float = 5.0) -> LoadSnapshot:
        """Stop sending, wait up to ``timeout`` for requests in flight, and return the final counts."""
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.join(timeout)
        if self._pool is not None:
            deadline = time.monotonic() + timeout
            while self._in_flight() > 0 and time.monotonic() < deadline:
                time.sleep(0.01)
            self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        if self._ended is None and self._started is not None:
            self._ended = time.monotonic()
        return self.snapshot()

    @property
    def running(self) -> bool:
        return self._scheduler is not None and self._scheduler.is_alive()

    def __enter__(self) -> LoadGenerator:
        if self._scheduler is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- results ------------------------------------------------------------------------------------------------

    def snapshot(self) -> LoadSnapshot:
        """Counts since the start (a consistent copy; the load keeps running)."""
        now = self._ended or time.monotonic()
        elapsed = now - self._started if self._started is not None else 0.0
        with self._lock:
            tally = self._tally
            versions = {
                name: VersionLoad(
                    requests=len(latencies),
                    errors=tally.version_errors[name],
                    latency_p50_ms=_percentile(latencies, 0.5),
                    latency_p95_ms=_percentile(latencies, 0.95),
                )
                for name, latencies in tally.latencies.items()
            }
            return LoadSnapshot(
                elapsed_s=elapsed,
                target_rps=self.rps,
                sent=tally.sent,
                completed=tally.completed,
                dropped=tally.dropped,
                errors=tally.errors,
                statuses=dict(tally.statuses),
                versions=versions,
            )

    def _in_flight(self) -> int:
        with self._lock:
            return self._tally.sent - self._tally.completed

    def outcomes(self) -> list[Outcome]:
        """Every request recorded so far (empty with ``keep_outcomes=False``)."""
        with self._lock:
            return list(self._tally.outcomes)

    # --- work ---------------------------------------------------------------------------------------------------

    def _schedule(self) -> None:
        assert self._started is not None and self._pool is not None
        start = self._started
        index = 0
        while not self._stop.is_set():
            due = start + index / self.rps
            if self.duration is not None and due - start >= self.duration:
                break
            now = time.monotonic()
            if due > now and self._stop.wait(due - now):
                break
            request = self.requests[index % len(self.requests)]
            index += 1
            if self._slots.acquire(blocking=False):
                with self._lock:
                    self._tally.sent += 1
                try:
                    self._pool.submit(self._send, request, start)
                except RuntimeError:  # the pool was shut down under us: stopping
                    self._slots.release()
                    with self._lock:
                        self._tally.sent -= 1
                    break
            else:
                with self._lock:
                    self._tally.dropped += 1
        if self._ended is None:
            self._ended = time.monotonic()

    def _connection(self, fresh: bool = False) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None or fresh:
            if conn is not None:
                conn.close()
            new = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            with self._lock:
                if conn is not None and conn in self._connections:
                    self._connections.remove(conn)
                self._connections.append(new)
            self._local.conn = conn = new
        return conn

    def _send(self, request: Request, start: float) -> None:
        try:
            with self._lock:
                concrete = request.render(self._rng) if request.dynamic else request
            body = concrete.body.encode() if concrete.body is not None else None
            headers = dict(concrete.headers)
            sent_at = time.monotonic()
            status, version, error = 0, None, None
            for attempt in (1, 2):
                conn = self._connection(fresh=attempt == 2)
                reused = conn.sock is not None
                try:
                    conn.request(concrete.method, concrete.path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status, version = response.status, response.getheader(VERSION_HEADER)
                    error = None
                    if response.will_close:
                        conn.close()
                    break
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                    conn.close()
                    error = f"{type(exc).__name__}: {exc}"
                    if not reused:
                        break  # a fresh connection failed: a real error; a kept-alive one may just have idled out
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    error = f"{type(exc).__name__}: {exc}"
                    break
            latency_ms = (time.monotonic() - sent_at) * 1000.0
            outcome = Outcome(sent_at - start, status, latency_ms, version, error)
            with self._lock:
                tally = self._tally
                tally.completed += 1
                tally.statuses[status] += 1
                name = version or UNKNOWN_VERSION
                tally.latencies.setdefault(name, []).append(latency_ms)
                if outcome.failed:
                    tally.errors += 1
                    tally.version_errors[name] += 1
                if self.keep_outcomes:
                    tally.outcomes.append(outcome)
        finally:
            self._slots.release()
