"""The change-risk model: L2 logistic regression on log1p-standardised features, Platt-calibrated.

Why this model: on change-risk data a plain logistic regression matches or beats deep models
(LApredict, Meta's Diff Risk Score), it is deterministic, and its terms β·z explain a score in the
units a reviewer can check (risk design §0, §5B). Fitting is Newton's method (IRLS) with a ridge
penalty on the weights, not the intercept; the penalty keeps the fit finite when a rare rule signal
separates the classes in a small history.

Calibration (Platt): the model is first fitted without the latest slice of its training commits,
a sigmoid ``σ(a·logit + b)`` is fitted on that held-out later slice, and the model is then refitted
on all training commits. The later slice is used because drift makes the newest commits the best
stand-in for the ones that will be scored.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from critterops.errors import BackendError, UserError
from critterops.history.mining import Features

SCHEMA = "critterops.riskmodel/v1"
DEFAULT_L2 = 1.0
CALIBRATION_SHARE = 0.2
_MIN_CALIBRATION_POSITIVES = 3

Matrix = npt.NDArray[np.float64]
Row = Features | Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Calibration:
    """``p = σ(a·logit + b)``; ``method="none"`` (a=1, b=0) when the held-out slice could not support a fit."""

    method: Literal["platt", "none"]
    a: float = 1.0
    b: float = 0.0
    note: str = ""


@dataclass(frozen=True, slots=True)
class Provenance:
    """What one repository contributed to a model's training data."""

    repo: str
    head: str
    commits: int
    positives: int
    first: str
    last: str
    note: str = ""
    root: str = ""  # the repository's root commit(s), comma-separated: how `risk --history` recognises it


@dataclass(frozen=True, slots=True)
class ModelLevels:
    """Thresholds on the calibrated p, chosen on out-of-sample predictions (see ``note``)."""

    medium: float
    high: float
    note: str = ""


@dataclass(frozen=True, slots=True)
class RiskModel:
    """A fitted model: feature order, standardisation, weights, intercept, calibration, provenance."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    sds: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    calibration: Calibration
    l2: float = DEFAULT_L2
    provenance: tuple[Provenance, ...] = field(default=())
    levels: ModelLevels | None = None
    held_out: tuple[tuple[str, RiskModel], ...] = field(default=())
    """Per training repository (its ``Provenance.repo``), the same recipe trained without it: what
    ``risk --history`` evaluates on that repository, so the evaluation is out of sample."""

    def without(self, repo: str) -> RiskModel | None:
        """The model trained without ``repo`` (leave-one-repository-out), if the artefact has it."""
        return next((m for name, m in self.held_out if name == repo), None)

    def standardise(self, raw: Matrix) -> Matrix:
        z: Matrix = (np.log1p(np.maximum(raw, 0.0)) - np.asarray(self.means)) / np.asarray(self.sds)
        return z

    def logits(self, raw: Matrix) -> Matrix:
        """Uncalibrated log-odds for a matrix of raw feature values (rows × ``features``)."""
        z: Matrix = self.standardise(raw) @ np.asarray(self.weights) + self.intercept
        return z

    def predict_many(self, raw: Matrix) -> Matrix:
        return _sigmoid(self.calibration.a * self.logits(raw) + self.calibration.b)

    def predict(self, row: Row) -> float:
        """Calibrated probability that the change will later need a fix."""
        return float(self.predict_many(matrix([row], self.features))[0])

    def explain(self, row: Row, top: int = 3) -> list[tuple[str, float, float]]:
        """The ``top`` terms β·z with the largest magnitude: ``(feature, β·z, raw value)``."""
        raw = matrix([row], self.features)
        terms = self.standardise(raw)[0] * np.asarray(self.weights)
        order = sorted(range(len(self.features)), key=lambda j: (-abs(terms[j]), j))[:top]
        return [(self.features[j], float(terms[j]), float(raw[0, j])) for j in order]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "features": list(self.features),
            "means": list(self.means),
            "sds": list(self.sds),
            "weights": list(self.weights),
            "intercept": self.intercept,
            "l2": self.l2,
            "calibration": asdict(self.calibration),
            "training": [asdict(p) for p in self.provenance],
            **({"levels": asdict(self.levels)} if self.levels is not None else {}),
            **({"held_out": {name: m.to_dict() for name, m in self.held_out}} if self.held_out else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RiskModel:
        """Read a model document; anything malformed is a :class:`UserError` naming the problem."""
        if data.get("schema") != SCHEMA:
            raise UserError(f"not a critterops risk model: schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        try:
            names = tuple(str(n) for n in data["features"])
            vectors = [tuple(float(v) for v in data[key]) for key in ("means", "sds", "weights")]
            calibration = Calibration(**data["calibration"])
            provenance = tuple(Provenance(**p) for p in data.get("training", ()))
            intercept, l2 = float(data["intercept"]), float(data.get("l2", DEFAULT_L2))
            levels = ModelLevels(**data["levels"]) if "levels" in data else None
            held = data.get("held_out", {})
            if not isinstance(held, Mapping):
                raise TypeError("held_out must map repository names to models")
            held_out = tuple((str(name), cls.from_dict(sub)) for name, sub in held.items())
        except (KeyError, TypeError, ValueError) as error:
            raise UserError(f"malformed risk model: {error!r}") from error
        if any(len(v) != len(names) for v in vectors) or any(sd <= 0 for sd in vectors[1]):
            raise UserError("malformed risk model: means, sds and weights must match the features (sds > 0)")
        if levels is not None and not 0 < levels.medium < levels.high < 1:
            raise UserError(f"malformed risk model: levels need 0 < medium < high < 1, got {levels}")
        return cls(names, vectors[0], vectors[1], vectors[2], intercept, calibration, l2, provenance, levels, held_out)


def matrix(rows: Sequence[Row], names: Sequence[str]) -> Matrix:
    """Raw feature values, one row per commit, columns in ``names`` order."""
    values = [[_value(row, name) for name in names] for row in rows]
    return np.asarray(values, dtype=float).reshape(len(rows), len(names))


def _value(row: Row, name: str) -> float:
    if isinstance(row, Features):
        return row.value(name)
    if name not in row:
        raise UserError(f"feature {name!r} missing from the row to score")
    return float(row[name])


def fit(
    raw: Matrix,
    labels: Sequence[int],
    names: Sequence[str],
    *,
    l2: float = DEFAULT_L2,
    calibration_rows: int | None = None,
    provenance: Sequence[Provenance] = (),
    sample_weight: Matrix | None = None,
) -> RiskModel:
    """Fit on time-ordered rows; the last ``calibration_rows`` (default 20%) calibrate, then all rows refit.

    ``sample_weight`` (one per row, mean 1 keeps ``l2`` comparable) weights the log-loss of each row.

    Raises :class:`ValueError` if the labels hold one class only: there is nothing to learn.
    """
    y = np.asarray(labels, dtype=float)
    if y.min(initial=1.0) == y.max(initial=0.0):
        raise ValueError("training labels hold a single class")
    held = round(CALIBRATION_SHARE * len(y)) if calibration_rows is None else calibration_rows
    calibration = _platt(raw, y, names, l2, held)
    means, sds, weights, intercept = _fit_standardised(raw, y, l2, sample_weight)
    return RiskModel(
        features=tuple(names),
        means=tuple(means.tolist()),
        sds=tuple(sds.tolist()),
        weights=tuple(weights.tolist()),
        intercept=intercept,
        calibration=calibration,
        l2=l2,
        provenance=tuple(provenance),
    )


def _fit_standardised(
    raw: Matrix, y: Matrix, l2: float, sample_weight: Matrix | None = None
) -> tuple[Matrix, Matrix, Matrix, float]:
    logged = np.log1p(np.maximum(raw, 0.0))
    means = logged.mean(axis=0)
    sds = logged.std(axis=0)
    sds = np.where(sds > 1e-12, sds, 1.0)
    weights, intercept = newton_logistic((logged - means) / sds, y, l2, sample_weight=sample_weight)
    return means, sds, weights, intercept


def _platt(raw: Matrix, y: Matrix, names: Sequence[str], l2: float, held: int) -> Calibration:
    """Fit ``σ(a·logit + b)`` on the latest ``held`` rows using a model fitted on the rows before them."""
    early, late = slice(0, len(y) - held), slice(len(y) - held, len(y))
    positives, early_positives = int(y[late].sum()), int(y[early].sum())
    if held <= 0 or positives < _MIN_CALIBRATION_POSITIVES or positives == held or early_positives == 0:
        return Calibration("none", note=f"held-out slice of {held} commits with {positives} positives is too small")
    means, sds, weights, intercept = _fit_standardised(raw[early], y[early], l2)
    logit = ((np.log1p(np.maximum(raw[late], 0.0)) - means) / sds) @ weights + intercept
    # Platt's smoothed targets keep the sigmoid from saturating on a small slice.
    target = np.where(y[late] > 0, (positives + 1) / (positives + 2), 1 / (held - positives + 2))
    (a,), b = newton_logistic(logit[:, None], target, 0.0)
    if a <= 0:
        return Calibration("none", note=f"held-out slice ranked inversely (a={a:.2f}); left uncalibrated")
    return Calibration("platt", float(a), float(b), note=f"fitted on the latest {held} training commits")


def newton_logistic(
    x: Matrix, y: Matrix, l2: float, *, iterations: int = 100, sample_weight: Matrix | None = None
) -> tuple[Matrix, float]:
    """Minimise Σ sᵢ·log-lossᵢ + (l2/2)·‖w‖² by Newton steps with backtracking; deterministic.

    ``y`` may be fractional (Platt targets); ``sample_weight`` s defaults to 1. Returns ``(weights, intercept)``.
    """
    n, d = x.shape
    s = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    design = np.hstack([np.ones((n, 1)), x])
    penalty = np.full(d + 1, l2)
    penalty[0] = 0.0
    beta = np.zeros(d + 1)
    beta[0] = _logit(float(np.clip(np.average(y, weights=s), 1e-6, 1 - 1e-6)))
    loss = _loss(design, y, beta, penalty, s)
    for _ in range(iterations):
        p = _sigmoid(design @ beta)
        gradient = design.T @ (s * (p - y)) + penalty * beta
        hessian = (design * (s * p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hessian, gradient)
        scale = 1.0
        candidate = beta - step
        candidate_loss = _loss(design, y, candidate, penalty, s)
        while candidate_loss > loss and scale > 1e-6:
            scale /= 2
            candidate = beta - scale * step
            candidate_loss = _loss(design, y, candidate, penalty, s)
        if candidate_loss > loss:
            break
        improvement = loss - candidate_loss
        beta, loss = candidate, candidate_loss
        if float(np.max(np.abs(scale * step))) < 1e-10 or improvement < 1e-13:
            break
    return beta[1:], float(beta[0])


def _loss(design: Matrix, y: Matrix, beta: Matrix, penalty: Matrix, s: Matrix) -> float:
    z = design @ beta
    # log(1 + e^z) − y·z, computed without overflow
    return float(np.sum(s * (np.logaddexp(0.0, z) - y * z)) + 0.5 * np.sum(penalty * beta * beta))


def _sigmoid(z: Matrix) -> Matrix:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def load_default_model() -> RiskModel:
    """The published default weights shipped with critterops (``history/default_model.json``)."""
    try:
        text = resources.files("critterops.history").joinpath("default_model.json").read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError) as error:
        raise BackendError(
            "the default risk model is missing from this installation (critterops/history/default_model.json); "
            "reinstall critterops"
        ) from error
    return RiskModel.from_dict(json.loads(text))
