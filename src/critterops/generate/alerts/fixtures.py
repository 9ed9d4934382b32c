"""promtool test data: the series each rule's firing and quiet cases feed it.

Series carry the labels the scrape configuration and the exporter give them, so a rule that
aggregates or matches the wrong label fails its own test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from critterops.generate.promql import escape
from critterops.model import Service

FIXTURE_ENV: Final = {"environment": "production"}
"""The scrape configuration's label on every test series: the rules must keep it."""


def exporter_labels() -> dict[str, str]:
    """Target labels Prometheus adds to the exporter's series. Left out of most fixtures (the rules
    aggregate them away) to keep the test file within yamllint's line length."""
    return {}


def app_labels(service: Service) -> dict[str, str]:
    """The labels of a service's own series (the collector sets ``job`` from ``service.name``)."""
    return {**FIXTURE_ENV, "job": service.name}


def sel(metric: str, *label_sets: Mapping[str, str]) -> str:
    """A test series, ``metric{a="1",b="2"}``, from label sets merged in order."""
    merged: dict[str, str] = {}
    for labels in label_sets:
        merged.update(labels)
    inner = ",".join(f'{k}="{escape(v)}"' for k, v in merged.items())
    return f"{metric}{{{inner}}}"


def items(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The labels an expected alert carries, as a :class:`~critterops.generate.alerts.record.Case` holds them."""
    return tuple(labels.items())


def shares(limit: float) -> tuple[int, int]:
    """Failures per 100 that break a share limit (0..1), and that stay within it."""
    return min(int(limit * 100) + 4, 99), int(limit * 100 / 2)
