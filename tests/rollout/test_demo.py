"""``critterops demo``, the README's main job, end to end (real HAProxy, real processes)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest


def _demo_apps() -> set[str]:
    found = subprocess.run(["pgrep", "-f", "critterops.rollout.demo_app"], capture_output=True, text=True)
    return set(found.stdout.split())


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy not installed (apt-get install haproxy)")
def test_demo_rolls_back_the_faulty_canary_and_promotes_the_fix() -> None:
    before = _demo_apps()
    result = subprocess.run(
        [sys.executable, "-m", "critterops.cli", "demo", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    summary = json.loads(result.stdout)
    outcomes = [(r["version"], r["outcome"]) for r in summary["rollouts"]]
    assert outcomes == [("1.5.0", "rolled_back"), ("1.5.1", "promoted")]
    assert summary["elapsed_s"] < 120, "the demo tells the story in under 2 minutes"
    assert all(r["strategy"] == "canary" and r["reason"] for r in summary["rollouts"])
    assert summary["story"]["plan"]["payments-api"] == "blue-green"
    assert _demo_apps() <= before, "the demo stops every process it started"
