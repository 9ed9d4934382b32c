"""The /metrics text: valid for promtool, HELP and TYPE from the catalog, labels escaped."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from critterops import metrics as m
from critterops.watch.exposition import render
from critterops.watch.promtext import parse
from critterops.watch.samples import sample


def _samples() -> list:
    return [
        sample(
            m.PROJECTION_LAG,
            42,
            service="inventory-api",
            bounded_context="Inventory",
            schema="inventory",
            projection="Inventory.Management.AlertFeedViewProjection:All",
        ),
        sample(
            m.DEAD_LETTERS,
            3,
            service="orders-api",
            bounded_context="Orders",
            schema="orders",
            message_type='Orders.Weird"Name\\With\nEscapes',
            exception_type="System.InvalidOperationException",
        ),
        sample(m.QUEUE_MESSAGES, 7, vhost="/", queue="orders-placed"),  # no owner: labels left out
        sample(m.SCRAPE_ERRORS, 2, target="rabbitmq"),
        sample(m.SOURCE_UP, 1, target="postgres:orders"),
        sample(
            m.PROJECTION_OLDEST_UNPROCESSED,
            0.25,
            service="inventory-api",
            bounded_context="Inventory",
            schema="inventory",
            projection="StockLevelView:All",
        ),
    ]


def test_promtool_accepts_the_output(tmp_path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    text = render(_samples())
    done = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_each_family_once_with_help_and_type_from_the_catalog() -> None:
    text = render(_samples() + _samples())  # duplicates collapse
    for spec_name in {m.PROJECTION_LAG, m.DEAD_LETTERS, m.QUEUE_MESSAGES, m.SCRAPE_ERRORS}:
        spec = m.spec(spec_name)
        assert text.count(f"# TYPE {spec_name} {spec.type}\n") == 1
        assert f"# HELP {spec_name} " in text
    assert [line.startswith("critterops_queue_messages{") for line in text.splitlines()].count(True) == 1
    assert 'critterops_queue_messages{vhost="/",queue="orders-placed"} 7\n' in text
    assert "critterops_projection_oldest_unprocessed_seconds{" in text and "} 0.25\n" in text


def test_label_values_round_trip_through_a_prometheus_parser() -> None:
    parsed = {(s.name, s.labels.get("message_type")): s.value for s in parse(render(_samples())).samples}
    assert parsed[(m.DEAD_LETTERS, 'Orders.Weird"Name\\With\nEscapes')] == 3


def test_unknown_labels_are_a_bug_not_a_silent_series() -> None:
    with pytest.raises(ValueError, match="no label"):
        sample(m.QUEUE_MESSAGES, 1, vhost="/", queue="q", colour="blue")
