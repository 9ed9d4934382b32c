"""The statistical half of ``risk``: score each commit of a range with the published model."""

from __future__ import annotations

from critterops.gitrepo import GitRepo
from critterops.history.mining import features_for_range
from critterops.history.model import RiskModel, load_default_model
from critterops.model import CommitRisk


def describe(model: RiskModel) -> str:
    trained = ", ".join(f"{p.repo} ({p.commits} commits)" for p in model.provenance) or "unknown data"
    calibrated = "calibrated on held-out repositories" if model.calibration.method == "platt" else "uncalibrated"
    return (
        f"L2 logistic regression on Kamei change metrics, rule signals and file-history features, {calibrated}, "
        f"trained on {trained}"
    )


def score_range(repo: GitRepo, base: str, head: str, model: RiskModel | None = None) -> tuple[list[CommitRisk], str]:
    """Per-commit calibrated P(needs a later fix), with the top three terms of each score."""
    model = model or load_default_model()
    out: list[CommitRisk] = []
    # merges that carry a pull request are the change itself (squash or merge-commit workflows);
    # features_for_range already drops merges that only bring in commits the base has
    for record in features_for_range(repo, base, head):
        p = model.predict(record.features)
        terms = tuple(model.explain(record.features, top=3))
        out.append(CommitRisk(record.sha, record.subject, round(p, 4), terms))
    return out, describe(model)
