"""``critterops judge serve``: the canary judge as an HTTP metric provider for Argo Rollouts and Flagger."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from critterops.errors import UserError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "judge",
        help="serve the canary judge to Argo Rollouts (web metric provider) and Flagger (webhook)",
        description=(
            "Answer Argo Rollouts' web metric provider (GET/POST /v1/argo?namespace=&canary=&stable=[&start=]) "
            "and Flagger's webhooks (POST /v1/flagger, versions in metadata) with the judge's verdict: "
            "pass, fail, inconclusive or continue (still gathering), with the evidence. Counts are read from "
            "Prometheus' cumulative counters since the analysis started on every call; nothing is kept."
        ),
    )
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    serve = verbs.add_parser("serve", help="serve until stopped (SIGTERM/SIGINT)")
    serve.add_argument("--prometheus", default="http://127.0.0.1:9090", metavar="URL", help="default: %(default)s")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8080, help="default: %(default)s")
    serve.add_argument(
        "--judge",
        choices=("sequential", "mann-whitney", "threshold"),
        default="sequential",
        help="how the canary is judged (default: sequential)",
    )
    serve.add_argument(
        "--judge-settings", metavar="JSON", default="{}", help="judge settings as JSON, e.g. '{\"alpha\": 0.01}'"
    )
    serve.add_argument("--step", type=float, default=30.0, metavar="SECONDS", help="one look per step (default: 30)")
    serve.add_argument(
        "--settle",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="use an interval once it ended this long ago, so Prometheus has scraped it (default: 15)",
    )
    serve.add_argument("--timeout", type=float, default=5.0, metavar="SECONDS", help="Prometheus timeout (default: 5)")
    serve.add_argument(
        "--kube-api",
        metavar="URL",
        help="Kubernetes API to find the asking AnalysisRun's start (default: in-cluster when run in a pod; "
        "'none': the canary's first sample is the start)",
    )
    serve.add_argument("--kube-token-file", metavar="FILE", help="bearer token for --kube-api")
    serve.add_argument("--kube-ca-file", metavar="FILE", help="CA bundle for --kube-api")
    serve.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="how much the server logs to stderr: each answer at info (default info)",
    )


def run(args: argparse.Namespace) -> int:
    from critterops.rollout.provider import AnalysisRuns, Provider, Settings, bind
    from critterops.rollout.sources import PrometheusClient

    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    log = logging.getLogger("critterops.judge")
    try:
        judge_settings = json.loads(args.judge_settings)
    except ValueError as exc:
        raise UserError(f"--judge-settings is not JSON: {exc}") from exc
    if not isinstance(judge_settings, dict):
        raise UserError("--judge-settings must be a JSON object")
    if args.step <= 0 or args.settle < 0 or not 0 < args.port < 65536:
        raise UserError("--step must be > 0, --settle >= 0 and --port in 1..65535")
    settings = Settings(judge=args.judge, judge_settings=judge_settings, step_s=args.step, settle_s=args.settle)
    runs: AnalysisRuns | None
    if args.kube_api == "none":
        runs = None
    elif args.kube_api:
        if not args.kube_token_file:
            raise UserError("--kube-api needs --kube-token-file (a ServiceAccount token that may list analysisruns)")
        try:
            runs = AnalysisRuns(args.kube_api, args.kube_token_file, args.kube_ca_file)
        except OSError as exc:  # ssl.SSLError and a missing CA file are OSErrors
            raise UserError(f"--kube-ca-file {args.kube_ca_file}: {exc}") from exc
    else:
        runs = AnalysisRuns.in_cluster()
    try:
        provider = Provider(PrometheusClient(args.prometheus, timeout=args.timeout), settings, runs=runs)
    except ValueError as exc:
        raise UserError(f"--judge-settings: {exc}") from exc
    try:
        server = bind(provider, args.host, args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    host, port = server.server_address[:2]
    log.info("analysis starts from %s", runs.api if runs else "the canary's first sample (no Kubernetes API)")
    log.info(
        "judge %s serving http://%s:%s/v1/argo and /v1/flagger, reading %s", args.judge, host, port, args.prometheus
    )

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0
