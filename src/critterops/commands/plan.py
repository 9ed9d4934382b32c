"""``critterops plan``: how each affected service ships, in what order, and how it rolls back."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from critterops.commands._common import FORMATS, add_range_arguments, nothing_to_compare, print_json
from critterops.commands.risk import _scorer, resolve_range


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "plan",
        help="the deployment plan for a git range: strategy, gates, order and rollback per service",
        description=(
            "Choose blue/green, canary or rolling per affected service for one environment, with the order of "
            "deployment (consumers of new messages before their publishers, expand/contract splits), the gates "
            "that decide success and the rollback plan."
        ),
    )
    add_range_arguments(parser)
    parser.add_argument("--env", default="production", help="environment from the policy (default: production)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    parser.add_argument("--policy", type=Path, help="policy file (default: critterops.yaml at the repository root)")
    parser.add_argument("--no-model", action="store_true", help="rules only: skip the statistical model")
    parser.add_argument(
        "--explain-policy", action="store_true", help="print the effective policy and where each value comes from"
    )


def build(args: argparse.Namespace) -> tuple[Any, str | None]:
    """The plan ``plan`` prints, or ``(None, why)`` when the range holds nothing to compare.

    Shared with the MCP server (``critterops mcp``) so both give the same ``critterops.plan/v2``.
    """
    from critterops.change.assess import assess_with_systems
    from critterops.change.score import levels_for
    from critterops.plan.planner import build_plan
    from critterops.plan.policy import load_policy

    with ExitStack() as stack:
        root, base, head = resolve_range(args, stack)
        if not args.example and (empty := nothing_to_compare(root, base, head, "plan")):
            return None, empty
        policy = load_policy(root, args.policy)
        policy.environment(args.env)  # fail fast on an unknown environment
        report, base_system, head_system = assess_with_systems(
            root, base, head, levels_for(policy), None if args.no_model else _scorer()
        )
        return build_plan(report, head_system, base_system, policy, args.env), None


def run(args: argparse.Namespace) -> int:
    from critterops.plan.policy import default_policy, explain_policy, load_policy, policy_to_dict

    if args.explain_policy:
        policy = default_policy() if args.example else load_policy(Path(args.path or "."), args.policy)
        if args.format == "json":
            print_json(policy_to_dict(policy))
        else:
            sys.stdout.write(explain_policy(policy).rstrip("\n") + "\n")
        return 0
    plan, empty = build(args)
    if plan is None:
        print(empty, file=sys.stderr)
        return 0
    if args.format == "json":
        from critterops.report.plan import plan_dict

        print_json(plan_dict(plan))
    elif args.format == "markdown":
        from critterops.report.plan import plan_markdown

        sys.stdout.write(plan_markdown(plan))
    else:
        from critterops.report.plan import plan_text

        sys.stdout.write(plan_text(plan))
    return 0
