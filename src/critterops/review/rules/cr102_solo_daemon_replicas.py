"""CR102 solo-daemon-with-replicas.

Bad: ``opts.Projections.Add<OrderSummaryProjection>(ProjectionLifecycle.Async)`` with
``.AddAsyncDaemon(DaemonMode.Solo)`` in a Deployment with ``replicas: 3``.

Good: ``DaemonMode.HotCold`` (one node holds each projection through an advisory lock), or one replica.

``DaemonMode.Solo`` takes no lock: every running process starts every async projection. Two replicas (or
two versions during a deploy) then apply each event twice: duplicated side effects, progression rows
fought over. The replica count comes from the repository's own manifests when it has some for the
service, else from the deployment kit's policy (``critterops.yaml``, or its defaults: production runs
three replicas). Solo combined with Wolverine-managed distribution is CR119's case, not this one's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from critterops.errors import CritteropsError
from critterops.model import Service
from critterops.review.casekit import program_line, service
from critterops.review.context import Manifest, ReviewContext, containers
from critterops.review.model import Case, Hit, Rule


def _async(s: Service) -> list[str]:
    return [p.name for p in (s.marten.projections if s.marten else ()) if p.lifecycle == "Async"]


def _matches(s: Service, m: Manifest) -> bool:
    names = {s.name, s.compose_service or "", s.name.removesuffix("-api")} - {""}
    if m.name in names:
        return True
    return any(
        str(c.get("name", "")) in names or any(n in str(c.get("image", "")).rsplit("/", 1)[-1] for n in names)
        for c in containers(m.doc)
    )


def _replicas(ctx: ReviewContext, s: Service) -> list[tuple[Manifest, int]]:
    out = []
    workloads = [m for m in ctx.workloads() if _matches(s, m)]
    hpas = {
        str((m.doc.get("spec") or {}).get("scaleTargetRef", {}).get("name", "")): m
        for m in ctx.manifests()
        if m.kind == "HorizontalPodAutoscaler" and isinstance(m.doc.get("spec"), dict)
    }
    for m in workloads:
        spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
        replicas = spec.get("replicas", 1) if isinstance(spec, dict) else 1
        hpa = hpas.get(m.name)
        if hpa is not None:
            replicas = max(int(replicas or 1), int((hpa.doc["spec"] or {}).get("maxReplicas", 1) or 1))
        out.append((m, int(replicas) if isinstance(replicas, int) else 1))
    return out


def _kit_replicas(root: Path) -> list[tuple[str, int]]:
    from critterops.plan.policy import load_policy

    policy = load_policy(root)
    return [(e.name, e.replicas) for e in policy.environments if e.replicas > 1]


def check(ctx: ReviewContext) -> Iterator[Hit]:
    kit: list[tuple[str, int]] | None = None
    for s in ctx.system.services:
        if s.marten is None or s.marten.daemon_mode != "Solo" or not _async(s) or s.marten.managed_distribution:
            continue
        projections = ", ".join(_async(s))
        found = _replicas(ctx, s)
        if found:
            for m, replicas in found:
                if replicas > 1:
                    yield Hit(
                        m.file,
                        ctx.manifest_line(m, "replicas"),
                        f"{s.name} runs its async projections ({projections}) under DaemonMode.Solo, and "
                        f"{m.kind}/{m.name} runs {replicas} replicas: each one processes every event",
                        anchor=f"{m.kind}/{m.name}",
                    )
            continue
        if kit is None:
            try:
                kit = _kit_replicas(ctx.tree.root)
            except CritteropsError as error:
                ctx.warnings.append(f"CR102: the policy cannot be read ({error}); replicas of the kit unknown")
                kit = []
        if kit and s.marten.location is not None:
            file = s.marten.location.file
            line = ctx.find_line(file, "DaemonMode.Solo", 1, s.marten.location.line)
            where = ", ".join(f"{n}: {r}" for n, r in kit)
            yield Hit(
                file,
                line,
                f"{s.name} runs its async projections ({projections}) under DaemonMode.Solo; the deployment kit "
                f"runs it with more than one replica ({where}): each one processes every event",
            )


_PROGRAM = """builder.Services.AddMarten(opts =>
{
    opts.Connection(connectionString);
    opts.Projections.Add<OrderSummaryProjection>(ProjectionLifecycle.Async);
}).AddAsyncDaemon(DaemonMode.Solo).IntegrateWithWolverine();
var app = builder.Build();
app.Run();

public class OrderSummary { public Guid Id { get; set; } }
public class OrderSummaryProjection : SingleStreamProjection<OrderSummary, Guid> { }
"""
_HOTCOLD = _PROGRAM.replace("DaemonMode.Solo", "DaemonMode.HotCold")


def _deployment(replicas: int) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: orders-api}}
  template:
    metadata:
      labels: {{app: orders-api}}
    spec:
      containers:
        - name: orders-api
          image: registry.example.com/orders-api:1.4.2
"""


_ONE_REPLICA_POLICY = "environments:\n  staging: {replicas: 1}\n  production: {replicas: 1}\n"

RULE = Rule(
    id="CR102",
    name="solo-daemon-with-replicas",
    severity="error",
    summary="async projections under DaemonMode.Solo in a service that runs more than one replica",
    why="Solo takes no lock: every replica runs every async projection, so each event is applied several times",
    fix=(
        "use .AddAsyncDaemon(DaemonMode.HotCold) (or Wolverine-managed distribution), or run the daemon in a "
        "single-replica deployment of its own"
    ),
    check=check,
    cases=(
        Case(
            "manifest-three-replicas",
            {**service(program=_PROGRAM), "deploy/orders-api.yaml": _deployment(3)},
            (("deploy/orders-api.yaml", 6),),
        ),
        Case("manifest-one-replica", {**service(program=_PROGRAM), "deploy/orders-api.yaml": _deployment(1)}),
        Case(
            "kit-defaults",
            service(program=_PROGRAM),
            (("src/Orders/Orders.Api/Program.cs", program_line(_PROGRAM, "DaemonMode.Solo")),),
        ),
        Case("kit-one-replica", {**service(program=_PROGRAM), "critterops.yaml": _ONE_REPLICA_POLICY}),
        Case("hot-cold", {**service(program=_HOTCOLD), "deploy/orders-api.yaml": _deployment(3)}),
    ),
)
