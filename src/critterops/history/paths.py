"""What a changed path says about a commit: its subsystem, bounded context and rule signals.

Everything here looks at the path alone, never at file contents, so it can run on every commit of
a history in one ``git log`` pass. The signals approximate the deployment rules of the risk design
(contracts, event schema, projections, sagas, migrations, config and infrastructure); the model
uses them as features, while the Roslyn-based rules elsewhere decide the strategy.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

SOURCE_SUFFIXES = (".cs", ".csproj", ".razor")
"""Files that make a commit a code change (the ``source`` flag and the source-only evaluation subset)."""

SZZ_SUFFIXES = (".cs", ".csproj", ".razor", ".cshtml", ".props")
"""Files whose deleted lines SZZ blames: compiled or build-defining code. ``appsettings*.json`` is added
separately because config pushes are a top outage trigger; other JSON (launch settings, package
locks, test data) is not behaviour that ships."""

_TEST_DIRS = frozenset({"test", "tests", "e2e"})
_PASCAL_TESTS = re.compile(r"Tests?$")
_INFRA_DIRS = frozenset({"deploy", "k8s", "kubernetes", "helm", "manifests"})


@dataclass(frozen=True, slots=True)
class PathInfo:
    """Everything the miner needs to know about one path, computed once per distinct path."""

    subsystem: str
    directory: str
    context: str | None
    test: bool
    source: bool
    szz: bool
    config: bool
    contracts: bool
    migrations: bool
    startup: bool
    infra: bool
    projection: bool
    saga: bool
    handler: bool = False


@functools.lru_cache(maxsize=65_536)
def classify(path: str) -> PathInfo:
    """Classify a repository-relative path (``/``-separated, as git prints it)."""
    parts = path.split("/")
    folders, name = parts[:-1], parts[-1]
    test = is_test_path(path)
    return PathInfo(
        subsystem=subsystem(path),
        directory="/".join(folders),
        context=bounded_context(path),
        test=test,
        source=not test and name.endswith(SOURCE_SUFFIXES),
        szz=not test and (name.endswith(SZZ_SUFFIXES) or is_config(path)),
        config=is_config(path),
        contracts=any("Contracts" in part or "Messages" in part for part in parts),
        migrations="Migrations" in folders,
        startup=name in ("Program.cs", "Startup.cs"),
        infra=is_infra(path),
        projection="Projection" in name,
        saga="Saga" in name,
        handler=not test and name.endswith(".cs") and ("Handler" in name or "Handlers" in folders),
    )


def _stem(name: str) -> str:
    return name.rpartition(".")[0] or name


def is_test_path(path: str) -> bool:
    """A file of a test project or test folder (``tests/``, ``*.IntegrationTests/``, ``FooTests.cs``).

    Project folders and file stems match ``Test``/``Tests`` case-sensitively (PascalCase
    ``Orders.IntegrationTests``, ``OrderTests.cs``), so ``Latest.cs`` is not a test.
    """
    parts = path.split("/")
    if any(part.lower() in _TEST_DIRS or _PASCAL_TESTS.search(part) for part in parts[:-1]):
        return True
    return bool(_PASCAL_TESTS.search(_stem(parts[-1])))


def is_config(path: str) -> bool:
    name = path.rpartition("/")[2].lower()
    return name.startswith("appsettings") and name.endswith(".json")


def subsystem(path: str) -> str:
    """Kamei's subsystem: the first two folders under ``src/`` (a project), else the top folder."""
    folders = path.split("/")[:-1]
    if folders[:1] == ["src"]:
        return "/".join(folders[:3])
    return folders[0] if folders else ""


def bounded_context(path: str) -> str | None:
    """The bounded context of a file: the folder directly under ``src/`` (the CritterSupply layout)."""
    parts = path.split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "src" else None


def is_infra(path: str) -> bool:
    """Container, compose, CI workflow and deployment manifests."""
    parts = path.split("/")
    name = parts[-1].lower()
    if name.startswith("dockerfile") or name.endswith(".dockerfile"):
        return True
    if name.startswith(("docker-compose", "compose.")) and name.endswith((".yml", ".yaml")):
        return True
    if parts[:2] == [".github", "workflows"]:
        return True
    return name.endswith((".yml", ".yaml")) and any(part.lower() in _INFRA_DIRS for part in parts[:-1])
