"""HAProxySource: interval counts per version from real HAProxy counters."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.rollout.local.haproxy import HAProxy
from critterops.rollout.local.processes import VersionProcess, free_port
from critterops.rollout.sources import HAProxySource, VersionCounts

from . import Client, demo_argv, live_pids, requires_haproxy, short_tmpdir

pytestmark = requires_haproxy


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with short_tmpdir() as path:
        yield path


@pytest.fixture
def proxy(state_dir: Path) -> Iterator[HAProxy]:
    hap = HAProxy()
    yield hap
    hap.stop()
    assert live_pids("-f", str(state_dir / "haproxy.cfg")) == []


@pytest.fixture
def failing_canary(state_dir: Path) -> Iterator[dict[str, int]]:
    """stable answers 200; canary answers 500 to every order (but its /health is green)."""
    procs = [
        VersionProcess("stable", demo_argv("1.0.0", latency_ms=5), state_dir).start(),
        VersionProcess("canary", demo_argv("2.0.0", "--error-rate", "1"), state_dir).start(),
    ]
    try:
        for proc in procs:
            proc.wait_healthy(timeout=10)
        yield {proc.name: proc.port for proc in procs}
    finally:
        for proc in procs:
            proc.stop(grace=2.0)
            assert proc.pgid is not None and live_pids("-g", str(proc.pgid)) == []


def test_deltas_match_the_requests_sent(proxy: HAProxy, state_dir: Path, failing_canary: dict[str, int]) -> None:
    proxy.start(state_dir, "be_orders", failing_canary, {"stable": 75, "canary": 25}, free_port())
    assert proxy.listen_port is not None
    client = Client(proxy.listen_port)
    client.get()  # the first round-robin cycle after start is exact; warm the connection anyway
    source = HAProxySource(proxy)
    statuses = [client.get()[0] for _ in range(100)]
    first = source.read()
    assert first.available and first.error is None and first.source == "haproxy"
    assert first.stable is not None
    assert (first.stable.requests, first.stable.errors) == (statuses.count(200), 0)
    assert first.canary is not None and first.canary.requests == statuses.count(500) == first.canary.errors
    assert {first.stable.requests, first.canary.requests} <= {74, 75, 76, 24, 25, 26}
    assert first.stable.requests + first.canary.requests == 100
    assert first.stable.latency_ms is not None and first.stable.latency_ms >= 0
    assert first.canary.error_rate == 1.0 and first.stable.error_rate == 0.0

    for _ in range(40):
        client.get()
    second = source.read()  # only the interval since the previous read
    assert second.stable is not None and second.canary is not None
    assert second.stable.requests + second.canary.requests == 40
    assert second.canary.requests == second.canary.errors
    assert second.interval_s is not None and second.interval_s > 0

    empty = source.read()
    assert empty.stable == VersionCounts(0, 0, None) and empty.canary == VersionCounts(0, 0, None)
    client.close()


def test_refused_connections_count_as_canary_errors(
    proxy: HAProxy, state_dir: Path, failing_canary: dict[str, int]
) -> None:
    # The canary "crashed": nothing listens on its port. Until two health checks fail (about 2 s)
    # HAProxy still routes to it; it retries the connect 3 times, 1 s apart, then answers 503 itself.
    # That 503 is in the server's econ, not its hrsp_5xx: it must still count as the canary's error.
    servers = {"stable": failing_canary["stable"], "canary": free_port()}
    proxy.start(state_dir, "be_orders", servers, {"stable": 50, "canary": 50}, free_port())
    assert proxy.listen_port is not None
    source = HAProxySource(proxy)
    client = Client(proxy.listen_port)
    statuses = sorted(client.get()[0] for _ in range(2))
    client.close()
    reading = source.read()
    assert statuses == [200, 503]
    assert reading.canary == VersionCounts(
        requests=1, errors=1, latency_ms=reading.canary.latency_ms if reading.canary else None
    )
    assert reading.stable is not None and (reading.stable.requests, reading.stable.errors) == (1, 0)
    raw = proxy.stats()["canary"]
    assert raw.hrsp_5xx == 0 and raw.econ == 1
    assert raw.stot > raw.lbtot == 1  # each connect retry is a session: stot would overcount the request


def test_a_dead_haproxy_is_unavailable_and_a_restart_is_not_a_negative_count(
    proxy: HAProxy, state_dir: Path, failing_canary: dict[str, int]
) -> None:
    proxy.start(state_dir, "be_orders", failing_canary, {"stable": 100, "canary": 0}, free_port())
    assert proxy.listen_port is not None
    client = Client(proxy.listen_port)
    for _ in range(30):
        client.get()
    source = HAProxySource(proxy)
    pid = proxy.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 3
    while proxy.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    began = time.monotonic()
    down = source.read()
    assert time.monotonic() - began < 2
    assert not down.available and down.versions == {}
    assert down.error is not None and "HAProxy is" in down.error

    client.close()
    proxy.restart_all_on("stable")
    client = Client(proxy.listen_port)
    for _ in range(5):
        client.get()
    back = source.read()
    assert back.available
    assert back.stable == VersionCounts(5, 0, back.stable.latency_ms if back.stable else None)
    assert back.canary == VersionCounts(0, 0, None)
    client.close()


def test_a_missing_server_is_unavailable(proxy: HAProxy, state_dir: Path, failing_canary: dict[str, int]) -> None:
    proxy.start(state_dir, "be_orders", failing_canary, {"stable": 100}, free_port())
    reading = HAProxySource(proxy, stable="stable", canary="preview").read()
    assert not reading.available and reading.error is not None and "no server preview" in reading.error
