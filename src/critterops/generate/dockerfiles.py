"""Dockerfiles for the services the repository ships without one.

A .NET service in a monorepo cannot be built from its own folder: it needs the repository-wide
build files (``Directory.Build.props``, ``Directory.Packages.props`` for central package
management, ``global.json``, ``NuGet.config``) and every project it references. So the build
context is the repository root and the Dockerfile lives in the kit (``docker/<service>/Dockerfile``).

Layout, per hadolint and the .NET container guidance:

- build stage ``mcr.microsoft.com/dotnet/sdk:<channel>`` pinned by tag (DL3006/DL3007);
- restore layer: the root build files, then the ``.csproj`` (and ``packages.lock.json``) of the
  service and of every project it references transitively, at their repository paths, then
  ``dotnet restore``; a source edit therefore reuses the cached restore;
- the sources of those projects only, then ``dotnet publish --no-restore``;
- runtime stage ``aspnet`` (or ``runtime`` for a worker with no ASP.NET Core dependency), numeric
  non-root ``USER 10001:10001`` to match the Kubernetes ``runAsUser``/``runAsGroup``, and for HTTP
  services ``EXPOSE 8080`` with ``ASPNETCORE_URLS``.

Optional root files are copied with a one-character class (``global.jso[n]``): BuildKit skips a
wildcard source that matches nothing (``AllowEmptyWildcard`` in dockerfile2llb), so the same
Dockerfile keeps working when the repository adds or drops one of them, without the generator
reading the repository.
"""

from __future__ import annotations

import posixpath
import re
from collections import Counter
from pathlib import PurePosixPath

from critterops.generate import exporter
from critterops.generate.context import KitContext
from critterops.model import Project, Service
from critterops.plan.jobs import BUNDLE_DIR, bundle_path, migration_contexts, needs_migration_job

DEFAULT_CHANNEL = "10.0"
USER = "10001:10001"  # matches runAsUser/runAsGroup in the generated Kubernetes securityContext
PORT = 8080
NGINX_IMAGE = "nginxinc/nginx-unprivileged:1.29-alpine"  # serves Blazor WebAssembly output on 8080

_TFM = re.compile(r"^net(?:coreapp)?(\d+\.\d+)")

# The repository-wide files MSBuild and NuGet read during restore, each made optional by a
# character class that only matches the file itself.
_ROOT_FILES = (
    "Directory.Build.prop[s]",
    "Directory.Build.target[s]",
    "Directory.Packages.prop[s]",
    "global.jso[n]",
    "[Nn]u[Gg]et.[Cc]onfig",
)


def dockerfile_files(ctx: KitContext) -> dict[str, str]:
    """``{"docker/<service>/Dockerfile": text}`` for every service with no Dockerfile of its own, and
    ``docker/<service>/Dockerfile.migrations`` for every service whose EF Core migrations a Job applies."""
    files = {_kit_path(service): _render(ctx, service) for service in ctx.deployable() if service.dockerfile is None}
    for service in migration_services(ctx):
        files[migrations_path(service)] = _render_migrations(ctx, service)
    files[exporter.DOCKERFILE] = exporter.dockerfile()
    return files


def migration_services(ctx: KitContext) -> list[Service]:
    """Services that get a migrations image: a migration Job runs in at least one environment."""
    return [s for s in ctx.deployable() if any(needs_migration_job(s, env.name) for env in ctx.environments)]


def image_names(ctx: KitContext) -> list[str]:
    """Every image the kit builds and pulls, without registry and tag: one per service, plus
    ``<service>-migrations`` where a migration Job runs EF Core bundles."""
    names = [s.name for s in ctx.deployable()] + [f"{s.name}-migrations" for s in migration_services(ctx)]
    return sorted([*names, exporter.EXPORTER_NAME])


def migrations_path(service: Service) -> str:
    return f"docker/{service.name}/Dockerfile.migrations"


def migrations_dockerfile_for(service: Service, out_prefix: str) -> str:
    return in_kit(migrations_path(service), out_prefix)


def in_kit(path: str, out_prefix: str) -> str:
    """A kit file's path from the repository root."""
    return posixpath.join(out_prefix, path) if out_prefix not in ("", ".") else path


def dockerfile_for(ctx: KitContext, service: Service, out_prefix: str) -> str:
    """The repository-relative Dockerfile to build ``service`` with: its own, or the generated one."""
    if service.dockerfile:
        return service.dockerfile
    return posixpath.join(out_prefix, _kit_path(service)) if out_prefix not in ("", ".") else _kit_path(service)


def dotnet_channel(ctx: KitContext, service: Service | None = None) -> str:
    """The .NET channel (``10.0``) from the service's target framework.

    Falls back to the most common target framework among the services, then to .NET 10: discovery
    leaves ``target_framework`` empty when it is set in ``Directory.Build.props``.
    """
    if service is not None:
        channel = _channel(service.target_framework)
        if channel:
            return channel
    found = Counter(c for c in (_channel(s.target_framework) for s in ctx.system.services) if c)
    if found:
        return sorted(found.items(), key=lambda item: (-item[1], item[0]))[0][0]
    return DEFAULT_CHANNEL


def _channel(target_framework: str | None) -> str | None:
    match = _TFM.match(target_framework or "")
    return match.group(1) if match else None


def _kit_path(service: Service) -> str:
    return f"docker/{service.name}/Dockerfile"


def project_closure(ctx: KitContext, service: Service) -> list[str]:
    """The service project first, then every project it references transitively, by path."""
    by_path = {p.path: p for p in ctx.system.projects}
    seen: set[str] = set()
    pending = [service.project]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        project = by_path.get(path)
        references = project.references if project else ()
        if path == service.project and not project:
            references = service.project_references
        pending.extend(r for r in references if r not in seen)
    return [service.project, *sorted(seen - {service.project})]


def _runtime(ctx: KitContext, service: Service, closure: list[str]) -> str:
    """``aspnet``, ``runtime`` or ``static`` (Blazor WebAssembly served by nginx)."""
    sdk = service.sdk or ""
    if sdk.endswith("BlazorWebAssembly"):
        return "static"
    if sdk.endswith(".Web") or service.kind in ("api", "web"):
        return "aspnet"
    by_path: dict[str, Project] = {p.path: p for p in ctx.system.projects}
    for path in closure:
        project = by_path.get(path)
        if project is None:
            continue
        # Aspire ServiceDefaults carry <FrameworkReference Include="Microsoft.AspNetCore.App" />:
        # a worker that references them does not start on the plain runtime image.
        if project.role == "servicedefaults" or (project.sdk or "").endswith(".Web"):
            return "aspnet"
        if any(p.startswith("Microsoft.AspNetCore") for p in project.packages):
            return "aspnet"
    return "runtime"


def _json(*items: str) -> str:
    """Exec-form arguments; paths with spaces ("Customer Experience") stay one argument."""
    return "[" + ", ".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "]"


def _dir(path: str) -> str:
    parent = posixpath.dirname(path)
    return f"{parent}/" if parent else "./"


def _source_dirs(closure: list[str]) -> list[str]:
    """Project folders to copy, dropping folders already inside another copied folder."""
    dirs = sorted({_dir(p) for p in closure})
    kept: list[str] = []
    for d in dirs:
        if d == "./" or not any(d.startswith(k) and k != "./" for k in kept):
            kept.append(d)
    return kept


def _restore_lines(closure: list[str], project: str) -> list[str]:
    lines = [
        "# Restore layer: only what NuGet reads, so a source edit reuses the cached packages.",
        "# [s]/[n] make a root file optional: BuildKit skips a wildcard that matches nothing.",
        f"COPY {_json(*_ROOT_FILES, './')}",
    ]
    for path in closure:
        folder = _dir(path)
        lines.append(f"COPY {_json(path, folder + 'packages.lock.jso[n]', folder)}")
    lines.append(f'RUN dotnet restore "{project}"')
    lines.append("")
    lines.append("# Sources of the service and the projects it references, nothing else.")
    lines.extend(f"COPY {_json(d, d)}" for d in _source_dirs(closure))
    return lines


def _render_migrations(ctx: KitContext, service: Service) -> str:
    """An image with one EF Core migration bundle per DbContext (``dotnet ef migrations bundle``): a
    self-contained executable that applies the pending migrations and nothing else, so the migration Job
    needs neither the SDK nor the app's start-up path. It reads the connection string the way the app does
    (``ConnectionStrings__<name>`` from the Job's environment) or from ``--connection``."""
    closure = project_closure(ctx, service)
    channel = dotnet_channel(ctx, service)
    project = service.project
    lines = [
        f"# Generated by critterops for {service.name}: EF Core migration bundles for its migration Job.",
        f"# Build from the repository root: docker build -f <kit folder>/{migrations_path(service)} .",
        "# The app applies its migrations itself only in Development; every other environment runs these",
        "# bundles in a Job before the rollout (kubernetes/overlays/<env>/jobs.yaml).",
        "",
        f"FROM mcr.microsoft.com/dotnet/sdk:{channel} AS build",
        "# dotnet-ef must match the project's EF Core major version: pass --build-arg EF_VERSION=<its version>",
        f"ARG EF_VERSION={channel}.0",
        'RUN dotnet tool install --global dotnet-ef --version "${EF_VERSION}"',
        'ENV PATH="${PATH}:/root/.dotnet/tools"',
        "WORKDIR /src",
        "",
        *_restore_lines(closure, project),
    ]
    for context in migration_contexts(service):
        lines.append(
            f'RUN dotnet ef migrations bundle --project "{project}" --startup-project "{project}" '
            f"--context {context} --configuration Release --self-contained -r linux-x64 "
            f"-o {bundle_path(context)}"
        )
    lines += [
        "",
        f"FROM mcr.microsoft.com/dotnet/runtime-deps:{channel} AS runtime",
        f"COPY --from=build {BUNDLE_DIR} {BUNDLE_DIR}",
        "# Numeric, non-root, and equal to the Kubernetes securityContext (runAsUser/runAsGroup 10001).",
        f"USER {USER}",
    ]
    return "\n".join(lines) + "\n"


def _render(ctx: KitContext, service: Service) -> str:
    closure = project_closure(ctx, service)
    channel = dotnet_channel(ctx, service)
    runtime = _runtime(ctx, service, closure)
    project = service.project
    assembly = PurePosixPath(project).stem
    lines = [
        f"# Generated by critterops for {service.name} ({project}): the repository has no Dockerfile for it.",
        f"# Build from the repository root: docker build -f <kit folder>/{_kit_path(service)} .",
        "# Keep bin/ and obj/ out of the context with the repository's .dockerignore (**/bin, **/obj).",
        "",
        f"FROM mcr.microsoft.com/dotnet/sdk:{channel} AS build",
        "WORKDIR /src",
        "",
    ]
    lines += _restore_lines(closure, project)
    lines.append(f'RUN dotnet publish "{project}" -c Release --no-restore -o /app /p:UseAppHost=false')
    lines.append("")
    if runtime == "static":
        lines += [
            "# Blazor WebAssembly publishes static files; nginx-unprivileged serves them on 8080.",
            "# Client-side routes need a try_files fallback: add an nginx.conf to the project and COPY it.",
            f"FROM {NGINX_IMAGE} AS runtime",
            "COPY --from=build /app/wwwroot /usr/share/nginx/html",
            f"USER {USER}",
            f"EXPOSE {PORT}",
        ]
        return "\n".join(lines) + "\n"
    lines += [
        f"FROM mcr.microsoft.com/dotnet/{runtime}:{channel} AS runtime",
        "WORKDIR /app",
        "COPY --from=build /app .",
        "# Numeric, non-root, and equal to the Kubernetes securityContext (runAsUser/runAsGroup 10001).",
        f"USER {USER}",
    ]
    if service.kind != "worker":
        lines += [f"EXPOSE {PORT}", f"ENV ASPNETCORE_URLS=http://+:{PORT}"]
    lines.append(f"ENTRYPOINT {_json('dotnet', assembly + '.dll')}")
    return "\n".join(lines) + "\n"
