"""Is the shipped recipe better than the textbook model? CritterSupply's later commits, out of sample.

    nice -n 10 python scripts/risk_train.py mine        # once: mine + label the corpus into the cache
    python benchmarks/risk_model.py [--resamples 2000] [--json]

Protocol (issue 19): CritterSupply's mature commits are split 70/30 in time. The test window is the
last 30%. Both models train on the same rows: every other corpus repository, plus CritterSupply's
commits older than the test window's start by its label gap, with the labels known at that start.
Nothing from the test window is seen, not even by the calibration (leave-one-repository-out Platt
on the training repositories) or by the level thresholds.

* ours: the shipped recipe (``critterops.history.train.train_recipe``): all features, L2 LR,
  LORO-Platt calibration, levels from LORO calibrated p;
* kamei: plain Kamei LR (14 metrics, same L2, same rows).

Reported: AUC on all test commits and on those touching source, with 95% bootstrap CIs; the paired
bootstrap of AUC(ours) − AUC(kamei) on the same resamples; at the ``high`` level the share of test
commits flagged and the share of later-fixed commits among them, with the shipped thresholds and with
thresholds set for the repository from its own commits before the cut (what ``risk --history``
suggests: the riskiest 8% of those commits at high, 25% at medium or above); ECE before and after
calibration.
With ``--library`` (needs the ``risk-train`` extra: scikit-learn), the same rows also train a
``HistGradientBoostingClassifier`` (log1p features, the same repository weights) as a check on whether
a non-linear learner would be worth shipping as trees.

Targets: AUC ≥ 0.92 (all), ≥ 0.85 (source), gain CI excluding 0, high ≤ 15% of commits holding ≥ 50%
of later-fixed ones.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from risk_train import load

from critterops.history.evaluate import expected_calibration_error, level_shares
from critterops.history.metrics import auc_interval, paired_auc_difference
from critterops.history.mining import FEATURES, KAMEI_FEATURES, Features
from critterops.history.model import fit, matrix
from critterops.history.train import BALANCE, HIGH_SHARE, MEDIUM_SHARE, RepoRows, train_recipe

TARGET = "erikshafer/CritterSupply"
TEST_SHARE = 0.3
_DAY = 86_400


def split(source: RepoRows) -> tuple[RepoRows, list[int]]:
    """The training part of the target (labels as known at the cut) and the test positions."""
    n = len(source.rows)
    start = n - math.ceil(TEST_SHARE * n)
    cut = source.times[start]
    keep = [i for i in range(start) if source.times[i] < cut - source.gap_days * _DAY]
    labels = tuple(int(t is not None and t < cut) for t in (source.fix_times[i] for i in keep))
    train = replace(
        source,
        rows=tuple(source.rows[i] for i in keep),
        labels=labels,
        shas=tuple(source.shas[i] for i in keep),
        times=tuple(source.times[i] for i in keep),
        fix_times=tuple(source.fix_times[i] for i in keep),
        provenance=replace(source.provenance, commits=len(keep), positives=sum(labels)),
    )
    return train, list(range(start, n))


def boosted(sources: list[RepoRows], rows: list[Features], names: tuple[str, ...]) -> np.ndarray:
    """Gradient-boosted trees on the same rows and weights as the recipe (scikit-learn, offline only)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.log1p(np.maximum(np.vstack([matrix(s.rows, names) for s in sources]), 0.0))
    y = np.asarray([v for s in sources for v in s.labels])
    weight = np.concatenate([np.full(len(s.rows), float(len(s.rows)) ** -BALANCE) for s in sources])
    model = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0, random_state=0
    )
    model.fit(x, y, sample_weight=weight * weight.size / weight.sum())
    result: np.ndarray = model.predict_proba(np.log1p(np.maximum(matrix(rows, names), 0.0)))[:, 1]
    return result


def run(resamples: int, names: tuple[str, ...] = FEATURES, library: bool = False) -> dict[str, object]:
    corpus = load()
    target = next(s for s in corpus if s.name == TARGET)
    train_target, test = split(target)
    sources = [s for s in corpus if s.name != TARGET] + ([train_target] if train_target.rows else [])
    ours = train_recipe(sources, names, held_out=False)
    pooled = np.vstack([matrix(s.rows, KAMEI_FEATURES) for s in sources])
    kamei = fit(pooled, [y for s in sources for y in s.labels], KAMEI_FEATURES, calibration_rows=0)
    rows = [target.rows[i] for i in test]
    y = np.asarray([target.labels[i] for i in test], dtype=float)
    source = np.asarray([r.source for r in rows], dtype=bool)
    p_ours = ours.predict_many(matrix(rows, ours.features))
    raw_ours = 1 / (1 + np.exp(-ours.logits(matrix(rows, ours.features))))
    p_kamei = kamei.predict_many(matrix(rows, KAMEI_FEATURES))
    assert ours.levels is not None
    shares = {s.level: s for s in level_shares(y, p_ours, ours.levels.medium, ours.levels.high)}
    # what `risk` does by default (change.model.repository_levels): the last 200 commits before the cut
    before = ours.predict_many(matrix(list(target.rows[max(0, test[0] - 200) : test[0]]), ours.features))
    own_medium = float(np.quantile(before, 1 - MEDIUM_SHARE))
    own_high = float(np.quantile(before, 1 - HIGH_SHARE))
    own = {s.level: s for s in level_shares(y, p_ours, own_medium, own_high)}

    def interval(mask: np.ndarray, p: np.ndarray) -> dict[str, float] | None:
        got = auc_interval(y[mask], p[mask], resamples=resamples, seed=0)
        return None if got is None else {"auc": got.value, "low": got.low, "high": got.high}

    def gain(mask: np.ndarray) -> dict[str, float] | None:
        got = paired_auc_difference(y[mask], p_ours[mask], p_kamei[mask], resamples=resamples, seed=0)
        if got is None:
            return None
        d = got.difference
        return {"gain": d.value, "low": d.low, "high": d.high, "p_one_sided": got.p_one_sided}

    everything = np.ones_like(source)
    extra: dict[str, object] = {}
    if library:
        p_trees = boosted(sources, rows, names)
        gained = paired_auc_difference(y, p_trees, p_kamei, resamples=resamples, seed=0)
        extra["boosted_trees"] = {
            "all": interval(everything, p_trees),
            "source": interval(source, p_trees),
            "gain_over_kamei_all": None if gained is None else gained.difference.value,
            "gain_over_kamei_all_ci": None if gained is None else [gained.difference.low, gained.difference.high],
        }
    return extra | {
        "target": TARGET,
        "features": len(names),
        "train_commits": sum(len(s.rows) for s in sources),
        "train_positives": sum(sum(s.labels) for s in sources),
        "train_target_commits": len(train_target.rows),
        "test_commits": int(y.size),
        "test_positives": int(y.sum()),
        "test_source_commits": int(source.sum()),
        "test_source_positives": int(y[source].sum()),
        "test_from": target.provenance.last if not test else _date(target.times[test[0]]),
        "ours": {"all": interval(everything, p_ours), "source": interval(source, p_ours)},
        "kamei": {"all": interval(everything, p_kamei), "source": interval(source, p_kamei)},
        "gain_over_kamei": {"all": gain(everything), "source": gain(source)},
        "levels": {"medium": ours.levels.medium, "high": ours.levels.high},
        "high": {
            "share_of_commits": shares["high"].share_of_commits,
            "share_of_later_fixed": shares["high"].share_of_positives,
            "precision": shares["high"].precision,
        },
        "medium_or_high_share_of_commits": shares["high"].share_of_commits + shares["medium"].share_of_commits,
        "repository_levels": {"medium": round(own_medium, 4), "high": round(own_high, 4)},
        "high_with_repository_levels": {
            "share_of_commits": own["high"].share_of_commits,
            "share_of_later_fixed": own["high"].share_of_positives,
            "precision": own["high"].precision,
        },
        "medium_or_high_share_with_repository_levels": own["high"].share_of_commits + own["medium"].share_of_commits,
        "ece_uncalibrated": expected_calibration_error(y, raw_ours)[0],
        "ece_calibrated": expected_calibration_error(y, p_ours)[0],
        "mean_p": float(p_ours.mean()),
        "base_rate": float(y.mean()),
        "calibration": ours.calibration.note,
    }


def _date(timestamp: int) -> str:
    import time

    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--library", action="store_true", help="also train scikit-learn's boosted trees")
    args = parser.parse_args()
    result = run(args.resamples, library=args.library)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for key, value in result.items():
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
