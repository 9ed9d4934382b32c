"""Runbooks: one Markdown page per alert, written for the person paged at 3 am.

Every page has the same sections (Symptoms, Impact, Diagnosis, Remediation, Rollback, Escalation),
written in the alert's own record (:mod:`critterops.generate.alerts`) next to its rule, and covers
the rules the same :func:`~critterops.generate.alerts.alerts` list gives the rules file, so each
alert's ``runbook_url`` resolves. This module lays the pages out: the header, the "Before you start"
block every page's commands rely on (``$NS``, ``$SVC``, ``q``), and the index. Diagnosis queries name
the real tables of each service the alert covers: Marten's ``{schema}.mt_event_progression`` and
``mt_doc_<saga>``, Wolverine's ``{schema}.wolverine_*`` envelope, dead-letter and node tables.
"""

from __future__ import annotations

from critterops.generate.alerts import RECORDS, AlertRecord, alerts, record, table_cells
from critterops.generate.alerts.record import Covered, lines, text
from critterops.generate.context import KitContext
from critterops.generate.infra import APP_USER

PROMETHEUS_NAMESPACE = "monitoring"
PROMETHEUS_SERVICE = "prometheus"  # the Prometheus the analysis templates query: prometheus.monitoring.svc:9090


def runbook_files(ctx: KitContext, records: tuple[AlertRecord, ...] = RECORDS) -> dict[str, str]:
    """``runbooks/<alert>.md`` for every alert, and ``runbooks/README.md`` indexing them."""
    found = alerts(ctx, records)
    names = list(dict.fromkeys(a.name for a in found))
    pages = {name: (record(name, records), Covered.of(ctx, [a for a in found if a.name == name])) for name in names}
    files = {f"runbooks/{name}.md": _render(alert, covered) for name, (alert, covered) in pages.items()}
    files["runbooks/README.md"] = _index(ctx, pages)
    return dict(sorted(files.items()))


def _render(alert: AlertRecord, covered: Covered) -> str:
    ctx, rules, page = covered.ctx, covered.rules, alert.runbook
    services = list(dict.fromkeys(a.service for a in rules))
    severity = "/".join(dict.fromkeys(a.severity for a in rules))
    group = f"{ctx.name}-{rules[0].concern}"
    watched = [a.service for a in rules if ctx.system.service(a.service) is not None]
    svc = [f"SVC={watched[0]}   # the alert's service label: " + ", ".join(dict.fromkeys(watched))] if watched else []
    page_lines = [
        f"# {alert.name}",
        "",
        f"**Severity** {severity} · **Rule group** `{group}` · **Covers** " + ", ".join(f"`{s}`" for s in services),
        "",
        text(page.meaning, covered),
        "",
        "## Before you start",
        "",
        "```sh",
        f"NS={ctx.name}-production   # the alert's environment label: "
        + ", ".join(f"{ctx.name}-{env.name}" for env in ctx.environments),
        *svc,
        f"kubectl -n {PROMETHEUS_NAMESPACE} port-forward svc/{PROMETHEUS_SERVICE} 9090 >/dev/null &",
        'q() { promtool query instant http://localhost:9090 "$1"; }   # or paste the PromQL into the Prometheus UI',
        "```",
        "",
        "SQL runs in the service's own database as its owner: `psql -h <postgres host> -U <user> -d <database>` "
        "(credentials in the service's secret). In dev the database runs in the cluster: "
        f"`kubectl -n $NS exec -it postgres-0 -- psql -U {APP_USER} -d <database>` (the dev server's user).",
        "",
        "## Symptoms",
        "",
        *lines(page.symptoms, covered),
        "",
        "## Impact",
        "",
        *lines(page.impact, covered),
        "",
        "## Diagnosis",
        "",
        *lines(page.diagnosis, covered),
        "",
        "## Remediation",
        "",
        *lines(page.remediation, covered),
        "",
        "## Rollback",
        "",
        *lines(page.rollback, covered),
        "",
        "## Escalation",
        "",
        *lines(page.escalation, covered),
    ]
    return "\n".join(_squash(page_lines)).rstrip("\n") + "\n"


def _squash(page_lines: list[str]) -> list[str]:
    """No double blank lines."""
    out: list[str] = []
    for line in page_lines:
        if line == "" and out and out[-1] == "":
            continue
        out.append(line)
    return out


def _index(ctx: KitContext, pages: dict[str, tuple[AlertRecord, Covered]]) -> str:
    out = [
        "# Runbooks",
        "",
        f"One page per alert of `observability/prometheus/alerts.yaml` for {ctx.name}; each alert's `runbook_url` "
        "points here. Every page: Symptoms, Impact, Diagnosis (PromQL and SQL against the service's own tables), "
        "Remediation, Rollback, Escalation.",
        "",
        "| alert | severity | covers | summary |",
        "|---|---|---|---|",
    ]
    for name, (alert, covered) in pages.items():
        services, severity = table_cells(list(covered.rules))
        summary = text(alert.runbook.meaning, covered).split(": ")[0].split(". ")[0].rstrip(".")
        out.append(f"| [{name}]({name}.md) | {severity} | {services} | {summary} |")
    out += [
        "",
        "Conventions: `NS` is the namespace of the alert's `environment` label; `q '<PromQL>'` runs a query with "
        "`promtool query instant`; SQL runs in the service's database. Commands that change state are marked in "
        "each page's Remediation section; run Diagnosis first.",
    ]
    return "\n".join(out) + "\n"
