"""``critterops mcp``: serve critterops' commands to AI coding agents over the Model Context Protocol."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from critterops.errors import UserError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "mcp",
        help="an MCP server over stdio: scan, risk, plan, affected, review, generate, deploy_status as tools",
        description=(
            "Serve critterops' commands as Model Context Protocol tools over stdin/stdout, for AI coding agents "
            "(Claude Desktop, VS Code, ...). Tools answer with the same JSON documents as --format json. "
            "Read-only unless --allow-writes; paths outside --repo are refused. Needs the `mcp` extra: "
            "pip install 'critterops[mcp]'."
        ),
    )
    parser.add_argument("--repo", type=Path, default=Path("."), help="the repository (default: current folder)")
    parser.add_argument(
        "--allow-writes", action="store_true", help="let `generate` write the kit (inside the repository only)"
    )
    parser.add_argument(
        "--exporter", metavar="URL", help="a running `critterops exporter` (http://host:9180): adds the status tool"
    )


def run(args: argparse.Namespace) -> int:
    try:
        from critterops.mcp.server import serve
    except ImportError as error:
        if (error.name or "").split(".")[0] not in ("mcp", "pydantic", "anyio"):
            raise
        raise UserError(
            "critterops mcp needs the MCP SDK (mcp 2.x), which is not installed: pip install 'critterops[mcp]'"
        ) from None
    serve(args.repo, allow_writes=args.allow_writes, exporter=args.exporter)
    return 0
