"""The canary judges: hand-checked cases per judge, and the sequential judge's A/A guarantee."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from critterops.rollout.judges import KINDS, Counts, Decision, Look, Verdict, make_judge
from critterops.rollout.judging.evidence import (
    beta_binomial_bounds,
    lgamma,
    mixture_log_e,
    odds_ratio_log_lr,
    t_confidence_sequence,
    t_test_log_bf,
)
from critterops.rollout.judging.kayenta import MetricResult, score
from critterops.rollout.judging.wilcoxon import average_ranks, wilcox_test

# ---------------------------------------------------------------------------------------------
# Helpers


def look(
    t: float,
    canary: tuple[int, int],
    stable: tuple[int, int] = (450, 2),
    latency: tuple[float | None, float | None] = (100.0, 100.0),
    p99: tuple[float | None, float | None] = (None, None),
) -> Look:
    """A look from (requests, errors) per version; latency and p99 as (canary, stable)."""
    return Look(
        t,
        stable=Counts(stable[0], stable[1], latency[1] if stable[0] else None, p99[1]),
        canary=Counts(canary[0], canary[1], latency[0] if canary[0] else None, p99[0]),
    )


def simulate_looks(
    rng: np.random.Generator,
    stable_rate: float,
    canary_rate: float,
    *,
    looks: int = 120,
    weight: float = 0.1,
    per_look: int = 500,
    canary_latency: float = 100.0,
    latency: bool = True,
) -> list[Look]:
    """Binomial traffic; per-look mean latency drawn around its mean (sd 8 % canary, 2.5 % stable)."""
    out = []
    for k in range(looks):
        n = int(rng.binomial(per_look, weight))
        m = per_look - n
        c_lat = canary_latency * (1 + 0.08 * rng.standard_normal()) if latency and n else None
        s_lat = 100.0 * (1 + 0.025 * rng.standard_normal()) if latency and m else None
        out.append(
            Look(
                10.0 * (k + 1),
                stable=Counts(m, int(rng.binomial(m, stable_rate)), s_lat),
                canary=Counts(n, int(rng.binomial(n, canary_rate)), c_lat),
            )
        )
    return out


def decided_at(decision: Decision) -> float:
    return decision.details["t"]


# ---------------------------------------------------------------------------------------------
# Types and settings


def test_counts_are_checked() -> None:
    with pytest.raises(ValueError, match="exceed requests"):
        Counts(10, 11, 100.0)
    with pytest.raises(ValueError, match="negative"):
        Counts(-1, 0, None)
    with pytest.raises(ValueError, match="latency_ms"):
        Counts(10, 0, -5.0)
    assert math.isnan(Counts(0, 0, None).error_rate)
    assert Counts(200, 3, 90.0).error_rate == pytest.approx(0.015)


def test_looks_must_be_in_time_order() -> None:
    looks = [look(20, (50, 0)), look(10, (50, 0))]
    for kind in KINDS:
        with pytest.raises(ValueError, match="time order"):
            make_judge(kind).decide(looks)


@pytest.mark.parametrize(
    ("kind", "settings", "message"),
    [
        ("bayesian", {}, "unknown judge kind 'bayesian'"),
        ("sequential", {"alpah": 0.01}, "unknown setting.*alpah.*allowed: alpha"),
        ("sequential", {"alpha": 0}, "alpha must be > 0"),
        ("sequential", {"alpha": "0.01"}, "alpha must be a finite number"),
        ("sequential", {"negligible": 0.02}, "negligible must be <= 0.01"),
        ("sequential", {"max_ratio": 1}, "max_ratio must be > 1"),
        ("threshold", {"failure_limit": 1.5}, "failure_limit must be a whole number"),
        ("threshold", {"failure_limit": -2}, "failure_limit must be >= -1"),
        ("threshold", {"min_success_rate": 99}, "min_success_rate must be <= 1"),
        ("mann-whitney", {"metrics": ["p50"]}, "unknown metric.*p50"),
        ("mann-whitney", {"marginal": 95}, "marginal must be <= 90"),
        ("mann-whitney", {"critical": ["latency"], "metrics": ["error_rate"]}, "not among the judged metrics"),
    ],
)
def test_bad_settings_are_refused_clearly(kind: str, settings: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_judge(kind, **settings)


def test_no_looks_means_continue() -> None:
    for kind in KINDS:
        assert make_judge(kind).decide([]).verdict is Verdict.CONTINUE


# ---------------------------------------------------------------------------------------------
# Threshold judge (Argo Rollouts counting)


def ok(t: float) -> Look:
    return look(t, (100, 0), p99=(200.0, 200.0))


def bad(t: float) -> Look:
    return look(t, (100, 2), p99=(200.0, 200.0))  # 98 % success


def test_threshold_fails_only_when_failed_looks_exceed_the_limit() -> None:
    judge = make_judge("threshold", failure_limit=1)
    one = judge.decide([ok(10), bad(20), ok(30)])
    assert one.verdict is Verdict.CONTINUE  # 1 failed is not > 1
    two = judge.decide([ok(10), bad(20), ok(30), bad(40)])
    assert two.verdict is Verdict.FAIL
    assert decided_at(two) == 40
    assert two.reason.startswith("2 failed looks > failure limit 1; look 4: success rate 98.00% (2/100 errors)")
    assert make_judge("threshold", failure_limit=0).decide([ok(10), bad(20)]).verdict is Verdict.FAIL
    never = make_judge("threshold", failure_limit=-1, count=100).decide([bad(10 * k) for k in range(1, 30)])
    assert never.verdict is Verdict.CONTINUE


def test_threshold_limits_are_inclusive_where_argo_and_flagger_are() -> None:
    judge = make_judge("threshold", failure_limit=0)
    at_limit = look(10, (100, 1), p99=(500.0, 100.0))  # 99.00 % success, p99 exactly 500 ms
    assert judge.decide([at_limit]).verdict is Verdict.CONTINUE
    slow = look(10, (100, 0), p99=(501.0, 100.0))
    decision = judge.decide([slow])
    assert decision.verdict is Verdict.FAIL
    assert "p99 501 ms > 500 ms" in decision.reason
    mean_only = look(10, (100, 0), latency=(650.0, 100.0))  # no p99: the mean is checked
    assert "mean latency 650 ms > 500 ms" in judge.decide([mean_only]).reason
    assert make_judge("threshold", max_latency_ms=None, failure_limit=0).decide([slow]).verdict is Verdict.CONTINUE


def test_threshold_passes_after_count_successful_looks() -> None:
    judge = make_judge("threshold", count=3)
    assert judge.decide([ok(10), ok(20)]).verdict is Verdict.CONTINUE
    passed = judge.decide([ok(10), bad(20), ok(30), ok(40)])
    assert passed.verdict is Verdict.PASS
    assert decided_at(passed) == 40
    assert "3/3 successful, 1 failed (limit 1)" in passed.reason


def test_threshold_empty_looks_are_inconclusive_and_missing_latency_is_an_error() -> None:
    empty = look(20, (0, 0))
    assert make_judge("threshold").decide([ok(10), empty]).verdict is Verdict.INCONCLUSIVE  # limit 0
    lenient = make_judge("threshold", inconclusive_limit=1)
    assert lenient.decide([ok(10), empty]).verdict is Verdict.CONTINUE
    two = lenient.decide([ok(10), empty, look(30, (0, 0))])
    assert two.verdict is Verdict.INCONCLUSIVE
    assert "2 inconclusive looks > inconclusive limit 1; look 3: no canary requests" in two.reason

    def blind(t: float) -> Look:
        return look(t, (100, 0), latency=(None, 100.0))

    judge = make_judge("threshold", consecutive_error_limit=2)
    assert judge.decide([blind(10), blind(20), ok(30), blind(40), blind(50)]).verdict is Verdict.CONTINUE
    paused = judge.decide([blind(10), blind(20), blind(30)])
    assert paused.verdict is Verdict.INCONCLUSIVE
    assert "3 consecutive measurement errors > limit 2" in paused.reason


# ---------------------------------------------------------------------------------------------
# Wilcoxon rank-sum (R's wilcox.test normal approximation)


def test_average_ranks_share_ties() -> None:
    assert average_ranks([3.0, 1.0, 3.0, 2.0]).tolist() == [3.5, 1.0, 3.5, 2.0]


def test_wilcoxon_hand_computed_case() -> None:
    # x - y pairwise differences: 6..9, 16..19, 26..29, 36..39 (16 of them), median (19 + 26) / 2.
    # sigma = sqrt(4*4/12 * 9) = sqrt(12); W = 16, z = (16 - 8 - 0.5) / sqrt(12) = 2.165.
    # 95 % CI: just above 6 only 15 pairs remain above, (15 - 8 - 0.5)/sqrt(12) = 1.876 < 1.96, so the
    # lower end is 6; just above 39 none do, (0 - 8 + 0.5)/sqrt(12) = -2.165 < -1.96: upper end 39.
    # (Kayenta's MannWhitneySuite expects the same 6, 39 and 22.5.)
    result = wilcox_test([10.0, 20, 30, 40], [1.0, 2, 3, 4], conf_level=0.95)
    assert result.w == 16
    assert result.estimate == 22.5
    assert (result.lower, result.upper) == (6.0, 39.0)
    z = 7.5 / math.sqrt(12)
    assert result.p_value == pytest.approx(2 * (1 - NormalDist().cdf(z)), rel=1e-12)
    assert result.p_value == pytest.approx(0.03038, abs=1e-5)


def _r_wdiff(x: Sequence[float], y: Sequence[float], d: float, zq: float, correct: bool = True) -> float:
    """R's ``wdiff`` from wilcox.test.R, transcribed with loops (independent of the module)."""
    pooled = [v - d for v in x] + list(y)
    ranks = [1 + sum(o < v for o in pooled) + 0.5 * (sum(o == v for o in pooled) - 1) for v in pooled]
    nx, ny = len(x), len(y)
    dz = sum(ranks[:nx]) - nx * (nx + 1) / 2 - nx * ny / 2
    ties: dict[float, int] = {}
    for v in pooled:
        ties[v] = ties.get(v, 0) + 1
    sigma = math.sqrt(
        nx * ny / 12 * ((nx + ny + 1) - sum(t**3 - t for t in ties.values()) / ((nx + ny) * (nx + ny - 1)))
    )
    correction = (math.copysign(0.5, dz) if dz else 0.0) if correct else 0.0
    return (dz - correction) / sigma - zq


def _r_root(x: Sequence[float], y: Sequence[float], zq: float) -> float:
    """R's ``root``: end points when f does not change sign, else bisection (uniroot, tighter)."""
    lo, hi = min(x) - max(y), max(x) - min(y)
    if _r_wdiff(x, y, lo, zq) <= 0:
        return lo
    if _r_wdiff(x, y, hi, zq) >= 0:
        return hi
    for _ in range(80):
        mid = (lo + hi) / 2
        if _r_wdiff(x, y, mid, zq) > 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


DEPRESSION_X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]  # R's ?wilcox.test data, unpaired here
DEPRESSION_Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]


@pytest.mark.parametrize("seed", [None, 1, 2, 3])
def test_wilcoxon_matches_a_literal_transcription_of_r(seed: int | None) -> None:
    if seed is None:
        x, y = DEPRESSION_X, DEPRESSION_Y
    else:
        rng = np.random.default_rng(seed)
        x = np.round(rng.normal(1.0, 1.0, 7 + seed), 1).tolist()  # rounding makes ties
        y = np.round(rng.normal(0.3, 1.0, 12 - seed), 1).tolist()
    result = wilcox_test(x, y, conf_level=0.98)
    zq = NormalDist().inv_cdf(0.99)
    assert result.lower == pytest.approx(_r_root(x, y, zq), abs=1e-9)
    assert result.upper == pytest.approx(_r_root(x, y, -zq), abs=1e-9)
    pairs = sorted(a - b for a in x for b in y)
    assert result.estimate == pytest.approx(float(np.median(pairs)), abs=1e-12)  # Hodges-Lehmann
    assert result.w == sum((a > b) + 0.5 * (a == b) for a in x for b in y)  # W = Mann-Whitney U of x
    z = _r_wdiff(x, y, 0.0, 0.0)
    assert result.p_value == pytest.approx(2 * min(NormalDist().cdf(z), 1 - NormalDist().cdf(z)), rel=1e-12)


def test_depression_data_by_hand() -> None:
    # W: per x, the y's below it (sorted y: .598 .647 .878 1.06 1.06 1.29 1.29 2.05 3.14):
    # 7 + 0 + 7 + 8 + 7 + 7 + 7 + 8 + 7 = 58.
    # Estimate: differences below 0.56, per x (y > x - 0.56): 0.50: 9, 1.30: 7, 1.55: 6, 1.62: 4,
    # 1.68: 4, 1.83: 4, 1.88: 2, 2.48: 2, 3.06: 1, 39 in all; 1.62 - 1.06 = 0.56 twice makes the
    # 40th and 41st, so the median of the 81 is 0.56.
    result = wilcox_test(DEPRESSION_X, DEPRESSION_Y)
    assert result.w == 58
    assert result.estimate == pytest.approx(0.56)


# ---------------------------------------------------------------------------------------------
# Kayenta (Mann-Whitney) judge


def result(metric: str, label: str, critical: bool = False) -> MetricResult:
    return MetricResult(metric, label, critical, math.nan, math.nan)


def test_kayenta_score_by_hand() -> None:
    assert score([result("error_rate", "Pass"), result("latency", "Pass")])[0] == 100
    assert score([result("error_rate", "High"), result("latency", "Pass")])[0] == 50
    nodata = score([result("error_rate", "Pass"), result("latency", "Nodata")])
    assert nodata == (0.0, "1 of 2 metrics have no data (≥ 50 %)")
    # one Nodata in three (< 50 %): its group counts 100, so (100 + 100 + 0) / 3
    assert score([result("error_rate", "Nodata"), result("latency", "Pass"), result("latency", "High")])[0] == 66.67
    assert score([result("error_rate", "High", critical=True), result("latency", "Pass")])[0] == 0


def test_kayenta_no_data_scores_zero_and_fails() -> None:
    silent = [look(10 * k, (0, 0)) for k in range(1, 4)]
    decision = make_judge("mann-whitney").decide(silent)
    assert decision.verdict is Verdict.FAIL
    assert decision.score == 0
    assert "2 of 2 metrics have no data" in decision.reason
    no_latency = [look(10 * k, (50, 0), latency=(None, None)) for k in range(1, 4)]
    decision = make_judge("mann-whitney").decide(no_latency)
    assert (decision.verdict, decision.score) == (Verdict.FAIL, 0)
    assert "latency Nodata" in decision.reason


def test_kayenta_identical_versions_pass_at_the_end_of_the_lifetime() -> None:
    same = [look(10 * k, (450, k % 3), (450, k % 3), latency=(100.0 + k, 100.0 + k)) for k in range(1, 13)]
    judge = make_judge("mann-whitney")
    assert judge.decide(same[:2]).verdict is Verdict.CONTINUE  # before min_looks
    interim = judge.decide(same[:11])
    assert (interim.verdict, interim.score) == (Verdict.CONTINUE, 100)
    final = judge.decide(same)
    assert (final.verdict, final.score) == (Verdict.PASS, 100)
    assert "Final Kayenta score 100 ≥ pass 90 after 12 looks" in final.reason


def test_kayenta_small_separated_samples_use_r_end_points() -> None:
    # Canary 4-6 % errors, stable ~0.5 %, three looks: n = m = 3 cannot reach 98 % (at most
    # (9 - 4.5 - 0.5)/sqrt(9/12 * 7) = 1.75 < z_0.99 = 2.33), so R returns the end points
    # [min(x) - max(y), max(x) - min(y)] = [0.04 - 0.006, 0.06 - 0.004]; that excludes 0 and the
    # tolerance band (0.25 x HL = 0.25 x 0.045), so the error rate is High and the score 50.
    canary = [(100, 5), (100, 6), (100, 4)]
    stable = [(1000, 5), (1000, 4), (1000, 6)]
    latencies = [101.0, 99.0, 103.0]
    looks = [
        look(10 * (k + 1), c, s, latency=(lat, lat))
        for k, (c, s, lat) in enumerate(zip(canary, stable, latencies, strict=True))
    ]
    judge = make_judge("mann-whitney")
    assert judge.decide(looks[:2]).verdict is Verdict.CONTINUE
    decision = judge.decide(looks)
    assert (decision.verdict, decision.score) == (Verdict.FAIL, 50)
    assert decided_at(decision) == 30
    assert decision.details["error_rate_lower"] == pytest.approx(0.034)
    assert decision.details["error_rate_upper"] == pytest.approx(0.056)
    assert decision.details["error_rate_estimate"] == pytest.approx(0.045)  # median of 9 differences
    assert "error rate High (canary 5.00% vs stable 0.50%, shift +4.50 pp, 98% CI +3.40 pp to +5.60 pp)" in (
        decision.reason
    )
    assert "latency Pass" in decision.reason
    assert "Kayenta score 50 ≤ marginal 75 at look 3" in decision.reason
    critical = make_judge("mann-whitney", critical=["error_rate"]).decide(looks)
    assert critical.score == 0


def test_kayenta_interim_and_final_thresholds() -> None:
    # Mixed: the error rate passes, latency is High (score 50) only once its shift separates.
    judge = make_judge("mann-whitney", marginal=40, pass_score=60, min_looks=3, lifetime_looks=4)
    looks = [look(10 * k, (100, 1), (1000, 10), latency=(120.0 + k, 100.0 + k)) for k in range(1, 5)]
    decision = judge.decide(looks)
    assert (decision.verdict, decision.score) == (Verdict.FAIL, 50)  # 40 < 50 < 60: fails at the end
    assert "Final Kayenta score 50 < pass 60 after 4 looks" in decision.reason
    assert judge.decide(looks[:3]).verdict is Verdict.CONTINUE


def test_kayenta_constant_sides_get_seeded_noise() -> None:
    # Both sides constant (Kayenta adds noise with sd = value * 1e-5): deterministic, and a constant
    # 1 ms shift is "High", as in Kayenta.
    looks = [look(10 * k, (50, 0), (450, 0), latency=(101.0, 100.0)) for k in range(1, 6)]
    judge = make_judge("mann-whitney")
    first, second = judge.decide(looks), judge.decide(looks)
    assert first == second
    assert first.verdict is Verdict.FAIL
    assert "latency High" in first.reason


# ---------------------------------------------------------------------------------------------
# Evidence: the sequential judge's building blocks


def test_lgamma_matches_the_standard_library() -> None:
    xs = [1e-3, 0.5, 1.0, 2.5, 7.9, 8.0, 50.5, 1234.5, 1e6]
    assert lgamma(xs) == pytest.approx([math.lgamma(x) for x in xs], abs=1e-9)


def test_odds_ratio_likelihood_ratio_by_hand() -> None:
    # n=1, m=1, one error in total: P_psi(canary) = psi/(1+psi), 1/2 under psi=1.
    # n=2, m=3, two errors, both canary: P_psi(2) = psi^2/(3 + 6 psi + psi^2), 1/10 under psi=1.
    psi = np.array([2.0, 5.0])
    got = odds_ratio_log_lr([1, 2, 40, 0], [1, 3, 400, 500], [1, 2, 0, 0], [1, 2, 0, 3], np.log(psi))
    assert got[0] == pytest.approx(np.log(2 * psi / (1 + psi)))
    assert got[1] == pytest.approx(np.log(10 * psi**2 / (3 + 6 * psi + psi**2)))
    assert got[2].tolist() == [0.0, 0.0]  # no errors: no information
    assert got[3].tolist() == [0.0, 0.0]  # no canary requests: no information
    log_e = mixture_log_e(got[:2], np.log([0.5, 0.5]))
    assert log_e[-1] == pytest.approx(np.log(0.5 * np.prod(np.exp(got[:2, 0])) + 0.5 * np.prod(np.exp(got[:2, 1]))))


def test_beta_binomial_sequence_edge_is_where_the_martingale_reaches_one_over_alpha() -> None:
    a, b, alpha = 0.5, 50.0, 0.0025
    lower, upper = beta_binomial_bounds([2000, 1000, 0], [0, 30, 0], alpha, a, b)
    assert lower[0] == 0 and (lower[2], upper[2]) == (0, 1)

    def log_m(p: float, n: int, s: int) -> float:
        marginal = math.lgamma(a + s) + math.lgamma(b + n - s) - math.lgamma(a + b + n)
        marginal -= math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        return marginal - s * math.log(p) - (n - s) * math.log1p(-p)

    assert log_m(upper[0], 2000, 0) == pytest.approx(math.log(1 / alpha), abs=1e-9)
    assert log_m(upper[1], 1000, 30) == pytest.approx(math.log(1 / alpha), abs=1e-9)
    assert log_m(lower[1], 1000, 30) == pytest.approx(math.log(1 / alpha), abs=1e-9)
    assert lower[1] < 0.03 < upper[1]


def test_t_sequence_edge_is_where_the_bayes_factor_reaches_one_over_alpha() -> None:
    d = np.random.default_rng(7).normal(0.3, 1.0, 30)
    center, radius = t_confidence_sequence(d, 0.001)
    assert math.isinf(radius[2])  # three values cannot reach a factor of 1000
    for n in (10, 30):
        log_bf, _ = t_test_log_bf(d[:n] - (center[n - 1] + radius[n - 1]))
        assert log_bf[-1] == pytest.approx(math.log(1000), abs=1e-9)


# ---------------------------------------------------------------------------------------------
# Sequential judge


def _false_rollbacks(runs: int, alpha: float, seed: int) -> tuple[float, float]:
    """A/A with monitoring at all 120 looks (pass disabled): the judge's FAIL rate and a naive test's."""
    judge = make_judge("sequential", alpha=alpha, tolerance=1e-9, negligible=0, max_duration_s=1e9)
    rng = np.random.default_rng(seed)
    z = NormalDist().inv_cdf(1 - alpha)
    judge_fails = naive_fails = 0
    for _ in range(runs):
        looks = simulate_looks(rng, 0.02, 0.02)
        judge_fails += judge.decide(looks).verdict is Verdict.FAIL
        # Naive: a one-sided two-proportion z-test on the cumulative counts, peeked at after every look.
        n = np.cumsum([lk.canary.requests for lk in looks])
        x = np.cumsum([lk.canary.errors for lk in looks])
        m = np.cumsum([lk.stable.requests for lk in looks])
        y = np.cumsum([lk.stable.errors for lk in looks])
        pooled = (x + y) / (n + m)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n + 1 / m))
        stat = np.divide(x / n - y / m, se, out=np.zeros_like(se), where=se > 0)
        naive_fails += bool(np.any(stat > z))
    return judge_fails / runs, naive_fails / runs


@pytest.mark.parametrize("alpha", [0.01, 0.1])
def test_sequential_false_rollbacks_stay_below_alpha_under_continuous_monitoring(alpha: float) -> None:
    runs = 500
    rate, naive = _false_rollbacks(runs, alpha, seed=11)
    mc = 3 * math.sqrt(alpha * (1 - alpha) / runs)
    assert rate <= alpha + mc, f"A/A false rollbacks {rate:.3f} > {alpha} + {mc:.3f}"
    # The same simulation catches a test without the guarantee: peeking inflates the naive z-test.
    assert naive > alpha + mc, f"naive peeking test stayed at {naive:.3f}"


def test_sequential_fails_a_ten_point_regression_within_a_few_looks() -> None:
    rng = np.random.default_rng(5)
    judge = make_judge("sequential")
    times = []
    for _ in range(20):
        decision = judge.decide(simulate_looks(rng, 0.005, 0.105, looks=12))
        assert decision.verdict is Verdict.FAIL
        times.append(decided_at(decision))
    # At most the canary's share's worth of evidence per look (bets robust to bursts): three looks.
    assert max(times) <= 40 and float(np.median(times)) <= 30


def test_sequential_shared_incident_is_no_evidence_against_the_canary() -> None:
    # Both versions jump to 20 % errors for two looks: conditioning on the look's total errors makes
    # that uninformative about which version is worse.
    looks = [look(10 * k, (50, 0), (450, 2)) for k in range(1, 7)]
    looks[4] = look(50, (50, 10), (450, 90))
    looks[5] = look(60, (50, 9), (450, 92))
    decision = make_judge("sequential").decide(looks)
    assert decision.verdict is Verdict.CONTINUE
    assert decision.details["e_value"] < 1


def test_sequential_zero_errors_pass_right_after_min_requests() -> None:
    looks = [look(10 * k, (50, 0), (450, 0), latency=(None, None)) for k in range(1, 60)]
    judge = make_judge("sequential", min_requests=2000)
    before = judge.decide(looks[:39])  # 1,950 canary requests
    assert before.verdict is Verdict.CONTINUE
    assert "passing needs 2,000 canary requests" in before.reason
    decision = judge.decide(looks)
    assert decision.verdict is Verdict.PASS
    assert decided_at(decision) == 400  # look 40: 2,000 canary requests
    assert decision.details["diff_upper"] < 0.005
    assert "canary 0.00% (0/2,000) vs stable 0.00% (0/18,000)" in decision.reason
    assert f"difference at most +{100 * decision.details['diff_upper']:.2f} pp" in decision.reason


def test_sequential_reasons_carry_the_numbers() -> None:
    looks = simulate_looks(np.random.default_rng(3), 0.005, 0.025)
    decision = make_judge("sequential").decide(looks)
    assert decision.verdict is Verdict.FAIL
    d = decision.details
    assert f"({d['canary_errors']:,.0f}/{d['canary_requests']:,.0f})" in decision.reason
    assert f"({d['stable_errors']:,.0f}/{d['stable_requests']:,.0f})" in decision.reason
    assert f"{d['e_value']:,.0f} ≥ 111" in decision.reason
    assert d["e_value"] >= d["fail_threshold"]


def test_sequential_latency_guard_and_margin() -> None:
    slow = simulate_looks(np.random.default_rng(4), 0.005, 0.005, canary_latency=150.0)
    decision = make_judge("sequential").decide(slow)
    assert decision.verdict is Verdict.FAIL
    assert decision.reason.startswith("Canary is slower: mean latency +")
    assert make_judge("sequential", latency=False).decide(slow).verdict is Verdict.PASS

    worse = simulate_looks(np.random.default_rng(6), 0.005, 0.025)
    assert make_judge("sequential").decide(worse).verdict is Verdict.FAIL
    within_margin = make_judge("sequential", margin=0.05).decide(worse)
    assert within_margin.verdict is not Verdict.FAIL


def test_sequential_max_duration() -> None:
    trickle = [look(10 * k, (2, 0), (450, 2)) for k in range(1, 13)]
    decision = make_judge("sequential", max_duration_s=120).decide(trickle)
    assert decision.verdict is Verdict.INCONCLUSIVE
    assert "24 canary requests (needs 500)" in decision.reason
    quiet = [look(10 * k, (60, k % 2), (440, 3)) for k in range(1, 13)]
    timed_out = make_judge("sequential", max_duration_s=120).decide(quiet)
    assert timed_out.verdict is Verdict.PASS
    assert timed_out.reason.startswith("No evidence of harm after 120 s (max duration)")


def test_sequential_passes_a_clean_canary_and_a_tenfold_sparse_rise_fails() -> None:
    rng = np.random.default_rng(8)
    clean = make_judge("sequential").decide(simulate_looks(rng, 0.005, 0.005))
    assert clean.verdict is Verdict.PASS
    assert clean.details["diff_upper"] < 0.01
    assert "Canary is not worse" in clean.reason
    sparse = make_judge("sequential").decide(simulate_looks(rng, 0.0005, 0.005))
    assert sparse.verdict is Verdict.FAIL


# ---------------------------------------------------------------------------------------------
# The contract all judges share: the first deciding look decides for good


@pytest.mark.parametrize("kind", KINDS)
def test_deciding_on_every_prefix_agrees_with_deciding_once(kind: str) -> None:
    rng = np.random.default_rng(21)
    judge = make_judge(kind)
    for stable_rate, canary_rate in ((0.005, 0.005), (0.005, 0.02), (0.0005, 0.005)):
        looks = simulate_looks(rng, stable_rate, canary_rate, looks=60)
        final = judge.decide(looks)
        json.dumps(final.details, allow_nan=False)  # strict JSON: finite numbers only
        at = int(final.details["look"])
        for k in range(1, len(looks) + 1):
            decision = judge.decide(looks[:k])
            if k < at:
                assert decision.verdict is Verdict.CONTINUE, (k, decision)
            else:
                assert decision == final, (k, decision, final)


# ---------------------------------------------------------------------------------------------
# The benchmark runs (a few runs only)


def test_benchmark_smoke(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    path = Path(__file__).parents[2] / "benchmarks" / "judges.py"
    spec = importlib.util.spec_from_file_location("benchmark_judges", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    main: Callable[[list[str]], int] = module.main
    out = tmp_path / "results.json"
    assert main(["--runs", "4", "--seed", "3", "--json", str(out)]) == 0
    payload = json.loads(out.read_text(encoding="utf-8"))
    assert {s["name"] for s in payload["scenarios"]} >= {"A/A", "+2 pp", "sparse 0.05→0.5%", "A/A @50%"}
    assert set(payload["scenarios"][0]["judges"]) == {*KINDS, "oracle"}
    assert "Targets (sequential judge)" in capsys.readouterr().out
