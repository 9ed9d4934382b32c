"""``critterops demo``: the whole story on the bundled example, in one run.

Scan PawMart, read the bundled pull request's risk and plan, then run two real canaries of a
stand-in orders-api behind a real HAProxy: a faulty version that the judge rolls back on its own,
and a good one that it promotes. Processes, proxy and traffic are real and on loopback; the load is
synthetic and labelled so.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from critterops.commands._common import add_judge_argument
from critterops.commands.deploy import haproxy_judge_settings
from critterops.errors import EXIT_FINDINGS

DEMO_SERVICE = "orders-api"  # the stand-in the two canaries deploy
STABLE_VERSION = "1.4.0"
ERROR_RATE = 0.005


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="the whole story on the bundled example: scan, risk, plan, a canary rolled back, one promoted",
        description=(
            "Scan the bundled PawMart system, score its bundled pull request and plan it, then run two real "
            "canaries of a stand-in orders-api behind HAProxy on loopback: a faulty version rolled back "
            "automatically and a good one promoted. Needs haproxy (apt-get install haproxy)."
        ),
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or a JSON summary at the end"
    )
    parser.add_argument("--rps", type=float, default=80.0, help="synthetic load, requests/s (default 80)")
    parser.add_argument("--faulty-error-rate", type=float, default=0.12, help="5xx rate of the bad version (0.12)")
    add_judge_argument(parser)
    parser.add_argument(
        "--backend",
        choices=("local", "kubernetes"),
        default="local",
        help="local: HAProxy on this machine (default); kubernetes: the example's plan on the lab's cluster "
        "through Argo Rollouts (python scripts/lab.py start first)",
    )
    parser.add_argument("--keep-namespace", action="store_true", help="kubernetes: keep the demo's namespace")


NEXT_STEPS = """
Next, try:
     critterops scan --example --diagram          # the message flows as a Mermaid diagram
     critterops plan --example --format markdown  # the plan as a pull-request comment
     critterops generate --example --out deploy/  # the deployment kit for PawMart
     critterops scan PATH                         # your own repository (risk and plan: add --base REF)"""


def _app(version: str, error_rate: float, seed: int) -> str:
    return (
        f"{sys.executable} -m critterops.rollout.demo_app --version {version} --error-rate {error_rate} "
        f"--latency-ms 35 --jitter-ms 10 --seed {seed}"
    )


def fit(text: str, width: int) -> str:
    """``text`` cut at a word boundary to at most ``width`` characters (a longer first word stays whole)."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    head = text[:width]
    if " " not in head:  # a first word longer than the width is kept whole
        return text.split(" ", 1)[0] + "…"
    return head.rsplit(" ", 1)[0].rstrip(",;:— ") + "…"


def _without_strategy(why: str) -> str:
    """``blue/green: breaking change to …`` → ``breaking change to …`` (the strategy is said already)."""
    label, colon, rest = why.partition(": ")
    return rest if colon and " " not in label else why


def _say(text: str, fmt: str) -> None:
    if fmt == "text":
        print(text, flush=True)


def _story(fmt: str) -> dict[str, Any]:
    from critterops.change.assess import assess_with_systems
    from critterops.change.model import score_range
    from critterops.commands._common import example_path
    from critterops.commands._example import BASE_BRANCH, HEAD_BRANCH, example_repo
    from critterops.discover import discover
    from critterops.plan.planner import build_plan
    from critterops.plan.policy import default_policy
    from critterops.report.summary import count_line

    system = discover(example_path())
    _say(f"1. scan: PawMart has {count_line(system)}", fmt)
    with example_repo() as repo:
        report, base, head = assess_with_systems(repo, BASE_BRANCH, HEAD_BRANCH, scorer=score_range)
    plan = build_plan(report, head, base, default_policy(), "production")
    _say(f"2. risk of {HEAD_BRANCH} ({len(report.commits)} commits):", fmt)
    for risk in report.services:
        top = risk.reasons[0].text if risk.reasons else ""
        _say(f"     {risk.service:<20} {risk.level:<6} {risk.basis}  {fit(top, 100)}", fmt)
    _say("3. plan for production:", fmt)
    for phase in plan.phases:
        entries = [f"{p.service} {p.strategy}" for p in plan.services if p.phase == phase.number]
        _say(f"     phase {phase.number}, {phase.name}: {', '.join(entries)}", fmt)
    unsafe = [p.service for p in plan.services if p.rollback and not p.rollback.safe]
    if unsafe:
        _say(f"     rollback unsafe (roll forward): {', '.join(unsafe)}", fmt)
    planned = next((p for p in plan.services if p.service == DEMO_SERVICE), None)
    if planned is not None and planned.strategy != "canary":
        why = f" ({fit(_without_strategy(planned.why[0]), 80)})" if planned.why else ""
        _say(
            f"     The plan ships {DEMO_SERVICE} {planned.strategy}{why}. The demo runs a canary of a stand-in "
            f"{DEMO_SERVICE} instead: a canary shows the judge comparing old and new on live traffic, step by step.",
            fmt,
        )
    return {
        "services": len(system.services),
        "risk": {r.service: r.level for r in report.services},
        "plan": {p.service: p.strategy for p in plan.services},
    }


def _rollout(folder: Path, version: str, error_rate: float, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    from critterops.rollout.engine import AnalysisSpec, RolloutSpec, canary_steps
    from critterops.rollout.runner import LocalRollout, start_load
    from critterops.rollout.store import Runtime, Store
    from critterops.rollout.view import LiveView

    spec = RolloutSpec(
        "orders-api",
        "canary",
        canary_steps([10, 25, 50, 100], pause_s=4.0),
        AnalysisSpec(args.judge, haproxy_judge_settings(args.judge, False), interval_s=2.0, background=True),
    )
    runtime = Runtime(_app(STABLE_VERSION, ERROR_RATE, seed), _app(version, error_rate, seed + 1))
    store = Store(folder / version, "orders-api")
    rollout = LocalRollout(store, spec, runtime)
    rollout.launch(time.time())
    load = start_load(rollout.proxy.url, args.rps, None)
    view = LiveView(spec, sys.stdout if args.format == "text" else open_devnull(), synthetic=True, per_step=True)
    try:
        state = rollout.run(tick_s=0.25, on_progress=view.update)
    finally:
        load.stop()
        view.close()
        rollout.shutdown()
    outcome = "promoted" if state.phase == "Healthy" else "rolled_back"
    decided = round((state.decided_at or time.time()) - state.started, 1)
    return {
        "service": "orders-api",
        "version": version,
        "strategy": spec.strategy,
        "judge": args.judge,
        "outcome": outcome,
        "decided_after_s": decided,
        "reason": state.reason,
    }


def open_devnull() -> Any:
    return open("/dev/null", "w")


def run(args: argparse.Namespace) -> int:
    if args.backend == "kubernetes":
        from critterops.lab import demo as lab_demo

        code, summary = lab_demo.run(sys.stdout if args.format == "text" else sys.stderr, keep=args.keep_namespace)
        if args.format == "json":
            print(json.dumps(summary, indent=2))
        return code
    from critterops.rollout.local.haproxy import HAProxy

    HAProxy.find()  # says how to install HAProxy before anything starts
    started = time.time()
    story = _story(args.format)
    rollouts = []
    with tempfile.TemporaryDirectory(prefix="critterops-demo-") as folder:
        _say(
            f"4. canary of orders-api 1.5.0 (faulty: {args.faulty_error_rate:.0%} errors) behind HAProxy:", args.format
        )
        rollouts.append(_rollout(Path(folder), "1.5.0", args.faulty_error_rate, args, seed=1))
        _say("5. canary of orders-api 1.5.1 (the fix):", args.format)
        rollouts.append(_rollout(Path(folder), "1.5.1", ERROR_RATE, args, seed=3))
    elapsed = round(time.time() - started, 1)
    summary = {"elapsed_s": elapsed, "story": story, "rollouts": rollouts, "load": "synthetic"}
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print(f"6. summary ({elapsed:.0f}s):")
        for r in rollouts:
            outcome = "rolled back" if r["outcome"] == "rolled_back" else r["outcome"]
            print(f"     {DEMO_SERVICE} {r['version']}: {outcome} after {r['decided_after_s']:.0f}s")
        print(NEXT_STEPS)
    expected = [r["outcome"] for r in rollouts] == ["rolled_back", "promoted"]
    return 0 if expected else EXIT_FINDINGS
