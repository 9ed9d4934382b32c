"""Which services and test projects a set of changed files touches, and how.

A file belongs to the deepest project folder that holds it. Service projects and the libraries a
service owns affect that service directly; shared libraries affect every service that references
them, transitively; repository-wide build files (Directory.*.props, global.json, NuGet.config)
affect all services. Message flows are added by the rules, which know the message types.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from critterops.model import System

BUILD_WIDE = frozenset(
    {"directory.build.props", "directory.build.targets", "directory.packages.props", "global.json", "nuget.config"}
)
DOC_SUFFIXES = (".md", ".markdown", ".txt", ".rst", ".adoc", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".drawio")
DOC_NAMES = frozenset({"license", "licence", "authors", "codeowners", ".gitignore", ".gitattributes", ".editorconfig"})


@dataclass
class Ownership:
    """Who owns each changed file: ``{path: {service: how}}`` plus the test projects touched."""

    services: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    tests: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # test project -> files
    unowned: list[str] = field(default_factory=list)


def project_dirs(system: System) -> dict[str, str]:
    return {posixpath.dirname(p.path): p.path for p in system.projects}


def references_closure(system: System) -> dict[str, set[str]]:
    """For every project, the projects it references directly or transitively."""
    direct = {p.path: set(p.references) for p in system.projects}
    closure: dict[str, set[str]] = {}

    def visit(path: str, seen: set[str]) -> set[str]:
        if path in closure:
            return closure[path]
        out: set[str] = set()
        for ref in direct.get(path, ()):
            if ref in seen:
                continue
            out.add(ref)
            out |= visit(ref, seen | {ref})
        closure[path] = out
        return out

    for path in direct:
        visit(path, {path})
    return closure


def owning_project(dirs: dict[str, str], path: str) -> str | None:
    folder = posixpath.dirname(path)
    while True:
        if folder in dirs:
            return dirs[folder]
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def is_doc(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return (
        name.endswith(DOC_SUFFIXES)
        or name in DOC_NAMES
        or path.lower().startswith(("docs/", "doc/"))
        or "/docs/" in path.lower()
    )


def is_test_path(system: System, path: str) -> bool:
    project = owning_project(project_dirs(system), path)
    if project is not None:
        return any(p.path == project and p.role == "test" for p in system.projects)
    lowered = path.lower()
    return lowered.startswith(("tests/", "test/")) or "/tests/" in lowered


def ownership(system: System, paths: list[str]) -> Ownership:
    dirs = project_dirs(system)
    closure = references_closure(system)
    roles = {p.path: p.role for p in system.projects}
    out = Ownership()
    by_dockerfile = {s.dockerfile: s.name for s in system.services if s.dockerfile}
    for path in paths:
        if path in by_dockerfile:
            out.services[path][by_dockerfile[path]] = "direct"
            continue
        if posixpath.basename(path).lower() in BUILD_WIDE:
            for s in system.services:
                out.services[path].setdefault(s.name, "reference")
            continue
        project = owning_project(dirs, path)
        if project is None:
            out.unowned.append(path)
            continue
        if roles.get(project) == "test":
            out.tests[project].add(path)
            continue
        touched = False
        for s in system.services:
            if project in s.source_projects:
                out.services[path][s.name] = "direct"
                touched = True
            elif project in closure.get(s.project, set()):
                out.services[path].setdefault(s.name, "reference")
                touched = True
        if not touched:
            out.unowned.append(path)
    return out


def contract_checker(*systems: System) -> Callable[[str], bool]:
    """``is_contract(path)``: whether a file belongs to a shared message-contracts project of these systems.

    The project folders are indexed once, so callers can ask for every changed file cheaply.
    """
    dirs: dict[str, str] = {}
    contracts: set[str] = set()
    for system in systems:
        for project in system.projects:
            dirs[posixpath.dirname(project.path)] = project.path
            if project.role == "contracts":
                contracts.add(project.path)
    return lambda path: owning_project(dirs, path) in contracts
