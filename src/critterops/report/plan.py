"""Render a :class:`Plan`: JSON (``critterops.plan/v2``), text, and a pull-request comment."""

from __future__ import annotations

from typing import Any

from critterops.model import PLAN_SCHEMA, Plan, ServicePlan
from critterops.report.plain import plain

STRATEGY_LABEL = {"blue-green": "blue/green", "canary": "canary", "rolling": "rolling", "no-deploy": "no deploy"}


def plan_dict(plan: Plan) -> dict[str, Any]:
    data: dict[str, Any] = {"schema": PLAN_SCHEMA}
    data.update(plain(plan))
    data["base"] = {"ref": plan.base, "commit": plan.base_commit}
    data["head"] = {"ref": plan.head, "commit": plan.head_commit}
    del data["base_commit"], data["head_commit"]
    return data


def _steps(p: ServicePlan) -> str:
    parts = []
    for step in p.steps:
        text = f"{step.weight}%"
        if step.pause:
            text += (
                f" (pause {step.pause}{', analysis' if step.analysis else ''}{', approval' if step.approval else ''})"
            )
        parts.append(text)
    return " → ".join(parts)


def _rollback(p: ServicePlan) -> str:
    if p.rollback is None:
        return "—"
    if p.rollback.safe:
        return "safe" + (f": {p.rollback.reason}" if p.rollback.reason else "")
    return f"UNSAFE — {p.rollback.action}: {p.rollback.reason}"


def plan_text(plan: Plan) -> str:
    lines = [
        f"Deployment plan for {plan.environment}: {plan.base} ({plan.base_commit[:10]}) → {plan.head} "
        f"({plan.head_commit[:10]}), policy: {plan.policy}"
    ]
    if not plan.deploy:
        lines.append("Nothing to deploy.")
    for phase in plan.phases:
        lines.append("")
        lines.append(f"Phase {phase.number} — {phase.name}: {phase.reason}")
        for p in (x for x in plan.services if x.phase == phase.number):
            lines.append(
                f"  {p.service}: {STRATEGY_LABEL[p.strategy]} ({p.level} risk {p.risk:.2f}), {p.replicas} replicas"
            )
            for why in p.why:
                lines.append(f"    why: {why}")
            if p.steps:
                lines.append(f"    steps: {_steps(p)}")
            for gate in p.gates:
                cond = f" {gate.condition}" if gate.condition else ""
                window = f" every {gate.interval} × {gate.count}" if gate.count else ""
                lines.append(f"    gate [{gate.kind}, {gate.when}] {gate.name}{cond}{window}")
            for job in p.jobs:
                command = f" [{' '.join(job.command)}]" if job.command else ""
                lines.append(f"    job ({job.when}){command}: {job.description}")
            lines.append(f"    rollback: {_rollback(p)}")
            for w in p.warnings:
                lines.append(f"    warning: {w}")
    not_deployed = [p for p in plan.services if p.strategy == "no-deploy"]
    for p in not_deployed:
        lines.append(f"  {p.service}: no deploy — {'; '.join(p.why)}")
    for ec in plan.expand_contract:
        lines.append("")
        lines.append(f"Split into deploys ({ec.rule}, {', '.join(ec.services)}): {ec.reason}")
        for i, step in enumerate(ec.steps, 1):
            lines.append(f"  {i}. {step}")
    for w in plan.warnings:
        lines.append(f"warning: {w}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def plan_markdown(plan: Plan) -> str:
    out = [
        f"### critterops plan for `{plan.environment}`",
        "",
        f"`{plan.base}` ({plan.base_commit[:10]}) → `{plan.head}` ({plan.head_commit[:10]}) · policy: {plan.policy}",
        "",
    ]
    if not plan.deploy:
        out += ["**Nothing to deploy**: only documentation or tests changed.", ""]
    else:
        out += ["| Phase | Service | Strategy | Risk | Gates | Rollback |", "|---|---|---|---|---|---|"]
        for p in plan.services:
            gates = ", ".join(g.name for g in p.gates) or "—"
            rollback = "✅ safe" if p.rollback and p.rollback.safe else f"⚠️ {p.rollback.action}" if p.rollback else "—"
            out.append(
                f"| {p.phase or '—'} | `{p.service}` | {STRATEGY_LABEL[p.strategy]} | {p.level} {p.risk:.2f} | "
                f"{gates} | {rollback} |"
            )
        out.append("")
    if plan.expand_contract:
        out.append("> [!WARNING]")
        out.append("> This change cannot ship in one deploy: split it (expand/contract). Details below.")
        out.append("")
    for p in plan.services:
        out.append(f"<details><summary><b>{p.service}</b>: {STRATEGY_LABEL[p.strategy]}</summary>\n")
        out += [f"- {_md(w)}" for w in p.why]
        if p.steps:
            out.append(f"- Steps: {_steps(p)}")
        for g in p.gates:
            extra = f" `{g.condition}` every {g.interval} × {g.count}" if g.count else f" `{g.condition or ''}`"
            out.append(f"- Gate **{g.name}** ({g.kind}, {g.when}):{extra} — {_md(g.description)}")
        for j in p.jobs:
            command = f" `{' '.join(j.command)}`" if j.command else ""
            out.append(f"- Job ({j.when}){command}: {_md(j.description)}. Order: {_md(j.order)}")
        out.append(f"- Rollback: {_md(_rollback(p))}")
        out += [f"- ⚠️ {_md(w)}" for w in p.warnings]
        out.append("\n</details>\n")
    for ec in plan.expand_contract:
        out.append(f"<details><summary>Expand/contract: {_md(ec.reason[:100])}</summary>\n")
        out += [f"{i}. {_md(s)}" for i, s in enumerate(ec.steps, 1)]
        out.append("\n</details>\n")
    if plan.warnings:
        out.append("<details><summary>Warnings</summary>\n")
        out += [f"- {_md(w)}" for w in plan.warnings]
        out.append("\n</details>\n")
    return "\n".join(out)
