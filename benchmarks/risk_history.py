"""Speed of the statistical risk scorer on a real repository.

    python benchmarks/risk_history.py [--repo PATH] [--runs 5] [--range 10]

Times, as medians over ``--runs``:

* ``evaluate_history`` end to end (mining, SZZ with its blame calls, all fold fits and 1000-resample
  bootstraps) as a fresh Python process, the way ``critterops risk --history`` runs it;
* ``features_for_range`` over the last ``--range`` first-parent commits, in-process, which is what
  ``critterops risk`` pays per pull request.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from critterops.gitrepo import GitRepo
from critterops.history import features_for_range

EVALUATE = (
    "import sys; from critterops.history import evaluate_history; "
    "r = evaluate_history(sys.argv[1]); print(r.status, r.commits, r.positives)"
)


def time_evaluation(repo: str, runs: int) -> tuple[list[float], str]:
    times, summary = [], ""
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", EVALUATE, repo], check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        summary = done.stdout.strip()
    return times, summary


def time_range(repo: str, runs: int, commits: int) -> tuple[list[float], int]:
    git = GitRepo.open(repo)
    depth = int(git.run("rev-list", "--first-parent", "--count", "HEAD").strip())
    base = f"HEAD~{min(commits, depth - 1)}"
    times, rows = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        rows = len(features_for_range(git, base, "HEAD"))
        times.append(time.perf_counter() - start)
    return times, rows


def _stats(times: list[float]) -> str:
    return f"median {statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", default=".", help="a git repository, e.g. a CritterSupply clone")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--range", type=int, default=10, help="first-parent commits scored by features_for_range")
    args = parser.parse_args()
    evaluation, summary = time_evaluation(args.repo, args.runs)
    print(f"{args.repo}: evaluate_history as a process ({summary}): {_stats(evaluation)} over {args.runs} runs")
    ranged, rows = time_range(args.repo, args.runs, args.range)
    print(f"{args.repo}: features_for_range over {rows} commits: {_stats(ranged)} over {args.runs} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
