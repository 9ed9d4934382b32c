"""Speed of the Helm chart: generating it, and Helm (helm-python-sdk) linting and rendering it.

    python benchmarks/helm.py [--repo PATH] [--runs 5]

In one process, after discovery (timed apart): ``helm_files`` (the kit's overlays rendered in process
with and without Argo, every object templated, values and schema), writing the chart, ``helm lint
--strict`` with every values file, and one render per environment. Then ``critterops generate
--format helm`` as a fresh process, the way a user runs it (discovery included). Target: generation
plus render under 3 s for CritterSupply.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _timing import timed

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate import helm
from critterops.generate.context import KitContext, system_name
from critterops.generate.kit import write_kit
from critterops.plan.policy import default_policy


def _seconds(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} s, max {max(values):.3f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=None, help="repository (default: the bundled example)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    root = args.repo or example_path()
    started = time.perf_counter()
    system = discover(root)
    discovery = time.perf_counter() - started
    ctx = KitContext(system, default_policy(), system_name(system), "ghcr.io/bench/bench", "bench")
    generate, render, lint, files = [], [], [], 0
    objects = 0
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            chart = Path(folder) / "chart"
            started = time.perf_counter()
            written = helm.helm_files(ctx)
            write_kit(written, chart)
            generate.append(time.perf_counter() - started)
            files = len(written)
            started = time.perf_counter()
            objects = sum(
                len(helm.render_chart(chart, helm.env_values(chart, env), f"{ctx.name}-{env}"))
                for env in helm.chart_environments(chart)
            )
            render.append(time.perf_counter() - started)
            started = time.perf_counter()
            result = helm.lint(chart)
            lint.append(time.perf_counter() - started)
            if result.problems:
                raise SystemExit(f"helm lint: {result.problems}")
    cli = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            source = ["--example"] if args.repo is None else [str(args.repo)]
            out = str(Path(folder) / "chart")
            cli.append(
                timed([sys.executable, "-m", "critterops.cli", "generate", *source, "--out", out, "--format", "helm"])
            )
    both = [g + r for g, r in zip(generate, render, strict=True)]
    print(f"helm chart for {root}: {files} files, {objects} objects rendered over all environments")
    print(f"  discovery (once): {discovery:.3f} s")
    print(f"  generate + write x{args.runs}: {_seconds(generate)}")
    print(f"  render every values file x{args.runs}: {_seconds(render)}")
    print(f"  generate + render x{args.runs}: {_seconds(both)} (target < 3 s)")
    print(f"  helm lint --strict, every values file x{args.runs}: {_seconds(lint)}")
    print(f"  critterops generate --format helm, fresh process x{args.runs}: {_seconds(cli)}")


if __name__ == "__main__":
    main()
