"""LoadGenerator: open-loop rate, bounded concurrency, versions seen, and .http mixes through HAProxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.errors import UserError
from critterops.rollout.local.haproxy import HAProxy
from critterops.rollout.local.httpfile import parse_http_text
from critterops.rollout.local.processes import VersionProcess, free_port
from critterops.rollout.local.traffic import SOURCE, LoadGenerator

from . import demo_argv, live_pids, requires_haproxy, short_tmpdir


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[list[VersionProcess]]:
    procs: list[VersionProcess] = []
    yield procs
    for proc in procs:
        proc.stop(grace=2.0)
        assert proc.pgid is not None and live_pids("-g", str(proc.pgid)) == []


def app(apps: list[VersionProcess], tmp_path: Path, name: str, version: str, latency_ms: float = 0.0) -> int:
    proc = VersionProcess(name, demo_argv(version, latency_ms=latency_ms), tmp_path).start()
    apps.append(proc)
    proc.wait_healthy(timeout=10)
    return proc.port


def test_reaches_the_target_rate(tmp_path: Path, apps: list[VersionProcess]) -> None:
    port = app(apps, tmp_path, "stable", "1.4.0", latency_ms=5)
    load = LoadGenerator(f"http://127.0.0.1:{port}/api/orders", rps=100, duration=2.0).start()
    assert load.wait(timeout=5)
    final = load.stop()
    assert final.source == SOURCE == "synthetic load"
    assert abs(final.sent - 200) <= 20  # within 10 %
    assert abs(final.achieved_rps - 100) <= 10
    assert final.dropped == 0 and final.errors == 0
    assert final.completed == final.sent and final.statuses == {200: final.sent}
    stable = final.versions["1.4.0"]
    assert stable.requests == final.sent and stable.errors == 0
    assert stable.latency_p50_ms is not None and 4 <= stable.latency_p50_ms < 200
    outcomes = load.outcomes()
    assert len(outcomes) == final.sent and all(o.version == "1.4.0" for o in outcomes)


def test_slow_answers_do_not_slow_the_load_down(tmp_path: Path, apps: list[VersionProcess]) -> None:
    port = app(apps, tmp_path, "slow", "1.4.0", latency_ms=300)
    with LoadGenerator(f"http://127.0.0.1:{port}/api/orders", rps=40, duration=1.5) as load:
        assert load.wait(timeout=5)
    final = load.snapshot()
    # a closed loop with one client would manage about 5 requests in 1.5 s
    assert abs(final.sent - 60) <= 6 and final.dropped == 0
    assert final.completed == final.sent


def test_concurrency_is_bounded_and_overflow_is_counted_as_dropped(tmp_path: Path, apps: list[VersionProcess]) -> None:
    port = app(apps, tmp_path, "slow", "1.4.0", latency_ms=300)
    load = LoadGenerator(f"http://127.0.0.1:{port}/api/orders", rps=40, duration=1.0, concurrency=2).start()
    load.wait(timeout=5)
    final = load.stop()
    assert final.sent + final.dropped in range(36, 45)
    assert final.sent <= 10 and final.dropped >= 30


def test_no_server_means_every_request_failed(tmp_path: Path) -> None:
    load = LoadGenerator(f"http://127.0.0.1:{free_port()}/", rps=50, duration=0.4).start()
    load.wait(timeout=5)
    final = load.stop()
    assert final.sent > 0 and final.errors == final.completed == final.sent
    assert final.statuses == {0: final.sent} and set(final.versions) == {"unknown"}
    assert all(o.error and o.failed for o in load.outcomes())


@requires_haproxy
def test_a_http_file_mix_replays_through_haproxy(tmp_path: Path, apps: list[VersionProcess]) -> None:
    servers = {"stable": app(apps, tmp_path, "stable", "1.4.0"), "canary": app(apps, tmp_path, "canary", "1.5.0")}
    mix = parse_http_text(
        "@host = https://orders.example.com\n"
        "### create\nPOST {{host}}/api/orders\nContent-Type: application/json\n\n"
        '{"sku": "KIBBLE", "n": {{$randomInt 1 5}}}\n'
        "### read\nGET {{host}}/api/orders/{{$randomInt 1 100}}\n",
        "orders.http",
    )
    with short_tmpdir() as state:
        hap = HAProxy()
        try:
            hap.start(state, "be_orders", servers, {"stable": 50, "canary": 50}, free_port())
            load = LoadGenerator(hap.url, rps=80, duration=1.0, requests=mix, seed=3).start()
            load.wait(timeout=5)
            final = load.stop()
            stats = hap.stats()
        finally:
            hap.stop()
        assert live_pids("-f", str(state / "haproxy.cfg")) == []
    assert final.errors == 0 and final.completed == final.sent >= 70
    # round-robin over the mix: POSTs answer 201, GETs 200 (the host in the file was replaced)
    assert abs(final.statuses.get(201, 0) - final.statuses.get(200, 0)) <= 1
    assert set(final.versions) == {"1.4.0", "1.5.0"}
    assert abs(final.versions["1.4.0"].requests - final.versions["1.5.0"].requests) <= 2
    assert stats["stable"].requests == final.versions["1.4.0"].requests
    assert stats["canary"].requests == final.versions["1.5.0"].requests


def test_bad_arguments_are_user_errors() -> None:
    with pytest.raises(UserError, match="http://host:port"):
        LoadGenerator("https://127.0.0.1:1/", rps=1)
    with pytest.raises(UserError, match="above 0"):
        LoadGenerator("http://127.0.0.1:1/", rps=0)
    with pytest.raises(UserError, match="above 0 seconds"):
        LoadGenerator("http://127.0.0.1:1/", rps=1, duration=0)
