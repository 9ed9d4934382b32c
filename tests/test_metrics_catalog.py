"""The metric catalog: valid, unique, consistently named, and the only names generated queries use."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from critterops import metrics
from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate.alerts import alerts
from critterops.generate.context import KitContext, system_name
from critterops.metrics import CATALOG, EXPORTER_METRICS, PREFIXES, SERIES, metric_names, spec, uncatalogued
from critterops.plan.policy import Metrics, default_policy

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))
NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def test_names_and_labels_are_valid_prometheus_identifiers() -> None:
    for entry in CATALOG:
        assert NAME.fullmatch(entry.name), entry.name
        assert ":" not in entry.name, "colons are for recording rules"
        for label in entry.labels:
            assert LABEL.fullmatch(label) and not label.startswith("__"), (entry.name, label)
        assert len(set(entry.labels)) == len(entry.labels), entry.name
        assert entry.help and entry.help.endswith("."), entry.name


def test_names_and_series_are_unique() -> None:
    names = [entry.name for entry in CATALOG]
    assert len(names) == len(set(names))
    series = [name for entry in CATALOG for name in entry.series()]
    assert len(series) == len(set(series)) == len(SERIES)


def test_prefixes_follow_the_source() -> None:
    assert {entry.source for entry in CATALOG} <= set(PREFIXES)
    for entry in CATALOG:
        assert entry.name.startswith(PREFIXES[entry.source]), (entry.source, entry.name)
    assert EXPORTER_METRICS and all(m.name.startswith("critterops_") for m in EXPORTER_METRICS)
    assert not [m for m in CATALOG if m.name.startswith("critterops_") and m.source != "critterops-exporter"]


def test_suffixes_follow_the_type_and_unit() -> None:
    for entry in CATALOG:
        if entry.type == "counter":
            assert entry.name.endswith("_total"), entry.name
        else:
            assert not entry.name.endswith("_total"), entry.name
        if entry.type == "histogram":
            assert not entry.name.endswith(("_bucket", "_count", "_sum")), "histograms are named by their base"
            assert spec(f"{entry.name}_bucket") is entry
        if entry.name.endswith("_seconds"):
            assert "second" in entry.help.lower(), f"{entry.name}: say the unit in help"
        if entry.name.endswith("_milliseconds"):
            assert "millisecond" in entry.help.lower(), entry.name


def test_exporter_metrics_say_where_they_come_from() -> None:
    per_service = [m for m in EXPORTER_METRICS if "service" in m.labels]
    assert all("bounded_context" in m.labels for m in per_service), "every per-service series names its context"
    stores = [m for m in per_service if "queue" not in m.labels]
    assert all(m.labels[0] == "service" for m in stores), "service first, like the planner's queries"
    tables = ("mt_event_progression", "mt_events_sequence", "wolverine_", "mt_doc_", "management API", "exporter")
    for entry in EXPORTER_METRICS:
        assert any(t in entry.help for t in tables), f"{entry.name}: name the table or API it reads"
    required = {
        "critterops_projection_lag_events": ("service", "bounded_context", "schema", "projection"),
        "critterops_projection_high_water_mark": ("service", "bounded_context", "schema"),
        "critterops_dead_letters": ("service", "bounded_context", "schema", "message_type", "exception_type"),
        "critterops_inbox_pending": ("service", "bounded_context", "schema", "status", "owner"),
        "critterops_outbox_pending": ("service", "bounded_context", "schema", "destination", "owner"),
        "critterops_saga_instances": ("service", "bounded_context", "saga", "state"),
        "critterops_saga_oldest_in_state_seconds": ("service", "bounded_context", "saga", "state"),
        "critterops_node_heartbeat_age_seconds": ("service", "bounded_context", "schema", "node"),
        "critterops_queue_messages": ("vhost", "queue", "service", "bounded_context"),
        "critterops_queue_consumers": ("vhost", "queue", "service", "bounded_context"),
        "critterops_up": ("target",),
        "critterops_scrape_errors_total": ("target",),
    }
    for name, labels in required.items():
        assert spec(name).labels == labels, name


def test_the_policys_default_metric_names_are_catalogued() -> None:
    for field in dataclasses.fields(Metrics):
        name = getattr(Metrics(), field.name)
        assert name in SERIES, f"policy metrics.{field.name} = {name} is not in the catalog"
    assert spec("critterops_projection_lag_events").source == "critterops-exporter"
    assert spec("http_server_request_duration_seconds_count").source == "aspnetcore"
    with pytest.raises(KeyError, match="not in the critterops metric catalog"):
        spec("wolverine_messages_handled_total")


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (job) (rate(a_total{job="x",le=~"0.5|1"}[5m]))', {"a_total"}),
        ("histogram_quantile(0.95, sum by (le) (rate(b_bucket[$__rate_interval]))) * 1000 > 500", {"b_bucket"}),
        ("x > 0\nand on (service, schema) max by (service) (changes(y[10m])) == 0", {"x", "y"}),
        ('up{job="critterops-exporter"} == 0 or absent(z) offset 5m', {"up", "z"}),
        ("sum(c) / clamp_min(sum(d) + sum(c), 1e-9) > bool 0.02", {"c", "d"}),
        ('m{state!~"Completed|Closed",\n  state!~"Done"} unless ignoring (instance) n', {"m", "n"}),
    ],
)
def test_metric_names_in_promql(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def _context(root: Path) -> KitContext:
    system = discover(root)
    return KitContext(system, default_policy(), name=system_name(system), registry="r", tag="t")


@pytest.mark.parametrize(
    "which",
    [
        "example",
        pytest.param(
            "crittersupply",
            marks=pytest.mark.skipif(
                not CRITTERSUPPLY.is_dir(), reason=f"CritterSupply clone missing at {CRITTERSUPPLY}"
            ),
        ),
    ],
)
def test_every_alert_queries_only_catalogued_metrics(which: str) -> None:
    found = alerts(_context(example_path() if which == "example" else CRITTERSUPPLY))
    assert found
    used: set[str] = set()
    for alert in found:
        names = metric_names(alert.expr)
        assert names, f"{alert.name}: no metric found in {alert.expr!r}"
        assert not uncatalogued(alert.expr), (alert.name, uncatalogued(alert.expr))
        used |= names
        for sample in (*alert.firing.samples, *alert.quiet.samples):
            assert sample.series.split("{", 1)[0] in SERIES, (alert.name, sample.series)
    # every exporter metric an alert relies on is one the exporter is specified to expose
    assert {n for n in used if n.startswith("critterops_")} <= {m.name for m in EXPORTER_METRICS}
    assert {metrics.PROJECTION_LAG, metrics.OUTBOX_PENDING, metrics.SAGA_OLDEST_IN_STATE} <= used


@pytest.mark.parametrize(
    ("name", "kind", "unit", "expected"),
    [
        # confirmed by running prometheus/otlptranslator v1.0.0 with the collector exporter's defaults
        pytest.param(
            "wolverine-messages-succeeded",
            "counter",
            "Messages",
            "wolverine_messages_succeeded_Messages_total",
            id="unknown-unit-kept-verbatim",
        ),
        pytest.param(
            "wolverine-execution-time",
            "histogram",
            "Milliseconds",
            "wolverine_execution_time_Milliseconds",
            id="histogram-unit-not-mapped",
        ),
        pytest.param("wolverine-inbox-count", "gauge", "Messages", "wolverine_inbox_count_Messages", id="gauge"),
        pytest.param(
            "http.server.request.duration", "histogram", "s", "http_server_request_duration_seconds", id="ucum-seconds"
        ),
        pytest.param("x.counter", "counter", "{message}", "x_counter_total", id="braces-dropped"),
        pytest.param("x.time", "histogram", "ms", "x_time_milliseconds", id="ucum-ms"),
        pytest.param("x.count", "counter", "1", "x_count_total", id="counter-of-one-no-ratio"),
        pytest.param("x.rate", "gauge", "By/s", "x_rate_bytes_per_second", id="per-unit"),
        pytest.param("x.usage", "gauge", "1", "x_usage_ratio", id="gauge-ratio"),
        pytest.param("requests.total", "counter", "", "requests_total", id="total-moved-last"),
        pytest.param("latency.seconds", "histogram", "s", "latency_seconds", id="unit-already-in-name"),
        pytest.param(
            "x.queued", "gauge", " Messages ", "x_queued_Messages", id="unit-trimmed-as-buildUnitSuffixes-does"
        ),
    ],
)
def test_prometheus_names_follow_the_collectors_translation(name: str, kind: str, unit: str, expected: str) -> None:
    assert metrics.prometheus_name(metrics.Instrument(name, kind, unit, (), "")) == expected  # type: ignore[arg-type]


def test_wolverine_names_are_derived_from_the_declared_instruments() -> None:
    assert metrics.WOLVERINE_FAILURES == "wolverine_execution_failure_Messages_total"
    assert metrics.WOLVERINE_DEAD_LETTERED == "wolverine_dead_letter_queue_Messages_total"
    assert all(i.declared for i in metrics.INSTRUMENTS.values())
