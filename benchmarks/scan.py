"""Scan speed: a real repository end to end, and synthetic monorepos of growing size.

    python benchmarks/scan.py [--repo PATH] [--sizes 50,100,200] [--runs 5]

``--repo`` times ``critterops scan PATH --format json`` as a fresh process (process start
included), the way a user or CI runs it. The synthetic part writes monorepos of N services in the
CritterSupply layout (API + domain library + tests per bounded context, shared contracts, compose)
and times ``discover()`` in-process, to show how the cost grows with N.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from critterops.discover import discover

PROGRAM = """using Wolverine; using Marten;
var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMarten(opts => {{
    opts.Connection(builder.Configuration.GetConnectionString("postgres")!);
    opts.DatabaseSchemaName = "{bc}";
    opts.Projections.Snapshot<{Bc}Aggregate>(SnapshotLifecycle.Inline);
    opts.Projections.Add<{Bc}View>(ProjectionLifecycle.Async);
}}).AddAsyncDaemon(DaemonMode.Solo).IntegrateWithWolverine();
builder.Host.UseWolverine(opts => {{
    opts.UseRabbitMq().AutoProvision();
    opts.Policies.UseDurableOutboxOnAllSendingEndpoints();
    opts.ListenToRabbitQueue("{bc}-in").ProcessInline();
    opts.PublishMessage<Messages.Contracts.{Bc}Happened>().ToRabbitQueue("{next}-in");
}});
var app = builder.Build();
app.MapHealthChecks("/health");
app.Run();
"""
HANDLER = """namespace {Bc};
public static class {Bc}Handler {{
    public static {Bc}Happened Handle(Messages.Contracts.{Prev}Happened e, IDocumentSession session) {{
        session.Events.Append(e.Id, new {Bc}Started(e.Id));
        return new {Bc}Happened(e.Id, null);
    }}
}}
public record {Bc}Started(Guid Id);
public class {Bc}Aggregate {{ public Guid Id {{ get; set; }} public void Apply({Bc}Started e) {{ }} }}
public class {Bc}View {{ public Guid Id {{ get; set; }} }}
"""
WEB = '<Project Sdk="Microsoft.NET.Sdk.Web"><ItemGroup>{refs}</ItemGroup></Project>'
LIB = '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup>{refs}</ItemGroup></Project>'
TEST = (
    '<Project Sdk="Microsoft.NET.Sdk"><ItemGroup><PackageReference Include="xunit" />'
    '<ProjectReference Include="{ref}" /></ItemGroup></Project>'
)


def write_monorepo(root: Path, services: int) -> None:
    contracts = root / "src/Shared/Contracts"
    contracts.mkdir(parents=True)
    (contracts / "Contracts.csproj").write_text(LIB.format(refs=""))
    compose = ["services:"]
    for i in range(services):
        bc, nxt, prev = f"ctx{i}", f"ctx{(i + 1) % services}", f"Ctx{(i - 1) % services}"
        big = bc.capitalize()
        (contracts / f"{big}.cs").write_text(
            f"namespace Messages.Contracts;\npublic sealed record {big}Happened(Guid Id, string? Note = null);\n"
        )
        api = root / f"src/{big}/{big}.Api"
        lib = root / f"src/{big}/{big}"
        tests = root / f"tests/{big}/{big}.UnitTests"
        for folder in (api / "Properties", lib, tests):
            folder.mkdir(parents=True)
        (api / f"{big}.Api.csproj").write_text(
            WEB.format(
                refs=f'<ProjectReference Include="..\\{big}\\{big}.csproj" />'
                '<PackageReference Include="WolverineFx.RabbitMQ" />'
            )
        )
        (api / "Program.cs").write_text(PROGRAM.format(bc=bc, Bc=big, next=nxt))
        (api / "Properties/launchSettings.json").write_text(
            '{"profiles": {"p": {"commandName": "Project", "applicationUrl": "http://localhost:'
            + str(6000 + i)
            + '"}}}'
        )
        (api / "appsettings.json").write_text(
            '{"ConnectionStrings": {"postgres": "Host=localhost;Database=' + bc + '"}}'
        )
        (api / "Dockerfile").write_text(
            f'FROM mcr.microsoft.com/dotnet/aspnet:9.0\nEXPOSE 8080\nCOPY . .\nENTRYPOINT ["dotnet", "{big}.Api.dll"]\n'
        )
        (lib / f"{big}.csproj").write_text(
            LIB.format(refs='<ProjectReference Include="..\\..\\Shared\\Contracts\\Contracts.csproj" />')
        )
        (lib / f"{big}Handler.cs").write_text(HANDLER.format(Bc=big, Prev=prev))
        for extra in range(6):  # ordinary domain files that discovery should skip cheaply
            (lib / f"Model{extra}.cs").write_text(
                f"namespace {big};\npublic class Model{extra} {{ public int V {{ get; set; }} }}\n"
            )
        (tests / f"{big}.UnitTests.csproj").write_text(TEST.format(ref=f"..\\..\\..\\src\\{big}\\{big}\\{big}.csproj"))
        compose += [
            f"  {bc}-api:",
            f"    build: {{context: ., dockerfile: src/{big}/{big}.Api/Dockerfile}}",
            f'    ports: ["{6000 + i}:8080"]',
        ]
    (root / "docker-compose.yml").write_text("\n".join(compose) + "\n")


def time_process(repo: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "critterops", "scan", repo, "--format", "json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", help="a real repository to time as a fresh process (e.g. a CritterSupply clone)")
    parser.add_argument("--sizes", default="25,50,100,200", help="synthetic monorepo sizes (services)")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.repo:
        times = time_process(args.repo, args.runs)
        files = sum(1 for p in Path(args.repo).rglob("*") if p.is_file() and ".git" not in p.parts)
        print(
            f"{args.repo}: {files} files; `critterops scan --format json` as a process: "
            f"median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s "
            f"over {args.runs} runs"
        )
    print("synthetic monorepos (discover() in-process, median of runs):")
    print(f"{'services':>9} {'files':>7} {'seconds':>8} {'ms/service':>11}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            write_monorepo(root, size)
            files = sum(1 for p in root.rglob("*") if p.is_file())
            samples = []
            for _ in range(max(1, args.runs // 2)):
                start = time.perf_counter()
                system = discover(root)
                samples.append(time.perf_counter() - start)
            assert len(system.services) == size, (len(system.services), size)
            assert len(system.flows) == size, len(system.flows)
            seconds = statistics.median(samples)
            print(f"{size:>9} {files:>7} {seconds:>8.3f} {1000 * seconds / size:>11.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
