"""Helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from critterops.errors import UserError

FORMATS = ("text", "json", "markdown")


def example_path(name: str = "pawmart") -> Path:
    """The bundled example system (package data)."""
    path = Path(str(resources.files("critterops") / "examples" / name))
    if not path.is_dir():
        raise UserError(f"the bundled example {name!r} is missing from this installation; reinstall critterops")
    return path


def console(stream: Any = None) -> Any:
    from rich.console import Console

    out = stream or sys.stdout
    # a pipe or a file gets plain text at a width that keeps tables readable
    width = None if out.isatty() else 200
    return Console(file=out, soft_wrap=False, highlight=False, width=width)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


def add_range_arguments(parser: Any) -> None:
    """PATH, --base, --head and --example, shared by risk, plan and affected."""
    parser.add_argument("path", nargs="?", help="repository (default: current folder)")
    parser.add_argument(
        "--base", help="the deployed version: a branch, tag or commit (default: origin/HEAD, origin/main, main)"
    )
    parser.add_argument("--head", default="HEAD", help="the version to ship (default: HEAD)")
    parser.add_argument(
        "--example",
        action="store_true",
        help="use the bundled example: PawMart with a five-commit pull request, built in a temporary git repository",
    )


def check_range_arguments(args: Any) -> None:
    if args.example and args.path:
        raise UserError("give either PATH or --example, not both")
    if args.example and (args.base or args.head != "HEAD"):
        raise UserError("--example compares the example's main with its pull-request branch; drop --base/--head")
