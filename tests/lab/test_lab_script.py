"""``scripts/lab.py`` itself: bad input and faults get a clear message, and nothing is left running.

Each test runs a second lab of its own (another state folder and port range), beside the one the other
lab tests use, so the faults never touch theirs.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .cluster import ROOT, require_built

SCRIPT = ROOT / "scripts" / "lab.py"


@pytest.fixture
def other_lab(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[dict[str, str], ModuleType]]:
    """The environment of a second lab, and a fresh copy of the lab module that reads it."""
    require_built()
    # ports 13133-19090: below Linux's ephemeral range (32768+), where client sockets could hold them
    env = {"CRITTEROPS_LAB_DIR": str(tmp_path / "state"), "CRITTEROPS_LAB_PORT_BASE": "10000"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    spec = importlib.util.spec_from_file_location("critterops_lab_other", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield {**os.environ, **env}, module
    module.stop()
    assert module.leftovers() == []


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_start_then_stop_leaves_no_process(other_lab: tuple[dict[str, str], ModuleType]) -> None:
    env, lab = other_lab
    started = run(env, "start")
    assert started.returncode == 0, started.stderr
    assert f"KUBECONFIG={lab.kubeconfig_path()}" in started.stdout
    assert all(pid is not None for pid in lab.status().values())
    assert run(env, "start").returncode == 0  # idempotent: a running lab is left as it is
    stopped = run(env, "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert lab.leftovers() == [] and all(pid is None for pid in lab.status().values())


def test_a_port_in_use_is_named_and_nothing_is_started(other_lab: tuple[dict[str, str], ModuleType]) -> None:
    env, lab = other_lab
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", lab.PORTS["apiserver"]))
        holder.listen()
        done = run(env, "start")
    assert done.returncode == 2
    assert f"port in use: 127.0.0.1:{lab.PORTS['apiserver']} (kube-apiserver)" in done.stderr
    assert "CRITTEROPS_LAB_PORT_BASE" in done.stderr and "Traceback" not in done.stderr
    assert lab.leftovers() == []


def test_a_missing_build_says_how_to_build(other_lab: tuple[dict[str, str], ModuleType], tmp_path: Path) -> None:
    env, lab = other_lab
    done = run({**env, "CRITTEROPS_LAB_CACHE": str(tmp_path / "empty-cache")}, "start")
    assert done.returncode == 2
    assert "is not built: run `python scripts/lab.py build` first" in done.stderr and "Traceback" not in done.stderr
    assert lab.leftovers() == []


def test_a_stale_state_folder_is_cleared(other_lab: tuple[dict[str, str], ModuleType]) -> None:
    env, lab = other_lab
    (lab.STATE / "pids").mkdir(parents=True)
    (lab.STATE / "pids" / "etcd.pid").write_text(f"{os.getpid()} /usr/bin/etcd\n")  # a PID that is not etcd
    (lab.STATE / "etcd" / "member").mkdir(parents=True)
    (lab.STATE / "etcd" / "member" / "garbage").write_text("not a wal")
    assert lab.pid_of("etcd") is None  # the PID file names another program: never taken for etcd, never killed
    done = run(env, "start")
    assert done.returncode == 0, done.stderr
    assert run(env, "stop").returncode == 0


def test_a_component_that_dies_during_start_stops_everything_started(
    other_lab: tuple[dict[str, str], ModuleType],
) -> None:
    _, lab = other_lab

    def dies() -> None:
        lab._spawn("kube-scheduler", [sys.executable, "-c", "import sys; print('scheduler: boom'); sys.exit(3)"])
        lab._wait("kube-scheduler", lambda: False, 10)

    lab.STEPS = tuple(lab.Step(s.name, dies, s.ports) if s.name == "kube-scheduler" else s for s in lab.STEPS)
    with pytest.raises(lab.LabError, match=r"kube-scheduler exited during start(.|\n)*scheduler: boom"):
        lab.start()
    assert lab.leftovers() == [] and all(pid is None for pid in lab.status().values())
