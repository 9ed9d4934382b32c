"""Render a :class:`RiskReport`: JSON (``critterops.risk/v1``), text, Markdown, and the affected set."""

from __future__ import annotations

from typing import Any

from critterops.model import RISK_SCHEMA, Finding, Location, RiskReport, ServiceRisk
from critterops.report.plain import plain
from critterops.report.summary import plural

LEVEL_MARK = {"high": "🔴 high", "medium": "🟠 medium", "low": "🟢 low"}


def _loc(location: Location) -> str:
    return str(location)


def finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "services": list(finding.services),
        "message_types": list(finding.message_types),
        "files": [_loc(x) for x in finding.files],
        "detail": finding.detail,
        "changes": [
            {
                "type": c.type,
                "change": c.change,
                "member": c.member,
                "detail": c.detail,
                "breaking": c.breaking,
                "location": _loc(c.location) if c.location else None,
            }
            for c in finding.changes
        ],
        "facts": dict(finding.facts),
    }


def service_risk_dict(risk: ServiceRisk) -> dict[str, Any]:
    return {
        "service": risk.service,
        "level": risk.level,
        "rule_level": risk.rule_level,
        "model_level": risk.model_level,
        "affected_by": list(risk.affected_by),
        "rules": list(risk.rules),
        "reasons": [
            {"text": r.text, "weight": round(r.weight, 4), "rule": r.rule, "locations": [_loc(x) for x in r.locations]}
            for r in risk.reasons
        ],
        "commits": list(risk.commits),
        "model_probability": risk.model_probability,
    }


def risk_dict(report: RiskReport) -> dict[str, Any]:
    return {
        "schema": RISK_SCHEMA,
        "repository": report.repository,
        "base": {"ref": report.base, "commit": report.base_commit},
        "head": {"ref": report.head, "commit": report.head_commit},
        "files_changed": report.files_changed,
        "deploy": report.deploy,
        "range_risk": plain(report.range_risk) if report.range_risk is not None else None,
        "model": report.model,
        "services": [service_risk_dict(s) for s in report.services],
        "findings": [finding_dict(f) for f in report.findings],
        "commits": [
            {
                "sha": c.sha,
                "subject": c.subject,
                "probability": c.probability,
                "top_terms": [{"feature": n, "contribution": round(w, 4), "value": v} for n, w, v in c.top_terms],
            }
            for c in report.commits
        ],
        "tests": plain(report.tests),
        "warnings": plain(report.warnings),
    }


def affected_dict(report: RiskReport) -> dict[str, Any]:
    """What a GitHub Actions matrix consumes: ``fromJSON(x).services`` is ``{"include": [...]}``."""
    services = [
        {
            "service": s.service,
            "level": s.level,
            "rule_level": s.rule_level,
            "model_probability": s.model_probability,
            "affected_by": ",".join(s.affected_by),
        }
        for s in report.services
        if "service-removed" not in s.rules
    ]
    tests = [{"project": t.project, "kind": t.kind, "services": ",".join(t.services)} for t in report.tests]
    return {
        "deploy": report.deploy,
        "any": bool(services) or bool(tests),
        "base": report.base_commit,
        "head": report.head_commit,
        "service_names": [s["service"] for s in services],
        "services": {"include": services},
        "tests": {"include": tests},
    }


def _range(report: RiskReport) -> str:
    return f"{report.base} ({report.base_commit[:10]}) → {report.head} ({report.head_commit[:10]})"


def risk_text(report: RiskReport, verbose: bool = False) -> str:
    commits = plural(len(report.commits), "scored commit") if report.commits else "no scored commits"
    lines = [f"Risk of {_range(report)}: {commits}, {plural(report.files_changed, 'file')}"]
    if report.range_risk is not None:
        lines.append(f"Model: {_range_model(report)} ({report.model})")
    if not report.deploy:
        lines.append("No service needs a deploy.")
    lines.append("")
    for s in report.services:
        lines.append(f"{s.service:<28} {s.level:<6} {s.basis}  affected {'+'.join(s.affected_by)}")
        for r in s.reasons[: None if verbose else 4]:
            where = f"  [{', '.join(_loc(x) for x in r.locations[:2])}]" if r.locations else ""
            lines.append(f"    - {r.text}{where}")
        if not verbose and len(s.reasons) > 4:
            lines.append(f"    … {len(s.reasons) - 4} more (--verbose)")
    if report.tests:
        lines.append("")
        lines.append(
            "Tests to run: " + ", ".join(t.project.rsplit("/", 1)[-1].removesuffix(".csproj") for t in report.tests)
        )
    for w in report.warnings:
        lines.append(f"warning: {w.file}{':' + str(w.line) if w.line else ''}: {w.message}")
    return "\n".join(lines) + "\n"


def _range_model(report: RiskReport) -> str:
    """The range's riskiest commit and how many reach ``high``; nothing that grows with the commit count."""
    r = report.range_risk
    assert r is not None
    return (
        f"riskiest commit's calibrated P(needs a later fix) {r.max_probability:.2f}; "
        f"{r.above_high} of {r.commits} commit(s) at or above the high threshold {r.high_threshold:.2f}"
    )


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def risk_markdown(report: RiskReport) -> str:
    out = [f"### critterops risk: {_range(report)}", ""]
    if not report.deploy:
        out += ["No service needs a deploy: only documentation or tests changed.", ""]
    out += ["| Service | Risk | Rules | Model p | Affected | Findings |", "|---|---|---|---|---|---|"]
    for s in report.services:
        p = f"{s.model_probability:.2f} ({s.model_level})" if s.model_probability is not None else "—"
        out.append(
            f"| `{s.service}` | {LEVEL_MARK[s.level]} | {s.rule_level} | {p} | {', '.join(s.affected_by)} | "
            f"{', '.join(f'`{r}`' for r in s.rules)} |"
        )
    out.append("")
    for s in report.services:
        out.append(f"<details><summary><b>{s.service}</b>: {s.level} ({s.basis})</summary>\n")
        for r in s.reasons:
            where = f" — {', '.join(f'`{_loc(x)}`' for x in r.locations[:3])}" if r.locations else ""
            out.append(f"- {_md(r.text)}{where}")
        out.append("\n</details>\n")
    if report.range_risk is not None:
        out.append(f"Model: {_range_model(report)} ({report.model}).\n")
    if report.warnings:
        out.append("<details><summary>Warnings</summary>\n")
        out += [f"- `{w.file}`: {_md(w.message)}" for w in report.warnings]
        out.append("\n</details>\n")
    return "\n".join(out)
