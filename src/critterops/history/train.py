"""Train the published default model on the pooled histories of real repositories.

    python -m critterops.history.train OUT.json PATH=NAME[=NOTE] [PATH=NAME[=NOTE] ...]

(``scripts/risk_train.py`` does the same with a cache of mined rows and mirror-specific options.)

Each repository is mined (every non-merge commit) and labelled on its own (its own SZZ fixes and
fix-latency gap); only its mature commits, those older than its newest commit by the gap, are used,
because younger ones have not had time to be fixed and would be false negatives.

The recipe (:func:`train_recipe`), everything fitted on held-out data only:

1. **Weights**: L2 logistic regression on all repositories' rows.
2. **Calibration**: leave-one-repository-out (LORO). For every repository, the weights are fitted
   without it and its commits scored; a Platt sigmoid is fitted on these out-of-repository logits
   (each repository weighted equally), so calibration never sees a score of a commit the weights
   were trained on.
3. **Levels**: the ``medium`` and ``high`` thresholds are set on the same out-of-repository
   calibrated p: ``high`` flags the riskiest :data:`HIGH_SHARE` of a typical repository's commits,
   ``medium`` the next ones up to :data:`MEDIUM_SHARE`.
4. **Held-out models**: the same recipe without each repository is stored in the artefact, so
   ``risk --history`` on a repository of the corpus evaluates a model that never saw it.

Pooling helps young projects: cross-project data raises early-project accuracy (risk design §3.3).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from critterops.errors import CritteropsError, UserError
from critterops.gitrepo import GitRepo
from critterops.history.evaluate import mature_commits
from critterops.history.mining import FEATURES, Features, mine_history
from critterops.history.model import (
    DEFAULT_L2,
    Calibration,
    Matrix,
    ModelLevels,
    Provenance,
    RiskModel,
    fit,
    matrix,
)
from critterops.history.szz import find_inducers, fix_latency

_DAY = 86_400
HIGH_SHARE = 0.08
BALANCE = 0.5
MEDIUM_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class RepoRows:
    """One repository's mature commits, oldest first, with final SZZ labels."""

    rows: tuple[Features, ...]
    labels: tuple[int, ...]
    provenance: Provenance
    shas: tuple[str, ...] = ()
    times: tuple[int, ...] = ()
    fix_times: tuple[int | None, ...] = ()  # when each commit's first fix landed (None: never fixed)
    gap_days: float = 0.0

    @property
    def name(self) -> str:
        return self.provenance.repo


def repo_rows(
    repo: GitRepo,
    name: str,
    note: str = "",
    *,
    first_parent: bool = False,
    exclude: Sequence[str] = (),
) -> RepoRows:
    history = mine_history(repo, first_parent=first_parent, exclude=exclude)
    szz = find_inducers(repo, history)
    gap = fix_latency(history, szz).p75_days * _DAY
    mature = mature_commits(history, gap)
    if not mature:
        raise UserError(f"{name}: no commit is older than the {gap / _DAY:.0f}-day label gap")
    commits = [history.commits[i] for i in mature]
    labels = tuple(szz.label(c.sha) for c in commits)
    fixes = tuple(szz.inducers[c.sha].fix_time if c.sha in szz.inducers else None for c in commits)
    return RepoRows(
        rows=tuple(c.features for c in commits),
        labels=labels,
        provenance=Provenance(
            repo=name,
            head=history.head,
            commits=len(commits),
            positives=sum(labels),
            first=_date(min(c.commit_time for c in commits)),
            last=_date(max(c.commit_time for c in commits)),
            note=note,
            root=",".join(history.roots),
        ),
        shas=tuple(c.sha for c in commits),
        times=tuple(c.commit_time for c in commits),
        fix_times=fixes,
        gap_days=gap / _DAY,
    )


def _weights(sources: Sequence[RepoRows], names: Sequence[str], l2: float, balance: float = BALANCE) -> RiskModel:
    """Step 1 only: the pooled fit, uncalibrated.

    Row weights ∝ n_r^(−balance) for a repository of n_r rows, scaled to mean 1: ``balance`` 0 pools
    rows as they are (Marten's 5,680 commits would outweigh CritterSupply's 353 sixteen to one), 1
    gives every repository the same total weight.
    """
    raw = np.vstack([matrix(s.rows, names) for s in sources])
    labels = [y for s in sources for y in s.labels]
    weight = np.concatenate([np.full(len(s.rows), float(len(s.rows)) ** -balance) for s in sources])
    weight *= weight.size / weight.sum()
    return fit(raw, labels, names, l2=l2, calibration_rows=0, sample_weight=weight)


def loro_logits(
    sources: Sequence[RepoRows], names: Sequence[str], l2: float = DEFAULT_L2, balance: float = BALANCE
) -> list[Matrix]:
    """Each repository's logits from weights fitted without it (an empty array if the rest has one class)."""
    out: list[Matrix] = []
    for k, source in enumerate(sources):
        rest = [s for j, s in enumerate(sources) if j != k]
        if not rest or len({y for s in rest for y in s.labels}) < 2:
            out.append(np.zeros(0))
            continue
        out.append(_weights(rest, names, l2, balance).logits(matrix(source.rows, names)))
    return out


def platt(logits: Sequence[Matrix], labels: Sequence[Sequence[int]], note: str) -> Calibration:
    """Platt's sigmoid on out-of-repository logits, each repository weighted equally (its rows 1/n)."""
    usable = [(x, np.asarray(y, dtype=float)) for x, y in zip(logits, labels, strict=True) if x.size]
    if not usable:
        return Calibration("none", note="no out-of-repository scores to calibrate on")
    x = np.concatenate([u[0] for u in usable])
    y = np.concatenate([u[1] for u in usable])
    weight = np.concatenate([np.full(u[0].size, x.size / len(usable) / u[0].size) for u in usable])
    positives = int(y.sum())
    if positives < 3 or positives == y.size:
        return Calibration("none", note=f"{positives} positives among {y.size} held-out scores: too few to calibrate")
    a, b = _weighted_sigmoid(x, y, weight)
    if a <= 0:
        return Calibration("none", note=f"held-out scores ranked inversely (a={a:.2f}); left uncalibrated")
    return Calibration("platt", a, b, note=note)


def _weighted_sigmoid(x: Matrix, y: Matrix, weight: Matrix) -> tuple[float, float]:
    """Weighted 1-D logistic fit by Newton steps (replicating rows by weight, done exactly)."""
    beta = np.array([0.0, 1.0])
    design = np.column_stack([np.ones_like(x), x])
    for _ in range(100):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (weight * (p - y))
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient)
        beta = beta - step
        if float(np.max(np.abs(step))) < 1e-10:
            break
    return float(beta[1]), float(beta[0])


def choose_levels(probabilities: Sequence[Matrix], note: str) -> ModelLevels | None:
    """Thresholds at the typical repository's top :data:`HIGH_SHARE` and :data:`MEDIUM_SHARE` of commits."""
    usable = [p for p in probabilities if p.size]
    if not usable:
        return None
    high = float(np.mean([np.quantile(p, 1 - HIGH_SHARE) for p in usable]))
    medium = float(np.mean([np.quantile(p, 1 - MEDIUM_SHARE) for p in usable]))
    if not 0 < medium < high < 1:
        return None
    return ModelLevels(round(medium, 4), round(high, 4), note)


def calibrated(model: RiskModel, logits: Matrix) -> Matrix:
    c = model.calibration
    result: Matrix = 1 / (1 + np.exp(-(c.a * logits + c.b)))
    return result


def train_recipe(
    sources: Sequence[RepoRows],
    names: Sequence[str] = FEATURES,
    *,
    l2: float = DEFAULT_L2,
    held_out: bool = True,
    balance: float = BALANCE,
) -> RiskModel:
    """Steps 1–4 of the module docstring."""
    model = _weights(sources, names, l2, balance)
    logits = loro_logits(sources, names, l2, balance)
    labels = [s.labels for s in sources]
    calibration = platt(
        logits,
        labels,
        f"Platt on leave-one-repository-out scores of {sum(x.size for x in logits)} commits of {len(sources)} "
        "repositories, each weighted equally",
    )
    model = replace(model, calibration=calibration, provenance=tuple(s.provenance for s in sources))
    p = [calibrated(model, x) if x.size else x for x in logits]
    levels = choose_levels(
        p,
        f"high: the riskiest {HIGH_SHARE:.0%}, medium: the riskiest {MEDIUM_SHARE:.0%} of a typical repository's "
        "commits, on leave-one-repository-out calibrated p",
    )
    model = replace(model, levels=levels)
    if held_out and len(sources) > 2:
        subs = []
        for k, source in enumerate(sources):
            rest = [s for j, s in enumerate(sources) if j != k]
            sub = train_recipe(rest, names, l2=l2, held_out=False, balance=balance)
            subs.append((source.name, replace(sub, levels=levels)))
        model = replace(model, held_out=tuple(subs))
    return model


def train_pooled(sources: Sequence[RepoRows]) -> RiskModel:
    """The published recipe on these sources (kept for callers of the previous API)."""
    return train_recipe(sources)


def _date(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2 or any("=" not in spec for spec in argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        specs = [[*spec.split("=", 2), ""][:3] for spec in argv[1:]]
        sources = [repo_rows(GitRepo.open(path), name, note) for path, name, note in specs]
        model = train_recipe(sources)
    except CritteropsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except ValueError as error:  # no positives anywhere: nothing to learn
        print(f"error: {error}", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
    for p in model.provenance:
        print(f"{p.repo}: {p.commits} commits, {p.positives} positives, {p.first}..{p.last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
