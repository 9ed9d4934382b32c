"""Dockerfiles: which project each one builds, and the port it exposes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from critterops.discover.files import SourceTree

_EXPOSE = re.compile(r"^\s*EXPOSE\s+(\d+)", re.IGNORECASE | re.MULTILINE)
_ENV_PORT = re.compile(r"ASPNETCORE_(?:HTTP_PORTS|URLS)[= ]\s*\"?(?:https?://[^:\"]+:)?(\d+)", re.IGNORECASE)
_PROJ = re.compile(r"([\w.\-]+)\.csproj|([\w.\-]+)\.dll", re.IGNORECASE)


@dataclass
class DockerfileInfo:
    path: str
    exposes: list[int] = field(default_factory=list)
    mentions: set[str] = field(default_factory=set)  # project / assembly names it builds or runs


def is_dockerfile(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name == "Dockerfile" or name.startswith("Dockerfile.") or name.endswith(".Dockerfile")


def read_dockerfile(tree: SourceTree, rel: str) -> DockerfileInfo:
    info = DockerfileInfo(rel)
    content = tree.read_text(rel)
    if content is None:
        return info
    info.exposes = [int(p) for p in _EXPOSE.findall(content)]
    info.exposes += [int(p) for p in _ENV_PORT.findall(content) if int(p) not in info.exposes]
    for match in _PROJ.finditer(content):
        info.mentions.add((match.group(1) or match.group(2)).lower())
    return info
