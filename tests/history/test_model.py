"""The logistic model: recovers a planted signal, calibrates sanely, round-trips through JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from critterops.errors import UserError
from critterops.history.mining import FEATURES, Features
from critterops.history.model import (
    SCHEMA,
    RiskModel,
    fit,
    load_default_model,
    matrix,
    newton_logistic,
)

NAMES = ("signal", "inverse", "noise")


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw lognormal features; the log-odds depend on standardised log1p of the first two only."""
    rng = np.random.default_rng(seed)
    raw = rng.lognormal(size=(n, 3))
    logged = np.log1p(raw)
    z = (logged - logged.mean(axis=0)) / logged.std(axis=0)
    p = 1 / (1 + np.exp(-(-2.0 + 1.5 * z[:, 0] - 1.0 * z[:, 1])))
    return raw, (rng.random(n) < p).astype(float)


def test_recovers_a_planted_signal_and_calibrates() -> None:
    raw, y = _planted(4000, seed=7)
    model = fit(raw, y, NAMES)
    w_signal, w_inverse, w_noise = model.weights
    assert w_signal == pytest.approx(1.5, abs=0.2)
    assert w_inverse == pytest.approx(-1.0, abs=0.2)
    assert abs(w_noise) < 0.15
    assert model.calibration.method == "platt"
    assert model.calibration.a == pytest.approx(1.0, abs=0.25)

    # Platt matches the held-out later slice (the last 20%) it was fitted on ...
    assert model.predict_many(raw[-800:]).mean() == pytest.approx(y[-800:].mean(), abs=0.015)
    # ... and stays reliable on fresh data from the same process, decile by decile.
    fresh, y_fresh = _planted(4000, seed=8)
    p = model.predict_many(fresh)
    assert p.mean() == pytest.approx(y_fresh.mean(), abs=0.05)
    for group in np.array_split(np.argsort(p), 10):
        assert abs(p[group].mean() - y_fresh[group].mean()) < 0.1


def test_fitting_is_deterministic_and_rejects_one_class() -> None:
    raw, y = _planted(500, seed=1)
    assert fit(raw, y, NAMES) == fit(raw, y, NAMES)
    with pytest.raises(ValueError, match="single class"):
        fit(raw, np.zeros(500), NAMES)


def test_ridge_keeps_separable_data_finite() -> None:
    x = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    weights, _ = newton_logistic(x, np.array([0.0, 0.0, 1.0, 1.0]), 1.0)
    assert np.isfinite(weights).all() and 0 < weights[0] < 10


def test_calibration_is_skipped_when_the_held_out_slice_is_too_small() -> None:
    raw, y = _planted(200, seed=3)
    y[-40:] = 0
    model = fit(raw, y, NAMES)
    assert (model.calibration.method, model.calibration.a, model.calibration.b) == ("none", 1.0, 0.0)


def test_explain_terms_add_up_to_the_logit() -> None:
    raw, y = _planted(800, seed=2)
    model = fit(raw, y, NAMES)
    row = dict(zip(NAMES, raw[0], strict=True))
    terms = model.explain(row, top=3)
    assert [abs(t[1]) for t in terms] == sorted((abs(t[1]) for t in terms), reverse=True)
    assert sum(t[1] for t in terms) + model.intercept == pytest.approx(float(model.logits(raw[:1])[0]))
    assert {t[0]: t[2] for t in terms}["signal"] == pytest.approx(raw[0, 0])
    assert len(model.explain(row, top=1)) == 1


def test_json_round_trip_and_validation() -> None:
    raw, y = _planted(300, seed=4)
    model = fit(raw, y, NAMES)
    data = json.loads(json.dumps(model.to_dict()))
    assert data["schema"] == SCHEMA
    again = RiskModel.from_dict(data)
    assert again.predict(dict(zip(NAMES, raw[5], strict=True))) == model.predict(dict(zip(NAMES, raw[5], strict=True)))
    with pytest.raises(UserError, match="schema"):
        RiskModel.from_dict({**data, "schema": "other/v0"})
    with pytest.raises(UserError, match="match the features"):
        RiskModel.from_dict({**data, "weights": [1.0]})
    with pytest.raises(UserError, match="malformed"):
        RiskModel.from_dict({key: value for key, value in data.items() if key != "intercept"})
    with pytest.raises(UserError, match="missing"):
        model.predict({"signal": 1.0})


def test_default_model_is_published_and_scores_features() -> None:
    model = load_default_model()
    assert model.features == FEATURES
    assert len(model.provenance) >= 2
    assert any("CritterSupply" in p.repo for p in model.provenance)
    assert all(p.positives > 0 and p.commits > p.positives and p.root for p in model.provenance)
    # calibrated on held-out data, levels chosen there, and a model without each corpus repository
    assert model.calibration.method == "platt" and "leave-one-repository-out" in model.calibration.note
    assert model.levels is not None and 0 < model.levels.medium < model.levels.high < 1
    assert {name for name, _ in model.held_out} == {p.repo for p in model.provenance}
    without = model.without("erikshafer/CritterSupply")
    assert without is not None and all("CritterSupply" not in p.repo for p in without.provenance)
    small = Features(**dict.fromkeys(FEATURES, 0) | {"la": 3, "nf": 1, "source": 1})
    big = Features(**dict.fromkeys(FEATURES, 0) | {"la": 900, "ld": 200, "nf": 40, "source": 1, "ns": 6})
    assert 0 < model.predict(small) < model.predict(big) < 1
    assert matrix([small], model.features).shape == (1, len(FEATURES))
