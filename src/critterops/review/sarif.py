"""SARIF 2.1.0 for GitHub code scanning.

One run per driver (critterops, and each external tool that ran): code scanning keys a run by driver name
and ``automationDetails.id`` and rejects several runs with the same key in one upload (github/codeql-action
v4.36.2 src/sarif/index.ts ``createRunKey``/``areAllRunsUnique``, src/upload-lib.ts). URIs are relative to
the repository root with ``uriBaseId: %SRCROOT%``; each result carries ``partialFingerprints`` (ours,
``critterops/v1``; the upload action adds ``primaryLocationLineHash``). Skipped tools produce no run; they
appear in the critterops run's ``invocations`` notifications, never as a clean run.

GitHub's limits (docs.github.com/en/code-security/code-scanning/troubleshooting-sarif-uploads/results-exceed-limit
and .../file-too-large): 20 runs per file, 25,000 results and 25,000 rules per run, 1,000 locations per
result, 10 MB gzipped. :func:`check_limits` enforces them before writing.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from typing import Any, Final

from critterops import __version__
from critterops.errors import UserError
from critterops.review.model import CRITTEROPS, ReviewReport
from critterops.review.rules import RULES

SCHEMA_URI: Final = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
MAX_RUNS: Final = 20
MAX_RESULTS_PER_RUN: Final = 25_000
MAX_RULES_PER_RUN: Final = 25_000
MAX_GZIPPED_BYTES: Final = 10 * 1024 * 1024


def _rule_descriptor(
    rule_id: str, short: str, full: str = "", help_text: str = "", level: str = "warning"
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": short or rule_id},
        "defaultConfiguration": {"level": level},
    }
    if full:
        out["fullDescription"] = {"text": full}
    if help_text:
        out["help"] = {"text": help_text}
    return out


def sarif(report: ReviewReport) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    notes = (
        [
            {"level": "warning", "message": {"text": f"{run.tool} skipped: {run.detail}"}}
            for run in report.runs
            if run.status == "skipped"
        ]
        + [
            {"level": "error", "message": {"text": f"{run.tool} failed: {run.detail}"}}
            for run in report.runs
            if run.status == "failed"
        ]
        + [{"level": "note", "message": {"text": f"{rid} not run: {why}"}} for rid, why in report.rules_not_run]
    )
    notes += [{"level": "warning", "message": {"text": w}} for w in report.warnings]
    # code scanning places every alert in a file: findings without one stay in the text and JSON reports
    unplaced = Counter(f.tool for f in report.findings if not f.file)
    notes += [
        {"level": "warning", "message": {"text": f"{tool}: {n} finding(s) without a file left out"}}
        for tool, n in sorted(unplaced.items())
    ]
    for run in report.runs:
        if run.status != "ran":
            continue
        findings = [f for f in report.findings if f.tool == run.tool and f.file]
        if run.tool == CRITTEROPS:
            rules = [
                {
                    **_rule_descriptor(r.id, r.summary, r.why, f"{r.why}. Fix: {r.fix}.", r.severity),
                    "name": r.name,
                }
                for r in RULES
            ]
        else:
            ids = sorted({f.rule for f in findings})
            rules = [_rule_descriptor(i, next(f.message for f in findings if f.rule == i)[:200]) for i in ids]
        index = {r["id"]: n for n, r in enumerate(rules)}
        results = []
        for f in findings:
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": f.severity,
                "message": {"text": f.message + (f". Fix: {f.fix}" if f.fix else "")},
                "partialFingerprints": {"critterops/v1": f.fingerprint},
            }
            location: dict[str, Any] = {"artifactLocation": {"uri": f.file, "uriBaseId": "%SRCROOT%"}}
            if f.line > 0:
                location["region"] = {"startLine": f.line}
            result["locations"] = [{"physicalLocation": location}]
            if f.suppressed:
                kind = "external" if f.suppressed == "baseline" else "inSource"
                result["suppressions"] = [{"kind": kind, "justification": f.suppressed}]
            results.append(result)
        driver: dict[str, Any] = {"name": run.tool, "rules": rules}
        if run.tool == CRITTEROPS:
            driver["version"] = __version__
        elif run.version:
            driver["fullName"] = run.version
        document: dict[str, Any] = {
            "tool": {"driver": driver},
            "automationDetails": {"id": f"critterops-review/{run.tool}/"},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository root"}}},
            "results": results,
        }
        if run.tool == CRITTEROPS:
            document["invocations"] = [{"executionSuccessful": True, "toolExecutionNotifications": notes}]
        runs.append(document)
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}


def check_limits(document: dict[str, Any]) -> None:
    """Raise :class:`UserError` where GitHub code scanning would reject the file."""
    runs = document.get("runs", [])
    if len(runs) > MAX_RUNS:
        raise UserError(f"the SARIF file has {len(runs)} runs; GitHub accepts {MAX_RUNS}")
    for run in runs:
        name = run["tool"]["driver"]["name"]
        if len(run.get("results", [])) > MAX_RESULTS_PER_RUN:
            raise UserError(
                f"{name}: {len(run['results'])} results; GitHub accepts {MAX_RESULTS_PER_RUN} per run. "
                "Accept the existing ones with --write-baseline, or review a narrower PATH"
            )
        if len(run["tool"]["driver"].get("rules", [])) > MAX_RULES_PER_RUN:
            raise UserError(f"{name}: more than {MAX_RULES_PER_RUN} rules")
    size = len(gzip.compress(json.dumps(document).encode()))
    if size > MAX_GZIPPED_BYTES:
        raise UserError(f"the SARIF file is {size} bytes gzipped; GitHub accepts {MAX_GZIPPED_BYTES}")
