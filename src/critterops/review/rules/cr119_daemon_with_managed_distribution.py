"""CR119 daemon-mode-with-managed-distribution.

Bad::

    builder.Services.AddMarten(...).AddAsyncDaemon(DaemonMode.Solo)
        .IntegrateWithWolverine(w => w.UseWolverineManagedEventSubscriptionDistribution = true);

Good: drop ``AddAsyncDaemon(...)`` and let Wolverine's distribution run the daemon (or turn the managed
distribution off and use ``DaemonMode.HotCold``).

Wolverine's managed distribution "replaces Marten's AddAsyncDaemon(HotCold) option and should not be used in
combination with Marten's own load distribution" (src/Persistence/Wolverine.Marten/MartenIntegration.cs, the
same words at V5.29.0, which CritterSupply uses, and V6.29.2). With both, two coordinators compete for the same
daemon and async projections stall without an error; since Wolverine V6.18.0 the host refuses to start
instead (``ManagedDistributionDaemonModeValidator``, GH-3388, same release's
src/Persistence/Wolverine.Marten/Distribution/ManagedDistributionDaemonModeValidator.cs).
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for s in ctx.system.services:
        marten = s.marten
        if marten is None or not marten.managed_distribution or marten.daemon_mode not in ("Solo", "HotCold"):
            continue
        if marten.location is None:
            continue
        file = marten.location.file
        line = ctx.find_line(file, f"DaemonMode.{marten.daemon_mode}", 1, marten.location.line)
        yield Hit(
            file,
            line,
            f"{s.name}: AddAsyncDaemon(DaemonMode.{marten.daemon_mode}) together with "
            "UseWolverineManagedEventSubscriptionDistribution: competing coordinators (projections stall; "
            "Wolverine 6.18+ refuses to start)",
        )


_BAD = """builder.Services.AddMarten(opts =>
{
    opts.Connection(connectionString);
})
.AddAsyncDaemon(DaemonMode.Solo)
.IntegrateWithWolverine(w => w.UseWolverineManagedEventSubscriptionDistribution = true);
var app = builder.Build();
app.Run();
"""
_GOOD = _BAD.replace(".AddAsyncDaemon(DaemonMode.Solo)\n", "")
_SOLO_ONLY = _BAD.replace("w => w.UseWolverineManagedEventSubscriptionDistribution = true", "")

RULE = Rule(
    id="CR119",
    name="daemon-mode-with-managed-distribution",
    severity="error",
    summary="a Marten daemon mode (Solo/HotCold) combined with Wolverine-managed event subscription distribution",
    why="two coordinators compete for the async daemon: projections stall silently, and Wolverine 6.18+ "
    "refuses to start the host",
    fix="remove AddAsyncDaemon(...) and let Wolverine's managed distribution run the projections, or turn the "
    "managed distribution off and use DaemonMode.HotCold",
    check=check,
    cases=(
        Case(
            "solo-and-managed",
            service(program=_BAD),
            (("src/Orders/Orders.Api/Program.cs", program_line(_BAD, "DaemonMode.Solo")),),
        ),
        Case("managed-only", service(program=_GOOD)),
        Case("solo-only", service(program=_SOLO_ONLY)),
    ),
)
