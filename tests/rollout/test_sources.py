"""PrometheusSource against a real Prometheus server on loopback, scraping a /metrics the test controls."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from critterops.errors import BackendError, UserError
from critterops.rollout.local.processes import free_port, pid_alive
from critterops.rollout.sources import PrometheusSource, VersionCounts, counter_query

PROMETHEUS = shutil.which("prometheus")
requires_prometheus = pytest.mark.skipif(
    PROMETHEUS is None, reason="Prometheus is not installed (apt-get install -y --no-install-recommends prometheus)"
)

METRICS = """\
# HELP http_requests_total Requests answered.
# TYPE http_requests_total counter
http_requests_total{version="1.4.0",code="200"} 900
http_requests_total{version="1.4.0",code="500"} 9
http_requests_total{version="1.5.0",code="200"} 90
http_requests_total{version="1.5.0",code="500"} 10
# HELP request_latency_ms Average latency.
# TYPE request_latency_ms gauge
request_latency_ms{version="1.4.0"} 41.5
request_latency_ms{version="1.5.0"} 57.25
"""

QUERIES = {
    "stable.requests": 'sum(http_requests_total{version="1.4.0"})',
    "stable.errors": 'sum(http_requests_total{version="1.4.0",code=~"5.."})',
    "stable.latency_ms": 'request_latency_ms{version="1.4.0"}',
    "canary.requests": 'sum(http_requests_total{version="1.5.0"})',
    "canary.errors": 'sum(http_requests_total{version="1.5.0",code=~"5.."})',
    "canary.latency_ms": 'request_latency_ms{version="1.5.0"}',
}


class _Counters:
    """The /metrics text, with counters a test can advance (a scrape sees the current values)."""

    text = METRICS


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = _Counters.text.encode() if self.path.startswith("/metrics") else b"not found\n"
        self.send_response(200 if self.path.startswith("/metrics") else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    config: Path

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def _get_json(url: str) -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as response:
        payload: dict[str, object] = json.loads(response.read())
        return payload


def _start_prometheus(work: Path, target_port: int | None) -> Prometheus:
    assert PROMETHEUS is not None
    port = free_port()
    config = work / "prometheus.yml"
    scrape = (
        "scrape_configs:\n"
        "  - job_name: orders-api\n"
        "    scrape_interval: 1s\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{target_port}']}}]\n"
        if target_port
        else ""
    )
    config.write_text(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n{scrape}")
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    prom = Prometheus(f"http://127.0.0.1:{port}", proc, config)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(f"{prom.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return prom
        except OSError:
            time.sleep(0.05)
    prom.stop()
    raise AssertionError("prometheus did not become ready within 15 s")


def _gone(prom: Prometheus) -> None:
    assert prom.proc.poll() is not None and not pid_alive(prom.proc.pid)
    leftover = subprocess.run(["pgrep", "-f", str(prom.config)], capture_output=True, text=True, check=False)
    assert [p for p in leftover.stdout.split() if pid_alive(int(p))] == []


@pytest.fixture(scope="module")
def scraped() -> Iterator[Prometheus]:
    """A real Prometheus that has scraped the static /metrics at least once."""
    work = Path(tempfile.mkdtemp(prefix="crit-prom-"))
    metrics = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    thread = threading.Thread(target=metrics.serve_forever, daemon=True)
    thread.start()
    prom = _start_prometheus(work, metrics.server_address[1])
    try:
        # The first scrape comes ~6 s after ready (discovery updates every 5 s): poll the targets.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            targets = _get_json(f"{prom.url}/api/v1/targets")
            active = targets["data"]["activeTargets"]  # type: ignore[index]
            if active and all(t["health"] == "up" for t in active):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"target never came up: {targets}")
        yield prom
    finally:
        prom.stop()
        metrics.shutdown()
        metrics.server_close()
        _gone(prom)
        shutil.rmtree(work, ignore_errors=True)


ADVANCED = """\
# TYPE http_requests_total counter
http_requests_total{version="1.4.0",code="200"} 1800
http_requests_total{version="1.4.0",code="500"} 18
http_requests_total{version="1.5.0",code="200"} 40
http_requests_total{version="1.5.0",code="500"} 12
http_requests_total{version="1.5.0",code="200",pod="b"} 50
# TYPE request_latency_ms gauge
request_latency_ms{version="1.4.0"} 41.5
request_latency_ms{version="1.5.0"} 57.25
"""


def _wait_for(prom: Prometheus, promql: str, value: float) -> None:
    source = PrometheusSource(prom.url, {"canary.requests": "vector(0)"})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if [v for _, v in source.query(promql)] == [value]:
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus never showed {promql} = {value}")


@pytest.fixture
def advancing() -> Iterator[Prometheus]:
    """A Prometheus of its own scraping counters that the test advances."""
    work = Path(tempfile.mkdtemp(prefix="crit-prom-"))
    _Counters.text = METRICS
    metrics = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=metrics.serve_forever, daemon=True).start()
    prom = _start_prometheus(work, metrics.server_address[1])
    try:
        _wait_for(prom, "sum(http_requests_total)", 1009.0)
        yield prom
    finally:
        _Counters.text = METRICS
        prom.stop()
        metrics.shutdown()
        metrics.server_close()
        _gone(prom)
        shutil.rmtree(work, ignore_errors=True)


@requires_prometheus
def test_each_read_counts_the_increase_since_the_previous_one_per_series(advancing: Prometheus) -> None:
    windowed = {**QUERIES, "canary.requests": 'sum(increase(http_requests_total{version="1.5.0"}[1m]))'}
    source = PrometheusSource(advancing.url, QUERIES)  # the baseline: the counters now
    unwrapped = PrometheusSource(advancing.url, windowed)
    assert unwrapped.queries[("canary", "requests")] == 'http_requests_total{version="1.5.0"}'
    assert len(unwrapped.notes) == 1 and "overlapping windows" in unwrapped.notes[0]
    _Counters.text = ADVANCED
    _wait_for(advancing, "sum(http_requests_total)", 1920.0)
    for reading in (source.read(), unwrapped.read()):
        assert reading.available and reading.error is None, reading.error
        assert reading.source == f"prometheus {advancing.url}"
        assert reading.stable == VersionCounts(requests=909, errors=9, latency_ms=41.5)
        # 1.5.0's pod restarted (200s: 90 -> 40 counts 40, not -50) and pod b appeared (50 counts whole);
        # a sum() of the series would have gone 100 -> 102 and counted 2 requests
        assert reading.canary == VersionCounts(requests=92, errors=2, latency_ms=57.25)
    again = source.read()  # nothing new since: no counts, whatever the window of the query
    assert again.canary == VersionCounts(0, 0, None) and again.stable == VersionCounts(0, 0, None)


@pytest.mark.parametrize(
    ("promql", "counter"),
    [
        ('sum(increase(x_total{a="b"}[1m]))', 'x_total{a="b"}'),
        ("rate(x_total[30s])", "x_total"),
        ("sum by (pod) (irate(x_total [ 5m ]))", "x_total"),
        ('sum(x_total{code=~"5.."})', 'x_total{code=~"5.."}'),
        ("x_total", "x_total"),
    ],
)
def test_counter_queries_are_read_per_series(promql: str, counter: str) -> None:
    assert counter_query("canary.errors", promql)[0] == counter


@pytest.mark.parametrize(
    "promql",
    [
        "sum_over_time(x_total[1m])",
        "increase(sum(x_total)[1m:10s])",
        "sum(rate(x_total[1m])) / sum(rate(y_total[1m]))",
        "increase(x_total[1m]) + increase(y_total[1m])",
    ],
)
def test_other_windowed_counter_queries_are_refused(promql: str) -> None:
    with pytest.raises(UserError, match=r"range window.*cumulative counter itself"):
        PrometheusSource("http://127.0.0.1:9", {"canary.requests": promql})


@requires_prometheus
def test_vectors_scalars_and_empty_results(scraped: Prometheus) -> None:
    source = PrometheusSource(scraped.url, {"canary.requests": "sum(nothing_here_total)"})
    by_version = source.query("sum by (version) (http_requests_total)")
    assert sorted((labels["version"], value) for labels, value in by_version) == [("1.4.0", 909.0), ("1.5.0", 100.0)]
    assert source.query("scalar(sum(http_requests_total))") == [({}, 1009.0)]
    empty = source.read()  # no series: no requests, no latency; available, not an error
    assert empty.available and empty.canary == VersionCounts(0, 0, None)
    nan = PrometheusSource(scraped.url, {"canary.requests": "vector(3)", "canary.latency_ms": "vector(0) / 0"}).read()
    assert nan.available and nan.canary == VersionCounts(0, 0, None)  # a constant counter: nothing new


@requires_prometheus
def test_bad_queries_are_unavailable_with_prometheus_own_message(scraped: Prometheus) -> None:
    broken = PrometheusSource(scraped.url, {"canary.requests": "sum(http_requests_total"}).read()
    assert not broken.available and broken.error is not None
    assert "canary.requests" in broken.error and "bad_data" in broken.error
    with pytest.raises(UserError, match="range window"):
        PrometheusSource(scraped.url, {"canary.requests": "http_requests_total[1m]"})
    matrix = PrometheusSource(scraped.url, {"canary.requests": "vector(1)", "canary.latency_ms": "x[1m]"}).read()
    assert not matrix.available and matrix.error is not None and "range vector" in matrix.error
    with pytest.raises(BackendError, match="HTTP 400"):
        PrometheusSource(scraped.url, {"canary.requests": "x"}).query("sum(")


@requires_prometheus
def test_a_stopped_prometheus_is_unavailable_quickly() -> None:
    work = Path(tempfile.mkdtemp(prefix="crit-prom-"))
    prom = _start_prometheus(work, None)
    try:
        source = PrometheusSource(prom.url, {"stable.requests": "vector(7)", "canary.requests": "vector(1)"})
        up = source.read()
        assert up.available and up.stable == VersionCounts(0, 0, None)  # constant counters: nothing new
        prom.stop()
        began = time.monotonic()
        down = source.read()
        assert time.monotonic() - began < 1.0
        assert not down.available and down.versions == {}
        assert down.error is not None and "unavailable" in down.error
    finally:
        prom.stop()
        _gone(prom)
        shutil.rmtree(work, ignore_errors=True)


def test_a_server_that_never_answers_times_out_as_unavailable() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        began = time.monotonic()
        reading = PrometheusSource(url, {"canary.requests": "vector(1)"}, timeout=0.3).read()
    assert time.monotonic() - began < 2
    assert not reading.available and reading.error is not None and "unavailable" in reading.error


@pytest.mark.parametrize(
    ("queries", "message"),
    [
        ({"canary.p99": "x"}, "must be '<version>.<metric>'"),
        ({"canary": "x"}, "must be '<version>.<metric>'"),
        ({"canary.errors": "x"}, "missing for canary"),
        ({}, "needs a '<version>.requests' query"),
        ({"canary.requests": "  "}, "is empty"),
    ],
)
def test_query_keys_are_checked(queries: dict[str, str], message: str) -> None:
    with pytest.raises(UserError, match=message):
        PrometheusSource("http://127.0.0.1:9090", queries)
    with pytest.raises(UserError, match="http"):
        PrometheusSource("127.0.0.1:9090", {"canary.requests": "x"})
