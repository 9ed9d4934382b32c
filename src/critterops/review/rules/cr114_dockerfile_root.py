"""CR114 dockerfile-runs-as-root.

Bad: a final stage ``FROM mcr.microsoft.com/dotnet/aspnet:10.0`` with no ``USER``. Good: ``USER $APP_UID``
(the non-root user the .NET 8+ images ship, UID 1654), or a ``-chiseled`` image, which runs as that user by
default.

The .NET runtime images still start as root unless the Dockerfile says otherwise; an exploited service then
owns the container, and a cluster enforcing the restricted Pod Security Standard refuses the pod
(``runAsNonRoot``). hadolint has no rule for a missing USER.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.discover.dockerfiles import is_dockerfile
from critterops.review.context import ReviewContext
from critterops.review.dockerfile import instructions, stages
from critterops.review.model import Case, Hit, Rule

_NON_ROOT_IMAGES = ("chiseled", "distroless", "nonroot", "non-root", "rootless")
_ROOT = ("root", "0", "0:0", "root:root")


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for rel in ctx.tree.files:
        if not is_dockerfile(rel):
            continue
        items = instructions(ctx.lines(rel))
        found = stages(items)
        if not found:
            continue
        user_of: dict[str, str | None] = {}
        current: str | None = None
        stage_index = -1
        for item in items:
            if item.keyword == "FROM":
                stage_index += 1
                stage = found[stage_index] if stage_index < len(found) else None
                base = stage.image.lower() if stage else ""
                current = user_of.get(base)  # FROM an earlier stage inherits its user
                if current is None and any(marker in base for marker in _NON_ROOT_IMAGES):
                    current = "app"
                if stage and stage.name:
                    user_of[stage.name] = current
            elif item.keyword == "USER":
                current = item.args.split()[0] if item.args else None
                if stage_index < len(found) and found[stage_index].name:
                    user_of[found[stage_index].name] = current
        final = found[-1]
        if current is None or current.lower() in _ROOT:
            why = "USER root" if current else "no USER"
            yield Hit(rel, final.line, f"the final stage ({final.image}) runs as root: {why}")


_BAD = """FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Orders/Orders.Api/Orders.Api.csproj -c Release -o /app/publish

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS final
WORKDIR /app
COPY --from=build /app/publish .
ENTRYPOINT ["dotnet", "Orders.Api.dll"]
"""
_GOOD = _BAD.replace("WORKDIR /app\n", "WORKDIR /app\nUSER $APP_UID\n")
_CHISELED = _BAD.replace("aspnet:10.0 AS final", "aspnet:10.0-noble-chiseled AS final")
_BASE_STAGE = """FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS base
USER app
WORKDIR /app

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN dotnet publish -o /app/publish

FROM base AS final
COPY --from=build /app/publish .
ENTRYPOINT ["dotnet", "Orders.Api.dll"]
"""
_DOCKERFILE = "src/Orders/Orders.Api/Dockerfile"

RULE = Rule(
    id="CR114",
    name="dockerfile-runs-as-root",
    severity="warning",
    summary="the image's final stage runs as root",
    why="an exploited service owns its container, and the restricted Pod Security Standard refuses the pod",
    fix="add USER $APP_UID to the final stage (the .NET images' non-root user), or use a -chiseled runtime image",
    check=check,
    cases=(
        Case("no-user", {_DOCKERFILE: _BAD}, ((_DOCKERFILE, 6),)),
        Case("app-uid", {_DOCKERFILE: _GOOD}),
        Case("chiseled", {_DOCKERFILE: _CHISELED}),
        Case("user-inherited-from-base-stage", {_DOCKERFILE: _BASE_STAGE}),
        Case("user-root", {_DOCKERFILE: _GOOD.replace("USER $APP_UID", "USER root")}, ((_DOCKERFILE, 6),)),
    ),
)
