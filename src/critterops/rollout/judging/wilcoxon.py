"""R's ``wilcox.test(x, y, conf.int = TRUE, exact = FALSE)`` for two independent samples, in numpy.

Kayenta's ``MannWhitney.scala`` ports the same code (R's ``stats/R/wilcox.test.R``, asymptotic
two-sample branch): the normal approximation with tie and continuity corrections, a confidence
interval for the location shift ``x - y`` by root-finding on the standardised statistic, and the
Hodges-Lehmann estimate as the root of the uncorrected statistic. There, for a shift ``d``::

    dz(d)    = sum of the ranks of (x - d) in c(x - d, y)  -  nx (nx + 1) / 2  -  nx ny / 2
    sigma(d) = sqrt(nx ny / 12 * ((nx + ny + 1) - sum(t^3 - t) / ((nx + ny) (nx + ny - 1))))
    f(d, zq) = (dz(d) - 0.5 sign(dz(d))) / sigma(d) - zq

and the interval is ``[root(f(., z_{1-a/2})), root(f(., -z_{1-a/2}))]`` on ``[min(x) - max(y),
max(x) - min(y)]``, an end point being returned when ``f`` does not change sign there.

The rank sum only changes where ``d`` crosses a pairwise difference ``x_i - y_j``: between two
consecutive differences it equals ``U(d) = #{(i, j) : x_i - y_j > d}`` and the ties in the pooled
sample are only those within ``x`` and within ``y``. So ``f`` is a non-increasing step function and
its root is the pairwise difference where it jumps across zero; this module finds that jump
exactly, by counting, instead of with R's ``uniroot`` (which stops within ``tol = 1e-4`` of it).
Where the uncorrected statistic is exactly zero over a whole gap (an even number of pairs), R's
root may land anywhere in the gap; the midpoint is returned, which makes the estimate the median of
the pairwise differences, the textbook Hodges-Lehmann estimator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class RankSumResult:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney) test of ``x`` against ``y``."""

    w: float  # R's statistic W: rank sum of x minus nx (nx + 1) / 2 (= Mann-Whitney U of x)
    p_value: float  # two-sided, normal approximation with tie and continuity corrections
    estimate: float  # Hodges-Lehmann estimate of the shift x - y
    lower: float  # confidence interval for the shift
    upper: float
    conf_level: float


def average_ranks(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Ranks 1..n with ties given their average rank (R's ``rank`` default)."""
    a = np.asarray(values, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    starts = np.flatnonzero(np.r_[True, sorted_a[1:] != sorted_a[:-1]])
    ends = np.r_[starts[1:], a.size]  # exclusive
    mean_rank = (starts + ends + 1) / 2.0  # average of 1-based ranks starts+1 .. ends
    ranks = np.empty(a.size)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _tie_term(values: npt.NDArray[np.float64]) -> float:
    _, counts = np.unique(values, return_counts=True)
    return float(np.sum(counts.astype(np.float64) ** 3 - counts))


def _sigma(nx: int, ny: int, tie_term: float) -> float:
    total = nx + ny
    inner = (total + 1) - tie_term / (total * (total - 1))
    return math.sqrt(max(nx * ny / 12.0 * inner, 0.0))


def wilcox_test(x: npt.ArrayLike, y: npt.ArrayLike, conf_level: float = 0.95) -> RankSumResult:
    """Two-sample, two-sided rank-sum test with a confidence interval for the shift ``x - y``.

    Raises ``ValueError`` for an empty sample, a non-finite value, or when all observations are tied
    (R stops there too: the statistic has no spread).
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if xs.size == 0 or ys.size == 0:
        raise ValueError("both samples need at least one value")
    if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ys))):
        raise ValueError("samples must be finite (remove NaN first)")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be in (0, 1), got {conf_level}")
    nx, ny = xs.size, ys.size
    half = nx * ny / 2.0

    # The test at shift 0: ranks of the pooled sample, ties included.
    ranks = average_ranks(np.concatenate([xs, ys]))
    w = float(ranks[:nx].sum() - nx * (nx + 1) / 2.0)
    sigma0 = _sigma(nx, ny, _tie_term(np.concatenate([xs, ys])))
    if sigma0 == 0:
        raise ValueError("cannot compute the test when all observations are tied")
    z = w - half
    z = (z - 0.5 * math.copysign(1.0, z) * (z != 0)) / sigma0
    p_value = min(1.0, 2.0 * min(_NORMAL.cdf(z), 1.0 - _NORMAL.cdf(z)))

    # The interval: f only changes at pairwise differences; between them U(d) = #{D > d}.
    diffs = np.sort((xs[:, None] - ys[None, :]).ravel())
    sigma = _sigma(nx, ny, _tie_term(xs) + _tie_term(ys))
    if sigma == 0:
        raise ValueError("cannot compute confidence interval when all observations are tied")
    values = np.unique(diffs)
    above = diffs.size - np.searchsorted(diffs, values, side="right")  # U just above each value
    dz = above - half

    def root(zq: float) -> float:
        corrected = (dz - 0.5 * np.sign(dz)) / sigma - zq
        crossing = np.flatnonzero(corrected <= 0)
        return float(values[crossing[0]] if crossing.size else values[-1])

    zq = _NORMAL.inv_cdf(1 - (1 - conf_level) / 2)
    estimate = float(np.median(diffs))
    return RankSumResult(w, p_value, estimate, root(zq), root(-zq), conf_level)
