"""A review as text, JSON or markdown (SARIF: :mod:`critterops.review.sarif`)."""

from __future__ import annotations

from typing import Any

from critterops.review.model import ReviewReport

SCHEMA = "critterops.review/v1"


def as_dict(report: ReviewReport) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "root": report.root,
        "repository": report.repository,
        "seconds": round(report.seconds, 3),
        "counts": report.counts(),
        "tools": [
            {"tool": r.tool, "version": r.version, "status": r.status, "detail": r.detail, "checked": r.checked}
            for r in report.runs
        ],
        "rules_not_run": [{"rule": r, "reason": why} for r, why in report.rules_not_run],
        "warnings": list(report.warnings),
        "findings": [
            {
                "rule": f.rule,
                "tool": f.tool,
                "severity": f.severity,
                "file": f.file,
                "line": f.line,
                "message": f.message,
                "why": f.why,
                "fix": f.fix,
                "fingerprint": f.fingerprint,
                "suppressed": f.suppressed,
            }
            for f in report.findings
        ],
    }


def _summary(report: ReviewReport) -> str:
    counts = report.counts()
    parts = [f"{n} {s}{'s' if n != 1 else ''}" for s, n in counts.items()]
    suppressed = len(report.findings) - len(report.active)
    tail = f"; {suppressed} suppressed" if suppressed else ""
    return ", ".join(parts) + tail


def text(report: ReviewReport) -> str:
    lines = []
    for f in report.active:
        lines.append(f"{f.location}: {f.severity} {f.rule}: {f.message}")
        if f.why:
            lines.append(f"    why: {f.why}")
        if f.fix:
            lines.append(f"    fix: {f.fix}")
    lines.append("")
    for r in report.runs:
        state = {"ran": "ran", "skipped": "SKIPPED", "failed": "FAILED"}[r.status]
        lines.append(f"{r.tool}: {state}" + (f" ({r.detail})" if r.detail else ""))
    for rule, why in report.rules_not_run:
        lines.append(f"{rule}: not run ({why})")
    for w in report.warnings:
        lines.append(f"warning: {w}")
    lines.append(f"{_summary(report)} in {report.seconds:.2f} s")
    return "\n".join(lines) + "\n"


def markdown(report: ReviewReport) -> str:
    lines = ["## critterops review", "", _summary(report), ""]
    if report.active:
        lines += ["| severity | rule | where | finding | fix |", "|---|---|---|---|---|"]
        for f in report.active:
            cells = [f.severity, f"`{f.rule}`", f"`{f.location}`", f.message, f.fix]
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        lines.append("")
    skipped = [r for r in report.runs if r.status != "ran"]
    if skipped:
        lines.append("Not checked: " + "; ".join(f"{r.tool} {r.status} ({r.detail})" for r in skipped))
    for rule, why in report.rules_not_run:
        lines.append(f"- {rule} not run: {why}")
    for w in report.warnings:
        lines.append(f"- warning: {w}")
    return "\n".join(lines) + "\n"
