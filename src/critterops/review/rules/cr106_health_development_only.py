"""CR106 health-only-in-development.

Bad::

    if (app.Environment.IsDevelopment()) { app.MapHealthChecks("/health"); }

Good: ``app.MapHealthChecks("/health");`` in every environment (health checks that expose no details).

Aspire's ServiceDefaults template maps ``/health`` and ``/alive`` only in Development. Kubernetes probes
copied from the Aspire conventions then hit 404 in production: readiness never passes, or liveness kills
healthy pods. One finding per place that maps them, naming the services that rely on it.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.model.environments import applies_in
from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule


def check(ctx: ReviewContext) -> Iterator[Hit]:
    places: dict[tuple[str, int], tuple[list[str], list[str]]] = {}
    for s in ctx.system.services:
        if not s.health or any(applies_in(h.environments, "Production") for h in s.health):
            continue
        for h in s.health:
            if h.location is None:
                continue
            services, paths = places.setdefault((h.location.file, h.location.line), ([], []))
            services.append(s.name)
            if h.path not in paths:
                paths.append(h.path)
    for (file, line), (services, paths) in sorted(places.items()):
        names = ", ".join(services[:4]) + (f" and {len(services) - 4} more" if len(services) > 4 else "")
        yield Hit(
            file,
            line,
            f"{' '.join(paths)} mapped only in Development; {names} "
            f"{'has' if len(services) == 1 else 'have'} no health endpoint in production",
        )


_BAD = """builder.Services.AddHealthChecks();
var app = builder.Build();
if (app.Environment.IsDevelopment())
{
    app.MapHealthChecks("/health");
}
app.Run();
"""
_GOOD = """builder.Services.AddHealthChecks();
var app = builder.Build();
app.MapHealthChecks("/health");
app.Run();
"""

RULE = Rule(
    id="CR106",
    name="health-only-in-development",
    severity="warning",
    summary="health endpoints are mapped only in Development",
    why="probes in production then get 404: pods never become ready, or liveness restarts healthy ones",
    fix="map the health endpoints in every environment (without details), or point the probes at an endpoint "
    "that is mapped there",
    check=check,
    cases=(
        Case(
            "development-only",
            service(program=_BAD),
            (("src/Orders/Orders.Api/Program.cs", program_line(_BAD, "MapHealthChecks")),),
        ),
        Case("everywhere", service(program=_GOOD)),
    ),
)
