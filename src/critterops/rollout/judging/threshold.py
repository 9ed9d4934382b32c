"""Absolute per-look limits on the canary, with Argo Rollouts' counting rules.

Each look is one measurement of the canary alone (stable is not read):

- no canary requests: *inconclusive* (Argo's empty result; Flagger's "no values found");
- requests but no latency while a latency limit is set: an *error* (the measurement failed);
- success rate ``1 - errors/requests`` below ``min_success_rate``, or latency (p99 when known,
  else the mean) above ``max_latency_ms``: *failed*;
- otherwise *successful*.

After every look, in this order: ``FAIL`` when failed looks > ``failure_limit`` (Argo: "fails when
failed > limit"; -1 never fails); ``INCONCLUSIVE`` when consecutive errors >
``consecutive_error_limit`` or inconclusive looks > ``inconclusive_limit`` (a pause for a human);
``PASS`` once ``count`` looks succeeded; else ``CONTINUE``. Defaults are Argo's
(``consecutiveErrorLimit`` 4, ``inconclusiveLimit`` 0) and Flagger's built-in checks (99 % success,
p99 500 ms). Two differences from Argo: ``count`` counts *successful* looks, and a run of
measurement errors pauses instead of aborting, because a broken query is no evidence against the
canary (there is no ``ERROR`` verdict).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from critterops.rollout.judging import settings as check
from critterops.rollout.judging.types import Decision, Look, Verdict, check_looks, finite, no_looks, pct


@dataclass(frozen=True, slots=True)
class ThresholdSettings:
    min_success_rate: float = 0.99
    max_latency_ms: float | None = 500.0
    failure_limit: int = 1
    consecutive_error_limit: int = 4
    inconclusive_limit: int = 0
    count: int = 10

    def __post_init__(self) -> None:
        check.number("min_success_rate", self.min_success_rate, low=0, high=1)
        if self.max_latency_ms is not None:
            check.number("max_latency_ms", self.max_latency_ms, low=0, open_low=True)
        check.integer("failure_limit", self.failure_limit, low=-1)
        check.integer("consecutive_error_limit", self.consecutive_error_limit, low=0)
        check.integer("inconclusive_limit", self.inconclusive_limit, low=0)
        check.integer("count", self.count, low=1)


class ThresholdJudge:
    """Argo Rollouts / Flagger style: absolute limits per look, counted."""

    name: str

    def __init__(self, settings: ThresholdSettings | None = None) -> None:
        self.settings = settings or ThresholdSettings()
        self.name = "threshold"

    def _measure(self, look: Look) -> tuple[str, str, float, float]:
        """The look's outcome (successful, failed, error, inconclusive), a phrase, success rate, latency."""
        s = self.settings
        canary = look.canary
        if canary.requests == 0:
            return "inconclusive", "no canary requests", math.nan, math.nan
        success = 1.0 - canary.errors / canary.requests
        latency = canary.p99_ms if canary.p99_ms is not None else canary.latency_ms
        kind = "p99" if canary.p99_ms is not None else "mean latency"
        rate = f"success rate {pct(success)} ({canary.errors}/{canary.requests} errors)"
        if s.max_latency_ms is not None and (latency is None or math.isnan(latency)):
            return "error", f"{rate} but no latency measured", success, math.nan
        lat = math.nan if latency is None else float(latency)
        problems = []
        if success < s.min_success_rate:
            problems.append(f"{rate} < {pct(s.min_success_rate)}")
        if s.max_latency_ms is not None and lat > s.max_latency_ms:
            problems.append(f"{kind} {lat:.0f} ms > {s.max_latency_ms:g} ms")
        if problems:
            return "failed", " and ".join(problems), success, lat
        within = f"{rate} ≥ {pct(s.min_success_rate)}"
        if s.max_latency_ms is not None:
            within += f", {kind} {lat:.0f} ms ≤ {s.max_latency_ms:g} ms"
        return "successful", within, success, lat

    def decide(self, looks: Sequence[Look]) -> Decision:
        check_looks(looks)
        if not looks:
            return no_looks(self.name)
        s = self.settings
        tally = {"successful": 0, "failed": 0, "error": 0, "inconclusive": 0}
        consecutive_errors = 0
        decision: Decision | None = None
        for index, look in enumerate(looks, start=1):
            outcome, phrase, success, latency = self._measure(look)
            tally[outcome] += 1
            consecutive_errors = consecutive_errors + 1 if outcome == "error" else 0
            details = finite(
                {
                    "t": look.t,
                    "look": float(index),
                    "success_rate": success,
                    "latency_ms": latency,
                    **{key: float(value) for key, value in tally.items()},
                }
            )
            counts = (
                f"{tally['successful']}/{s.count} successful, {tally['failed']} failed "
                f"(limit {s.failure_limit}), {tally['inconclusive']} inconclusive"
            )
            if s.failure_limit >= 0 and tally["failed"] > s.failure_limit:
                reason = f"{tally['failed']} failed looks > failure limit {s.failure_limit}; look {index}: {phrase}."
                return Decision(Verdict.FAIL, reason, details=details)
            if consecutive_errors > s.consecutive_error_limit:
                reason = (
                    f"{consecutive_errors} consecutive measurement errors > limit {s.consecutive_error_limit}; "
                    f"look {index}: {phrase}."
                )
                return Decision(Verdict.INCONCLUSIVE, reason, details=details)
            if tally["inconclusive"] > s.inconclusive_limit:
                reason = (
                    f"{tally['inconclusive']} inconclusive looks > inconclusive limit {s.inconclusive_limit}; "
                    f"look {index}: {phrase}."
                )
                return Decision(Verdict.INCONCLUSIVE, reason, details=details)
            if tally["successful"] >= s.count:
                return Decision(Verdict.PASS, f"Look {index}: {phrase}; {counts}.", details=details)
            decision = Decision(Verdict.CONTINUE, f"Look {index}: {phrase}; {counts}.", details=details)
        assert decision is not None
        return decision
