"""The pieces runbook sections are written with: headings, code blocks, kubectl, psql and JasperFx commands.

Commands use the variables every page's "Before you start" block sets: ``$NS`` (the namespace of the
alert's environment), ``$SVC`` (the alert's service) and ``q`` (``promtool query instant`` against
the Prometheus the analysis templates query).
"""

from __future__ import annotations

from collections.abc import Callable

from critterops.generate.alerts.record import Covered
from critterops.generate.context import KitContext
from critterops.model import Service


def heading(service: Service, schema: str | None = None) -> str:
    """A per-service heading naming the database and schema the SQL below runs in."""
    where = []
    if service.database:
        where.append(f"database `{service.database}`")
    if schema:
        where.append(f"schema `{schema}`")
    return f"### {service.name}" + (f" ({', '.join(where)})" if where else "")


def sql(*statements: str) -> list[str]:
    """A ``sql`` code block, then a blank line."""
    return ["```sql", *statements, "```", ""]


def sh(*commands: str) -> list[str]:
    """A ``sh`` code block, then a blank line."""
    return ["```sh", *commands, "```", ""]


def queries(*queries: str | tuple[str, str]) -> list[str]:
    """``q '<query>'`` lines; a (query, comment) pair gets a trailing shell comment."""
    lines = []
    for query in queries:
        if isinstance(query, tuple):
            lines.append(f"q '{query[0]}'   # {query[1]}")
        else:
            lines.append(f"q '{query}'")
    return sh(*lines)


def workload(ctx: KitContext, service: str) -> str:
    """The kubectl name of the service's workload: its Rollout, or its Deployment without Argo."""
    return f"rollout/{service}" if ctx.argo else f"deployment/{service}"


def pods(service: str) -> str:
    """The kubectl selector of the service's pods."""
    return f"-l app.kubernetes.io/name={service}"


def logs(service: str, pattern: str) -> str:
    """The last 30 minutes of the service's logs, filtered."""
    return f"kubectl -n $NS logs {pods(service)} --since=30m --prefix | grep -E '{pattern}' | tail -50"


def restart(ctx: KitContext, service: str) -> str:
    """Restart every pod of the service the way its workload kind allows."""
    if ctx.argo:
        return f"kubectl argo rollouts restart {service} -n $NS"
    return f"kubectl -n $NS rollout restart deployment/{service}"


def dotnet_cli(service: Service, verb: str) -> str:
    """A JasperFx command run from a checkout of the deployed commit against the service's database."""
    project = service.project.rsplit("/", 1)[0]
    keys = service.connection_strings or ("postgres",)
    env = f'ConnectionStrings__{keys[0]}="$CONNECTION_STRING" '
    return f'{env}dotnet run --project "{project}" -- {verb}'


def _rollback(ctx: KitContext, caveats: tuple[str, ...]) -> list[str]:
    lines = [
        "Roll back `$SVC` when the alert started within an hour of its deploy (the revision's age shows it):",
        "",
    ]
    if ctx.argo:
        lines += sh(
            "kubectl argo rollouts get rollout $SVC -n $NS   # revisions, their age, the step in progress",
            "kubectl argo rollouts abort $SVC -n $NS         # mid-rollout: traffic back to stable",
            "kubectl argo rollouts undo $SVC -n $NS          # promoted already: the previous revision",
            "kubectl argo rollouts status $SVC -n $NS --timeout 10m",
        )
    else:
        lines += sh(
            "kubectl -n $NS rollout history deployment/$SVC",
            "kubectl -n $NS rollout undo deployment/$SVC",
            "kubectl -n $NS rollout status deployment/$SVC --timeout 10m",
        )
    return lines + [f"- {caveat}" for caveat in caveats]


def roll_back(*caveats: str) -> Callable[[Covered], list[str]]:
    """A Rollback section: how to roll ``$SVC`` back (Argo Rollouts or Deployments), then the caveats."""

    def section(covered: Covered) -> list[str]:
        return _rollback(covered.ctx, caveats)

    return section
