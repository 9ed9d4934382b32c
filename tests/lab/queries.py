"""Every PromQL expression a kit writes, where it is written, and the series selectors inside it.

Sources: the AnalysisTemplates of an overlay, the alert rules (``alerts.yaml``), the Grafana dashboards
and the gates of a plan. Template arguments are filled the way their engine fills them: Argo's
``{{args.hash}}`` with a version that runs, Grafana's ``$environment`` with the environment and its
interval variables with durations. A selector is "a target" when it returns at least one series: an
alert's comparison may be false and still be right, but a selector that matches nothing can never fire.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml


@dataclass(frozen=True)
class Query:
    where: str  # file:line in the kit (or "plan:<service>:<gate>")
    expr: str


def _line_of(kit: Path, expr: str, hint: str) -> str:
    """The file and line where an expression's first line is written in the kit."""
    first = next((line.strip() for line in expr.splitlines() if line.strip()), expr)
    candidates = sorted(kit.rglob(hint)) if "*" in hint else [kit / hint]
    for path in candidates:
        try:
            lines = path.read_text().splitlines()
        except OSError:
            continue
        for number, text in enumerate(lines, 1):
            if first in text or json.dumps(first)[1:-1] in text:
                return f"{path.relative_to(kit)}:{number}"
    return f"{hint}:?"


def analysis_queries(kit: Path, docs: list[dict[str, Any]], version: str, namespace: str) -> list[Query]:
    out = []
    for doc in docs:
        if doc["kind"] != "AnalysisTemplate":
            continue
        for metric in doc["spec"]["metrics"]:
            prom = metric.get("provider", {}).get("prometheus")
            if prom:
                where = _line_of(kit, prom["query"], "kubernetes/base/services/*.yaml")
                text = prom["query"].replace("{{args.hash}}", version).replace("{{args.namespace}}", namespace)
                out.append(Query(where, text))
    return out


def alert_queries(kit: Path) -> list[Query]:
    rules = yaml.safe_load((kit / "observability" / "prometheus" / "alerts.yaml").read_text())
    return [
        Query(_line_of(kit, r["expr"], "observability/prometheus/alerts.yaml"), str(r["expr"]))
        for group in rules["groups"]
        for r in group["rules"]
    ]


GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "30s", "$__range": "5m"}


def dashboard_queries(kit: Path, env: str) -> list[Query]:
    out = []
    for path in sorted((kit / "observability" / "grafana").glob("*.json")):
        board = json.loads(path.read_text())
        panels = list(board.get("panels", []))
        for panel in list(panels):
            panels += panel.get("panels", [])
        for panel in panels:
            for target in panel.get("targets", []):
                expr = target.get("expr")
                if not expr:
                    continue
                filled = expr.replace("${environment}", env).replace("$environment", env)
                for name, value in GRAFANA_VARS.items():
                    filled = filled.replace(name, value)
                out.append(Query(_line_of(kit, expr, f"observability/grafana/{path.name}"), filled))
    return out


def plan_queries(plan: dict[str, Any]) -> list[Query]:
    out = []
    for service in plan.get("services", []):
        for gate in service.get("gates", []):
            if gate.get("query"):
                out.append(Query(f"plan {plan['environment']}:{service['service']}:{gate['name']}", gate["query"]))
    return out


def selectors(expr: str) -> list[str]:
    """The vector selectors of an expression, as PromQL text (parsed, not pattern-matched)."""
    found: list[str] = []

    def walk(node: Any) -> None:
        kind = type(node).__name__
        if kind == "VectorSelector":
            found.append(str(node))
            return
        for attr in ("lhs", "rhs", "expr", "args", "vector_selector", "param"):
            child = getattr(node, attr, None)
            if isinstance(child, list):
                for item in child:
                    walk(item)
            elif child is not None and not isinstance(child, str | int | float):
                walk(child)

    walk(promql_parser.parse(re.sub(r"\s+", " ", expr)))
    return sorted(dict.fromkeys(found))
