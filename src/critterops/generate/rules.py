"""Prometheus files from the alert list: the rules file, the PrometheusRule and promtool's unit tests.

Each rule's test data comes with its alert record (a firing and a quiet case); this module groups
the rules by concern, buckets tests that can share input, and writes the annotations Prometheus
would expand (the subset of its template functions the rules use, ported below).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from critterops.generate.alerts.record import CONCERNS, Alert, Case
from critterops.generate.context import KitContext


def rule_groups(ctx: KitContext, found: list[Alert]) -> list[dict[str, Any]]:
    """One rule group per concern that has rules, named ``<system>-<concern>``."""
    groups: list[dict[str, Any]] = []
    for concern in CONCERNS:
        rules = [a.rule() for a in found if a.concern == concern]
        if rules:
            groups.append({"name": f"{ctx.name}-{concern}", "rules": rules})
    return groups


def prometheus_rule(ctx: KitContext, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The same groups as a Prometheus Operator ``PrometheusRule``."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": f"{ctx.name}-alerts",
            "labels": {
                "app.kubernetes.io/name": "critterops-alerts",
                "app.kubernetes.io/part-of": ctx.name,
                "app.kubernetes.io/managed-by": "critterops",
            },
        },
        "spec": {"groups": groups},
    }


def _test_buckets(found: list[Alert]) -> list[list[Alert]]:
    """Rules tested together: same name and timing, and fixtures that cannot trigger each other.

    ``promtool test rules`` evaluates every rule of the file at every step of every test, so one
    test per rule grows quadratically (CritterSupply: 156 rules); rules of one alert for different
    services share a test instead.
    """
    buckets: list[list[Alert]] = []
    for alert in found:
        timing = (alert.name, alert.for_, alert.firing.at, alert.quiet.at, alert.pending_at)
        for bucket in buckets:
            first = bucket[0]
            if (first.name, first.for_, first.firing.at, first.quiet.at, first.pending_at) == timing and all(
                not set(alert.keys()) & set(other.keys()) for other in bucket
            ):
                bucket.append(alert)
                break
        else:
            buckets.append([alert])
    return buckets


def _expected(alert: Alert, case: Case) -> dict[str, Any]:
    assert case.value is not None
    labels = dict(case.labels)
    return {
        "exp_labels": {**labels, **alert.rule_labels()},
        "exp_annotations": {
            "summary": expand(alert.summary, labels, case.value),
            "description": expand(alert.description, labels, case.value),
            "runbook_url": alert.runbook_url,
        },
    }


def rule_tests(found: list[Alert]) -> dict[str, Any]:
    """``promtool test rules`` input: every rule fires on its firing case (pending first, when it has a
    ``for:``) and stays quiet on its quiet case."""
    tests: list[dict[str, Any]] = []
    for bucket in _test_buckets(found):
        first = bucket[0]
        scope = ", ".join(dict.fromkeys(" ".join(p for p in (a.service, a.subject) if p) for a in bucket))
        if len(scope) > 80:
            scope = f"{len(bucket)} rules"
        for kind, cases in (("fires", [a.firing for a in bucket]), ("stays quiet", [a.quiet for a in bucket])):
            checks: list[dict[str, Any]] = []
            firing = cases[0].value is not None
            if firing and first.pending_at is not None:
                checks.append({"eval_time": first.pending_at, "alertname": first.name, "exp_alerts": []})
            expected = [_expected(a, c) for a, c in zip(bucket, cases, strict=True) if c.value is not None]
            checks.append({"eval_time": cases[0].at, "alertname": first.name, "exp_alerts": expected})
            tests.append(
                {
                    "name": f"{first.name} {kind} ({scope})",
                    "interval": "1m",
                    "input_series": [{"series": s.series, "values": s.values} for c in cases for s in c.samples],
                    "alert_rule_test": checks,
                }
            )
    return {"rule_files": ["alerts.yaml"], "evaluation_interval": "1m", "tests": tests}


_SERIES_LINE = re.compile(r"^( *)- series: (.+)$")


def fold_series(text: str, limit: int = 150) -> str:
    """Fold over-long ``- series:`` lines of a promtool test file after a label's closing quote.

    YAML folds the line break of a plain scalar into a space, and promtool's series parser accepts
    ``{a="1", b="2"}``, so the value stays the same series while the file passes yamllint.
    """
    out: list[str] = []
    for line in text.split("\n"):
        match = _SERIES_LINE.match(line)
        if match is None or len(line) <= limit:
            out.append(line)
            continue
        indent = match.group(1) + "    "
        pieces = re.split(r'(?<=",)', match.group(2))
        current = f"{match.group(1)}- series: {pieces[0]}"
        for piece in pieces[1:]:
            if len(current) + len(piece) > limit:
                out.append(current)
                current = indent + piece
            else:
                current += piece
        out.append(current)
    return "\n".join(out)


# -- Prometheus template functions, for the expected annotations in the unit tests ------------------------------


def _go_g(value: float) -> str:
    text = f"{value:.4g}"
    return text


def humanize(value: float) -> str:
    if value == 0 or abs(value) < 1:
        return _go_g(value)
    prefix = ""
    for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
        if abs(value) < 1000:
            break
        prefix = p
        value /= 1000
    return f"{_go_g(value)}{prefix}"


def humanize_duration(value: float) -> str:
    if value == 0:
        return f"{_go_g(value)}s"
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        v = int(abs(value))
        seconds, minutes, hours, days = v % 60, (v // 60) % 60, (v // 3600) % 24, v // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_go_g(abs(value))}s"
    return f"{_go_g(value * 1000)}ms"


def humanize_percentage(value: float) -> str:
    return f"{_go_g(value * 100)}%"


_TEMPLATE = re.compile(r"\{\{\s*\$(?:labels\.(\w+)|(value))(?:\s*\|\s*(\w+))?\s*\}\}")
_FORMATS = {"humanize": humanize, "humanizeDuration": humanize_duration, "humanizePercentage": humanize_percentage}


def expand(template: str, labels: Mapping[str, str], value: float) -> str:
    """What Prometheus makes of an annotation template (the subset the generated rules use)."""

    def one(match: re.Match[str]) -> str:
        label, _, fn = match.groups()
        if label:
            return labels.get(label, "")
        return _FORMATS[fn](value) if fn else f"{value:g}"

    return _TEMPLATE.sub(one, template)
