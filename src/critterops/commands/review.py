"""``critterops review``: Critter-aware review of a repository, its Dockerfiles, workflows and manifests."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from critterops.commands._common import example_path
from critterops.errors import EXIT_FINDINGS, EXIT_OK, UserError

FAIL_LEVELS = {"note": 0, "warning": 1, "error": 2}


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "review",
        help="review the repository: Critter Stack rules plus hadolint, zizmor, actionlint, checkov (SARIF too)",
        description="Review a Critter Stack repository and its infrastructure files. Findings give rule, severity, "
        "file:line, why it matters and the fix. Exit 1 when --fail-on is reached, 2 on bad input.",
    )
    parser.add_argument("path", nargs="?", help="repository root (default: current folder)")
    parser.add_argument("--example", action="store_true", help="review the bundled example system")
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "markdown"),
        default="text",
        help="text (default), json, sarif (SARIF 2.1.0 for code scanning) or markdown",
    )
    parser.add_argument("--output", "-o", help="write the report to this file instead of standard output")
    parser.add_argument(
        "--fail-on",
        metavar="LEVEL|RULES",
        help="exit 1 when a finding at or above this severity (note, warning, error) is left, or, given rule ids "
        "(CR101,CR107), when one of those is",
    )
    parser.add_argument("--baseline", metavar="FILE", help="accept the findings recorded in this baseline file")
    parser.add_argument("--write-baseline", metavar="FILE", help="record the current findings as accepted")
    parser.add_argument(
        "--base", metavar="REF", help="compare with this commit too (projection versions, event renames)"
    )
    parser.add_argument("--no-tools", action="store_true", help="run only critterops' own rules (no external tools)")


def _fail_on(value: str | None) -> tuple[int | None, set[str]]:
    from critterops.review.rules import RULES_BY_ID

    if value is None:
        return None, set()
    if value in FAIL_LEVELS:
        return FAIL_LEVELS[value], set()
    ids = {v.strip() for v in value.split(",") if v.strip()}
    unknown = sorted(i for i in ids if i not in RULES_BY_ID and ":" not in i)
    if unknown or not ids:
        known = ", ".join(sorted(RULES_BY_ID))
        raise UserError(
            f"--fail-on {value!r}: unknown rule {', '.join(unknown) or '(none given)'}; give note, warning, error or "
            f"rule ids ({known}; tool rules as tool:CODE, e.g. hadolint:DL3008)"
        )
    return None, ids


def run(args: argparse.Namespace) -> int:
    from critterops.review import review
    from critterops.review.render import as_dict, markdown, text
    from critterops.review.sarif import check_limits, sarif
    from critterops.review.suppress import baseline_document, read_baseline

    if args.example and args.path:
        raise UserError("give either PATH or --example, not both")
    level, ids = _fail_on(args.fail_on)
    root = example_path() if args.example else Path(args.path or ".")
    baseline = read_baseline(Path(args.baseline)) if args.baseline else None
    report = review(root, base=args.base, baseline=baseline, skip_tools=args.no_tools)
    if args.write_baseline:
        document = baseline_document(
            report.repository, [f for f in report.findings if f.suppressed is None or f.suppressed == "baseline"]
        )
        try:
            Path(args.write_baseline).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as error:
            raise UserError(f"{args.write_baseline}: cannot write the baseline ({error.strerror})") from None
        print(f"critterops: {len(document['findings'])} findings recorded in {args.write_baseline}", file=sys.stderr)
    if args.format == "sarif":
        document = sarif(report)
        check_limits(document)
        out = json.dumps(document, indent=2) + "\n"
    elif args.format == "json":
        out = json.dumps(as_dict(report), indent=2) + "\n"
    elif args.format == "markdown":
        out = markdown(report)
    else:
        out = text(report)
    if args.output:
        try:
            Path(args.output).write_text(out, encoding="utf-8")
        except OSError as error:
            raise UserError(f"{args.output}: cannot write the report ({error.strerror})") from None
    else:
        sys.stdout.write(out)
    if args.format != "text":
        for warning in report.warnings:
            print(f"critterops: warning: {warning}", file=sys.stderr)
    active = report.active
    if level is not None and any(FAIL_LEVELS.get(f.severity, 0) >= level for f in active):
        return EXIT_FINDINGS
    if ids and any(f.rule in ids for f in active):
        return EXIT_FINDINGS
    return EXIT_OK


__all__ = ["add_parser", "run"]
