"""``critterops scan``: what the system in a repository is."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from critterops.commands._common import FORMATS, console, example_path, print_json
from critterops.errors import UserError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "scan",
        help="read a repository into a system model: services, queues, flows, sagas, projections",
        description="Read a Critter Stack repository and print what the system is.",
    )
    parser.add_argument("path", nargs="?", help="repository root (default: current folder)")
    parser.add_argument("--example", action="store_true", help="scan the bundled example system")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--diagram", action="store_true", help="print only a Mermaid flowchart of the flows")
    parser.add_argument("--verbose", "-v", action="store_true", help="show every warning")
    parser.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")


def run(args: argparse.Namespace) -> int:
    from critterops.discover import discover

    if args.example and args.path:
        raise UserError("give either PATH or --example, not both")
    root = example_path() if args.example else (args.path or ".")
    system = discover(root)
    if args.diagram:
        from critterops.report.mermaid import mermaid

        sys.stdout.write(mermaid(system))
    elif args.format == "json":
        from critterops.report.plain import system_dict

        print_json(system_dict(system))
    elif args.format == "markdown":
        from critterops.report.markdown import system_markdown

        sys.stdout.write(system_markdown(system))
    else:
        from critterops.report.text import print_system

        print_system(system, console(), verbose=args.verbose)
    return 1 if args.strict and system.warnings else 0
