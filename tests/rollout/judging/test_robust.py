"""The sequential judge under real traffic: bursts of errors, slow tails, histograms, blocks of looks.

The math against brute force (Kelly fractions, the bets' means under clusterings, the tail bound
chosen from earlier looks only) and statistical properties with fixed seeds.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from critterops.rollout.judges import Counts, Look, Verdict, make_judge
from critterops.rollout.judging.evidence import (
    MAX_FRACTION,
    kelly_fractions,
    mixture_log_e,
    odds_ratio_log_lr,
    share_bet_log_e,
)
from critterops.rollout.judging.sequential import (
    FAIL_ODDS_RATIOS,
    SequentialSettings,
    _blocks,
    _histogram_mode,
    _latency_pairs,
    _tail_counts,
    _windows,
    trace,
)

BOUNDS = (25.0, 50.0, 75.0, 100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 1000.0)


def _binomial(s: int, q: float) -> np.ndarray:
    return np.array([math.comb(s, x) * q**x * (1 - q) ** (s - x) for x in range(s + 1)])


# ---------------------------------------------------------------------------------------------
# The bets


@pytest.mark.parametrize(("s", "w", "psi"), [(1, 0.1, 4.0), (3, 0.1, 5.0), (8, 0.3, 2.0), (20, 0.05, 1.5)])
def test_kelly_fraction_maximises_the_expected_log_growth(s: int, w: float, psi: float) -> None:
    a = float(kelly_fractions([s], [w], [math.log(psi)])[0, 0])
    q = psi * w / (psi * w + 1 - w)
    p, z = _binomial(s, q), np.arange(s + 1) / (s * w) - 1

    def growth(f: float) -> float:
        return float(np.sum(p * np.log1p(f * z)))

    grid = np.linspace(0, MAX_FRACTION, 9001)
    best = grid[int(np.argmax([growth(f) for f in grid]))]
    assert a == pytest.approx(best, abs=2e-4)
    assert growth(a) >= growth(best) - 1e-9


def test_one_error_bets_exactly_the_conditional_likelihood_ratio() -> None:
    # With one error in the look, Fisher's law gives P_psi(canary) = n psi / (n psi + m) = q: the
    # Kelly bet pays q/w or (1-q)/(1-w), the likelihood ratio itself.
    n, m, x = [50, 50, 120], [450, 450, 380], [1, 0, 1]
    grid = np.log(FAIL_ODDS_RATIOS)
    bets = share_bet_log_e(n, m, x, [1, 1, 1], grid)
    assert bets == pytest.approx(odds_ratio_log_lr(n, m, x, [1, 1, 1], grid), abs=1e-9)


def test_bets_keep_their_mean_at_one_whatever_the_clustering() -> None:
    # s = 6 errors in a look, canary share w = 0.1: the same bet under three ways the errors can
    # arrive with the canary no worse. Independently (binomial), as three bursts of two, as one burst.
    s, w = 6, 0.1
    grid = np.log(FAIL_ODDS_RATIOS)
    share = {
        "independent": _binomial(s, w),
        "pairs": np.zeros(s + 1),
        "one burst": np.zeros(s + 1),
    }
    share["pairs"][[0, 2, 4, 6]] = _binomial(3, w)
    share["one burst"][[0, s]] = [1 - w, w]
    n, m = 100, 900  # w = 0.1
    factors = np.exp(share_bet_log_e([n] * (s + 1), [m] * (s + 1), list(range(s + 1)), [s] * (s + 1), grid))
    for name, p in share.items():
        assert p @ factors == pytest.approx(np.ones(grid.size), abs=1e-12), name
    # ...whereas the likelihood ratio's mean under one burst is far above 1: the burst mechanism.
    lr = np.exp(odds_ratio_log_lr([n] * (s + 1), [m] * (s + 1), list(range(s + 1)), [s] * (s + 1), grid))
    assert (share["one burst"] @ lr).max() > 100


def test_empty_looks_and_one_sided_traffic_bet_nothing() -> None:
    got = share_bet_log_e([0, 50, 50], [500, 0, 450], [0, 3, 0], [2, 3, 0], np.log(FAIL_ODDS_RATIOS))
    assert not got.any()


# ---------------------------------------------------------------------------------------------
# Statistical properties (fixed seeds)


def _burst_looks(rng: np.random.Generator, canary_rate: float, burst: float, looks: int = 120) -> list[Look]:
    """50 req/s, 10 % canary; errors in bursts of 1 + Poisson(burst - 1) requests routed as a unit."""
    out = []
    for k in range(looks):
        total = int(rng.poisson(500))
        n = int(rng.binomial(total, 0.1))
        m = total - n

        def errors(requests: int, rate: float) -> int:
            bursts = int(rng.poisson(requests * rate / burst))
            return min(requests, bursts + int(rng.poisson((burst - 1) * bursts)))

        out.append(Look(10.0 * (k + 1), Counts(m, errors(m, 0.005), None), Counts(n, errors(n, canary_rate), None)))
    return out


def _counts(looks: list[Look]) -> tuple[np.ndarray, ...]:
    """Canary requests, stable requests, canary errors, stable errors per look."""
    return tuple(
        np.array(values)
        for values in (
            [lk.canary.requests for lk in looks],
            [lk.stable.requests for lk in looks],
            [lk.canary.errors for lk in looks],
            [lk.stable.errors for lk in looks],
        )
    )


def test_bursts_of_errors_do_not_roll_back_an_identical_canary() -> None:
    rng = np.random.default_rng(2026)
    judge = make_judge("sequential", latency=False, tolerance=1e-9, negligible=0, max_duration_s=1e9)
    grid = np.log(FAIL_ODDS_RATIOS)
    runs, fails, old_fails = 300, 0, 0
    for _ in range(runs):
        looks = _burst_looks(rng, 0.005, burst=5.0)
        fails += judge.decide(looks).verdict is Verdict.FAIL
        # The likelihood-ratio mixture the judge used before, on the same looks.
        n, m, x, y = _counts(looks)
        log_e = mixture_log_e(odds_ratio_log_lr(n, m, x, x + y, grid), np.full(grid.size, -math.log(grid.size)))
        old_fails += bool(np.any(log_e >= math.log(1 / 0.01)))
    # alpha = 1 %: 3 expected at most; P(Binomial(300, 0.01) >= 8) < 0.2 %
    assert fails <= 7, f"{fails}/{runs} false rollbacks under bursts of ~5 errors"
    assert old_fails >= 30, f"the likelihood ratio stayed at {old_fails}/{runs}: the simulation lost its bursts"


def test_regressions_are_still_caught_under_bursts() -> None:
    rng = np.random.default_rng(7)
    judge = make_judge("sequential", latency=False)
    verdicts = [judge.decide(_burst_looks(rng, 0.025, burst=2.0)).verdict for _ in range(20)]
    assert verdicts.count(Verdict.FAIL) >= 19


def _histogram_looks(rng: np.random.Generator, tail_factor: float, looks: int = 120) -> list[Look]:
    """Lognormal request times (mean 100 ms); canary requests above the p90 take ``tail_factor`` longer."""
    sd = 0.5
    mu = math.log(100.0) - sd * sd / 2
    p90 = math.exp(mu + 1.2815515655446004 * sd)
    bounds = np.array(BOUNDS)

    def counts(n: int, factor: float) -> Counts:
        t = np.exp(mu + sd * rng.standard_normal(n))
        t = np.where(t > p90, t * factor, t)
        below = [int(c) for c in (t[:, None] <= bounds[None, :]).sum(axis=0)]
        buckets = (*zip(BOUNDS, below, strict=True), (math.inf, n))
        return Counts(n, 0, float(t.mean()) if n else None, None, buckets)

    out = []
    for k in range(looks):
        n = int(rng.binomial(500, 0.1))
        out.append(Look(10.0 * (k + 1), counts(500 - n, 1.0), counts(n, tail_factor)))
    return out


def test_a_slow_tail_regression_is_caught_and_identical_histograms_pass() -> None:
    rng = np.random.default_rng(11)
    judge = make_judge("sequential")
    slow = [judge.decide(_histogram_looks(rng, 1.25)) for _ in range(12)]
    assert all(d.verdict is Verdict.FAIL and d.reason.startswith("Canary's slow tail is heavier") for d in slow)
    # the mean moves by about 3 %, well inside the 10 % latency tolerance: only the tail test sees it
    same = [judge.decide(_histogram_looks(rng, 1.0)).verdict for _ in range(12)]
    assert Verdict.FAIL not in same
    assert same.count(Verdict.PASS) == len(same)


# ---------------------------------------------------------------------------------------------
# Pieces of the latency guard by hand


def _look(
    t: float,
    stable: tuple[int, ...] | None,
    canary: tuple[int, ...] | None,
    means: tuple[float, float] = (100.0, 100.0),
) -> Look:
    def counts(cum: tuple[int, ...] | None, mean: float) -> Counts:
        if cum is None:
            return Counts(100, 0, mean)
        return Counts(cum[-1], 0, mean, None, tuple(zip((100.0, 200.0, math.inf), cum, strict=True)))

    return Look(t, counts(stable, means[1]), counts(canary, means[0]))


def test_tail_bound_comes_from_earlier_looks_only() -> None:
    looks = [
        _look(10, (80, 96, 100), (8, 10, 10)),  # no earlier look: no bound
        _look(20, (70, 80, 100), (5, 9, 10)),  # look 1's p95 is at 200 ms (96 % <= 200)
        _look(30, (50, 99, 100), (2, 5, 10)),  # looks 1-2 pooled: 176/200 = 88 % <= 200 → inf: skipped
    ]
    tail = _tail_counts(looks, 0.95)
    assert math.isnan(tail.bound[0]) and math.isnan(tail.bound[2])
    assert tail.bound[1] == 200.0
    assert (tail.over_c[1], tail.total_c[1], tail.over_s[1], tail.total_s[1]) == (1, 10, 20, 100)
    # changing look 2's stable histogram does not move look 2's bound
    other = [looks[0], _look(20, (10, 20, 100), (5, 9, 10))]
    assert _tail_counts(other, 0.95).bound[1] == 200.0
    # at the median, the pooled bound is 100 ms
    assert _tail_counts(looks, 0.5).bound[2] == 100.0


def test_histogram_mode_is_fixed_by_the_first_look_with_latency() -> None:
    with_h = _look(10, (80, 96, 100), (8, 10, 10))
    without = _look(10, None, None)
    assert _histogram_mode([with_h, without])
    assert not _histogram_mode([without, with_h])
    empty = Look(5, Counts(0, 0, None), Counts(0, 0, None))
    assert _histogram_mode([empty, with_h])


def test_mean_guard_reads_whole_blocks() -> None:
    looks = [_look(10 * k, None, None, means=(100.0 * (1 + 0.01 * k), 100.0)) for k in range(1, 8)]
    index, logs = _latency_pairs(looks)
    ready, values = _blocks(looks, index, logs, 30.0)
    # t = 10, 20 | 30, 40, 50 | 60, 70 (still filling): blocks complete at t = 30 and t = 60
    assert ready == [2, 5]
    assert values == pytest.approx([np.mean(logs[0:2]), np.mean(logs[2:5])])
    assert _blocks(looks, index, logs, 0.0) == (index, logs)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tail_quantile": 1.0}, "tail_quantile must be < 1"),
        ({"tail_ratio": 1}, "tail_ratio must be > 1"),
        ({"latency_block_s": -5}, "latency_block_s must be >= 0"),
    ],
)
def test_new_settings_are_checked(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SequentialSettings(**settings)  # type: ignore[arg-type]


def test_blocks_apply_only_without_histograms() -> None:
    plain = [_look(10 * k, None, None) for k in range(1, 13)]
    hist = [_look(10 * k, (80, 96, 100), (8, 10, 10)) for k in range(1, 13)]
    settings = SequentialSettings()
    # looks at 10..120 s: one value per look with histograms; without, one per complete 60 s block
    # ([10, 50] complete at 60 s, [60, 110] at 120 s)
    assert trace(hist, settings).latency_blocks[-1] == 12
    assert trace(plain, settings).latency_blocks.tolist() == [0] * 5 + [1] * 6 + [2]


def test_a_declared_running_average_is_read_once_per_window() -> None:
    # 50 canary and 450 stable requests per look: 1024 requests of both take 21 looks (canary)
    looks = [Look(10.0 * k, Counts(450, 0, 100.0), Counts(50, 0, 100.0 + k)) for k in range(1, 61)]
    index, logs = _latency_pairs(looks)
    ready, values = _windows(looks, index, logs, 1024)
    assert ready == [20, 41]
    assert values == pytest.approx([math.log(121 / 100), math.log(142 / 100)])
    settings = SequentialSettings(latency_window_requests=1024)
    assert trace(looks, settings).latency_blocks.tolist() == [0] * 20 + [1] * 21 + [2] * 19
