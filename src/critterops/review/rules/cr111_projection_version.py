"""CR111 projection-changed-without-version-bump (with ``--base``).

Bad: the code of an async projection changes between ``--base`` and the working commit while its
``ProjectionVersion`` stays the same. Good: bump it (``[ProjectionVersion(2)]`` or ``Version = 2``) so the
new version builds its own table and progression from the start while the old one keeps serving.

Same version, same progression row and same table: the new code continues where the old one stopped and
the documents already projected keep the old logic; during a rolling deploy both versions write them.
The change rules of ``critterops risk`` find the projection change; this rule reports it.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for f in ctx.changes or ():
        facts = dict(f.facts)
        if f.rule != "projection-changed" or facts.get("lifecycle") != "Async":
            continue
        if facts.get("bumped") == "true" or not facts.get("version_base") or "projection code changed" not in f.detail:
            continue
        where = f.files[0] if f.files else None
        yield Hit(
            where.file if where else "",
            where.line if where else 0,
            f"{facts.get('projection')} ({', '.join(f.services)}) changed without a ProjectionVersion bump "
            f"(still {facts.get('version_head')})",
        )


_PROGRAM = """using Marten;
using JasperFx.Events.Projections;
using Wolverine.Marten;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMarten(opts =>
{
    opts.Connection(builder.Configuration.GetConnectionString("marten")!);
    opts.Projections.Add<OrderSummaryProjection>(ProjectionLifecycle.Async);
}).AddAsyncDaemon(JasperFx.Events.Daemon.DaemonMode.HotCold).IntegrateWithWolverine();
var app = builder.Build();
app.Run();
"""
_PROJECTION = """namespace Orders;

public record OrderPlaced(Guid OrderId, decimal Total);
public class OrderSummary { public Guid Id { get; set; } public decimal Total { get; set; } }

public class OrderSummaryProjection : SingleStreamProjection<OrderSummary, Guid>
{
    public void Apply(OrderPlaced e, OrderSummary view) => view.Total = e.Total;
}
"""
_CHANGED = _PROJECTION.replace("view.Total = e.Total;", "view.Total = e.Total * 1.2m;")
_BUMPED = _CHANGED.replace(
    "public class OrderSummaryProjection", "[ProjectionVersion(2)]\npublic class OrderSummaryProjection"
)
_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="Marten" /><PackageReference Include="WolverineFx.Marten" /></ItemGroup>
</Project>
"""
_DIR = "src/Orders/Orders.Api"


def _repo(projection: str) -> dict[str, str]:
    return {
        f"{_DIR}/Orders.Api.csproj": _CSPROJ,
        f"{_DIR}/Program.cs": _PROGRAM,
        f"{_DIR}/OrderSummaryProjection.cs": projection,
    }


RULE = Rule(
    id="CR111",
    name="projection-changed-without-version-bump",
    severity="error",
    summary="an async projection's code changed without a ProjectionVersion bump",
    why="old and new code share one progression row and table: stored documents keep the old logic, and both "
    "versions write them during the rollout",
    fix="bump the projection's version ([ProjectionVersion(n + 1)] or Version = n + 1) and let the new table build "
    "before switching reads (blue/green)",
    check=check,
    needs_base=True,
    cases=(
        Case(
            "changed-same-version",
            _repo(_CHANGED),
            ((f"{_DIR}/OrderSummaryProjection.cs", 6),),
            base=_repo(_PROJECTION),
        ),
        Case("changed-and-bumped", _repo(_BUMPED), base=_repo(_PROJECTION)),
        Case("unchanged", _repo(_PROJECTION), base=_repo(_PROJECTION)),
    ),
)
