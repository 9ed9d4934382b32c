"""VersionProcess: real child processes, health waits, crash detection, whole-group stop."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.errors import BackendError, UserError
from critterops.rollout.demo_app import CRASH_STATUS
from critterops.rollout.local.processes import VersionProcess, free_port

from . import demo_argv, live_pids


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[VersionProcess]]:
    """Processes a test starts; stopped afterwards and checked gone (the whole group)."""
    procs: list[VersionProcess] = []
    yield procs
    for proc in procs:
        proc.stop(grace=2.0)
    for proc in procs:
        if proc.pgid is not None:
            assert live_pids("-g", str(proc.pgid)) == [], f"{proc!r} left processes behind"


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_demo_app_takes_its_port_from_the_environment_and_becomes_healthy(
    tmp_path: Path, started: list[VersionProcess]
) -> None:
    proc = VersionProcess("stable", demo_argv("1.4.0"), tmp_path)
    started.append(proc.start())
    took = proc.wait_healthy("/health", timeout=10)
    assert took < 10
    assert proc.alive() and proc.exit_code is None and proc.pid is not None
    assert f"listening on http://127.0.0.1:{proc.port}" in proc.log_path.read_text()


def test_shell_command_sees_port_and_aspnetcore_urls(tmp_path: Path, started: list[VersionProcess]) -> None:
    demo = " ".join(demo_argv("2.0.0"))
    proc = VersionProcess("canary", f'echo "urls=$ASPNETCORE_URLS port=$PORT"; exec {demo}', tmp_path)
    started.append(proc.start())
    proc.wait_healthy(timeout=10)
    assert f"urls=http://127.0.0.1:{proc.port} port={proc.port}" in proc.log_path.read_text()


def test_crash_is_detected_with_its_exit_code(tmp_path: Path, started: list[VersionProcess]) -> None:
    proc = VersionProcess("canary", demo_argv("2.0.0", "--crash-after-s", "0.6"), tmp_path)
    started.append(proc.start())
    proc.wait_healthy(timeout=10)
    assert proc.alive()
    deadline = time.monotonic() + 5
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proc.alive()
    assert proc.exit_code == CRASH_STATUS
    assert "crashing on purpose" in proc.log_path.read_text()


def test_exit_before_healthy_raises_with_status_and_log(tmp_path: Path, started: list[VersionProcess]) -> None:
    proc = VersionProcess("broken", "echo 'cannot connect to postgres' >&2; exit 3", tmp_path)
    started.append(proc.start())
    with pytest.raises(BackendError, match=r"exited with status 3[\s\S]*cannot connect to postgres"):
        proc.wait_healthy(timeout=10)


def test_health_timeout_raises(tmp_path: Path, started: list[VersionProcess]) -> None:
    proc = VersionProcess("silent", [sys.executable, "-c", "import time; time.sleep(30)"], tmp_path)
    started.append(proc.start())
    began = time.monotonic()
    with pytest.raises(BackendError, match=r"did not become healthy.*nothing listening"):
        proc.wait_healthy(timeout=0.5)
    assert time.monotonic() - began < 3


def test_stop_kills_the_whole_process_group(tmp_path: Path, started: list[VersionProcess]) -> None:
    demo = " ".join(demo_argv("1.4.0"))
    proc = VersionProcess("stable", f"sleep 300 & sleep 301 & exec {demo}", tmp_path)
    started.append(proc.start())
    proc.wait_healthy(timeout=10)
    assert proc.pgid is not None
    assert len(live_pids("-g", str(proc.pgid))) == 3  # two sleeps and the app
    proc.stop(grace=2.0)
    assert not proc.alive()
    assert live_pids("-g", str(proc.pgid)) == []


def test_stop_escalates_to_sigkill(tmp_path: Path, started: list[VersionProcess]) -> None:
    proc = VersionProcess("stubborn", "trap '' TERM; while :; do sleep 0.05; done", tmp_path)
    started.append(proc.start())
    time.sleep(0.2)
    began = time.monotonic()
    code = proc.stop(grace=0.5)
    assert code == -9
    assert time.monotonic() - began < 3
    assert proc.pgid is not None and live_pids("-g", str(proc.pgid)) == []


@pytest.mark.parametrize("name", ["", "has space", "../escape", "a" * 64])
def test_bad_names_are_user_errors(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match="invalid version name"):
        VersionProcess(name, "true", tmp_path)


def test_empty_command_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="empty"):
        VersionProcess("stable", "  ", tmp_path)
    with pytest.raises(UserError, match="empty"):
        VersionProcess("stable", [], tmp_path)
