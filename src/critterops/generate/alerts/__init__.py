"""The kit's alerts: one record per alert, listed here, from which every alert file is rendered.

Each module holds the records of one concern (its rule group), each record everything about one
alert: name, severity, ``for:``, the rule it writes for each service it applies to (expression,
annotations, promtool test cases) and its runbook sections (see :mod:`.record`). Adding an alert
means writing one record and listing it in :data:`RECORDS`; :mod:`critterops.generate.rules`
renders the rules file, the PrometheusRule and the promtool tests, :mod:`critterops.generate.runbooks`
the runbook pages, and :mod:`critterops.generate.observability` the README's alert table.

Limits come from the policy (``thresholds_for(service)``) and metric names from the policy's
``metrics`` section, falling back to :mod:`critterops.metrics`; saga states and their limits from
:mod:`critterops.model.sagas`, which the exporter and ``critterops status`` share.
"""

from __future__ import annotations

from typing import Final

from critterops.generate.alerts import exporter, handlers, http, nodes, projections, rabbitmq, sagas, storage
from critterops.generate.alerts.record import CONCERNS, Alert, AlertRecord
from critterops.generate.context import KitContext

__all__ = ["CONCERNS", "RECORDS", "Alert", "AlertRecord", "alerts", "record", "table_cells"]

RECORDS: Final[tuple[AlertRecord, ...]] = (
    *projections.RECORDS,
    *storage.RECORDS,
    *handlers.RECORDS,
    *nodes.RECORDS,
    *sagas.RECORDS,
    *rabbitmq.RECORDS,
    *http.RECORDS,
    *exporter.RECORDS,
)
"""Every alert the kit knows, in the order of the rule groups and, within a group, of its rules."""


def alerts(ctx: KitContext, records: tuple[AlertRecord, ...] = RECORDS) -> list[Alert]:
    """Every alerting rule for the system: by concern, then per service (in name order) the rules of
    each record that applies to it, then the system-wide ones (broker, exporter). Deterministic."""
    found: list[Alert] = []
    for concern in CONCERNS:
        of_concern = [r for r in records if r.concern == concern]
        for service in ctx.deployable():
            for alert in of_concern:
                if alert.per_service is not None:
                    found += alert.alerts(ctx, alert.per_service(ctx, service))
        for alert in of_concern:
            if alert.per_system is not None:
                found += alert.alerts(ctx, alert.per_system(ctx))
    return found


def record(name: str, records: tuple[AlertRecord, ...] = RECORDS) -> AlertRecord:
    """The record of an alert, by name."""
    found = next((r for r in records if r.name == name), None)
    if found is None:
        raise KeyError(f"no alert record named {name}")
    return found


def table_cells(rules: list[Alert]) -> tuple[str, str]:
    """The services (as code) and severities of one alert's rules, for the READMEs' alert tables."""
    services = ", ".join(dict.fromkeys(f"`{a.service}`" for a in rules))
    return services, "/".join(dict.fromkeys(a.severity for a in rules))
