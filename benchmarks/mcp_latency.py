"""Tool latency through MCP: ``scan`` and ``plan`` on a real repository, as an agent sees them.

    python benchmarks/mcp_latency.py [--repo /tmp/cs] [--base HEAD~20] [--runs 5]

Starts ``critterops mcp --repo PATH`` once with the SDK's stdio client (as Claude Desktop or VS Code
do), then times each ``call_tool`` round trip: request, forked worker, the command's JSON, response.
The server's start (imports, ``initialize``) is timed separately because a client pays it once per
session, not per call. For comparison it also times the CLI as a fresh process
(``critterops scan PATH --format json``), which pays the imports on every run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

sys.path.insert(0, str(Path(__file__).parent))
from _timing import timed


async def measure(repo: Path, base: str, runs: int) -> dict[str, Any]:
    params = StdioServerParameters(command=sys.executable, args=["-m", "critterops", "mcp", "--repo", str(repo)])
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        await client.list_tools()
        ready = time.perf_counter() - started
        times: dict[str, list[float]] = {"scan": [], "plan": []}
        sizes: dict[str, int] = {}
        for _ in range(runs):
            for tool, arguments in (("scan", {}), ("plan", {"base": base})):
                t0 = time.perf_counter()
                result = await client.call_tool(tool, arguments)
                times[tool].append(time.perf_counter() - t0)
                if result.is_error:
                    raise SystemExit(f"{tool} failed: {result.content}")
                sizes[tool] = len(result.structured_content or {})
                if tool == "plan":
                    sizes["plan services"] = len((result.structured_content or {}).get("services", []))
    return {"ready": ready, "times": times, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, default=Path("/tmp/cs"))
    parser.add_argument("--base", default="HEAD~20", help="plan's base (default HEAD~20)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not (args.repo / ".git").exists():
        raise SystemExit(f"{args.repo}: not a git repository (git clone CritterSupply there first)")
    result = anyio.run(measure, args.repo.resolve(), args.base, args.runs)
    print(f"repository: {args.repo}, plan base {args.base}, {args.runs} runs per tool")
    print(f"server start + initialize + list_tools: {result['ready']:.2f} s (once per session)")
    for tool, values in result["times"].items():
        print(
            f"{tool:5} via MCP: median {statistics.median(values):.2f} s, min {min(values):.2f} s, "
            f"max {max(values):.2f} s"
        )
    cli = [timed(["critterops", "scan", str(args.repo), "--format", "json"]) for _ in range(args.runs)]
    plan = [
        timed(["critterops", "plan", str(args.repo), "--base", args.base, "--format", "json"]) for _ in range(args.runs)
    ]
    print(f"scan  via CLI (fresh process): median {statistics.median(cli):.2f} s")
    print(f"plan  via CLI (fresh process): median {statistics.median(plan):.2f} s")
    print(f"plan affects {result['sizes'].get('plan services', 0)} service(s)")


if __name__ == "__main__":
    main()
