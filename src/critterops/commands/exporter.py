"""``critterops exporter``: serve the Critter Stack metrics of PostgreSQL and RabbitMQ to Prometheus."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Any

from critterops.commands._watch import add_source_arguments, load


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "exporter",
        help="serve projection lag, dead letters, inbox/outbox, sagas and queues as Prometheus metrics",
        description=(
            "Read Marten's and Wolverine's tables in PostgreSQL and RabbitMQ's queues at every scrape and serve "
            "them as critterops_* metrics on /metrics (liveness on /healthz). The alert rules and dashboards "
            "from `critterops generate` query exactly these names."
        ),
    )
    add_source_arguments(parser)
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to serve on (default 127.0.0.1:9180)")
    parser.add_argument(
        "--log-level", choices=("debug", "info", "warning", "error"), default="info", help="default: info"
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="read every source once, print /metrics to stdout and exit (1 if one is down)",
    )


def run(args: argparse.Namespace) -> int:
    from critterops.watch.collectors import build_collectors
    from critterops.watch.config import targets_summary
    from critterops.watch.exporter import Exporter, bind

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    log = logging.getLogger("critterops.exporter")
    config = load(args, listen=args.listen)
    for warning in config.warnings:
        log.warning("%s", warning)
    exporter = Exporter(build_collectors(config), min_interval_s=config.min_interval_s, deadline_s=config.deadline_s)
    if args.once:
        try:
            scrape = exporter.scrape()
            sys.stdout.write(scrape.text())
            return 0 if all(r.up for r in scrape.results) else 1
        finally:
            exporter.close()
    server = bind(exporter, *config.listen)
    host, port = server.server_address[:2]
    for line in targets_summary(config):
        log.info("reading %s", line)
    log.info("serving http://%s:%s/metrics", host, port)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("stopping (%s)", signal.Signals(signum).name)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        exporter.start()  # the first reads (the warm-up) run in the background; scrapes are served meanwhile
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        exporter.close()
    return 0
