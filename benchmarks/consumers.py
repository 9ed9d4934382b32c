"""Consumer rollouts against the real RabbitMQ: realised share, detection, and no message lost.

    python benchmarks/consumers.py [--runs 5] [--only share,detect,loss] [--json out.json]

Needs RabbitMQ on loopback (``python3 scripts/servers.py start``: AMQP 15672, management 15673). Every
consumer is the stand-in Wolverine listener (``critterops.rollout.demo_consumer``) as a real process, every
message is published with an id and publisher confirms, and the accounting is by id (``rabbit.account``).

1. **Share.** For planned weights 1, 10, 25 and 50 %: stable with the listener count critterops chooses for
   the step (``stable_listeners_for``), the canary with ``listener_split``; 300 msg/s for 20 s, then the
   canary's share of handled messages. Two regimes: light (4 ms handling: no consumer saturated) and
   saturated (a backlog, 20 ms handling: the share then follows handling capacity).
2. **Detection.** ``critterops deploy --queue`` end to end, ``--runs`` times each: a canary failing 5 % of
   messages (stable 0.5 %), a canary 30 % slower (26 ms vs 20 ms), and A/A (identical versions: a rollback
   is a false one). Reports rollbacks and the time to decide.
3. **No message lost.** A good canary promoted, a bad one rolled back, one aborted by a person, and one whose
   canary gets SIGKILL mid-batch (under a backlog, so it holds a full prefetch window): after each, every
   published id is handled or dead-lettered; duplicates and redeliveries are counted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from critterops.plan.consumers import LISTENERS_ENV, listener_split, stable_listeners_for
from critterops.rollout.local.processes import VersionProcess
from critterops.rollout.local.rabbit import Management, Publisher, account, drain_dead_letters, read_ledger

AMQP = os.environ.get("CRITTEROPS_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:15672/%2F")
MANAGEMENT = os.environ.get("CRITTEROPS_BENCH_MANAGEMENT", "http://127.0.0.1:15673")
PY = sys.executable


def consumer(queue: str, ledger: Path, version: str, *extra: str) -> list[str]:
    return [
        PY, "-m", "critterops.rollout.demo_consumer", "--amqp", AMQP, "--queue", queue, "--ledger", str(ledger),
        "--version", version, *extra,
    ]  # fmt: skip


def wait_empty(queue: str, timeout: float = 120) -> None:
    Management(MANAGEMENT).wait_for_queue(queue, empty=True, timeout=timeout)


def dead_letters(queue: str) -> list[str]:
    return [i for i in drain_dead_letters(AMQP) if i.startswith(queue)]


# -- 1. share --------------------------------------------------------------------------------------------


def share(weight: int, latency_ms: float, rps: float, seconds: float) -> dict[str, Any]:
    queue = f"bench-share-{weight}-{uuid.uuid4().hex[:6]}"
    folder = Path(tempfile.mkdtemp(prefix="crit-bench-"))
    ledger = folder / "ledger"
    stable_n = stable_listeners_for([weight])
    canary_n = listener_split(weight, stable_n)
    extra = ("--latency-ms", str(latency_ms), "--jitter-ms", "1")
    stable = VersionProcess(
        "stable", consumer(queue, ledger, "v1", *extra), folder, env={LISTENERS_ENV: str(stable_n)}
    ).start()
    stable.wait_healthy(timeout=60)
    canary = VersionProcess(
        "canary", consumer(queue, ledger, "v2", *extra), folder, env={LISTENERS_ENV: str(canary_n)}
    ).start()
    canary.wait_healthy(timeout=60)
    publisher = Publisher(AMQP, queue, rps, record=folder / "published", prefix=queue).start()
    time.sleep(seconds)
    publisher.stop()
    wait_empty(queue)
    for process in (canary, stable):
        process.stop(grace=30)
    accounting = account((folder / "published").read_text().split(), read_ledger(ledger), dead_letters(queue))
    handled = accounting.by_version
    total = sum(handled.values())
    return {
        "weight": weight,
        "handling_ms": latency_ms,
        "listeners": {"stable": stable_n, "canary": canary_n},
        "listener_share": round(canary_n / (stable_n + canary_n), 4),
        "messages": total,
        "realised": round(handled.get("v2", 0) / total, 4) if total else None,
        "lost": len(accounting.lost),
    }


# -- 2 and 3. rollouts through the CLI ------------------------------------------------------------------


def rollout(
    name: str,
    canary_extra: tuple[str, ...],
    *,
    steps: str = "10,25,50",
    base_latency: float = 4.0,
    during: Any = None,
) -> dict[str, Any]:
    queue = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    folder = Path(tempfile.mkdtemp(prefix="crit-bench-"))
    ledger = folder / "ledger"
    common = ("--latency-ms", str(base_latency), "--jitter-ms", str(base_latency / 4), "--failure-rate", "0.005")
    stable_cmd = " ".join(consumer(queue, ledger, "v1", *common))
    canary_cmd = " ".join(consumer(queue, ledger, "v2", *common, *canary_extra))
    state = folder / "state"
    argv = [
        PY, "-m", "critterops.cli", "deploy", "--service", "worker", "--queue", queue, "--amqp", AMQP,
        "--management", MANAGEMENT, "--stable", stable_cmd, "--canary", canary_cmd, "--steps", steps,
        "--pause", "10s", "--interval", "2s", "--drain-timeout", "30s", "--format", "json", "--state-dir", str(state),
    ]  # fmt: skip
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    Management(MANAGEMENT).wait_for_queue(queue)
    publisher = Publisher(AMQP, queue, 300, record=folder / "published", prefix=queue).start()
    if during is not None:
        during(state, process)
    out, err = process.communicate(timeout=900)
    elapsed = time.monotonic() - started
    publisher.stop()
    wait_empty(queue)
    subprocess.run([PY, "-m", "critterops.cli", "deploy", "stop", "--service", "worker", "--state-dir", str(state)],
                   capture_output=True, check=False)  # fmt: skip
    queued = drain_dead_letters(AMQP, queue)  # handed back by a stopping version after the last statistics
    accounting = account((folder / "published").read_text().split(), read_ledger(ledger), dead_letters(queue), queued)
    try:
        summary = json.loads(out[out.index("{\n") :])
    except ValueError:
        summary = {"phase": "error", "reason": (err or out)[-400:]}
    return {
        "scenario": name,
        "phase": summary.get("phase"),
        "reason": summary.get("reason"),
        "decided_after_s": summary.get("decided_after_s"),
        "elapsed_s": round(elapsed, 1),
        "message_share": summary.get("message_share"),
        **{k: v for k, v in accounting.as_dict().items() if k != "lost_ids"},
    }


def abort_after(seconds: float) -> Any:
    def act(state: Path, _: subprocess.Popen[str]) -> None:
        time.sleep(seconds)
        subprocess.run([PY, "-m", "critterops.cli", "deploy", "abort", "--service", "worker", "--state-dir",
                        str(state)], capture_output=True, check=False)  # fmt: skip

    return act


def kill_canary_after(seconds: float) -> Any:
    def act(state: Path, _: subprocess.Popen[str]) -> None:
        time.sleep(seconds)
        rollout_file = state / "worker" / "rollout.json"
        pid = json.loads(rollout_file.read_text())["runtime"]["pids"].get("canary")
        if pid:
            os.killpg(pid, signal.SIGKILL)  # mid-batch: it holds prefetched, unacked messages

    return act


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="share,detect,loss")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    only = set(args.only.split(","))
    results: dict[str, Any] = {}
    if "share" in only:
        results["share"] = []
        for latency, rps, label in ((4.0, 300.0, "light"), (20.0, 600.0, "saturated")):
            for weight in (1, 10, 25, 50):
                row = share(weight, latency, rps, 20.0)
                row["regime"] = label
                results["share"].append(row)
                print(json.dumps(row), flush=True)
    if "detect" in only:
        results["detect"] = []
        scenarios = (
            ("fails-5pct", ("--failure-rate", "0.05"), 20.0),
            ("slower-30pct", ("--latency-ms", "26", "--jitter-ms", "5"), 20.0),
            ("a-a", (), 20.0),
        )
        for name, extra, base in scenarios:
            for run in range(args.runs):
                row = rollout(f"{name}-{run}", extra, base_latency=base)
                row["kind"] = name
                results["detect"].append(row)
                print(json.dumps({k: row[k] for k in ("scenario", "phase", "decided_after_s", "lost")}), flush=True)
    if "loss" in only:
        results["loss"] = [
            rollout("promoted", ()),
            rollout("bad", ("--failure-rate", "0.08")),
            rollout("aborted", (), during=abort_after(15)),
            # 40 ms handling: 9 listeners take 225 msg/s of the 300 published, so a backlog fills every prefetch
            # window (20) and the killed canary holds unacked messages the broker must deliver again
            rollout("sigkill", (), base_latency=40.0, during=kill_canary_after(12)),
        ]
        for row in results["loss"]:
            print(
                json.dumps(
                    {k: row.get(k) for k in ("scenario", "phase", "published", "lost", "duplicates", "redelivered")}
                )
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
