"""Speed of ``critterops generate``: the whole kit for a real repository, as a fresh process.

    python benchmarks/generate.py [--repo PATH] [--runs 5]

Times ``critterops generate PATH --out <temp> --tag bench`` (discovery, every generator, writing)
into an empty folder, then a rerun into the same folder (nothing changes, nothing is written).
Validators are not part of the timing; ``--validate`` runs them separately.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=None, help="repository (default: the bundled example)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "critterops.cli", "generate"]
    source = ["--example"] if args.repo is None else [str(args.repo)]
    label = "bundled example" if args.repo is None else str(args.repo)
    fresh, rerun = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "kit"
            argv = [*cli, *source, "--out", str(out), "--tag", "bench"]
            fresh.append(timed(argv))
            rerun.append(timed(argv))
    files = "?"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "kit"
        subprocess.run([*cli, *source, "--out", str(out), "--tag", "bench"], capture_output=True, check=True)
        files = str(sum(1 for p in out.rglob("*") if p.is_file()))
    print(f"generate {label}: {files} files")
    print(f"  into an empty folder x{len(fresh)}: median {statistics.median(fresh):.3f} s, max {max(fresh):.3f} s")
    print(f"  rerun, nothing changes x{len(rerun)}: median {statistics.median(rerun):.3f} s, max {max(rerun):.3f} s")


if __name__ == "__main__":
    main()
