"""``critterops deploy``: a progressive rollout on this machine, behind HAProxy, judged on live metrics."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from critterops.commands._common import add_judge_argument
from critterops.errors import EXIT_FINDINGS, UserError

ACTIONS = ("start", "status", "promote", "abort", "resume", "stop")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "deploy",
        help="run a canary, blue/green or rolling rollout locally behind HAProxy, with automatic rollback",
        description=(
            "Run the stable and the new version of a service as real processes ($PORT is set for each), put "
            "HAProxy in front on a loopback port, shift traffic step by step and let a judge compare the versions "
            "on live metrics: promote, or roll back automatically. The state lives in --state-dir, so status, "
            "promote, abort and resume work from another terminal or after the controller was killed."
        ),
    )
    parser.add_argument("action", nargs="?", choices=ACTIONS, default="start", help="default: start")
    parser.add_argument(
        "--backend",
        choices=("local", "kubernetes"),
        default="local",
        help="local: processes behind HAProxy on this machine; kubernetes: the whole --plan through Argo Rollouts "
        "(default: local)",
    )
    parser.add_argument("--service", help="service name (a DNS label)")
    parser.add_argument("--stable", help="command that runs the current version (it must listen on $PORT)")
    parser.add_argument("--canary", help="command that runs the new version (it must listen on $PORT)")
    parser.add_argument(
        "--strategy",
        choices=("canary", "bluegreen", "rolling"),
        default=None,
        help="how the new version takes traffic (default: the plan's choice with --plan, else canary)",
    )
    parser.add_argument(
        "--steps", help="canary weights in percent, e.g. 10,25,50,100 (default from the plan or 10,25,50,100)"
    )
    parser.add_argument("--pause", default="30s", help="pause after each weight change (default 30s)")
    parser.add_argument("--interval", default="10s", help="analysis interval: one look per interval (default 10s)")
    add_judge_argument(parser)
    parser.add_argument(
        "--approval", action="store_true", help="wait for `critterops deploy promote` before full promotion"
    )
    parser.add_argument("--plan", type=Path, help="take strategy and steps for --service from this plan (JSON)")
    parser.add_argument("--load", type=float, default=0.0, metavar="RPS", help="built-in synthetic load, requests/s")
    parser.add_argument("--http-file", type=Path, help="replay the requests of this .http file as the load")
    parser.add_argument(
        "--prometheus", metavar="URL", help="judge on PromQL from this Prometheus instead of HAProxy's counters"
    )
    parser.add_argument(
        "--queries",
        type=Path,
        help="YAML/JSON file: stable.requests, stable.errors, canary.requests, canary.errors[, *.latency_ms] -> PromQL",
    )
    parser.add_argument("--health-path", default="/health", help="health endpoint of both versions (default /health)")
    parser.add_argument("--listen-port", type=int, default=0, help="HAProxy's loopback port (default: a free one)")
    parser.add_argument("--state-dir", type=Path, help="state folder (default .critterops/deploy)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    consumers = parser.add_argument_group(
        "message consumers (--queue)",
        "A service that consumes a RabbitMQ queue is rolled out without a proxy: the queue shares its messages "
        "among the versions' listeners (competing consumers), so the weight sets the listener counts "
        "($CRITTEROPS_LISTENERS); the judge reads each version's handler counters from its /metrics.",
    )
    consumers.add_argument("--queue", help="the queue the service consumes: makes this a consumer rollout")
    consumers.add_argument(
        "--amqp", default=None, help="AMQP URL of the broker (default amqp://guest:guest@127.0.0.1:5672/%%2F)"
    )
    consumers.add_argument(
        "--management", default=None, help="RabbitMQ management API, for drain and preview checks (http://host:port)"
    )
    consumers.add_argument(
        "--listeners",
        type=int,
        default=0,
        help="stable listener count (default: the fewest that realise every step within 20%%)",
    )
    consumers.add_argument(
        "--outbox", metavar="DSN", help="PostgreSQL with Wolverine's tables: a drain also waits for the outbox"
    )
    consumers.add_argument("--outbox-schema", default="wolverine", help="schema of Wolverine's tables")
    consumers.add_argument(
        "--drain-timeout", default="60s", help="how long a stopping version may take to finish what it holds"
    )
    cluster = parser.add_argument_group("--backend kubernetes")
    cluster.add_argument("--kubeconfig", type=Path, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    cluster.add_argument("--context", help="kubeconfig context (default: its current context)")
    cluster.add_argument("--namespace", help="namespace of the Rollouts (default: the context's)")
    cluster.add_argument(
        "--tag", help="the new images' tag (default: the plan's head commit, as the kit's CI tags them)"
    )
    cluster.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="SERVICE=IMAGE",
        help="the new image of one service (repeatable; overrides --tag for it)",
    )
    cluster.add_argument("--timeout", default="30m", help="the whole deploy's time limit (default 30m)")
    cluster.add_argument(
        "--full",
        action="store_true",
        help="promote: skip the remaining steps and analyses (Argo's promote --full); a plain promote of a "
        "blue/green paused on an inconclusive analysis runs that analysis again",
    )


def seconds(text: str, flag: str) -> float:
    match = _DURATION.match(text.strip())
    if not match:
        raise UserError(f"{flag} {text!r}: expected a duration like 500ms, 10s, 5m")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]


def haproxy_judge_settings(judge: str, prometheus: bool) -> tuple[tuple[str, object], ...]:
    """The sequential judge reads latency only from disjoint measurements (per-look histograms or sum/count
    deltas: rollout/judging/sequential.py). HAProxy's ``rtime`` is a running average over each server's last
    1024 requests, so successive looks repeat each other and its latency guard would count one slow stretch
    many times; without --prometheus the local rollout is judged on errors alone."""
    return (("latency", False),) if judge == "sequential" and not prometheus else ()


def parse_steps(text: str) -> list[int]:
    try:
        weights = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise UserError(f"--steps {text!r}: expected whole percentages like 10,25,50,100") from error
    if not weights or any(not 0 < w <= 100 for w in weights) or weights != sorted(set(weights)):
        raise UserError(f"--steps {text!r}: ascending percentages between 1 and 100")
    return weights if weights[-1] == 100 else [*weights, 100]


def _from_plan(path: Path, service: str) -> tuple[str | None, list[int] | None, str | None, bool]:
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"--plan {path}: cannot be read as JSON ({error})") from error
    if not isinstance(plan, dict) or plan.get("schema") != "critterops.plan/v2":
        raise UserError(f"--plan {path}: not a critterops plan")
    entry = next((s for s in plan.get("services", []) if s.get("service") == service), None)
    if entry is None:
        raise UserError(
            f"--plan {path}: {service} is not in the plan (it has {[s['service'] for s in plan['services']]})"
        )
    strategy = {"blue-green": "bluegreen"}.get(entry["strategy"], entry["strategy"])
    if strategy == "no-deploy":
        raise UserError(f"the plan says {service} needs no deploy")
    weights = [s["weight"] for s in entry.get("steps", [])] or None
    pause = next((s["pause"] for s in entry.get("steps", []) if s.get("pause")), None)
    approval = any(s.get("approval") for s in entry.get("steps", [])) or any(
        g.get("kind") == "approval" for g in entry.get("gates", [])
    )
    return strategy, weights, pause, approval


def _planned_queue(path: Path, service: str) -> str | None:
    """The first queue the plan says ``service`` consumes, when it receives messages only."""
    plan = json.loads(path.read_text(encoding="utf-8"))
    entry: dict[str, Any] = next((s for s in plan.get("services", []) if s.get("service") == service), {})
    consumers = entry.get("consumers") or {}
    queues = consumers.get("queues") or []
    return str(queues[0]) if entry.get("traffic") == "messages" and queues else None


def run(args: argparse.Namespace) -> int:
    if args.backend == "kubernetes":
        return _kubernetes(args)
    from critterops.rollout.runner import state_root
    from critterops.rollout.store import Store

    root = state_root(args.state_dir)
    if args.action in ("status", "promote", "abort", "resume", "stop") and not args.service:
        services = sorted(p.name for p in root.iterdir() if (p / "rollout.json").is_file()) if root.is_dir() else []
        if args.action == "status" and not services:
            print(f"no rollouts in {root}")
            return 0
        if len(services) != 1:
            raise UserError(f"--service is needed: rollouts in {root}: {', '.join(services) or 'none'}")
        args.service = services[0]
    if not args.service:
        raise UserError("--service is required")
    store = Store(root, args.service)
    if args.action == "status":
        return _status(store, args.format)
    if args.action in ("promote", "abort"):
        if not store.exists:
            raise UserError(f"no rollout of {args.service} in {root}")
        store.send(args.action)
        print(f"{args.action} sent to the {args.service} rollout; the controller acts on its next tick")
        return 0
    if args.action == "resume":
        return _resume(store, args)
    if args.action == "stop":
        return _stop(store)
    return _start(store, args)


def _start(store: Any, args: argparse.Namespace) -> int:
    from critterops.rollout.engine import AnalysisSpec, RolloutSpec, Step, canary_steps
    from critterops.rollout.runner import LocalRollout
    from critterops.rollout.store import Runtime

    if not args.stable or not args.canary:
        raise UserError("--stable and --canary are required: the command that runs each version")
    if store.exists:
        state = store.load_state()
        if state is not None and state.phase not in ("Healthy", "Degraded"):
            raise UserError(f"a rollout of {args.service} is in progress: use deploy status, resume or abort")
    strategy, weights, pause, approval = (None, None, None, bool(args.approval))
    planned_queue: str | None = None
    if args.plan:
        strategy, weights, pause, planned_approval = _from_plan(args.plan, args.service)
        approval = approval or planned_approval
        planned_queue = _planned_queue(args.plan, args.service)
    strategy = args.strategy or strategy or "canary"
    weights = parse_steps(args.steps) if args.steps else (weights or [10, 25, 50, 100])
    pause_s = seconds(pause or args.pause, "--pause")
    interval = seconds(args.interval, "--interval")
    if strategy == "rolling":
        steps: tuple[Step, ...] = canary_steps([25, 50, 75, 100], pause_s, final_analysis=False)
        analysis = AnalysisSpec("threshold", (("count", 1),), interval, background=False)
    elif strategy == "bluegreen":
        steps = ()
        analysis = AnalysisSpec("threshold", (("count", 3),), interval, background=True)
    else:
        steps = canary_steps(weights, pause_s, approval=approval)
        analysis = AnalysisSpec(args.judge, haproxy_judge_settings(args.judge, bool(args.prometheus)), interval)
    spec = RolloutSpec(
        args.service,
        strategy,
        steps,
        analysis,
        auto_promote=not approval,
        post_promotion_s=max(3 * interval, pause_s),
    )
    runtime = Runtime(
        args.stable,
        args.canary,
        listen_port=args.listen_port,
        health_path=args.health_path,
        load_rps=args.load,
        http_file=str(args.http_file) if args.http_file else None,
    )
    if args.prometheus:
        runtime.prometheus = args.prometheus
        runtime.queries = _queries(args.queries)
    if args.queue or planned_queue:
        return _start_consumers(store, spec, runtime, args, planned_queue, weights)
    rollout = LocalRollout(store, spec, runtime)
    rollout.launch(time.time())
    return _drive(rollout, args)


def _start_consumers(
    store: Any, spec: Any, runtime: Any, args: argparse.Namespace, planned_queue: str | None, weights: list[int]
) -> int:
    from dataclasses import replace

    from critterops.plan.consumers import stable_listeners_for
    from critterops.rollout.local.consumers import ConsumerRollout

    if args.prometheus:
        raise UserError("--prometheus is for HTTP rollouts; a consumer rollout reads each version's /metrics")
    if args.listeners < 0:
        raise UserError("--listeners must be a positive count")
    runtime.queue = args.queue or planned_queue
    runtime.amqp = args.amqp or "amqp://guest:guest@127.0.0.1:5672/%2F"
    runtime.management = args.management
    runtime.drain_timeout_s = seconds(args.drain_timeout, "--drain-timeout")
    runtime.outbox_dsn = args.outbox
    runtime.outbox_schema = args.outbox_schema
    runtime.stable_listeners = args.listeners or (stable_listeners_for(weights) if spec.strategy == "canary" else 1)
    if spec.strategy == "bluegreen" and not args.management:
        print(
            "warning: without --management critterops cannot check at the broker that the preview consumes "
            "nothing before promotion",
            file=sys.stderr,
        )
    if spec.strategy == "bluegreen":
        # after the switch nothing runs beside the new version: judged against the policy's handler failure
        # rate (Wolverine execution failures per attempt; a retried message fails more than once)
        from critterops.plan.policy import Thresholds

        limit = 1.0 - Thresholds().handler_failure_rate
        spec = replace(spec, analysis=replace(spec.analysis, settings=(("count", 3), ("min_success_rate", limit))))
    if spec.strategy == "canary":
        # each look's handling time is that interval's own mean (execution-time sum and count deltas), so the
        # sequential judge's mean guard may read every look (latency_block_s = 0: rollout/judging/sequential.py)
        settings = (("latency_block_s", 0.0),) if spec.analysis.judge == "sequential" else ()
        spec = replace(spec, analysis=replace(spec.analysis, settings=settings))
    rollout = ConsumerRollout(store, spec, runtime)
    rollout.launch(time.time())
    return _drive(rollout, args)


def _rollout_for(store: Any, spec: Any, runtime: Any) -> Any:
    """The backend of a saved rollout: a consumer rollout when it names a queue, else HAProxy."""
    if runtime.queue:
        from critterops.rollout.local.consumers import ConsumerRollout

        return ConsumerRollout(store, spec, runtime)
    from critterops.rollout.runner import LocalRollout

    return LocalRollout(store, spec, runtime)


def _resume(store: Any, args: argparse.Namespace) -> int:
    spec, runtime = store.load_rollout()
    rollout = _rollout_for(store, spec, runtime)
    rollout.reattach()
    assert rollout.state is not None
    if rollout.state.phase in ("Healthy", "Degraded"):
        print(f"{args.service}: already {rollout.state.phase.lower()}: {rollout.state.reason}")
        return 0
    return _drive(rollout, args)


def _drive(rollout: Any, args: argparse.Namespace) -> int:
    from critterops.rollout.view import LiveView

    load: Any = None
    if rollout.runtime.queue:
        load = rollout.start_load(rollout.runtime.load_rps) if rollout.runtime.load_rps else None
    elif rollout.runtime.load_rps or rollout.runtime.http_file:
        from critterops.rollout.runner import start_load

        load = start_load(rollout.proxy.url, rollout.runtime.load_rps or 20.0, rollout.runtime.http_file)
    view = LiveView(rollout.spec, sys.stdout, synthetic=load is not None)
    try:
        state = rollout.run(on_progress=view.update)
    finally:
        if load is not None:
            load.stop()
        view.close()
    summary = _summary(rollout.spec, state)
    shares = list(getattr(rollout.runtime, "shares", []) or [])
    if shares:
        summary["message_share"] = shares
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print(f"{rollout.spec.service}: {state.phase} — {state.reason}")
        for share in shares:
            realised = f"{share['realised']:.1%}" if share["realised"] >= 0 else "no messages"
            print(
                f"  weight {share['weight']:g}%: {share['canary_listeners']:g} of "
                f"{share['canary_listeners'] + share['stable_listeners']:g} listeners, realised share {realised} "
                f"of {share['messages']:g} messages"
            )
    return 0 if state.phase == "Healthy" else EXIT_FINDINGS


def _summary(spec: Any, state: Any) -> dict[str, Any]:
    return {
        "service": spec.service,
        "strategy": spec.strategy,
        "phase": state.phase,
        "outcome": "promoted"
        if state.phase == "Healthy"
        else "rolled_back"
        if state.phase == "Degraded"
        else "running",
        "weight": state.weight,
        "decided_after_s": round(state.decided_at - state.started, 1) if state.decided_at else None,
        "reason": state.reason,
        "events": [{"t": round(e.t - state.started, 1), "message": e.message} for e in state.events],
    }


def _status(store: Any, fmt: str) -> int:
    spec, _ = store.load_rollout()
    state = store.load_state()
    if state is None:
        raise UserError(f"the rollout of {spec.service} has no state yet")
    summary = _summary(spec, state)
    if fmt == "json":
        print(json.dumps(summary, indent=2))
        return 0
    step = spec.steps[state.step].describe() if state.step < len(spec.steps) else "done"
    print(f"{spec.service}: {state.phase}, {spec.strategy}, canary weight {state.weight}%, step: {step}")
    if state.reason:
        print(f"  last verdict: {state.verdict} — {state.reason}")
    for event in summary["events"][-8:]:
        print(f"  {event['t']:>7.1f}s  {event['message']}")
    return 0


def _stop(store: Any) -> int:
    """Stop the versions and HAProxy of a finished or abandoned rollout."""
    spec, runtime = store.load_rollout()
    rollout = _rollout_for(store, spec, runtime)
    if runtime.queue:
        rollout.reattach()
    rollout.shutdown()
    what = "drained and stopped the versions" if runtime.queue else "stopped the processes and HAProxy"
    print(f"{what} of the {spec.service} rollout")
    return 0


def _queries(path: Path | None) -> dict[str, str]:
    import yaml

    if path is None:
        raise UserError("--prometheus needs --queries: the PromQL giving each version's requests and errors")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"--queries {path}: cannot be read ({error})") from error
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise UserError(f"--queries {path}: expected a mapping like canary.requests: <PromQL>")
    return dict(data)


def _kubernetes(args: argparse.Namespace) -> int:
    """The plan on a cluster through Argo Rollouts (critterops.rollout.kubernetes.engine)."""
    from critterops.rollout.kubernetes.cluster import Cluster, Target
    from critterops.rollout.kubernetes.engine import KubernetesDeploy
    from critterops.rollout.kubernetes.plan import load

    if args.action == "stop":
        raise UserError("deploy stop is for the local backend; on Kubernetes use deploy abort")
    for flag in ("stable", "canary", "http_file", "queries"):
        if getattr(args, flag):
            raise UserError(f"--{flag.replace('_', '-')} is for the local backend; --backend kubernetes runs a --plan")
    if args.action == "start" and args.plan is None:
        raise UserError("--backend kubernetes needs --plan plan.json (critterops plan --format json)")
    images = {}
    for item in args.image:
        service, sep, image = item.partition("=")
        if not sep or not service or not image:
            raise UserError(f"--image {item!r}: expected SERVICE=IMAGE")
        images[service] = image
    cluster = Cluster(Target(args.kubeconfig, args.context, args.namespace))
    engine = KubernetesDeploy(cluster, sys.stdout, timeout_s=seconds(args.timeout, "--timeout"))
    engine.prometheus = args.prometheus
    if args.action == "start":
        return engine.start(load(args.plan), args.tag, images)
    if args.action == "resume":
        return engine.resume()
    if args.action == "promote":
        name = engine.promote(args.service, full=args.full)
        print(f"{name}: {'fully promoted' if args.full else 'promoted (Argo Rollouts continues its steps)'}")
        return 0
    if args.action == "abort":
        return engine.abort(args.service)
    status = engine.status()
    if args.format == "json":
        print(json.dumps(status, indent=2))
        return 0
    print(f"deploy {status['deploy']} of {status['head'][:12]} to {status['environment']}: {status['state']}")
    if status["reason"]:
        print(f"  {status['reason']}")
    for row in status["services"]:
        print(f"  phase {row['phase']}  {row['service']:<24} {row['running']:<10} {row['image']}  ({row['state']})")
    for job in status["jobs"]:
        print(f"  job {job['job']}: {job['state']}")
    return 0
