"""critterops exporter: down, or failing to read one of its targets.

Every ``critterops_*`` series comes from the exporter, so when it is down or cannot read a database
the projection, storage, node, saga and queue alerts are blind; these two say so.
"""

from __future__ import annotations

from critterops import metrics as m
from critterops.generate.alerts.fixtures import FIXTURE_ENV, items, sel
from critterops.generate.alerts.record import AlertRecord, Case, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import queries, sh
from critterops.generate.collector import EXPORTER_JOB, EXPORTER_PORT
from critterops.generate.context import KitContext
from critterops.generate.promql import wrap

TARGET = {**FIXTURE_ENV, "job": EXPORTER_JOB, "instance": f"{EXPORTER_JOB}:{EXPORTER_PORT}"}
"""The labels of the exporter's scrape target in the test series."""


# -- CritteropsExporterDown -------------------------------------------------------------------------------------


def _down_rule(ctx: KitContext) -> list[Rule]:
    return [
        Rule(
            EXPORTER_JOB,
            f'{m.UP}{{job="{EXPORTER_JOB}"}} == 0',
            "critterops-exporter is down",
            wrap(
                "Prometheus cannot scrape critterops-exporter: projection, outbox, dead-letter, saga and queue "
                "alerts are blind until it is back."
            ),
            Case((Sample(sel(m.UP, TARGET), "0x30"),), "10m", items(TARGET), 0),
            Case((Sample(sel(m.UP, TARGET), "1x30"),), "10m"),
        )
    ]


DOWN = AlertRecord(
    name="CritteropsExporterDown",
    concern="exporter",
    severity="warning",
    for_="5m",
    pending_at="2m",
    per_system=_down_rule,
    runbook=Runbook(
        meaning=f"Prometheus cannot scrape `{EXPORTER_JOB}` for 5 minutes.",
        symptoms=(f'- `up{{job="{EXPORTER_JOB}"}} == 0`; every `critterops_*` series is stale.',),
        impact=(
            "- Projection, outbox, inbox, dead-letter, saga, node and queue alerts cannot fire: the system is "
            "unwatched for those failures. Blue/green gates that read `critterops_*` metrics fail.",
        ),
        diagnosis=tuple(
            sh(
                f"kubectl -n $NS get pods -l app.kubernetes.io/name={EXPORTER_JOB}",
                f"kubectl -n $NS logs -l app.kubernetes.io/name={EXPORTER_JOB} --since=30m | tail -50",
                f"kubectl -n $NS port-forward svc/{EXPORTER_JOB} {EXPORTER_PORT} >/dev/null &",
                f"curl -s localhost:{EXPORTER_PORT}/metrics | grep -v '^#' | head -40",
            )
        ),
        remediation=(
            "- Crash-looping: read the logs (bad configuration, missing credentials for a database).",
            "- Running but slow: a scrape longer than the timeout (20 s) counts as down; see "
            f"`{m.SCRAPE_DURATION}` per target and fix the slow database.",
            f"- Restart: `kubectl -n $NS rollout restart deployment/{EXPORTER_JOB}`.",
        ),
        rollback=("No application rollback: roll back the exporter's own deployment if a new version broke it.",),
        escalation=("- Whoever runs the monitoring stack; not a customer-facing emergency by itself.",),
    ),
)


# -- CritteropsExporterScrapeErrors -----------------------------------------------------------------------------


def _errors_rule(ctx: KitContext) -> list[Rule]:
    errors = {**FIXTURE_ENV, "target": "rabbitmq"}
    return [
        Rule(
            EXPORTER_JOB,
            f"sum by (environment, target) (increase({m.SCRAPE_ERRORS}[10m])) > 2",
            "critterops-exporter cannot read {{ $labels.target }}",
            wrap(
                "{{ $value | humanize }} reads of {{ $labels.target }} failed in the last 10 minutes (connection, "
                "credentials or a missing table): the metrics from it are stale or missing."
            ),
            Case((Sample(sel(m.SCRAPE_ERRORS, errors, TARGET), "0+1x30"),), "20m", items(errors), 10),
            Case((Sample(sel(m.SCRAPE_ERRORS, errors, TARGET), "5x30"),), "20m"),
        )
    ]


SCRAPE_ERRORS = AlertRecord(
    name="CritteropsExporterScrapeErrors",
    concern="exporter",
    severity="warning",
    for_="5m",
    pending_at="3m",
    per_system=_errors_rule,
    runbook=Runbook(
        meaning="critterops-exporter failed to read one of its targets (a service's database, or RabbitMQ) more than "
        "twice in 10 minutes.",
        symptoms=(
            "- The target's metrics are stale or missing: for `postgres:<service>` its projection, envelope, "
            "dead-letter, node and saga metrics; for `rabbitmq` the queue metrics.",
        ),
        impact=("- Alerts on the missing metrics cannot fire.",),
        diagnosis=(
            *queries(
                f"sum by (target) (increase({m.SCRAPE_ERRORS}[10m]))",
                f"max by (target) ({m.SCRAPE_DURATION})",
            ),
            *sh(
                f"kubectl -n $NS logs -l app.kubernetes.io/name={EXPORTER_JOB} --since=30m"
                " | grep -iE 'error|fail' | tail -30"
            ),
        ),
        remediation=(
            "- **Authentication failed**: credentials rotated; update the exporter's secret and restart it.",
            "- **Relation does not exist**: the service has not created its tables yet (first deploy) or uses another "
            "schema; check the exporter's configuration against the service's schema.",
            "- **Timeouts**: the database is overloaded (the exporter's queries are small); see the database's "
            "own monitoring.",
        ),
        rollback=("No application rollback.",),
        escalation=("- Whoever runs the monitoring stack; the database owner for database-side errors.",),
    ),
)

RECORDS = (DOWN, SCRAPE_ERRORS)
