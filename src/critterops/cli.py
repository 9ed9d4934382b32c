"""Command line: parse arguments and dispatch. One module per command under ``critterops.commands``."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from critterops import __version__
from critterops.errors import EXIT_UNEXPECTED, CritteropsError


def _commands() -> dict[str, ModuleType]:
    """The commands, in the order ``--help`` lists them."""
    from critterops.commands import affected, demo, deploy, exporter, generate, judge, plan, review, risk, scan, status
    from critterops.commands import mcp as mcp_command

    return {
        "demo": demo,
        "scan": scan,
        "risk": risk,
        "plan": plan,
        "affected": affected,
        "generate": generate,
        "deploy": deploy,
        "exporter": exporter,
        "judge": judge,
        "status": status,
        "review": review,
        "mcp": mcp_command,
    }


def build_parser(commands: dict[str, ModuleType]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="critterops",
        description="A DevOps engineer as software for Critter Stack systems (Wolverine + Marten + RabbitMQ).",
    )
    parser.add_argument("--version", action="version", version=f"critterops {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in commands.values():
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    commands = _commands()
    parser = build_parser(commands)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        result: int = commands[args.command].run(args)
        return result
    except CritteropsError as error:
        print(f"critterops: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("critterops: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        print(
            f"critterops: unexpected error: {type(error).__name__}: {error}\n"
            "This is a bug in critterops. Run again with --debug for the traceback and report it.",
            file=sys.stderr,
        )
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    raise SystemExit(main())
