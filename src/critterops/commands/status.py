"""``critterops status``: the running system on one screen: projections, message stores, sagas, queues."""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import Any

from critterops.commands._common import console, print_json
from critterops.commands._watch import add_source_arguments, load
from critterops.errors import EXIT_FINDINGS, EXIT_OK, UserError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "status",
        help="show projections, dead letters, inbox/outbox, sagas and queues on one refreshing screen",
        description=(
            "Read the same sources as `critterops exporter` (or a running exporter with --from) and show the "
            "state of the system with its problems highlighted. On a terminal it refreshes until Ctrl-C; "
            "with --once, --format json or output to a pipe it prints once and exits 1 when there is a problem."
        ),
    )
    add_source_arguments(parser)
    parser.add_argument("--from", dest="from_url", metavar="URL", help="read a running exporter (http://host:9180)")
    parser.add_argument("--once", action="store_true", help="print once and exit (exit 1 when there is a problem)")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="default: text")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between refreshes (default 5)")


def run(args: argparse.Namespace) -> int:
    from critterops.watch.config import Limits

    if not math.isfinite(args.interval) or not 0 < args.interval <= 3600:
        raise UserError("--interval must be a number of seconds above 0 and at most 3600")
    once = args.once or args.format == "json" or not sys.stdout.isatty()
    if args.from_url:
        limits = load(args, require_sources=False).limits if (args.config or args.repo) else Limits()
        read = _exporter_reader(args.from_url)
        close = None
    else:
        config = load(args)
        limits = config.limits
        read, close = _direct_reader(config)
    try:
        if once:
            status = read(limits)
            if args.format == "json":
                print_json(status.to_dict())
            else:
                from critterops.report.status import render_status

                console().print(render_status(status))
            return EXIT_FINDINGS if status.problems else EXIT_OK
        return _live(read, limits, args.interval)
    finally:
        if close is not None:
            close()


def _exporter_reader(url: str) -> Any:
    from critterops.watch.collectors import read_exporter
    from critterops.watch.status import assess

    def read(limits: Any) -> Any:
        return assess(read_exporter(url), limits, time.time(), origin=url)

    return read


def _direct_reader(config: Any) -> tuple[Any, Any]:
    from critterops.watch.collectors import build_collectors
    from critterops.watch.exporter import Exporter
    from critterops.watch.status import assess

    exporter = Exporter(build_collectors(config), min_interval_s=0.0, deadline_s=config.deadline_s)

    def read(limits: Any) -> Any:
        scrape = exporter.scrape()
        errors = {r.target: r.error for r in scrape.results if r.error}
        return assess(scrape.samples(), limits, scrape.at, errors)

    return read, exporter.close


def _live(read: Any, limits: Any, interval: float) -> int:
    from rich.live import Live

    from critterops.report.status import render_status

    out = console()
    with Live(render_status(read(limits)), console=out, screen=True, auto_refresh=False) as live:
        try:
            while True:
                time.sleep(interval)
                live.update(render_status(read(limits)), refresh=True)
        except KeyboardInterrupt:
            return EXIT_OK
