"""HAProxy on loopback: start/validate/stop, exact roundrobin splits, stats, recovery after a kill."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.errors import BackendError, UserError
from critterops.rollout.local.haproxy import HAProxy, parse_show_stat
from critterops.rollout.local.processes import VersionProcess, free_port

from . import Client, demo_argv, live_pids, requires_haproxy, short_tmpdir

pytestmark = requires_haproxy

BACKEND = "be_orders"


@pytest.fixture(scope="module")
def versions() -> Iterator[dict[str, VersionProcess]]:
    """stable (1.0.0) and canary (2.0.0) demo apps, shared by the module's tests."""
    with short_tmpdir() as state:
        procs = {
            "stable": VersionProcess("stable", demo_argv("1.0.0"), state).start(),
            "canary": VersionProcess("canary", demo_argv("2.0.0"), state).start(),
        }
        try:
            for proc in procs.values():
                proc.wait_healthy(timeout=10)
            yield procs
        finally:
            for proc in procs.values():
                proc.stop(grace=2.0)
            for proc in procs.values():
                assert proc.pgid is not None and live_pids("-g", str(proc.pgid)) == []


@pytest.fixture
def state_dir() -> Iterator[Path]:
    with short_tmpdir() as path:
        yield path


@pytest.fixture
def proxy(state_dir: Path) -> Iterator[HAProxy]:
    """An HAProxy object; stopped after the test, and checked gone."""
    hap = HAProxy()
    yield hap
    hap.stop()
    assert not hap.alive()
    assert live_pids("-f", str(state_dir / "haproxy.cfg")) == []


def start(
    hap: HAProxy, state_dir: Path, versions: dict[str, VersionProcess], stable: int = 100, canary: int = 0
) -> Client:
    servers = {name: proc.port for name, proc in versions.items()}
    hap.start(state_dir, BACKEND, servers, {"stable": stable, "canary": canary}, free_port())
    assert hap.listen_port is not None
    return Client(hap.listen_port)


def test_find_names_the_binary_or_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Path(HAProxy.find()).name == "haproxy"
    monkeypatch.setattr("critterops.rollout.local.haproxy.shutil.which", lambda _name: None)
    monkeypatch.setattr("critterops.rollout.local.haproxy.os.access", lambda _path, _mode: False)
    with pytest.raises(BackendError, match="apt-get install"):
        HAProxy.find()


def test_start_writes_a_valid_loopback_config_and_stop_ends_it(
    proxy: HAProxy, state_dir: Path, versions: dict[str, VersionProcess]
) -> None:
    client = start(proxy, state_dir, versions)
    config = proxy.config_path.read_text()
    assert f"stats socket {state_dir}/haproxy.sock mode 600 level admin" in config
    assert f"bind 127.0.0.1:{proxy.listen_port}" in config
    assert "option httpchk GET /health" in config
    assert f"server canary 127.0.0.1:{versions['canary'].port} weight 0 check inter 1s fall 2 rise 1" in config
    assert oct(proxy.socket_path.stat().st_mode & 0o777) == "0o600"
    assert proxy.alive()
    pid = proxy.pid()
    assert pid is not None and live_pids("-f", str(proxy.config_path)) == [pid]
    assert {client.get() for _ in range(20)} == {(200, "1.0.0")}
    client.close()
    proxy.stop()
    assert not proxy.alive()
    assert live_pids("-f", str(proxy.config_path)) == []
    assert not proxy.socket_path.exists()


def test_an_invalid_config_is_rejected_by_haproxy_check(proxy: HAProxy, state_dir: Path) -> None:
    proxy.start(state_dir, BACKEND, {"stable": free_port()}, {"stable": 100}, free_port())
    proxy.stop()
    proxy.config_path.write_text("frontend fe\n    bind 127.0.0.1:notaport\n")
    with pytest.raises(BackendError, match="rejected"):
        proxy.validate()


def test_a_busy_listen_port_is_a_clear_error(proxy: HAProxy, state_dir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(BackendError, match="failed to start"):
            proxy.start(state_dir, BACKEND, {"stable": free_port()}, {"stable": 100}, busy.getsockname()[1])


def test_bad_input_is_a_user_error(proxy: HAProxy, state_dir: Path, versions: dict[str, VersionProcess]) -> None:
    with pytest.raises(UserError, match="unknown servers: blue"):
        proxy.start(state_dir, BACKEND, {"stable": 1}, {"blue": 1}, free_port())
    with pytest.raises(UserError, match="0 to 256"):
        proxy.start(state_dir, BACKEND, {"stable": 1}, {"stable": 300}, free_port())
    start(proxy, state_dir, versions)
    with pytest.raises(UserError, match="0 to 256"):
        proxy.set_weight("canary", 257)
    with pytest.raises(UserError, match="0 to 256"):
        proxy.set_weight("canary", -1)
    with pytest.raises(UserError, match="unknown server 'blue'"):
        proxy.set_weight("blue", 1)
    with pytest.raises(BackendError, match="already running"):
        start(proxy, state_dir, versions)


@pytest.mark.parametrize("canary_percent", [0, 10, 50, 100])
def test_weights_split_traffic_exactly(
    proxy: HAProxy, state_dir: Path, versions: dict[str, VersionProcess], canary_percent: int
) -> None:
    client = start(proxy, state_dir, versions)
    proxy.set_weights({"stable": 100 - canary_percent, "canary": canary_percent})
    assert proxy.weights() == {"stable": 100 - canary_percent, "canary": canary_percent}
    assert proxy.get_weight("canary") == canary_percent
    expected = 200 * canary_percent // 100
    # The first weighted round-robin cycle after a run-time change may start mid-cycle (measured: one
    # canary request short); from then on every 100 requests split exactly as the weights say.
    first = Counter(client.get() for _ in range(200))
    assert first[(200, "2.0.0")] in (expected - 1, expected, expected + 1) and first.total() == 200
    assert first[(200, "2.0.0")] + first[(200, "1.0.0")] == 200
    before = proxy.stats()
    seen = Counter(client.get() for _ in range(200))
    after = proxy.stats()
    client.close()
    assert seen == Counter({(200, "2.0.0"): expected, (200, "1.0.0"): 200 - expected}) - Counter()
    for name, answered in (("canary", expected), ("stable", 200 - expected)):
        assert after[name].requests - before[name].requests == answered
        assert after[name].stot - before[name].stot == answered
        assert after[name].hrsp_2xx - before[name].hrsp_2xx == answered
        assert after[name].hrsp_5xx == after[name].econ == 0
        assert after[name].up  # (the first check may not have run yet: check_status INI)


def test_a_weight_change_applies_to_the_very_next_request(
    proxy: HAProxy, state_dir: Path, versions: dict[str, VersionProcess]
) -> None:
    client = start(proxy, state_dir, versions)
    for round_ in range(10):
        target, other, version = ("canary", "stable", "2.0.0") if round_ % 2 == 0 else ("stable", "canary", "1.0.0")
        began = time.perf_counter()
        proxy.set_weights({target: 100, other: 0})
        assert time.perf_counter() - began < 0.5
        assert client.get() == (200, version)
    client.close()


def test_disable_and_enable_switch_a_server_off_and_on(
    proxy: HAProxy, state_dir: Path, versions: dict[str, VersionProcess]
) -> None:
    client = start(proxy, state_dir, versions, stable=50, canary=50)
    proxy.disable("stable")  # a blue/green switch: all traffic to the other side
    assert proxy.stats()["stable"].status == "MAINT"
    assert {client.get() for _ in range(20)} == {(200, "2.0.0")}
    proxy.enable("stable")
    deadline = time.monotonic() + 5
    while not proxy.stats()["stable"].up and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Counter(client.get()[1] for _ in range(20)) == {"1.0.0": 10, "2.0.0": 10}
    client.close()


def test_a_killed_haproxy_is_detected_and_restored_with_all_traffic_on_stable(
    proxy: HAProxy, state_dir: Path, versions: dict[str, VersionProcess]
) -> None:
    client = start(proxy, state_dir, versions, stable=50, canary=50)
    pid = proxy.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 3
    while proxy.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not proxy.alive()
    assert client.get() == (0, None)  # nothing answers on the frontend
    with pytest.raises(BackendError):
        proxy.stats()

    # Another process (a later `critterops` command) knows only the state directory.
    again = HAProxy(state_dir)
    assert again.backend == BACKEND and again.listen_port == proxy.listen_port
    again.restart_all_on("stable")
    assert again.alive() and proxy.alive()
    assert again.pid() != pid
    assert again.weights() == {"stable": 100, "canary": 0}
    assert {client.get() for _ in range(50)} == {(200, "1.0.0")}
    client.close()


def test_parse_show_stat_rejects_garbage() -> None:
    with pytest.raises(BackendError, match="unexpected reply"):
        parse_show_stat("Unknown command.\n")
    rows = parse_show_stat("# pxname,svname,stot,\nbe,s1,5,\n\n")
    assert rows == [{"pxname": "be", "svname": "s1", "stot": "5"}]
