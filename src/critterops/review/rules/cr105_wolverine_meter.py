"""CR105 wolverine-meter-name.

Bad: ``metrics.AddMeter("Wolverine")``. Good: ``metrics.AddMeter("Wolverine*")`` (or the exact
``"Wolverine:<ServiceName>"``).

Wolverine names its meter ``"Wolverine:" + options.ServiceName`` (Wolverine V6.29.2
src/Wolverine/Runtime/WolverineRuntime.cs), and OpenTelemetry matches meter names exactly unless the
name holds a wildcard: ``AddMeter("Wolverine")`` exports nothing, and dashboards of handler times and
dead letters stay empty. Discovery finds the call (also behind AddServiceDefaults); this rule reports
discovery's finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

MARKER = 'AddMeter("Wolverine") captures no Wolverine metrics'


def check(ctx: ReviewContext) -> Iterator[Hit]:
    seen: set[tuple[str, int]] = set()
    for w in ctx.system.warnings:
        if MARKER in w.message and (w.file, w.line) not in seen:
            seen.add((w.file, w.line))
            yield Hit(w.file, w.line, 'AddMeter("Wolverine") matches no meter: Wolverine\'s is "Wolverine:<service>"')


_BAD = """builder.Host.UseWolverine();
builder.Services.AddOpenTelemetry().WithMetrics(metrics =>
{
    metrics.AddAspNetCoreInstrumentation();
    metrics.AddMeter("Wolverine");
});
var app = builder.Build();
app.Run();
"""
_GOOD = _BAD.replace('AddMeter("Wolverine")', 'AddMeter("Wolverine*")')

RULE = Rule(
    id="CR105",
    name="wolverine-meter-name",
    severity="warning",
    summary='AddMeter("Wolverine") exports no Wolverine metrics',
    why="the meter is named Wolverine:<service name>; an exact 'Wolverine' matches nothing, so handler and "
    "dead-letter metrics never reach Prometheus",
    fix='AddMeter("Wolverine*")',
    check=check,
    cases=(
        Case(
            "exact-name", service(program=_BAD), (("src/Orders/Orders.Api/Program.cs", program_line(_BAD, "AddMeter")),)
        ),
        Case("wildcard", service(program=_GOOD)),
    ),
)
