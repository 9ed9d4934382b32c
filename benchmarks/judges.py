"""How fast and how often the canary judges decide, on simulated canary runs.

    python benchmarks/judges.py [--runs 1000] [--seed 0] [--json results.json] [--only TEXT] [--no-adversarial]

``--only``: the scenarios whose name contains TEXT (and ``+2 pp``, for the speed target).
About 5.5 minutes (one core) for 1,000 runs of every scenario; ``--runs 100`` gives a first look
in about 30 s.

Traffic: 50 requests/s in total, a look every 10 s, runs of up to 20 minutes (120 looks). Each
request goes to the canary with the scenario's weight (10 % unless stated), fails with its
version's error rate (stable 0.5 % unless stated) and takes a lognormal time (mean 100 ms,
log-sd 0.5); each look's mean latency and p99 are computed from its simulated requests. Every run
is simulated once and the same looks are replayed to every judge.

Each judge reads the run's 120 looks once: a judge's verdict at a look depends only on the looks
up to it and the first deciding look is final (the judges' contract), so this equals calling it
after every look and stopping at the first decision (``tests/rollout/test_judges.py`` checks that).
Time to decision is that look's time; a run still ``continue`` after 20 minutes counts as 1200 s.

The oracle is Wald's SPRT told the truth: stable's and the canary's real error rates (for A/A
runs: stable's rate against stable's + 1 pp), boundaries ``log((1-b)/a)`` and ``log(b/(1-a))`` with
``a = b = 0.01``, on the canary's requests only (it knows stable's rate, so stable's requests carry
no information). For the latency scenario it is the Gaussian SPRT on per-look canary mean latency
with the true means and variance. It is the practical speed limit of any test at this error level.

**Real traffic** (``ADVERSARIAL``, the sequential judge only; see :class:`Scenario` for each
condition): errors in bursts routed as a unit, looks built from overlapping ``increase(x[1m])``
windows (the failure) next to disjoint differences of cumulative counters with a restart (the fix,
which the source must apply: the judge can only say it needs disjoint looks), HAProxy's running
average as the mean latency, per-look latency histograms (A/A, slow-tail regressions, +20 %), a
drifting traffic share, a daily load swing on both versions, looks where the canary got no
traffic, and 2 requests/s. Every FAIL rate has its 95 % Wilson interval: with 1,000 runs, 0 false
rollbacks means at most 0.38 %, and 10 (1 %) means 0.5 % to 1.8 %.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from critterops.rollout.judges import KINDS, Counts, Look, Verdict, make_judge

RATE_PER_S = 50.0
INTERVAL_S = 10.0
LOOKS = 120
HORIZON_S = LOOKS * INTERVAL_S
LATENCY_MEAN_MS = 100.0
LATENCY_LOG_SD = 0.5
ORACLE_ALPHA = ORACLE_BETA = 0.01
AA_ALTERNATIVE = 0.01  # the A/A oracle tests stable's rate against stable's + 1 pp


@dataclass(frozen=True)
class Scenario:
    """One simulated condition. The fields after ``latency_factor`` are the real-traffic conditions.

    ``burst``: errors arrive in bursts of ``1 + Poisson(burst - 1)`` requests routed as a unit
    (session affinity, retries on one connection, the proxy's own retries), same error rate.
    ``windows``: each look reads ``increase(x[1m])`` every 10 s (overlapping windows, each error
    counted ~6 times); ``counters``: each look differences cumulative counters (the fix), the
    canary's restarting at a random look (a pod restart: the counter drops, the increase after a
    drop is the new value, as Prometheus' ``increase`` treats resets). ``latency_source``:
    ``"mean"`` (the interval's own mean), ``"rtime"`` (HAProxy's running average over the last
    1024 requests, autocorrelated), ``"histogram"`` (the interval's bucket counts as well).
    ``tail_factor``: canary requests slower than the latency's p90 take this much longer (p95 and
    p99 rise by it, the mean barely moves). ``weight_end``: the canary's share drifts linearly to
    this. ``diurnal``: load and both versions' error rates swing by this fraction over the run.
    ``zero_canary``: the share of looks in which the canary got no traffic (restarts, scraping gaps).
    ``settings``: the sequential judge's settings for this row (``rtime/1024``: the source declares
    its running average's window, ``latency_window_requests``). ``latency +10%`` rows sit exactly
    at the judge's 10 % latency tolerance: a rollback there is one the latency guard promised not
    to make (more often than its share of ``alpha``).
    """

    name: str
    weight: float = 0.10
    stable_rate: float = 0.005
    canary_rate: float = 0.005
    latency_factor: float = 1.0
    burst: float = 1.0
    windows: bool = False
    counters: bool = False
    latency_source: str = "mean"
    tail_factor: float = 1.0
    weight_end: float | None = None
    diurnal: float = 0.0
    zero_canary: float = 0.0
    rate_per_s: float = RATE_PER_S
    adversarial: bool = False
    settings: tuple[tuple[str, float], ...] = ()  # the sequential judge's settings, when not the defaults

    @property
    def degraded(self) -> bool:
        return self.canary_rate > self.stable_rate or self.latency_factor > 1.0 or self.tail_factor > 1.0


SCENARIOS = (
    Scenario("A/A"),
    Scenario("+0.5 pp", canary_rate=0.010),
    Scenario("+2 pp", canary_rate=0.025),
    Scenario("+10 pp", canary_rate=0.105),
    Scenario("latency +20%", latency_factor=1.2),
    Scenario("sparse 0.05→0.5%", stable_rate=0.0005, canary_rate=0.005),
    Scenario("A/A @1%", weight=0.01),
    Scenario("+2 pp @1%", weight=0.01, canary_rate=0.025),
    Scenario("A/A @50%", weight=0.50),
    Scenario("+2 pp @50%", weight=0.50, canary_rate=0.025),
)
# Conditions real traffic produces (the sequential judge only: the others have no promise to keep).
RTIME_WINDOW = 1024  # HAProxy: "rtime: the average response time over the 1024 last requests"
ADVERSARIAL = (
    Scenario("A/A bursts ~5", burst=5.0, adversarial=True),
    Scenario("A/A bursts ~2", burst=2.0, adversarial=True),
    Scenario("+2 pp bursts ~2", canary_rate=0.025, burst=2.0, adversarial=True),
    Scenario("sparse bursts ~2", stable_rate=0.0005, canary_rate=0.005, burst=2.0, adversarial=True),
    Scenario("A/A increase[1m]/10s", windows=True, adversarial=True),
    Scenario("A/A counters+reset", counters=True, adversarial=True),
    Scenario("A/A HAProxy rtime", latency_source="rtime", adversarial=True),
    Scenario("latency +10% rtime", latency_source="rtime", latency_factor=1.1, adversarial=True),
    Scenario(
        "latency +10% rtime/1024",
        latency_source="rtime",
        latency_factor=1.1,
        adversarial=True,
        settings=(("latency_window_requests", RTIME_WINDOW),),
    ),
    Scenario("latency +10% means", latency_factor=1.1, adversarial=True),
    Scenario("A/A histograms", latency_source="histogram", adversarial=True),
    Scenario("tail p95/p99 +10%", latency_source="histogram", tail_factor=1.10, adversarial=True),
    Scenario("tail p95/p99 +25%", latency_source="histogram", tail_factor=1.25, adversarial=True),
    Scenario("latency +20% hist.", latency_source="histogram", latency_factor=1.2, adversarial=True),
    Scenario("A/A share 5→15%", weight=0.05, weight_end=0.15, adversarial=True),
    Scenario("A/A diurnal ±50%", diurnal=0.5, adversarial=True),
    Scenario("A/A 5% empty looks", zero_canary=0.05, adversarial=True),
    Scenario("A/A 2 req/s", rate_per_s=2.0, adversarial=True),
    Scenario("A/A @50% bursts ~5", weight=0.50, burst=5.0, adversarial=True),
)
BUCKETS_MS = (5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 750.0, 1000.0, 2500.0)


@dataclass(frozen=True)
class Traffic:
    """One scenario's simulated runs, shape (runs, looks) per array; NaN latency where no requests."""

    canary_requests: npt.NDArray[np.int64]
    canary_errors: npt.NDArray[np.int64]
    stable_requests: npt.NDArray[np.int64]
    stable_errors: npt.NDArray[np.int64]
    canary_mean: npt.NDArray[np.float64]
    canary_p99: npt.NDArray[np.float64]
    stable_mean: npt.NDArray[np.float64]
    stable_p99: npt.NDArray[np.float64]
    canary_buckets: npt.NDArray[np.int64] | None = None  # (runs, looks, bounds + 1), cumulative
    stable_buckets: npt.NDArray[np.int64] | None = None


def latency_stats(
    rng: np.random.Generator,
    requests: npt.NDArray[np.int64],
    mean_ms: float,
    tail_factor: float = 1.0,
    buckets: npt.NDArray[np.int64] | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Mean and p99 (numpy's linear interpolation) of each cell's lognormal request times.

    ``tail_factor``: times above the distribution's p90 are multiplied by it. ``buckets``: filled
    with each cell's cumulative counts at :data:`BUCKETS_MS` and the total (shape ``(..., bounds + 1)``).
    """
    mean = np.full(requests.shape, np.nan)
    p99 = np.full(requests.shape, np.nan)
    flat_n = requests.reshape(-1)
    width = int(flat_n.max()) if flat_n.size else 0
    if buckets is not None:
        buckets[...] = 0
    if width == 0:
        return mean, p99
    mu = math.log(mean_ms) - LATENCY_LOG_SD**2 / 2
    p90 = math.exp(mu + 1.2815515655446004 * LATENCY_LOG_SD)
    flat_b = buckets.reshape(-1, len(BUCKETS_MS) + 1) if buckets is not None else None
    bounds = np.array(BUCKETS_MS)
    out_mean, out_p99 = mean.reshape(-1), p99.reshape(-1)
    rows_per_chunk = max(1, 2_000_000 // width)
    top = min(width, math.ceil(0.01 * width) + 3)  # the p99 needs only the largest few values
    for start in range(0, flat_n.size, rows_per_chunk):
        n = flat_n[start : start + rows_per_chunk]
        values = np.exp(mu + LATENCY_LOG_SD * rng.standard_normal((n.size, width)))
        if tail_factor != 1.0:
            values = np.where(values > p90, values * tail_factor, values)
        valid = np.arange(width)[None, :] < n[:, None]
        if flat_b is not None:
            for j, bound in enumerate(bounds):
                flat_b[start : start + n.size, j] = np.sum(valid & (values <= bound), axis=1)
            flat_b[start : start + n.size, -1] = n
        has = n > 0
        out_mean[start : start + n.size] = np.where(has, np.where(valid, values, 0.0).sum(1) / np.maximum(n, 1), np.nan)
        padded = np.where(valid, values, -np.inf)  # missing requests sort first
        padded.partition(np.arange(width - top, width), axis=1)
        h = 0.99 * (n - 1)
        lo = np.floor(h).astype(np.int64)
        hi = np.minimum(lo + 1, n - 1)
        offset = width - n  # the valid values occupy the last n sorted positions
        # order statistics below the top block are never needed: n - 1 - lo <= top - 1
        low_v = np.take_along_axis(padded, np.clip(offset + lo, 0, width - 1)[:, None], 1)[:, 0]
        high_v = np.take_along_axis(padded, np.clip(offset + hi, 0, width - 1)[:, None], 1)[:, 0]
        with np.errstate(invalid="ignore"):  # cells without requests: -inf - -inf, replaced by NaN
            out_p99[start : start + n.size] = np.where(has, low_v + (h - lo) * (high_v - low_v), np.nan)
    return mean, p99


def errors_of(
    rng: np.random.Generator, requests: npt.NDArray[np.int64], rate: npt.NDArray[np.float64] | float, burst: float
) -> npt.NDArray[np.int64]:
    """Errors among ``requests``; with ``burst > 1`` in bursts of ``1 + Poisson(burst - 1)`` (same rate)."""
    if burst <= 1.0:
        single: npt.NDArray[np.int64] = rng.binomial(requests, rate)
        return single
    bursts = rng.poisson(requests * np.asarray(rate) / burst)
    errors: npt.NDArray[np.int64] = np.minimum(bursts + rng.poisson((burst - 1.0) * bursts), requests)
    return errors


def overlapping(per_interval: npt.NDArray[np.int64], width: int = 6) -> npt.NDArray[np.int64]:
    """What ``increase(x[1m])`` read every 10 s returns: the sum of the last six intervals."""
    c = np.cumsum(per_interval, axis=1)
    shifted = np.zeros_like(c)
    shifted[:, width:] = c[:, :-width]
    return c - shifted


def counter_deltas(cumulative: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Disjoint per-look increases of a cumulative counter; after a drop (a reset) the new value
    counts as the increase, as Prometheus' ``increase``/``rate`` treat resets."""
    previous = np.zeros_like(cumulative)
    previous[:, 1:] = cumulative[:, :-1]
    delta = cumulative - previous
    return np.where(delta < 0, cumulative, delta)


def with_restart(
    rng: np.random.Generator, requests: npt.NDArray[np.int64], errors: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Cumulative counters of a process restarted once at a random look (both counters start over)."""
    runs, looks = requests.shape
    at = np.asarray(rng.integers(1, looks, runs), dtype=np.int64)
    after = np.arange(looks)[None, :] >= at[:, None]
    out = []
    for per_look in (requests, errors):
        c = np.cumsum(per_look, axis=1)
        before = np.take_along_axis(c, (at - 1)[:, None], axis=1)
        out.append(np.where(after, c - before, c))
    return out[0], out[1]


def running_average(
    requests: npt.NDArray[np.int64], mean: npt.NDArray[np.float64], window: int = RTIME_WINDOW
) -> npt.NDArray[np.float64]:
    """HAProxy's ``rtime``: the mean of the last ``window`` requests at each look (per-look sums
    stand in for the requests; the oldest look in the window counts in part)."""
    sums = np.nan_to_num(mean) * requests
    out = np.full(mean.shape, np.nan)
    for run in range(requests.shape[0]):
        n_cum = np.concatenate([[0], np.cumsum(requests[run])])
        s_cum = np.concatenate([[0.0], np.cumsum(sums[run])])
        for k in range(requests.shape[1]):
            if n_cum[k + 1] == 0:
                continue
            target = max(n_cum[k + 1] - window, 0)
            j = int(np.searchsorted(n_cum, target, side="right")) - 1  # look j holds the window's start
            inside = n_cum[j + 1] - target  # requests of look j inside the window
            partial = sums[run, j] * inside / requests[run, j] if requests[run, j] else 0.0
            total = s_cum[k + 1] - s_cum[j + 1] + partial
            out[run, k] = total / (n_cum[k + 1] - target)
    return out


def simulate(scenario: Scenario, runs: int, rng: np.random.Generator) -> Traffic:
    shape = (runs, LOOKS)
    phase = np.linspace(0, 2 * math.pi, LOOKS)[None, :] + rng.uniform(0, 2 * math.pi, (runs, 1))
    load = 1.0 + scenario.diurnal * np.sin(phase)
    total = rng.poisson(scenario.rate_per_s * INTERVAL_S * load, shape)
    end = scenario.weight if scenario.weight_end is None else scenario.weight_end
    weight = np.linspace(scenario.weight, end, LOOKS)[None, :] * np.ones(shape)
    weight = np.where(rng.random(shape) < scenario.zero_canary, 0.0, weight)
    canary = rng.binomial(total, weight)
    stable = total - canary
    canary_errors = errors_of(rng, canary, scenario.canary_rate * load, scenario.burst)
    stable_errors = errors_of(rng, stable, scenario.stable_rate * load, scenario.burst)
    hist = scenario.latency_source == "histogram"
    canary_buckets = np.zeros((*shape, len(BUCKETS_MS) + 1), dtype=np.int64) if hist else None
    stable_buckets = np.zeros((*shape, len(BUCKETS_MS) + 1), dtype=np.int64) if hist else None
    canary_mean, canary_p99 = latency_stats(
        rng, canary, LATENCY_MEAN_MS * scenario.latency_factor, scenario.tail_factor, canary_buckets
    )
    stable_mean, stable_p99 = latency_stats(rng, stable, LATENCY_MEAN_MS, buckets=stable_buckets)
    if scenario.latency_source == "rtime":
        canary_mean = np.where(canary > 0, running_average(canary, canary_mean), np.nan)
        stable_mean = np.where(stable > 0, running_average(stable, stable_mean), np.nan)
    if scenario.windows:
        canary, canary_errors, stable, stable_errors = (
            overlapping(a) for a in (canary, canary_errors, stable, stable_errors)
        )
    if scenario.counters:
        cum_requests, cum_errors = with_restart(rng, canary, canary_errors)
        canary, canary_errors = counter_deltas(cum_requests), counter_deltas(cum_errors)
        stable, stable_errors = counter_deltas(np.cumsum(stable, 1)), counter_deltas(np.cumsum(stable_errors, 1))
    return Traffic(
        canary,
        canary_errors,
        stable,
        stable_errors,
        canary_mean,
        canary_p99,
        stable_mean,
        stable_p99,
        canary_buckets,
        stable_buckets,
    )


def looks_of(traffic: Traffic, run: int) -> list[Look]:
    def value(a: npt.NDArray[np.float64], k: int) -> float | None:
        v = float(a[run, k])
        return None if math.isnan(v) else v

    def hist(a: npt.NDArray[np.int64] | None, k: int) -> tuple[tuple[float, int], ...] | None:
        if a is None:
            return None
        return tuple(zip((*BUCKETS_MS, math.inf), (int(c) for c in a[run, k]), strict=True))

    return [
        Look(
            t=(k + 1) * INTERVAL_S,
            stable=Counts(
                int(traffic.stable_requests[run, k]),
                int(traffic.stable_errors[run, k]),
                value(traffic.stable_mean, k),
                value(traffic.stable_p99, k),
                hist(traffic.stable_buckets, k),
            ),
            canary=Counts(
                int(traffic.canary_requests[run, k]),
                int(traffic.canary_errors[run, k]),
                value(traffic.canary_mean, k),
                value(traffic.canary_p99, k),
                hist(traffic.canary_buckets, k),
            ),
        )
        for k in range(LOOKS)
    ]


def oracle(scenario: Scenario, traffic: Traffic) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.float64]]:
    """Wald's SPRT with the true parameters, vectorised over runs: verdicts and decision times."""
    upper = math.log((1 - ORACLE_BETA) / ORACLE_ALPHA)
    lower = math.log(ORACLE_BETA / (1 - ORACLE_ALPHA))
    n = traffic.canary_requests.astype(np.float64)
    if scenario.latency_factor != 1.0:
        # per-look canary mean latency: Gaussian with the true mean and variance CV^2 mean^2 / n
        mu0, mu1 = LATENCY_MEAN_MS, LATENCY_MEAN_MS * scenario.latency_factor
        cv2 = math.exp(LATENCY_LOG_SD**2) - 1
        observed = np.nan_to_num(traffic.canary_mean, nan=mu0)
        var0, var1 = cv2 * mu0**2 / np.maximum(n, 1), cv2 * mu1**2 / np.maximum(n, 1)
        step = -0.5 * np.log(var1 / var0) - (observed - mu1) ** 2 / (2 * var1) + (observed - mu0) ** 2 / (2 * var0)
        step = np.where(n > 0, step, 0.0)
    else:
        p0 = scenario.stable_rate
        p1 = scenario.canary_rate if scenario.canary_rate != p0 else p0 + AA_ALTERNATIVE
        x = traffic.canary_errors.astype(np.float64)
        step = x * math.log(p1 / p0) + (n - x) * math.log((1 - p1) / (1 - p0))
    llr = np.cumsum(step, axis=1)
    crossed = (llr >= upper) | (llr <= lower)
    first = np.where(crossed.any(1), crossed.argmax(1), -1)
    verdicts = np.full(first.size, Verdict.CONTINUE.value, dtype=object)
    times = np.full(first.size, HORIZON_S)
    decided = first >= 0
    at = llr[np.arange(first.size), np.maximum(first, 0)]
    verdicts[decided] = np.where(at[decided] >= upper, Verdict.FAIL.value, Verdict.PASS.value)
    times[decided] = (first[decided] + 1) * INTERVAL_S
    return verdicts.astype(str), times


@dataclass(frozen=True)
class Summary:
    fail: float
    passed: float
    inconclusive: float
    undecided: float  # still "continue" after 20 minutes
    median_s: float
    mean_s: float  # finer than the median, which moves in whole looks (10 s)
    p90_s: float
    median_fail_s: float  # among runs that failed

    @staticmethod
    def of(verdicts: list[str] | npt.NDArray[np.str_], times: list[float] | npt.NDArray[np.float64]) -> Summary:
        v = np.asarray(verdicts)
        t = np.asarray(times, dtype=np.float64)
        fails = t[v == Verdict.FAIL.value]
        return Summary(
            fail=float(np.mean(v == Verdict.FAIL.value)),
            passed=float(np.mean(v == Verdict.PASS.value)),
            inconclusive=float(np.mean(v == Verdict.INCONCLUSIVE.value)),
            undecided=float(np.mean(v == Verdict.CONTINUE.value)),
            median_s=float(np.median(t)),
            mean_s=float(np.mean(t)),
            p90_s=float(np.percentile(t, 90)),
            median_fail_s=float(np.median(fails)) if fails.size else math.nan,
        )


def run_scenario(scenario: Scenario, runs: int, rng: np.random.Generator) -> dict[str, Summary]:
    traffic = simulate(scenario, runs, rng)
    kinds = ("sequential",) if scenario.adversarial else KINDS
    judges = {kind: make_judge(kind, **(dict(scenario.settings) if kind == "sequential" else {})) for kind in kinds}
    verdicts: dict[str, list[str]] = {kind: [] for kind in kinds}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    for run in range(runs):
        looks = looks_of(traffic, run)
        for kind, judge in judges.items():
            decision = judge.decide(looks)
            verdicts[kind].append(decision.verdict.value)
            final = decision.verdict is not Verdict.CONTINUE
            times[kind].append(decision.details["t"] if final else HORIZON_S)
    result = {kind: Summary.of(verdicts[kind], times[kind]) for kind in kinds}
    if not scenario.adversarial:
        result["oracle"] = Summary.of(*oracle(scenario, traffic))
    return result


def mc_error(rate: float, runs: int) -> float:
    """Half-width of a 95 % interval for a simulated rate."""
    return 1.96 * math.sqrt(max(rate * (1 - rate), 1.0 / runs) / runs)


def wilson(rate: float, runs: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson's 95 % score interval for a proportion observed in ``runs`` runs (Wilson 1927)."""
    centre = (rate + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z / (1 + z * z / runs) * math.sqrt(rate * (1 - rate) / runs + z * z / (4 * runs * runs))
    return max(0.0, centre - half), min(1.0, centre + half)


def interval(rate: float, runs: int) -> str:
    low, high = wilson(rate, runs)
    return f"{rate:.1%} [{low:.1%}, {high:.1%}]"


def targets(results: dict[str, dict[str, Summary]], runs: int) -> list[tuple[str, bool, str]]:
    seq = {name: r["sequential"] for name, r in results.items()}
    out = []
    for s in (*SCENARIOS, *ADVERSARIAL):
        if not s.degraded and s.name in seq:
            rate = seq[s.name].fail
            out.append((f"sequential false rollbacks ≤ 1 % on {s.name}", rate <= 0.01, interval(rate, runs)))
    if "+2 pp" in results:
        two = results["+2 pp"]
        speedup = two["mann-whitney"].median_s / two["sequential"].median_s
        out.append(
            (
                "+2 pp: sequential median ≥ 1.5× faster than Mann-Whitney",
                speedup >= 1.5,
                f"{two['sequential'].median_s:.0f} s vs {two['mann-whitney'].median_s:.0f} s ({speedup:.2f}×; "
                f"Mann-Whitney detects {two['mann-whitney'].fail:.0%})",
            )
        )
        slowdown = two["sequential"].median_s / two["oracle"].median_s
        out.append(
            (
                "+2 pp: sequential median within 1.3× of the oracle",
                slowdown <= 1.3,
                f"{two['sequential'].median_s:.0f} s vs {two['oracle'].median_s:.0f} s ({slowdown:.2f}×)",
            )
        )
    if "sparse 0.05→0.5%" in seq:
        sparse = seq["sparse 0.05→0.5%"].fail
        out.append(("sparse: sequential detects ≥ 95 % within 20 min", sparse >= 0.95, f"{sparse:.1%}"))
    if "+0.5 pp" in seq:
        half = seq["+0.5 pp"].fail
        out.append(("+0.5 pp: sequential detects ≥ 75 % within 20 min", half >= 0.75, f"{half:.1%}"))
    for name in (
        "latency +10% rtime",
        "latency +10% rtime/1024",
        "latency +10% means",
    ):  # exactly at the 10 % tolerance: no rollback due
        if name in seq:
            rate = seq[name].fail
            out.append((f"{name} (at the tolerance): rollbacks ≤ 1 %", rate <= 0.01, interval(rate, runs)))
    if "tail p95/p99 +25%" in seq:
        tail = seq["tail p95/p99 +25%"].fail
        out.append(("tail p95/p99 +25%: sequential detects ≥ 90 % within 20 min", tail >= 0.9, f"{tail:.1%}"))
    return out


def print_table(results: dict[str, dict[str, Summary]], runs: int, seed: int, elapsed: float) -> None:
    print(
        f"{runs} runs per scenario, seed {seed}: {RATE_PER_S:g} req/s, a look every {INTERVAL_S:g} s, "
        f"up to {HORIZON_S:g} s; runs still undecided at the end count as {HORIZON_S:g} s."
    )
    print("FAIL = false rollbacks on A/A rows, detections within 20 min elsewhere; [95 % Wilson interval].\n")
    header = f"{'scenario':<24} {'judge':<13} {'FAIL':>7} {'95 % interval':>15} {'PASS':>7} {'INCONC':>7} "
    header += f"{'undec.':>7} {'median s':>9} {'mean s':>7} {'p90 s':>7} {'med. FAIL s':>11}"
    print(header)
    print("-" * len(header))
    for name, by_judge in results.items():
        for i, (judge, s) in enumerate(by_judge.items()):
            fail_at = "" if math.isnan(s.median_fail_s) else f"{s.median_fail_s:.0f}"
            low, high = wilson(s.fail, runs)
            print(
                f"{name if i == 0 else '':<24} {judge:<13} {s.fail:>7.1%} {f'[{low:.1%}, {high:.1%}]':>15} "
                f"{s.passed:>7.1%} {s.inconclusive:>7.1%} {s.undecided:>7.1%} {s.median_s:>9.0f} {s.mean_s:>7.0f} "
                f"{s.p90_s:>7.0f} {fail_at:>11}"
            )
    print(f"\nTargets (sequential judge), {elapsed:.0f} s wall time:")
    for label, met, value in targets(results, runs):
        print(f"  [{'met' if met else 'MISSED'}] {label}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--only", help="run only the scenarios whose name contains this text")
    parser.add_argument("--no-adversarial", action="store_true", help="skip the real-traffic conditions")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    results = {}
    chosen = [
        s
        for s in (*SCENARIOS, *(() if args.no_adversarial else ADVERSARIAL))
        if args.only is None or args.only in s.name or s.name == "+2 pp"
    ]
    for scenario in chosen:
        results[scenario.name] = run_scenario(scenario, args.runs, rng)
        print(f"  {scenario.name}: done after {time.perf_counter() - started:.0f} s", file=sys.stderr)
    elapsed = time.perf_counter() - started
    print_table(results, args.runs, args.seed, elapsed)
    if args.json:
        payload = {
            "runs": args.runs,
            "seed": args.seed,
            "traffic": {"rate_per_s": RATE_PER_S, "interval_s": INTERVAL_S, "looks": LOOKS},
            "undecided_counts_as_s": HORIZON_S,
            "scenarios": [
                {
                    **asdict(s),
                    "judges": {
                        judge: {**asdict(summary), "fail_interval_95": wilson(summary.fail, args.runs)}
                        for judge, summary in results[s.name].items()
                    },
                }
                for s in chosen
            ],
            "targets": [
                {"target": label, "met": met, "value": value} for label, met, value in targets(results, args.runs)
            ],
        }
        args.json.write_text(json.dumps(payload, indent=2, allow_nan=True) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
