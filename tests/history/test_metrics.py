"""Metrics on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pytest

from critterops.history.metrics import (
    auc,
    auc_interval,
    base_rate_brier,
    brier,
    capture_at,
    paired_auc_difference,
    recall_at_effort,
)


def a(*values: float) -> np.ndarray:
    return np.asarray(values, dtype=float)


def test_auc_by_hand_with_ties() -> None:
    # pairs (pos, neg): (.9,.8) win, (.9,.1) win, (.3,.8) loss, (.3,.1) win → 3/4
    assert auc(a(1, 0, 1, 0), a(0.9, 0.8, 0.3, 0.1)) == 0.75
    assert auc(a(1, 0), a(0.5, 0.5)) == 0.5
    assert auc(a(1, 1), a(0.1, 0.2)) is None


def test_auc_interval_is_seeded_and_contains_the_estimate() -> None:
    rng = np.random.default_rng(0)
    labels = (rng.random(200) < 0.2).astype(float)
    scores = labels * 0.5 + rng.random(200)
    first = auc_interval(labels, scores, resamples=1000, seed=3)
    assert first is not None and first == auc_interval(labels, scores, resamples=1000, seed=3)
    assert first.low < first.value < first.high and first.resamples == 1000
    assert auc_interval(np.zeros(5), scores[:5], resamples=10, seed=0) is None


def test_paired_difference() -> None:
    rng = np.random.default_rng(1)
    labels = (rng.random(300) < 0.3).astype(float)
    good = labels + rng.random(300)
    same = paired_auc_difference(labels, good, good, resamples=500, seed=0)
    assert same is not None and same.difference.value == 0.0 and same.p_one_sided == 1.0
    better = paired_auc_difference(labels, good, rng.random(300), resamples=500, seed=0)
    assert better is not None and better.difference.low > 0 and better.p_one_sided < 0.01


def test_recall_at_20_percent_effort_as_jit_fine() -> None:
    # density = score / LOC: .05, .04, .01125 → order 0, 1, 2; cumulative LOC 10, 20, 100; 20% of 100 = 20
    labels, scores, loc = a(1, 0, 1), a(0.5, 0.4, 0.9), a(10, 10, 80)
    assert recall_at_effort(labels, scores, loc) == 0.5
    # a zero-LOC commit ranks first at no cost, as score/0 = inf does in JIT-Fine
    assert recall_at_effort(a(0, 1), a(0.1, 0.1), a(100, 0)) == 1.0
    assert recall_at_effort(a(0, 0), a(0.1, 0.2), a(1, 1)) is None


def test_capture_when_gating_ten_percent() -> None:
    labels = a(0, 1, 0, 0, 0, 0, 0, 0, 1, 0)
    scores = a(0.1, 0.9, 0.2, 0.3, 0.1, 0.1, 0.2, 0.3, 0.4, 0.5)
    assert capture_at(labels, scores, 0.1) == 0.5  # top ⌈1⌉ commit: the 0.9 one
    assert capture_at(labels, scores, 0.2) == 0.5  # 0.9 and 0.5
    assert capture_at(labels, scores, 0.3) == 1.0


def test_brier_against_the_base_rate() -> None:
    labels = a(1, 0, 0, 0)
    assert brier(labels, a(1, 0, 0, 0)) == 0.0
    assert brier(labels, a(0.25, 0.25, 0.25, 0.25)) == pytest.approx(base_rate_brier(labels)) == 0.1875
