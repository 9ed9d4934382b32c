"""Train the published default model on the pooled histories of real repositories.

    python -m critterops.history.train OUT.json PATH=NAME[=NOTE] [PATH=NAME[=NOTE] ...]

Each repository is mined and labelled on its own (its own SZZ fixes and fix-latency gap); only its
mature commits, those older than its newest commit by the gap, are used, because younger ones
have not had time to be fixed and would be false negatives. The latest 20% of every repository's
mature commits form the pooled calibration slice (the held-out later slice of the Platt step).
Pooling helps young projects: cross-project data raises early-project accuracy (risk design §3.3).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from critterops.errors import CritteropsError, UserError
from critterops.gitrepo import GitRepo
from critterops.history.evaluate import mature_commits
from critterops.history.mining import FEATURES, Features, mine_history
from critterops.history.model import CALIBRATION_SHARE, Provenance, RiskModel, fit, matrix
from critterops.history.szz import find_inducers, fix_latency

_DAY = 86_400


@dataclass(frozen=True, slots=True)
class RepoRows:
    """One repository's mature commits, oldest first, with final SZZ labels."""

    rows: tuple[Features, ...]
    labels: tuple[int, ...]
    provenance: Provenance


def repo_rows(repo: GitRepo, name: str, note: str = "") -> RepoRows:
    history = mine_history(repo)
    szz = find_inducers(repo, history)
    gap = fix_latency(history, szz).p75_days * _DAY
    mature = mature_commits(history, gap)
    if not mature:
        raise UserError(f"{name}: no commit is older than the {gap / _DAY:.0f}-day label gap")
    commits = [history.commits[i] for i in mature]
    labels = tuple(szz.label(c.sha) for c in commits)
    return RepoRows(
        rows=tuple(c.features for c in commits),
        labels=labels,
        provenance=Provenance(
            repo=name,
            head=history.head,
            commits=len(commits),
            positives=sum(labels),
            first=_date(commits[0].commit_time),
            last=_date(commits[-1].commit_time),
            note=note,
        ),
    )


def train_pooled(sources: Sequence[RepoRows]) -> RiskModel:
    """Fit on all repositories' rows; the latest share of each one is the calibration slice."""
    early: list[Features] = []
    late: list[Features] = []
    early_labels: list[int] = []
    late_labels: list[int] = []
    for source in sources:
        cut = len(source.rows) - math.ceil(CALIBRATION_SHARE * len(source.rows))
        early += source.rows[:cut]
        late += source.rows[cut:]
        early_labels += source.labels[:cut]
        late_labels += source.labels[cut:]
    raw = np.vstack([matrix(early, FEATURES), matrix(late, FEATURES)])
    return fit(
        raw,
        early_labels + late_labels,
        FEATURES,
        calibration_rows=len(late),
        provenance=[s.provenance for s in sources],
    )


def _date(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def main(argv: Sequence[str]) -> int:
    if len(argv) < 2 or any("=" not in spec for spec in argv[1:]):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        specs = [[*spec.split("=", 2), ""][:3] for spec in argv[1:]]
        sources = [repo_rows(GitRepo.open(path), name, note) for path, name, note in specs]
        model = train_pooled(sources)
    except CritteropsError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except ValueError as error:  # no positives anywhere: nothing to learn
        print(f"error: {error}", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(json.dumps(model.to_dict(), indent=2) + "\n", encoding="utf-8")
    for p in model.provenance:
        print(f"{p.repo}: {p.commits} commits, {p.positives} positives, {p.first}..{p.last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
