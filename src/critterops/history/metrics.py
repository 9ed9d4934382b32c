"""Evaluation metrics for change-risk scores, as the risk design §3.4 defines them.

* AUC: the Mann–Whitney probability that a later-fixed commit outscores a clean one (ties count ½),
  with a percentile bootstrap CI. Resamples are drawn as count vectors, so every resample's AUC is
  one matrix product over a precomputed positive × negative comparison table, and a paired
  difference uses the same resamples for both scores.
* Recall@20%Effort: exactly as JIT-Fine's ``performance_measure.py``: effort (LOC) = LA + LD, commits
  ranked by score / LOC descending, recall among the commits whose cumulative LOC is within 20% of the
  total. A zero-LOC commit ranks first (score/0 = ∞ there too); ties keep time order (stable sort).
* Capture at g% gated: the share of later-fixed commits among the top ⌈g·n⌉ by score (Meta's DRS view).
* Brier score, and the Brier score of predicting the test set's own base rate, π(1 − π).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a 95% percentile-bootstrap interval; ``resamples`` counts the usable ones."""

    value: float
    low: float
    high: float
    resamples: int


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """AUC(a) − AUC(b) on the same resamples, its interval, and the one-sided p of "a is not better"."""

    difference: Interval
    p_one_sided: float


def auc(labels: Vector, scores: Vector) -> float | None:
    """ROC AUC, or None when one class is missing."""
    table, positives, negatives = _comparisons(labels, scores)
    if positives.size == 0 or negatives.size == 0:
        return None
    return float(table.mean())


def _comparisons(labels: Vector, scores: Vector) -> tuple[Vector, npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """The positive × negative table of 1 (positive scores higher), ½ (tie) and 0, and the two index sets."""
    positives = np.flatnonzero(labels > 0)
    negatives = np.flatnonzero(labels <= 0)
    diff = scores[positives][:, None] - scores[negatives][None, :]
    return (diff > 0) + 0.5 * (diff == 0), positives, negatives


def _resample_counts(n: int, resamples: int, seed: int) -> Vector:
    """How often each of ``n`` items is drawn in each bootstrap resample (resamples × n)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(resamples, n))
    counts = np.zeros((resamples, n))
    np.add.at(counts, (np.repeat(np.arange(resamples), n), draws.ravel()), 1.0)
    return counts


def _bootstrap_aucs(labels: Vector, scores: Vector, counts: Vector) -> Vector:
    """AUC of every resample (NaN where a resample lacks a class)."""
    table, positives, negatives = _comparisons(labels, scores)
    cp, cn = counts[:, positives], counts[:, negatives]
    with np.errstate(invalid="ignore", divide="ignore"):
        result: Vector = np.einsum("bi,ij,bj->b", cp, table, cn) / (cp.sum(axis=1) * cn.sum(axis=1))
    return result


def auc_interval(labels: Vector, scores: Vector, *, resamples: int, seed: int) -> Interval | None:
    point = auc(labels, scores)
    if point is None:
        return None
    values = _bootstrap_aucs(labels, scores, _resample_counts(len(labels), resamples, seed))
    return _interval(point, values)


def paired_auc_difference(
    labels: Vector, first: Vector, second: Vector, *, resamples: int, seed: int
) -> PairedDifference | None:
    """Paired bootstrap of AUC(first) − AUC(second)."""
    a, b = auc(labels, first), auc(labels, second)
    if a is None or b is None:
        return None
    counts = _resample_counts(len(labels), resamples, seed)
    deltas = _bootstrap_aucs(labels, first, counts) - _bootstrap_aucs(labels, second, counts)
    usable = deltas[~np.isnan(deltas)]
    p = float((np.sum(usable <= 0) + 1) / (usable.size + 1))
    return PairedDifference(_interval(a - b, deltas), p)


def _interval(point: float, values: Vector) -> Interval:
    usable = values[~np.isnan(values)]
    if usable.size == 0:
        return Interval(point, math.nan, math.nan, 0)
    low, high = np.percentile(usable, [2.5, 97.5])
    return Interval(point, float(low), float(high), int(usable.size))


def recall_at_effort(labels: Vector, scores: Vector, loc: Vector, effort: float = 0.2) -> float | None:
    """JIT-Fine's Recall@k%Effort: rank by score/LOC, count positives within ``effort`` of total LOC."""
    total_positive = int(np.sum(labels > 0))
    if total_positive == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        density = np.where(loc > 0, scores / np.where(loc > 0, loc, 1.0), np.where(scores > 0, np.inf, -np.inf))
    order = np.argsort(-density, kind="stable")
    cumulative = np.cumsum(loc[order])
    inside = cumulative <= effort * cumulative[-1]
    return float(np.sum(labels[order][inside] > 0) / total_positive)


def capture_at(labels: Vector, scores: Vector, gated: float = 0.1) -> float | None:
    """Share of positives among the ⌈gated·n⌉ highest scores (ties keep time order)."""
    total_positive = int(np.sum(labels > 0))
    if total_positive == 0:
        return None
    k = max(1, math.ceil(gated * len(labels)))
    order = np.argsort(-scores, kind="stable")[:k]
    return float(np.sum(labels[order] > 0) / total_positive)


def brier(labels: Vector, probabilities: Vector) -> float:
    return float(np.mean((probabilities - labels) ** 2))


def base_rate_brier(labels: Vector) -> float:
    """Brier score of always predicting the set's own positive rate: π(1 − π)."""
    rate = float(np.mean(labels > 0))
    return rate * (1 - rate)
