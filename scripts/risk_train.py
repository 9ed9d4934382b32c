"""Mine the Critter Stack corpus offline, cache the rows, and write the shipped risk model.

    nice -n 10 python scripts/risk_train.py mine      # mine + label every corpus repository (cached in /tmp)
    python scripts/risk_train.py train [OUT.json]      # fit the recipe (critterops.history.train) and write it

Repositories are read from work-tree-less clones of the bare mirrors (``git clone --shared -n``);
paths whose blobs are absent from a mirror are left out of the diffs (``EXCLUDE``). Every non-merge
commit is mined, not only the first-parent chain. The cache (pickled ``RepoRows``) lives in
``$CRITTEROPS_RISK_CACHE`` (default ``/tmp/critterops-risk-cache``), never in the repository.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

from critterops.gitrepo import GitRepo
from critterops.history.train import RepoRows, repo_rows, train_recipe

MIRRORS = Path(os.environ.get("CRITTEROPS_MIRRORS", "/work/.mirror"))
CACHE = Path(os.environ.get("CRITTEROPS_RISK_CACHE", "/tmp/critterops-risk-cache"))

# (owner/name, paths absent from the mirror's objects); the order is the artefact's provenance order
CORPUS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("erikshafer/CritterSupply", ()),
    ("erikshafer/CritterBids", ()),
    ("erikshafer/CritterCab", ()),
    ("erikshafer/CritterCommerce", ()),
    ("19balazs86/PlayingWithWolverineMarten", ()),
    ("JasperFx/jasperfx", ()),
    ("JasperFx/wolverine", ("docs/public/jasper.png",)),
    ("JasperFx/marten", ("src/Marten.Testing/Github/*.json",)),
)


def clone(name: str) -> Path:
    """A work-tree-less clone sharing the mirror's objects."""
    target = CACHE / "clones" / name.replace("/", "+")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        source = MIRRORS / name.replace("/", "+") / "repo"
        subprocess.run(["git", "clone", "-q", "--shared", "-n", str(source), str(target)], check=True)
    return target


def cached(name: str) -> Path:
    return CACHE / f"{name.replace('/', '+')}.pkl"


def mine(names: list[str]) -> None:
    for name, exclude in CORPUS:
        if names and name not in names:
            continue
        started = time.time()
        rows = repo_rows(GitRepo.open(clone(name)), name, exclude=exclude)
        cached(name).write_bytes(pickle.dumps(rows))
        p = rows.provenance
        print(
            f"{name}: {p.commits} mature commits, {p.positives} later fixed, gap {rows.gap_days:.0f} d, "
            f"{p.first}..{p.last}, {time.time() - started:.0f} s",
            flush=True,
        )


def load(names: list[str] | None = None) -> list[RepoRows]:
    out = []
    for name, _ in CORPUS:
        if (names is None or name in names) and cached(name).exists():
            out.append(pickle.loads(cached(name).read_bytes()))
    return out


def main(argv: list[str]) -> int:
    if argv[:1] == ["mine"]:
        CACHE.mkdir(parents=True, exist_ok=True)
        mine(argv[1:])
        return 0
    if argv[:1] == ["train"]:
        out = Path(argv[1]) if len(argv) > 1 else Path("src/critterops/history/default_model.json")
        model = train_recipe(load())
        out.write_text(json.dumps(model.to_dict(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {out}: calibration {model.calibration}, levels {model.levels}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
