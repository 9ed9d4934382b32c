"""Kayenta's NetflixACAJudge-v1.0, judged at every look on the growing window.

Per metric (the canary's and stable's per-look error rate, and per-look mean latency), as in
``MannWhitneyClassifier.scala`` and ``NetflixACAJudge.scala`` of spinnaker/kayenta:

1. NaN values are removed (``nanStrategy: remove``; a look without requests has no error rate, a
   look without a latency has none). An empty side is ``Nodata``.
2. Identical data (sorted), or a single distinct value over both sides, is ``Pass``. When each side
   is constant on its own, Gaussian noise with sd = value × 1e-5 is added (seeded, so the judge
   stays deterministic).
3. Two-sided Mann-Whitney with a 98 % confidence interval and Hodges-Lehmann estimate of the shift
   canary − stable (:mod:`.wilcoxon`). With ``tolerance`` 0.25 the band is ±0.25·|estimate|; the
   metric is ``High`` when the interval's lower end is above the band and the effect size
   ``mean(canary) / mean(stable)`` is at least ``allowed_increase`` (skipped when a mean is 0).
   Direction is ``increase`` for both metrics, so ``Low`` never happens.
4. A critical metric that is not ``Pass`` (or has no data) makes the score 0.

Score: each metric is its own group, groups weigh the same; a group scores
``100 · Pass / (Pass + High + Low + NodataFailMetric)`` and a group with none of these counts 100;
the summary is 0 when 50 % or more of the metrics are ``Nodata`` or a critical metric failed;
rounded to 2 decimals.

Over time (``/standalone_canary_analysis``): no judgment before ``min_looks``; then one per look on
all looks so far; any score ≤ ``marginal`` fails at once; at ``lifetime_looks`` the last score
decides: ≥ ``pass_score`` passes, anything lower fails. Thresholds 90/75 are Argo Rollouts'
Kayenta example (Kayenta itself has no defaults).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from critterops.rollout.judging import settings as check
from critterops.rollout.judging.types import Decision, Look, Verdict, check_looks, finite, no_looks, pct, pp
from critterops.rollout.judging.wilcoxon import wilcox_test

METRICS = ("error_rate", "latency")
_LABEL = {"error_rate": "error rate", "latency": "latency"}
_COUNTED = ("Pass", "High", "Low", "NodataFailMetric")


@dataclass(frozen=True, slots=True)
class KayentaSettings:
    pass_score: float = 90.0
    marginal: float = 75.0
    min_looks: int = 3
    lifetime_looks: int = 12
    confidence: float = 0.98
    tolerance: float = 0.25
    allowed_increase: float = 1.0
    metrics: tuple[str, ...] = METRICS
    critical: tuple[str, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        check.number("pass_score", self.pass_score, low=0, high=100)
        check.number("marginal", self.marginal, low=0, high=self.pass_score)
        check.integer("min_looks", self.min_looks, low=1)
        check.integer("lifetime_looks", self.lifetime_looks, low=self.min_looks)
        check.number("confidence", self.confidence, low=0, high=1, open_low=True, open_high=True)
        check.number("tolerance", self.tolerance, low=0)
        check.number("allowed_increase", self.allowed_increase, low=0)
        check.integer("seed", self.seed, low=0)
        for name in ("metrics", "critical"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, Sequence):
                raise ValueError(f"{name} must be a list of metric names from {', '.join(METRICS)}, got {value!r}")
            unknown = [m for m in value if m not in METRICS]
            if unknown:
                raise ValueError(
                    f"{name}: unknown metric(s) {', '.join(map(str, unknown))}; known: {', '.join(METRICS)}"
                )
            object.__setattr__(self, name, tuple(value))
        if not self.metrics:
            raise ValueError("metrics must name at least one metric")
        stray = [m for m in self.critical if m not in self.metrics]
        if stray:
            raise ValueError(f"critical metric(s) {', '.join(stray)} are not among the judged metrics")


@dataclass(frozen=True, slots=True)
class MetricResult:
    """One metric's classification in one judgment."""

    metric: str
    label: str  # Pass, High, Low, Nodata, NodataFailMetric or Error
    critical: bool
    canary_mean: float
    stable_mean: float
    estimate: float = math.nan  # Hodges-Lehmann shift canary - stable
    lower: float = math.nan
    upper: float = math.nan
    effect: float = math.nan  # mean ratio canary / stable
    note: str = ""


def classify(
    metric: str,
    canary: npt.NDArray[np.float64],
    stable: npt.NDArray[np.float64],
    settings: KayentaSettings,
    rng: np.random.Generator,
) -> MetricResult:
    """``MannWhitneyClassifier.classify`` with direction ``increase`` and ``nanStrategy: remove``."""
    critical = metric in settings.critical
    experiment = canary[~np.isnan(canary)]
    control = stable[~np.isnan(stable)]
    mean_e = float(experiment.mean()) if experiment.size else math.nan
    mean_c = float(control.mean()) if control.size else math.nan
    if experiment.size == 0 or control.size == 0:
        side = "canary" if experiment.size == 0 else "stable"
        return MetricResult(metric, "Nodata", critical, mean_e, mean_c, note=f"no {side} data")
    if np.array_equal(np.sort(experiment), np.sort(control)):
        return MetricResult(metric, "Pass", False, mean_e, mean_c, effect=1.0, note="identical data")
    if np.unique(np.concatenate([experiment, control])).size == 1:
        return MetricResult(metric, "Pass", False, mean_e, mean_c, effect=1.0, note="a single value")
    if np.unique(experiment).size == 1 and np.unique(control).size == 1:
        experiment = experiment + rng.normal(0.0, abs(float(experiment[0])) * 1e-5, experiment.size)
        control = control + rng.normal(0.0, abs(float(control[0])) * 1e-5, control.size)
    try:
        test = wilcox_test(experiment, control, settings.confidence)
    except ValueError as error:
        return MetricResult(metric, "Error", False, mean_e, mean_c, note=str(error))
    noised_e, noised_c = float(experiment.mean()), float(control.mean())
    effect = math.nan if noised_c == 0 or noised_e == 0 else noised_e / noised_c
    bound = settings.tolerance * abs(test.estimate)
    high = test.lower > bound and (math.isnan(effect) or effect >= settings.allowed_increase)
    label = "High" if high else "Pass"
    return MetricResult(metric, label, critical and high, mean_e, mean_c, test.estimate, test.lower, test.upper, effect)


def score(results: Sequence[MetricResult]) -> tuple[float, str]:
    """``WeightedSumScorer.score``: the summary score and, when it is forced to 0, why."""
    failed_critical = [r for r in results if r.critical and r.label != "Pass"]
    if failed_critical:
        return 0.0, f"critical metric {_LABEL[failed_critical[0].metric]} is {failed_critical[0].label}"
    nodata = sum(r.label == "Nodata" for r in results)
    if 100.0 * nodata / len(results) >= 50.0:
        return 0.0, f"{nodata} of {len(results)} metrics have no data (≥ 50 %)"
    weight = 100.0 / len(results)  # one group per metric, no configured weights: equal shares
    total = 0.0
    for r in results:
        counted = r.label in _COUNTED
        group_score = 100.0 if not counted else (100.0 if r.label == "Pass" else 0.0)
        total += group_score * weight / 100.0
    return round(total, 2), ""


def _series(looks: Sequence[Look], metric: str) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if metric == "error_rate":
        return (
            np.array([look.canary.error_rate for look in looks]),
            np.array([look.stable.error_rate for look in looks]),
        )

    def latency(value: float | None) -> float:
        return math.nan if value is None else float(value)

    return (
        np.array([latency(look.canary.latency_ms) for look in looks]),
        np.array([latency(look.stable.latency_ms) for look in looks]),
    )


def _describe(r: MetricResult, level: str) -> str:
    """One metric's result for the reason sentence, with its numbers."""
    if r.metric == "error_rate":
        means = f"canary {pct(r.canary_mean)} vs stable {pct(r.stable_mean)}"
        shift = f", shift {pp(r.estimate)}, {level} CI {pp(r.lower)} to {pp(r.upper)}"
    else:
        means = f"canary {r.canary_mean:.0f} ms vs stable {r.stable_mean:.0f} ms"
        shift = f", shift {r.estimate:+.1f} ms, {level} CI {r.lower:+.1f} to {r.upper:+.1f} ms"
    shift = "" if math.isnan(r.estimate) else shift
    note = f", {r.note}" if r.note else ""
    return f"{_LABEL[r.metric]} {r.label} ({means}{shift}{note})"


class KayentaJudge:
    """Mann-Whitney per metric and Kayenta's weighted score, at every look on the growing window."""

    name: str

    def __init__(self, settings: KayentaSettings | None = None) -> None:
        self.settings = settings or KayentaSettings()
        self.name = "mann-whitney"

    def judgment(self, looks: Sequence[Look]) -> tuple[float, list[MetricResult], str]:
        """One Kayenta judgment on these looks: the score, the metrics' results, a forced-0 reason."""
        results = []
        for index, metric in enumerate(self.settings.metrics):
            canary, stable = _series(looks, metric)
            rng = np.random.default_rng([self.settings.seed, len(looks), index])
            results.append(classify(metric, canary, stable, self.settings, rng))
        value, why = score(results)
        return value, results, why

    def decide(self, looks: Sequence[Look]) -> Decision:
        check_looks(looks)
        if not looks:
            return no_looks(self.name)
        s = self.settings
        last = min(len(looks), s.lifetime_looks)
        if last < s.min_looks:
            return Decision(
                Verdict.CONTINUE,
                f"Collecting looks before the first Kayenta judgment ({last} of {s.min_looks}).",
                details={"t": looks[-1].t, "look": float(last)},
            )
        for n in range(s.min_looks, last + 1):
            value, results, why = self.judgment(looks[:n])
            summary = "; ".join(_describe(r, f"{s.confidence:.0%}") for r in results)
            forced = f" ({why})" if why else ""
            details = finite(
                {
                    "t": looks[n - 1].t,
                    "look": float(n),
                    **{f"{r.metric}_{key}": getattr(r, key) for r in results for key in ("estimate", "lower", "upper")},
                }
            )
            if value <= s.marginal:
                reason = f"Kayenta score {value:g}{forced} ≤ marginal {s.marginal:g} at look {n}: {summary}."
                return Decision(Verdict.FAIL, reason, value, details)
            if n == s.lifetime_looks:
                verdict = Verdict.PASS if value >= s.pass_score else Verdict.FAIL
                relation = "≥" if verdict is Verdict.PASS else "<"
                reason = f"Final Kayenta score {value:g} {relation} pass {s.pass_score:g} after {n} looks: {summary}."
                return Decision(verdict, reason, value, details)
            if n == last:
                reason = (
                    f"Kayenta score {value:g} at look {n} of {s.lifetime_looks} "
                    f"(fails at ≤ {s.marginal:g}, passes at the end with ≥ {s.pass_score:g}): {summary}."
                )
                return Decision(Verdict.CONTINUE, reason, value, details)
        raise AssertionError("unreachable: the loop returns at n == last")
