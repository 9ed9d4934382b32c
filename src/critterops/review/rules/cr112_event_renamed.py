"""CR112 event-renamed-without-mapeventtype (with ``--base``).

Bad: ``public record OrderShipped(...)`` becomes ``public record ShipmentDispatched(...)`` (or moves to
another namespace) between ``--base`` and the working commit, with no ``MapEventType``/upcaster added.
Good: ``opts.Events.MapEventType<ShipmentDispatched>("order_shipped")`` in the same change.

Marten stores each event with its type name. Events already in the store keep the old name, and the new
code cannot read them: aggregates and projections fail on every stream that holds one. The change rules of
``critterops risk`` detect renames and mitigations; this rule reports an unmitigated rename.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

_RENAMES = ("type-renamed", "type-moved-namespace")


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for f in ctx.changes or ():
        if f.rule != "event-breaking" or dict(f.facts).get("mitigated") == "true":
            continue
        for change in f.changes:
            if change.change in _RENAMES:
                where = change.location or (f.files[0] if f.files else None)
                yield Hit(
                    where.file if where else "",
                    where.line if where else 0,
                    f"stored event {change.type}: {change.detail}, and no MapEventType or upcaster was added",
                )


_PROGRAM = """using Marten;
using Wolverine.Marten;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMarten(opts =>
{
    opts.Connection(builder.Configuration.GetConnectionString("marten")!);
}).IntegrateWithWolverine();
var app = builder.Build();
app.MapPost("/ship/{id}", (Guid id, IDocumentSession s) =>
{
    s.Events.Append(id, new OrderShipped(id));
    return s.SaveChangesAsync();
});
app.Run();
"""
_EVENTS = """namespace Orders;

public record OrderShipped(Guid OrderId);
"""
_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageReference Include="Marten" /><PackageReference Include="WolverineFx.Marten" /></ItemGroup>
</Project>
"""
_DIR = "src/Orders/Orders.Api"


def _repo(events: str, program: str = _PROGRAM) -> dict[str, str]:
    return {f"{_DIR}/Orders.Api.csproj": _CSPROJ, f"{_DIR}/Program.cs": program, f"{_DIR}/Events.cs": events}


_RENAMED_EVENTS = _EVENTS.replace("OrderShipped", "ShipmentDispatched")
_RENAMED_PROGRAM = _PROGRAM.replace("new OrderShipped", "new ShipmentDispatched")
_MAPPED_PROGRAM = _RENAMED_PROGRAM.replace(
    "}).IntegrateWithWolverine();",
    '    opts.Events.MapEventType<ShipmentDispatched>("order_shipped");\n}).IntegrateWithWolverine();',
)

RULE = Rule(
    id="CR112",
    name="event-renamed-without-mapeventtype",
    severity="error",
    summary="a stored event type was renamed or moved without MapEventType or an upcaster",
    why="events already stored keep the old type name; the new code cannot read the streams that hold them",
    fix='map the old name: opts.Events.MapEventType<NewName>("old_name"), or add an upcaster, in the same change',
    check=check,
    needs_base=True,
    cases=(
        Case("renamed", _repo(_RENAMED_EVENTS, _RENAMED_PROGRAM), ((f"{_DIR}/Events.cs", 3),), base=_repo(_EVENTS)),
        Case("renamed-and-mapped", _repo(_RENAMED_EVENTS, _MAPPED_PROGRAM), base=_repo(_EVENTS)),
    ),
)
