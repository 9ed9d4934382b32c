"""The training recipe: calibration and levels only from out-of-repository scores; held-out models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from critterops.history.mining import FEATURES, Features
from critterops.history.model import Provenance, RiskModel
from critterops.history.train import RepoRows, loro_logits, train_recipe


def _repo(name: str, n: int, seed: int, shift: float) -> RepoRows:
    """Commits whose later-fix odds grow with lines added; ``shift`` moves the repository's base rate."""
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for _ in range(n):
        values = dict.fromkeys(FEATURES, 0) | {"la": int(rng.lognormal(3, 1.5)), "nf": int(rng.integers(1, 9))}
        p = 1 / (1 + np.exp(-(shift + 0.9 * np.log1p(values["la"]) - 4)))
        rows.append(Features(**values))
        labels.append(int(rng.random() < p))
    provenance = Provenance(name, "h" * 40, n, sum(labels), "2024-01-01", "2024-12-31", root=f"{seed:040x}")
    return RepoRows(tuple(rows), tuple(labels), provenance)


@pytest.fixture(scope="module")
def sources() -> list[RepoRows]:
    return [_repo("a/one", 600, 1, 0.0), _repo("b/two", 500, 2, -0.5), _repo("c/three", 400, 3, 0.5)]


def test_recipe_is_calibrated_out_of_repository_and_sets_levels(sources: list[RepoRows]) -> None:
    model = train_recipe(sources)
    assert model.calibration.method == "platt" and "leave-one-repository-out" in model.calibration.note
    assert model.levels is not None and 0 < model.levels.medium < model.levels.high < 1
    # high is rare: about the riskiest 8% of each repository's out-of-repository scores
    logits = loro_logits(sources, FEATURES)
    c = model.calibration
    for x in logits:
        p = 1 / (1 + np.exp(-(c.a * x + c.b)))
        assert 0.03 < float(np.mean(p >= model.levels.high)) < 0.15
    # the calibrated mean matches the pooled base rate (each repository weighted equally)
    rates = [np.mean(s.labels) for s in sources]
    means = [float(np.mean(1 / (1 + np.exp(-(c.a * x + c.b))))) for x in logits]
    assert np.mean(means) == pytest.approx(np.mean(rates), abs=0.03)


def test_held_out_models_never_saw_their_repository(sources: list[RepoRows]) -> None:
    model = train_recipe(sources)
    assert [name for name, _ in model.held_out] == ["a/one", "b/two", "c/three"]
    for name, held in model.held_out:
        assert name not in {p.repo for p in held.provenance} and len(held.provenance) == 2
        assert held.held_out == () and held.levels == model.levels
    again = RiskModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again == model
