"""Reading every source at once and serving the result: ``/metrics`` and ``/healthz``.

A scrape reads all sources in parallel (one thread each), so one slow or dead source costs its own
timeout and never the others' series. Every source gets ``critterops_up``,
``critterops_scrape_duration_seconds`` and ``critterops_scrape_errors_total``. Scrapes closer together
than ``min_interval`` share one read (two Prometheus replicas do not double the load on the
databases), and a source whose previous read is still running is reported down instead of being
read twice. State changes (down, back up) and one-time notes are logged once, never with credentials.

A collector's first read costs more than the others (the PostgreSQL collector loads every saga document
once, then only what changed), so :meth:`Exporter.start` runs it in the background when serving starts.
Until a source has been read successfully once, a read that outlasts a scrape's deadline is its
warm-up, not an outage: the scrape answers within its deadline with ``critterops_warming_up 1`` for that
source and no ``critterops_up`` (no read has finished to be up or down), for at most ``warm_up_limit``;
after that, or once the source was up, a read still running is reported down as before.
"""

from __future__ import annotations

import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cached_property, partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from critterops import metrics as m
from critterops.errors import BackendError
from critterops.watch.exposition import CONTENT_TYPE, render
from critterops.watch.samples import Collector, Sample, SourceResult, sample

log = logging.getLogger("critterops.exporter")


@dataclass(frozen=True)
class Scrape:
    """One read of every source; ``errors`` are the cumulative error counts per target. Scrapes that
    share this read (within ``min_interval``) share its rendered text too."""

    results: tuple[SourceResult, ...]
    errors: tuple[tuple[str, int], ...]
    at: float  # wall clock, seconds since the epoch
    duration_s: float

    def samples(self) -> list[Sample]:
        out: list[Sample] = []
        for result in self.results:
            out.extend(result.samples)
            if not result.warming:  # no read has finished yet: neither up nor down
                out.append(sample(m.SOURCE_UP, 1.0 if result.up else 0.0, target=result.target))
            out.append(sample(m.SOURCE_WARMING_UP, 1.0 if result.warming else 0.0, target=result.target))
            out.append(sample(m.SCRAPE_DURATION, result.duration_s, target=result.target))
        out += [sample(m.SCRAPE_ERRORS, count, target=target) for target, count in self.errors]
        return out

    @cached_property
    def rendered(self) -> str:
        return render(self.samples())

    def text(self) -> str:
        return self.rendered


@dataclass
class _Read:
    """A read of one source: started (monotonic) by a scrape or by :meth:`Exporter.start`; ``taken`` once
    its result went into a scrape or the log."""

    future: Future[SourceResult]
    started: float
    taken: bool = False


class Exporter:
    """Reads the collectors; safe to call ``scrape`` from many threads. ``warm_up_limit_s`` bounds how long a
    source that was never read successfully may be warming up before a read still running counts as down."""

    def __init__(
        self,
        collectors: Sequence[Collector],
        *,
        min_interval_s: float = 1.0,
        deadline_s: float = 10.0,
        warm_up_limit_s: float = 300.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.collectors = tuple(collectors)
        self.min_interval_s = min_interval_s
        self.deadline_s = deadline_s
        self.warm_up_limit_s = warm_up_limit_s
        self._wall = wall
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.collectors)), thread_name_prefix="collect")
        self._lock = threading.Lock()
        self._running: dict[str, _Read] = {}
        self._errors = {c.target: 0 for c in self.collectors}
        self._up: dict[str, bool] = {}
        self._warm: set[str] = set()  # targets read successfully at least once
        self._noted: set[str] = set()
        self._last: Scrape | None = None
        self._last_at = -float("inf")

    def start(self) -> None:
        """Start the first read of every source in the background (the warm-up), so that serving starts at
        once and a scrape that comes meanwhile waits for it only as long as its deadline allows. Each
        warm-up read logs how long it took when it finishes; its notes and state are logged by the next
        scrape. Calling it again does nothing."""
        with self._lock:
            now = time.monotonic()
            fresh = [c for c in self.collectors if c.target not in self._running]
            for collector in fresh:
                future = self._pool.submit(_collect_safely, collector)
                future.add_done_callback(partial(_log_warm_up, collector.target, now))
                self._running[collector.target] = _Read(future, now)
            if fresh:
                log.info("warming up: reading %s once in the background", ", ".join(c.target for c in fresh))

    def scrape(self) -> Scrape:
        with self._lock:
            if self._last is not None and time.monotonic() - self._last_at < self.min_interval_s:
                return self._last
            started = time.monotonic()
            reads: list[tuple[Collector, _Read, bool]] = []  # collector, its read, started by this scrape
            for collector in self.collectors:
                read = self._running.get(collector.target)
                if read is not None and not read.future.done():
                    reads.append((collector, read, False))  # the previous read (or the warm-up) is still running
                    continue
                if read is not None and not read.taken:  # a background read finished between scrapes
                    read.taken = True
                    self._account(read.future.result())
                read = self._running[collector.target] = _Read(self._pool.submit(_collect_safely, collector), started)
                reads.append((collector, read, True))
            results = [self._result(collector, read, ours, started) for collector, read, ours in reads]
            for result in results:
                self._account(result)
            scrape = Scrape(
                tuple(results),
                tuple(sorted(self._errors.items())),
                self._wall(),
                time.monotonic() - started,
            )
            self._last, self._last_at = scrape, time.monotonic()
            return scrape

    def _result(self, collector: Collector, read: _Read, ours: bool, started: float) -> SourceResult:
        """The read's result if it comes within this scrape's deadline; else the source is warming up (never
        read successfully, within ``warm_up_limit``) or down. A read this scrape did not start is waited
        for only while warming up: one that hangs after the source was up is reported down at once."""
        target = collector.target
        warming = target not in self._warm and time.monotonic() - read.started < self.warm_up_limit_s
        if ours or warming:
            left = max(0.0, self.deadline_s - (time.monotonic() - started))
            try:
                result = read.future.result(timeout=left)
                read.taken = True
                return result
            except FutureTimeout:
                pass
        since = time.monotonic() - read.started
        if target not in self._warm and since < self.warm_up_limit_s:
            return SourceResult(target, False, since, warming=True)
        if ours:
            return SourceResult(target, False, since, error=f"no answer within {self.deadline_s:g} s")
        return SourceResult(target, False, since, error=f"the previous read has not finished after {since:.0f} s")

    def _account(self, result: SourceResult) -> None:
        target = result.target
        if result.warming:
            key = f"{target} warming"
            if key not in self._noted:
                self._noted.add(key)
                log.info("%s: still warming up after %.1f s (its first read is running)", target, result.duration_s)
            return
        if result.up:
            self._warm.add(target)
        if not result.up or result.partial:
            self._errors[target] = self._errors.get(target, 0) + 1
        was_up = self._up.get(target)
        if not result.up and was_up is not False:
            log.warning("%s is down: %s", target, result.error or "no reason given")
        elif result.up and was_up is False:
            log.warning("%s is back up", target)
        self._up[target] = result.up
        for part in result.partial:
            key = f"{target} partial {part.split(':', 1)[0]}"
            if key not in self._noted:
                self._noted.add(key)
                log.warning("%s: could not read %s", target, part)
        for note in result.notes:  # a collector gives each note once (the Collector contract)
            log.info("%s: %s", target, note)

    @property
    def last(self) -> Scrape | None:
        """The latest scrape, without reading the sources again."""
        return self._last

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        for collector in self.collectors:
            try:
                collector.close()
            except Exception as error:  # closing is best effort; say so without a traceback
                log.debug("closing %s failed: %s", collector.target, error)


def _log_warm_up(target: str, started: float, future: Future[SourceResult]) -> None:
    if future.cancelled():
        return
    result = future.result()  # _collect_safely never raises
    outcome = "up" if result.up else f"down: {result.error or 'no reason given'}"
    log.info("%s: warm-up read finished in %.2f s (%s)", target, time.monotonic() - started, outcome)


def _collect_safely(collector: Collector) -> SourceResult:
    """A collector must not raise; if one does (a bug), its source is reported down, not the exporter."""
    started = time.monotonic()
    try:
        return collector.collect()
    except Exception as error:
        log.error(
            "%s: the collector failed unexpectedly (%s); report this as a critterops bug",
            collector.target,
            type(error).__name__,
        )
        return SourceResult(
            collector.target, False, time.monotonic() - started, error=f"internal error ({type(error).__name__})"
        )


# --- HTTP ------------------------------------------------------------------------------------------------------

_INDEX = """<html><head><title>critterops exporter</title></head><body>
<h1>critterops exporter</h1><p><a href="/metrics">/metrics</a> &middot; <a href="/healthz">/healthz</a></p>
</body></html>
"""


class ExporterServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], exporter: Exporter) -> None:
        self.exporter = exporter
        if ":" in address[0]:  # an IPv6 literal such as :: or ::1
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        """A scraper that gives up (its scrape_timeout) closes the connection mid-answer: not an error."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("%s went away: %s", client_address, error)
            return
        log.error("answering %s failed: %s", client_address, error)


class _Handler(BaseHTTPRequestHandler):
    server: ExporterServer
    server_version = "critterops-exporter"
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection does not hold a thread for ever

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            text = self.server.exporter.scrape().text()
            self._send(200, CONTENT_TYPE, text, body)
        elif path == "/healthz":
            scrape = self.server.exporter.last
            results = scrape.results if scrape else ()
            sources = {r.target: r.up for r in results if not r.warming}
            health = {"status": "ok", "sources": sources, "warming_up": [r.target for r in results if r.warming]}
            self._send(200, "application/json", json.dumps(health) + "\n", body)
        elif path == "/":
            self._send(200, "text/html; charset=utf-8", _INDEX, body)
        else:
            self._send(404, "text/plain; charset=utf-8", "not found: try /metrics or /healthz\n", body)

    def _send(self, status: int, content_type: str, text: str, body: bool) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def bind(exporter: Exporter, host: str, port: int) -> ExporterServer:
    """The server listening on ``host:port`` (port 0 picks a free one); BackendError if it cannot."""
    try:
        return ExporterServer((host, port), exporter)
    except (OSError, ValueError, UnicodeError, OverflowError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise BackendError(
            f"cannot listen on {host}:{port}: {reason}; choose another address with --listen host:port"
        ) from None
