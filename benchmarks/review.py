"""Review speed: ``critterops review`` on real repositories, as a fresh process.

    python benchmarks/review.py PATH [PATH ...] [--runs 5] [--with-tools]

Times ``critterops review PATH --format json --no-tools`` (process start included), the way CI runs the
Critter rules; ``--with-tools`` times one extra run with hadolint, zizmor, actionlint and checkov
folded in (checkov dominates). Prints findings by rule for the last run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections import Counter


def once(path: str, tools: bool) -> tuple[float, dict[str, object]]:
    argv = [sys.executable, "-m", "critterops", "review", path, "--format", "json"]
    if not tools:
        argv.append("--no-tools")
    started = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({result.returncode}):\n{result.stderr}")
    data: dict[str, object] = json.loads(result.stdout)
    return elapsed, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--with-tools", action="store_true", help="also time one run with the external tools")
    args = parser.parse_args()
    for path in args.paths:
        times = []
        data: dict[str, object] = {}
        for _ in range(args.runs):
            elapsed, data = once(path, tools=False)
            times.append(elapsed)
        findings = data["findings"]
        assert isinstance(findings, list)
        by_rule = Counter(f["rule"] for f in findings if f["suppressed"] is None)
        print(
            f"{path}: review --no-tools as a process: median {statistics.median(times):.2f} s, "
            f"min {min(times):.2f} s, max {max(times):.2f} s over {args.runs} runs; "
            f"in-process {data['seconds']} s; {sum(by_rule.values())} findings"
        )
        print("  " + ", ".join(f"{rule} {n}" for rule, n in sorted(by_rule.items())))
        if args.with_tools:
            elapsed, data = once(path, tools=True)
            tools = data["tools"]
            assert isinstance(tools, list)
            states = ", ".join(f"{t['tool']} {t['status']}" for t in tools)
            print(f"  with the external tools: {elapsed:.1f} s ({states})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
