"""CR115 floating-image-tag.

Bad: ``image: rabbitmq:management``, ``FROM postgres``, ``image: jaegertracing/all-in-one:latest``.
Good: ``image: rabbitmq:4.1.2-management``, or a digest (``postgres@sha256:...``).

A floating tag pulls whatever was pushed last: two machines (or a rollback) run different software under
one name, and a breaking major release arrives unannounced. Version-line tags such as ``10.0`` or ``16`` are
left alone: they move with patches only, by the publisher's promise. Dockerfiles, compose files and the
repository's Kubernetes manifests are read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from critterops.discover.dockerfiles import is_dockerfile
from critterops.review.context import ReviewContext, containers
from critterops.review.dockerfile import floating, instructions, stages
from critterops.review.model import Case, Hit, Rule

_IMAGE = re.compile(r"^\s*-?\s*image:\s*[\"']?([^\"'\s#]+)")


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for rel in ctx.tree.files:
        name = rel.rsplit("/", 1)[-1].lower()
        if is_dockerfile(rel):
            found = stages(instructions(ctx.lines(rel)))
            names = {s.name for s in found if s.name}
            for stage in found:
                why = None if stage.image.lower() in names else floating(stage.image)
                if why:
                    yield Hit(rel, stage.line, f"FROM {stage.image}: {why}", anchor=stage.image)
        elif "compose" in name and name.endswith((".yml", ".yaml")):
            for number, text in enumerate(ctx.lines(rel), 1):
                match = _IMAGE.match(text)
                why = floating(match.group(1)) if match else None
                if match and why:
                    yield Hit(rel, number, f"image {match.group(1)}: {why}", anchor=match.group(1))
    for m in ctx.workloads():
        for c in containers(m.doc):
            image = str(c.get("image", ""))
            why = floating(image)
            if why:
                line = ctx.find_line(m.file, image, m.line, m.line)
                yield Hit(m.file, line, f"{m.kind}/{m.name}: image {image}: {why}", anchor=image)


_COMPOSE = """services:
  rabbitmq:
    image: rabbitmq:management
  postgres:
    image: postgres:16.4
  jaeger:
    image: jaegertracing/all-in-one:latest
"""
_COMPOSE_GOOD = """services:
  rabbitmq:
    image: rabbitmq:4.1.2-management
  postgres:
    image: postgres@sha256:1d4f8b7c2a5e3f6b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b
"""
_DOCKERFILE = """FROM mcr.microsoft.com/dotnet/sdk AS build
RUN dotnet publish -o /app
FROM mcr.microsoft.com/dotnet/aspnet:10.0
COPY --from=build /app .
"""

RULE = Rule(
    id="CR115",
    name="floating-image-tag",
    severity="warning",
    summary="an image referenced by a floating tag (none, latest, or a tag without a version)",
    why="what runs changes whenever the publisher pushes; environments and rollbacks drift apart silently",
    fix="pin a version tag (rabbitmq:4.1.2-management) or a digest, and let Renovate/Dependabot bump it",
    check=check,
    cases=(
        Case(
            "compose-floating", {"docker-compose.yml": _COMPOSE}, (("docker-compose.yml", 3), ("docker-compose.yml", 7))
        ),
        Case("compose-pinned", {"docker-compose.yml": _COMPOSE_GOOD}),
        Case(
            "dockerfile-untagged",
            {"src/Orders/Orders.Api/Dockerfile": _DOCKERFILE},
            (("src/Orders/Orders.Api/Dockerfile", 1),),
        ),
    ),
)
