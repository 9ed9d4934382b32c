"""The plan's gates between phases, read from Prometheus: a projection caught up, an outbox drained.

A gate is ``{"query": PromQL, "condition": "<= 1000", ...}`` as the planner writes it
(critterops.plan.planner). It holds when the query's value meets the condition; an empty result is
not a pass (no exporter, no data) and is waited for like a value that does not hold yet.
"""

from __future__ import annotations

import json
import operator
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}


def instant(prometheus: str, promql: str, timeout: float = 5.0) -> float | None:
    """The sum of an instant query's vector; None when it is empty. Raises OSError/ValueError when unreadable."""
    url = f"{prometheus.rstrip('/')}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        payload = json.loads(response.read().decode("utf-8"))
    if payload.get("status") != "success":
        raise ValueError(str(payload.get("error", payload)))
    result = payload["data"]["result"]
    if payload["data"]["resultType"] == "scalar":
        return float(result[1])
    values = [float(item["value"][1]) for item in result]
    return sum(values) if values else None


def holds(condition: str, value: float) -> bool:
    op, _, number = condition.strip().partition(" ")
    if op not in _OPS:
        raise ValueError(f"gate condition {condition!r}: expected '<op> <number>'")
    return _OPS[op](value, float(number))


def wait_for_gate(
    prometheus: str, gate: Mapping[str, Any], timeout_s: float, note: Callable[[str], None], every_s: float = 5.0
) -> str:
    """Wait until the gate holds (→ "") or the time is up (→ why)."""
    deadline = time.monotonic() + timeout_s
    last = "no data yet"
    while True:
        try:
            value = instant(prometheus, str(gate["query"]))
            if value is not None and holds(str(gate["condition"]), value):
                note(f"  gate {gate['name']}: holds ({value:g} {gate['condition']})")
                return ""
            last = (
                "no data (is the critterops exporter running?)"
                if value is None
                else f"{value:g}, needs {gate['condition']}"
            )
        except (OSError, ValueError, KeyError, urllib.error.URLError) as error:
            last = f"Prometheus at {prometheus} unreadable: {error}"
        note(f"  gate {gate['name']}: waiting — {last}")
        if time.monotonic() >= deadline:
            return f"did not hold within {timeout_s:.0f} s ({last})"
        time.sleep(every_s)
