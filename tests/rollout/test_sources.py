"""PrometheusSource against a real Prometheus server on loopback, scraping a static /metrics."""

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
from critterops.rollout.sources import PrometheusSource, VersionCounts

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


class _Metrics(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = METRICS.encode() if self.path.startswith("/metrics") else b"not found\n"
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


@requires_prometheus
def test_per_version_counts_from_real_prometheus(scraped: Prometheus) -> None:
    reading = PrometheusSource(scraped.url, QUERIES).read()
    assert reading.available and reading.error is None
    assert reading.source == f"prometheus {scraped.url}"
    assert reading.stable == VersionCounts(requests=909, errors=9, latency_ms=41.5)
    assert reading.canary == VersionCounts(requests=100, errors=10, latency_ms=57.25)
    assert reading.canary is not None and reading.canary.error_rate == 0.1


@requires_prometheus
def test_vectors_scalars_and_empty_results(scraped: Prometheus) -> None:
    source = PrometheusSource(scraped.url, {"canary.requests": "sum(nothing_here_total)"})
    by_version = source.query("sum by (version) (http_requests_total)")
    assert sorted((labels["version"], value) for labels, value in by_version) == [("1.4.0", 909.0), ("1.5.0", 100.0)]
    assert source.query("scalar(sum(http_requests_total))") == [({}, 1009.0)]
    empty = source.read()  # no series: no requests, no latency; available, not an error
    assert empty.available and empty.canary == VersionCounts(0, 0, None)
    nan = PrometheusSource(scraped.url, {"canary.requests": "vector(3)", "canary.latency_ms": "vector(0) / 0"}).read()
    assert nan.canary == VersionCounts(3, 0, None)


@requires_prometheus
def test_bad_queries_are_unavailable_with_prometheus_own_message(scraped: Prometheus) -> None:
    broken = PrometheusSource(scraped.url, {"canary.requests": "sum(rate(http_requests_total[1m]"}).read()
    assert not broken.available and broken.error is not None
    assert "canary.requests" in broken.error and "bad_data" in broken.error
    matrix = PrometheusSource(scraped.url, {"canary.requests": "http_requests_total[1m]"}).read()
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
        assert up.available and up.stable == VersionCounts(7, 0, None)
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
