"""``critterops risk``: how risky a change is, per service, and why."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from critterops.commands._common import (
    FORMATS,
    add_range_arguments,
    check_range_arguments,
    nothing_to_compare,
    print_json,
)
from critterops.errors import EXIT_FINDINGS


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "risk",
        help="score the risk of a git range per service and explain it",
        description=(
            "Compare two versions of a repository (read from git, the working tree is not touched): run the "
            "change rules, give each affected service a level from the rule findings and the model's calibrated "
            "probability, and explain it. With --history, evaluate the shipped model on the repository's own "
            "history instead."
        ),
    )
    add_range_arguments(parser)
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--policy", type=Path, help="policy file (default: critterops.yaml at the repository root)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show every reason")
    parser.add_argument("--no-model", action="store_true", help="rules only: skip the statistical model")
    parser.add_argument(
        "--fail-on",
        choices=("medium", "high"),
        help="exit 1 when a service reaches this level (a CI gate); the report is printed either way",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help=(
            "evaluate the model that ships on this repository's history, out of sample (the model trained "
            "without it if it is in the training corpus, else the commits after a time cut): AUC, calibration, "
            "level shares, and every commit's score with --format json"
        ),
    )


def resolve_range(args: argparse.Namespace, stack: ExitStack) -> tuple[Path, str | None, str]:
    """The repository and refs to compare; ``--example`` builds a temporary one."""
    check_range_arguments(args)
    if args.example:
        from critterops.commands._example import BASE_BRANCH, HEAD_BRANCH, example_repo

        return stack.enter_context(example_repo()), BASE_BRANCH, HEAD_BRANCH
    return Path(args.path or "."), args.base, args.head


def risk_report(args: argparse.Namespace) -> tuple[Any, str | None]:
    """The report ``risk`` prints, or ``(None, why)`` when the range holds nothing to compare.

    Shared with the MCP server (``critterops mcp``) so both give the same ``critterops.risk/v1``.
    """
    from critterops.change.assess import assess
    from critterops.change.score import levels_for
    from critterops.plan.policy import load_policy

    with ExitStack() as stack:
        root, base, head = resolve_range(args, stack)
        if not args.example and (empty := nothing_to_compare(root, base, head, "risk")):
            return None, empty
        policy = load_policy(root, None if args.example else args.policy)
        levels = levels_for(policy)
        return assess(root, base, head, levels, scorer=None if args.no_model else _scorer()), None


def run(args: argparse.Namespace) -> int:
    if args.history:
        with ExitStack() as stack:
            return _history(resolve_range(args, stack)[0], args)
    report, empty = risk_report(args)
    if report is None:
        print(empty, file=sys.stderr)
        return 0
    if args.format == "json":
        from critterops.report.risk import risk_dict

        print_json(risk_dict(report))
    elif args.format == "markdown":
        from critterops.report.risk import risk_markdown

        sys.stdout.write(risk_markdown(report))
    else:
        from critterops.report.risk import risk_text

        sys.stdout.write(risk_text(report, verbose=args.verbose))
    if args.fail_on:
        failing = {"medium": ("medium", "high"), "high": ("high",)}[args.fail_on]
        if any(s.level in failing for s in report.services):
            return EXIT_FINDINGS
    return 0


def _scorer() -> Any:
    from critterops.change.model import score_range

    return score_range


def _history(root: Path, args: argparse.Namespace) -> int:
    from critterops.history.evaluate import evaluate_history

    report = evaluate_history(root)
    if args.format == "json":
        print_json(report.to_dict())
    elif args.format == "markdown":
        from critterops.report.history import history_markdown

        sys.stdout.write(history_markdown(report))
    else:
        from critterops.report.history import history_text

        sys.stdout.write(history_text(report))
    return 0
