"""Prometheus text exposition format 0.0.4 for the ``critterops_*`` metrics.

HELP and TYPE come from the catalog, so what ``/metrics`` says a series means is what the generated
alerts and runbooks say. Label values are escaped (backslash, double quote, newline); empty label
values are left out, as Prometheus treats an empty label as an absent one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from critterops import metrics as m
from critterops.watch.samples import Sample

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_ORDER = {spec.name: i for i, spec in enumerate(m.CATALOG)}  # families in catalog order


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def render(samples: Iterable[Sample]) -> str:
    """All samples, grouped by metric in catalog order, each family once with HELP and TYPE.
    Duplicate series (same name and labels) keep the last value."""
    by_name: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for item in samples:
        by_name.setdefault(item.name, {})[item.labels] = item.value
    lines: list[str] = []
    for name in sorted(by_name, key=lambda n: (_ORDER.get(n, len(_ORDER)), n)):
        spec = m.spec(name)
        lines.append(f"# HELP {name} {escape_help(spec.help)}")
        lines.append(f"# TYPE {name} {spec.type}")
        for labels, value in sorted(by_name[name].items()):
            shown = ",".join(f'{k}="{escape_label(v)}"' for k, v in labels if v != "")
            lines.append(f"{name}{{{shown}}} {format_value(value)}" if shown else f"{name} {format_value(value)}")
    return "\n".join(lines) + "\n" if lines else ""
