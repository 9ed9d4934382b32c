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
