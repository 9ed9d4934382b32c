"""``critterops deploy`` end to end: real processes, real HAProxy on loopback, real faults."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.rollout.local.haproxy import HAProxy
from critterops.rollout.local.processes import pid_alive
from critterops.rollout.store import Store

pytestmark = pytest.mark.skipif(
    shutil.which("haproxy") is None, reason="haproxy not installed (apt-get install haproxy)"
)


def app(version: str, error_rate: float = 0.005, extra: str = "") -> str:
    return (
        f"{sys.executable} -m critterops.rollout.demo_app --version {version} --error-rate {error_rate} "
        f"--latency-ms 20 --jitter-ms 5 --seed 7 {extra}"
    )


@pytest.fixture
def state_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="crit-dep-", dir="/tmp"))
    yield folder
    for service in folder.iterdir() if folder.exists() else []:
        if (service / "rollout.json").exists():
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "critterops.cli",
                    "deploy",
                    "stop",
                    "--service",
                    service.name,
                    "--state-dir",
                    str(folder),
                ],
                capture_output=True,
                check=False,
            )
    shutil.rmtree(folder, ignore_errors=True)


def deploy(state_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "critterops.cli", "deploy", "--state-dir", str(state_dir), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


def start_args(canary: str, steps: str = "20,50,100", pause: str = "2s") -> list[str]:
    return [
        "--service", "orders-api", "--stable", app("1.0"), "--canary", canary,
        "--steps", steps, "--pause", pause, "--interval", "1s", "--load", "120", "--format", "json",
    ]  # fmt: skip


def summary(result: subprocess.CompletedProcess[str]) -> dict:  # type: ignore[type-arg]
    text = result.stdout
    data: dict = json.loads(text[text.index("{\n") :])  # type: ignore[type-arg]
    return data


def test_a_faulty_canary_is_rolled_back(state_dir: Path) -> None:
    result = deploy(state_dir, *start_args(app("2.0", error_rate=0.25)))
    assert result.returncode == 1, result.stderr
    data = summary(result)
    assert data["outcome"] == "rolled_back" and "errors more often" in data["reason"]
    proxy = HAProxy(state_dir / "orders-api", "app")
    assert proxy.weights()["canary"] == 0, "all traffic back on stable"


def test_a_good_canary_is_promoted_once(state_dir: Path) -> None:
    result = deploy(state_dir, *start_args(app("2.0")), timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    data = summary(result)
    assert data["outcome"] == "promoted"
    assert sum("promoted:" in e["message"] for e in data["events"]) == 1


def test_a_crashing_canary_is_rolled_back(state_dir: Path) -> None:
    result = deploy(state_dir, *start_args(app("2.0", extra="--crash-after-s 3")))
    assert result.returncode == 1
    assert "crashed or fails its health check" in summary(result)["reason"]


def test_haproxy_dying_restores_all_traffic_on_stable(state_dir: Path) -> None:
    argv = [sys.executable, "-m", "critterops.cli", "deploy", "--state-dir", str(state_dir)]
    process = subprocess.Popen([*argv, *start_args(app("2.0"), pause="30s")], stdout=subprocess.PIPE, text=True)
    pid_file = state_dir / "orders-api" / "haproxy.pid"
    deadline = time.time() + 30
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "proxy died" in out
    proxy = HAProxy(state_dir / "orders-api", "app")
    assert proxy.alive() and proxy.weights() == {"stable": 100, "canary": 0}


def test_a_killed_controller_resumes_without_skipping_a_gate(state_dir: Path) -> None:
    argv = [sys.executable, "-m", "critterops.cli", "deploy", "--state-dir", str(state_dir)]
    controller = subprocess.Popen([*argv, *start_args(app("2.0"), steps="20,100", pause="6s")], stdout=subprocess.PIPE)
    store = Store(state_dir, "orders-api")
    deadline = time.time() + 40
    while time.time() < deadline:
        state = store.load_state()
        if state is not None and state.weight == 20:
            break
        time.sleep(0.2)
    controller.kill()
    controller.wait()
    before = store.load_state()
    assert before is not None and before.weight == 20 and not before.promoted
    status = deploy(state_dir, "status", "--format", "json")
    assert json.loads(status.stdout)["phase"] == "Progressing"
    resumed = deploy(state_dir, "resume", "--service", "orders-api", "--format", "json", "--load", "120", timeout=180)
    assert resumed.returncode == 0, resumed.stdout[-2000:]
    after = store.load_state()
    assert after is not None and after.promoted
    messages = [e.message for e in after.events]
    assert messages.count("set weight 20%") == 1, "no step repeated"
    assert sum(m.startswith("promoted:") for m in messages) == 1
    assert any(m.startswith("analysis passed") for m in messages), "the gate was evaluated after the restart"


def test_promote_and_abort_commands(state_dir: Path) -> None:
    argv = [sys.executable, "-m", "critterops.cli", "deploy", "--state-dir", str(state_dir)]
    controller = subprocess.Popen([*argv, *start_args(app("2.0"), pause="60s")], stdout=subprocess.PIPE, text=True)
    store = Store(state_dir, "orders-api")
    deadline = time.time() + 40
    while time.time() < deadline and not (store.load_state() and store.load_state().weight == 20):  # type: ignore[union-attr]
        time.sleep(0.2)
    assert deploy(state_dir, "abort", "--service", "orders-api").returncode == 0
    out, _ = controller.communicate(timeout=30)
    assert controller.returncode == 1 and "aborted by a person" in out


def test_bad_input(state_dir: Path) -> None:
    assert deploy(state_dir, "--service", "x").returncode == 2
    bad_steps = deploy(state_dir, "--service", "x", "--stable", "a", "--canary", "b", "--steps", "50,10")
    assert bad_steps.returncode == 2 and "ascending" in bad_steps.stderr
    assert deploy(state_dir, "resume", "--service", "nothing").returncode == 2
    assert not [p for p in (state_dir / "x").glob("*.pid") if pid_alive(int(p.read_text().split()[0]))]


def test_metric_source_down_pauses_and_never_promotes(state_dir: Path, tmp_path: Path) -> None:
    from critterops.rollout.local.processes import free_port

    queries = tmp_path / "queries.yaml"
    queries.write_text(
        "stable.requests: sum(increase(http_requests_total{version='stable'}[10s]))\n"
        "canary.requests: sum(increase(http_requests_total{version='canary'}[10s]))\n"
    )
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens here: the source is down
    argv = [sys.executable, "-m", "critterops.cli", "deploy", "--state-dir", str(state_dir)]
    args = [*start_args(app("2.0"), pause="1s"), "--prometheus", down, "--queries", str(queries)]
    controller = subprocess.Popen([*argv, *args], stdout=subprocess.PIPE, text=True)
    store = Store(state_dir, "orders-api")
    deadline = time.time() + 40
    paused = None
    while time.time() < deadline:
        paused = store.load_state()
        if paused is not None and paused.phase == "Paused":
            break
        time.sleep(0.3)
    time.sleep(3)
    still = store.load_state()
    assert paused is not None and paused.phase == "Paused" and "unavailable" in paused.reason
    assert still is not None and still.weight < 100 and not still.promoted, "never promotes without metrics"
    assert deploy(state_dir, "abort", "--service", "orders-api").returncode == 0
    controller.communicate(timeout=30)
    assert controller.returncode == 1


def test_approval_waits_for_a_person_to_promote(state_dir: Path) -> None:
    argv = [sys.executable, "-m", "critterops.cli", "deploy", "--state-dir", str(state_dir)]
    args = [*start_args(app("2.0", error_rate=0.0), steps="50,100", pause="1s"), "--approval", "--judge", "threshold"]
    controller = subprocess.Popen([*argv, *args], stdout=subprocess.PIPE, text=True)
    store = Store(state_dir, "orders-api")
    deadline = time.time() + 90
    waiting = None
    while time.time() < deadline:
        waiting = store.load_state()
        if waiting is not None and any("waiting for `critterops deploy promote`" in e.message for e in waiting.events):
            break
        time.sleep(0.3)
    assert waiting is not None and waiting.phase == "Paused" and not waiting.promoted
    time.sleep(2)
    assert not store.load_state().promoted, "never promotes on its own"  # type: ignore[union-attr]
    assert deploy(state_dir, "promote", "--service", "orders-api").returncode == 0
    out, _ = controller.communicate(timeout=60)
    assert controller.returncode == 0, out[-2000:]
    assert json.loads(out[out.index("{\n") :])["outcome"] == "promoted"


@pytest.mark.parametrize("strategy", ["bluegreen", "rolling"])
def test_blue_green_and_rolling_promote_a_good_version(state_dir: Path, strategy: str) -> None:
    args = [*start_args(app("2.0", error_rate=0.0), pause="1s"), "--strategy", strategy]
    result = deploy(state_dir, *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    data = summary(result)
    assert data["outcome"] == "promoted" and data["strategy"] == strategy
    proxy = HAProxy(state_dir / "orders-api", "app")
    assert proxy.weights()["canary"] == 100, "all traffic on the new version"


def test_blue_green_switches_back_when_the_new_version_fails(state_dir: Path) -> None:
    args = [*start_args(app("2.0", error_rate=0.3), pause="1s"), "--strategy", "bluegreen"]
    result = deploy(state_dir, *args)
    assert result.returncode == 1
    assert "post-promotion analysis failed" in summary(result)["reason"]
    assert HAProxy(state_dir / "orders-api", "app").weights() == {"stable": 100, "canary": 0}
