"""``critterops affected``: the services and test projects a range touches, as a CI matrix."""

from __future__ import annotations

import argparse
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from critterops.commands._common import add_range_arguments, print_json
from critterops.commands.risk import _scorer, resolve_range
from critterops.errors import UserError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "affected",
        help="affected services and test projects as JSON for a GitHub Actions matrix",
        description=(
            "Print the services and test projects a git range affects. `fromJSON(x).services` and "
            "`fromJSON(x).tests` are matrix objects ({include: [...]}); `any` says whether there is anything to run."
        ),
    )
    add_range_arguments(parser)
    parser.add_argument("--no-model", action="store_true", help="rules only: skip the statistical model")
    parser.add_argument(
        "--github-output",
        action="store_true",
        help="also append services=, tests=, any= and deploy= to the file named by $GITHUB_OUTPUT",
    )


def affected_data(args: argparse.Namespace) -> dict[str, Any]:
    """The JSON ``affected`` prints; shared with the MCP server (``critterops mcp``)."""
    from critterops.change.assess import assess
    from critterops.report.risk import affected_dict

    with ExitStack() as stack:
        root, base, head = resolve_range(args, stack)
        report = assess(root, base, head, scorer=None if args.no_model else _scorer())
    data: dict[str, Any] = affected_dict(report)
    return data


def run(args: argparse.Namespace) -> int:
    data = affected_data(args)
    print_json(data)
    if args.github_output:
        target = os.environ.get("GITHUB_OUTPUT")
        if not target:
            raise UserError("--github-output needs the GITHUB_OUTPUT environment variable (set by GitHub Actions)")
        with Path(target).open("a", encoding="utf-8") as handle:
            handle.write(f"services={json.dumps(data['services'], separators=(',', ':'))}\n")
            handle.write(f"tests={json.dumps(data['tests'], separators=(',', ':'))}\n")
            handle.write(f"any={'true' if data['any'] else 'false'}\n")
            handle.write(f"deploy={'true' if data['deploy'] else 'false'}\n")
    return 0
