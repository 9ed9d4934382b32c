"""The statistical half of ``risk``: score each commit of a range with the published model."""

from __future__ import annotations

import numpy as np

from critterops.change.score import Levels
from critterops.errors import CritteropsError
from critterops.gitrepo import GitRepo
from critterops.history.mining import features_for_range
from critterops.history.model import RiskModel, load_default_model, matrix
from critterops.history.train import HIGH_SHARE, MEDIUM_SHARE
from critterops.model import CommitRisk

LEVEL_WINDOW = 200
MIN_LEVEL_COMMITS = 50


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


def repository_levels(repo: GitRepo, base: str, model: RiskModel | None = None) -> Levels | None:
    """Thresholds relative to this repository: ``high`` at its riskiest 8% of recent commits.

    The calibrated p of the last :data:`LEVEL_WINDOW` first-parent commits up to ``base`` (the deployed
    version: past only, no labels needed) set the thresholds at the same shares the artefact's
    thresholds give a typical corpus repository. A repository whose commits are all larger or smaller
    than the corpus's would otherwise see ``high`` on a quarter of its changes, or never. ``None``
    when the history is shorter than :data:`MIN_LEVEL_COMMITS` or cannot be read.
    """
    model = model or load_default_model()
    try:
        shas = repo.run("rev-list", "--first-parent", f"--max-count={LEVEL_WINDOW + 1}", base).split()
        if len(shas) <= MIN_LEVEL_COMMITS:
            return None
        records = features_for_range(repo, shas[-1], base)
    except CritteropsError:
        return None
    if len(records) < MIN_LEVEL_COMMITS:
        return None
    p = model.predict_many(matrix([r.features for r in records], model.features))
    medium, high = (round(float(np.quantile(p, 1 - share)), 4) for share in (MEDIUM_SHARE, HIGH_SHARE))
    if not 0 < medium < high < 1:
        return None
    return Levels(
        medium,
        high,
        f"this repository's riskiest {HIGH_SHARE:.0%} / {MEDIUM_SHARE:.0%} of its last {len(records)} commits",
    )
