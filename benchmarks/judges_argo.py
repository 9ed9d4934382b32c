"""The judge through the real Argo Rollouts controller: same verdicts as in process, run by run?

    python benchmarks/judges_argo.py [--runs 100] [--seed 0] [--all] [--only A/A] [--json results.json]

Needs the lab (``python scripts/lab.py start``; it is never stopped here) and ``prometheus`` +
``promtool``. For each scenario of ``benchmarks/judges.py`` chosen (A/A, +2 pp and sparse by default),
``--runs`` runs are simulated exactly as there, and each run is judged twice:

- in process: ``make_judge("sequential").decide(looks)``;
- through Argo: the run's looks are written as the collector's cumulative counters (one pod per version,
  stable with a long history before the run) into a dedicated Prometheus on a loopback port
  (``promtool tsdb create-blocks-from openmetrics``, then ``prometheus`` on that data directory), a real
  ``critterops judge serve`` process reads it, and one standalone AnalysisRun per run, with the kit's
  verdict metric (:func:`critterops.generate.judge.verdict_metric`, ``count: 1``; it reads the whole
  answer, ``{$}``, instead of ``{$.verdict}`` so the deciding look can be compared too, with the same
  conditions on ``result.verdict``), asks the judge about the whole run at once (``start`` and ``at``
  in the body). All AnalysisRuns are created together; the
  controller measures them in parallel.

Argo's phase must be the one the verdict maps to (pass → Successful, fail → Failed, still gathering
or inconclusive → Inconclusive), and the measured value must be the in-process verdict, at the same
look. The server rebuilds the looks from Prometheus, so a disagreement would show a difference in
reading (counters, per-series differencing, latency sums) or in Argo's mapping.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import judges as bench  # noqa: E402  (benchmarks/judges.py: the scenarios and their simulation)
from tests.lab.cluster import LAB  # noqa: E402  (scripts/lab.py, loaded as the lab tests load it)
from tests.rollout.provider_history import History, add_looks, start_backfilled  # noqa: E402

from critterops.generate.judge import verdict_metric  # noqa: E402
from critterops.rollout.judges import Look, make_judge  # noqa: E402
from critterops.rollout.local.processes import free_port  # noqa: E402

DEFAULT_SCENARIOS = ("A/A", "+2 pp", "sparse 0.05→0.5%")
PHASE = {"pass": "Successful", "fail": "Failed", "inconclusive": "Inconclusive", "continue": "Inconclusive"}


def in_process(looks: list[Look]) -> tuple[str, int]:
    decision = make_judge("sequential").decide(looks)
    return decision.verdict.value, int(decision.details.get("look", 0))


def analysis_run(name: str, judge_url: str, body: dict[str, str]) -> dict[str, Any]:
    web = {"method": "POST", "url": f"{judge_url}/v1/argo", "jsonBody": body, "jsonPath": "{$}", "timeoutSeconds": 60}
    metric = verdict_metric(web, "1s", 1, None)
    # the whole answer is the value (for the look and the reason); the kit reads {$.verdict}: same conditions
    metric["successCondition"] = 'result.verdict == "pass"'
    metric["failureCondition"] = 'result.verdict == "fail"'
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": name},
        "spec": {"metrics": [metric]},
    }


def wait_all(namespace: str, count: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = LAB.api("GET", f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/analysisruns", timeout=60)
        assert code == 200, body
        items: list[dict[str, Any]] = body["items"]
        done = [
            r for r in items if r.get("status", {}).get("phase") in ("Successful", "Failed", "Inconclusive", "Error")
        ]
        if len(done) >= count:
            return items
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(done)} of {count} AnalysisRuns finished within {timeout:.0f} s")
        time.sleep(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="runs per scenario (default 100)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="only the scenarios whose name contains this text")
    parser.add_argument(
        "--all", action="store_true", help="every scenario of judges.py, real-traffic ones (histograms, bursts) too"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for Argo (default 900)")
    args = parser.parse_args(argv)
    if any(pid is None for pid in LAB.status().values()):
        raise SystemExit("the lab is not running: python scripts/lab.py start")
    chosen = (*bench.SCENARIOS, *bench.ADVERSARIAL) if args.all else bench.SCENARIOS
    scenarios = [
        s for s in chosen if (args.all or s.name in DEFAULT_SCENARIOS) and (not args.only or args.only in s.name)
    ]
    rng = np.random.default_rng(args.seed)
    began = time.monotonic()
    step = bench.INTERVAL_S
    start = math.floor(time.time() / 3600) * 3600 - 3 * 3600  # hours ago, on the hour: every run shares it
    at = start + bench.LOOKS * step
    history = History()
    cases: list[dict[str, Any]] = []
    for index, scenario in enumerate(scenarios):
        traffic = bench.simulate(scenario, args.runs, rng)
        for run in range(args.runs):
            looks = bench.looks_of(traffic, run)
            stable, canary = f"s{index}-{run}", f"c{index}-{run}"
            add_looks(history, "bench", stable, canary, start, step, looks)
            verdict, look = in_process(looks)
            cases.append(
                {
                    "scenario": scenario.name,
                    "run": run,
                    "stable": stable,
                    "canary": canary,
                    "in_process": verdict,
                    "in_process_look": look,
                }
            )
    simulated = time.monotonic() - began

    work = Path(tempfile.mkdtemp(prefix="crit-judges-argo-"))
    prom = start_backfilled(work / "prometheus", [history])
    backfilled = time.monotonic() - began
    port = free_port()
    judge = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "critterops",
            "judge",
            "serve",
            "--prometheus",
            prom.url,
            "--port",
            str(port),
            "--step",
            str(step),
            "--settle",
            "0",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        stdin=subprocess.DEVNULL,
    )
    namespace = f"judges-argo-{uuid.uuid4().hex[:6]}"
    try:
        time.sleep(1.0)
        code, body = LAB.api(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
        assert code == 201, body
        created_at = time.monotonic()
        for case in cases:
            name = f"r{len(case['scenario'])}-{case['stable']}"
            case["name"] = name
            call = {
                "namespace": "bench",
                "canary": case["canary"],
                "stable": case["stable"],
                "start": f"{start:.0f}",
                "at": f"{at:.0f}",
                "run": name,
            }
            code, body = LAB.api(
                "POST",
                f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/analysisruns",
                analysis_run(name, f"http://127.0.0.1:{port}", call),
            )
            assert code == 201, body
        created = time.monotonic() - created_at
        items = {r["metadata"]["name"]: r for r in wait_all(namespace, len(cases), args.timeout)}
        through_argo = time.monotonic() - created_at
    finally:
        LAB.api("DELETE", f"/api/v1/namespaces/{namespace}")
        judge.terminate()
        judge.wait(timeout=10)
        prom.stop()
        shutil.rmtree(work, ignore_errors=True)

    rows: dict[str, Counter[str]] = {}
    disagreements = []
    for case in cases:
        analysis = items[case["name"]]
        phase = analysis["status"]["phase"]
        measurement = analysis["status"]["metricResults"][0]["measurements"][-1]
        answer = json.loads(measurement.get("value") or "{}")
        case.update(
            argo_phase=phase,
            argo_verdict=answer.get("verdict"),
            argo_look=int(answer.get("details", {}).get("look", 0)),
        )
        agree = (
            phase == PHASE[case["in_process"]]
            and case["argo_verdict"] == case["in_process"]
            and case["argo_look"] == case["in_process_look"]
        )
        case["agree"] = agree
        if not agree:
            disagreements.append(case)
        rows.setdefault(case["scenario"], Counter())[f"{case['in_process']}->{phase}"] += 1
    total = len(cases)
    agreeing = total - len(disagreements)
    print(f"{total} runs ({args.runs} per scenario, seed {args.seed}), {bench.LOOKS} looks of {step:g} s each")
    print(f"{'scenario':<20} in-process verdict -> Argo's AnalysisRun phase (count)")
    for name, counts in rows.items():
        print(f"{name:<20} " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(f"agreement (phase, verdict and deciding look): {agreeing}/{total} ({100 * agreeing / total:.1f} %)")
    print(
        f"time: simulate + judge in process {simulated:.1f} s, "
        f"backfill + Prometheus up {backfilled - simulated:.1f} s, "
        f"create {total} AnalysisRuns {created:.1f} s, all measured by Argo {through_argo:.1f} s "
        f"({through_argo / total * 1000:.0f} ms per run)"
    )
    for case in disagreements[:10]:
        print(f"  disagree: {case}")
    if args.json:
        args.json.write_text(json.dumps({"runs": cases, "seconds": through_argo}, indent=1))
    return 0 if not disagreements else 1


if __name__ == "__main__":
    sys.exit(main())
