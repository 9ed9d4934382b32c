"""Speed of ``critterops risk`` on pull-request-sized ranges, and of ``risk --history``.

    python benchmarks/risk.py --repo /tmp/cs [--runs 5] [--history-runs 1]

Each measurement runs the CLI as a fresh process (start-up included), the way CI calls it:
``risk --base <sha>~N --head <sha> --format json`` for ranges of 1, 5 and 20 commits ending at
three points of the history, then ``risk --history`` over the whole history.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

from _timing import timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--history-runs", type=int, default=1)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "critterops.cli"]
    first_parent = subprocess.run(
        ["git", "-C", str(args.repo), "rev-list", "--first-parent", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.split()
    ends = [first_parent[0], first_parent[len(first_parent) // 3], first_parent[len(first_parent) // 2]]
    for size in (1, 5, 20):
        times = []
        for end in ends:
            for _ in range(args.runs):
                times.append(
                    timed([*cli, "risk", str(args.repo), "--base", f"{end}~{size}", "--head", end, "--format", "json"])
                )
        print(
            f"risk, {size:>2}-commit ranges x{len(times)}: median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s"
        )
    times = [timed([*cli, "risk", str(args.repo), "--history", "--format", "json"]) for _ in range(args.history_runs)]
    print(f"risk --history over {len(first_parent)} first-parent commits: median {statistics.median(times):.2f} s")


if __name__ == "__main__":
    main()
