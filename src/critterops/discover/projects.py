"""Classify .NET projects (service, library, test, AppHost, ServiceDefaults, contracts) and decide
which libraries each service owns."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field

from critterops.discover.files import SourceTree
from critterops.discover.msbuild import CsProject

HOSTED_MARKERS = (
    b"CreateApplicationBuilder",
    b"CreateDefaultBuilder",
    b"UseWolverine",
    b"AddHostedService",
    b"CreateBuilder(",
    b"HostBuilder",
)
_CONTRACT_NAME = re.compile(r"contract|message|integration|events|shared\.?kernel|abstractions", re.IGNORECASE)
_SRC_DIRS = {"src", "source", "services", "apps", "app", "backend", "service"}


@dataclass
class ProjectGraph:
    projects: dict[str, CsProject]
    roles: dict[str, str] = field(default_factory=dict)
    closure: dict[str, set[str]] = field(default_factory=dict)
    owned: dict[str, list[str]] = field(default_factory=dict)  # service → its project + owned libraries
    shared: set[str] = field(default_factory=set)
    file_project: dict[str, str] = field(default_factory=dict)
    _by_project: dict[str, list[str]] = field(default_factory=dict)

    def services(self) -> list[str]:
        return sorted(p for p, role in self.roles.items() if role == "service")

    def files_of(self, project: str) -> list[str]:
        if not self._by_project:
            for rel, owner in self.file_project.items():
                self._by_project.setdefault(owner, []).append(rel)
        return self._by_project.get(project, [])


def _is_hosted(tree: SourceTree, project: CsProject, files: list[str]) -> bool:
    if project.has_package("Microsoft.Extensions.Hosting", "WolverineFx", "Microsoft.AspNetCore"):
        return True
    for rel in files:
        if rel.endswith(".cs"):
            data = tree.read_bytes(rel) or b""
            if any(marker in data for marker in HOSTED_MARKERS):
                return True
    return False


def _role(tree: SourceTree, project: CsProject, files: list[str], referenced_by: int) -> str:
    sdk = (project.sdk or "").lower()
    name = project.name.lower()
    if project.is_test:
        return "test"
    if project.is_apphost:
        return "apphost"
    if project.is_service_defaults:
        return "servicedefaults"
    if "benchmark" in name or name.endswith((".tests", ".test", ".testing", ".testutilities")):
        return "test" if "test" in name else "tool"
    if sdk in ("microsoft.net.sdk.web", "microsoft.net.sdk.worker"):
        return "service"
    if sdk == "microsoft.net.sdk.blazorwebassembly":
        return "library" if referenced_by else "service"
    if project.output_exe and sdk in ("microsoft.net.sdk", ""):
        return "service" if _is_hosted(tree, project, files) else "tool"
    if sdk in ("microsoft.build.notargets", "microsoft.build.traversal"):
        return "tool"
    return "library"


def assign_files(tree: SourceTree, projects: dict[str, CsProject]) -> dict[str, str]:
    """Each file belongs to the project in the nearest enclosing folder that holds a .csproj."""
    by_dir: dict[str, str] = {}
    for path in sorted(projects):
        by_dir.setdefault(posixpath.dirname(path), path)
    out: dict[str, str] = {}
    for rel in tree.files:
        directory = posixpath.dirname(rel)
        while True:
            if directory in by_dir:
                out[rel] = by_dir[directory]
                break
            if not directory:
                break
            directory = posixpath.dirname(directory)
    return out


def build_graph(tree: SourceTree, projects: dict[str, CsProject]) -> ProjectGraph:
    graph = ProjectGraph(projects)
    graph.file_project = assign_files(tree, projects)
    files_by_project: dict[str, list[str]] = defaultdict(list)
    for rel, proj in graph.file_project.items():
        files_by_project[proj].append(rel)
    referenced_by: dict[str, int] = defaultdict(int)
    for project in projects.values():
        for ref in project.references:
            if ref in projects:
                referenced_by[ref] += 1
            elif ref.startswith(".."):
                tree.warn(project.path, f"references {ref}, outside the repository: its code is not read")
            else:
                tree.warn(project.path, f"references {ref}, which does not exist")
    # a Blazor WebAssembly project hosted by a server project is part of that server; one that only
    # tests reference is a standalone front end
    hosted_by: dict[str, int] = defaultdict(int)
    for project in projects.values():
        if not project.is_test:
            for ref in project.references:
                hosted_by[ref] += 1
    for path, project in projects.items():
        graph.roles[path] = _role(tree, project, files_by_project[path], hosted_by[path])

    def closure(path: str, seen: set[str]) -> set[str]:
        for ref in projects[path].references:
            if ref in projects and ref not in seen:
                seen.add(ref)
                closure(ref, seen)
        return seen

    for path in projects:
        graph.closure[path] = closure(path, set())
    users: dict[str, set[str]] = defaultdict(set)
    for service in graph.services():
        for lib in graph.closure[service]:
            users[lib].add(service)
    for lib, used_by in users.items():
        if graph.roles[lib] not in ("library",):
            continue
        if len(used_by) > 1:
            graph.shared.add(lib)
            if _CONTRACT_NAME.search(projects[lib].name):
                graph.roles[lib] = "contracts"
    for service in graph.services():
        owned = [service]
        for lib in sorted(graph.closure[service]):
            if graph.roles.get(lib) == "library" and lib not in graph.shared:
                owned.append(lib)
        graph.owned[service] = owned
    return graph


def bounded_context(project_path: str) -> str:
    parts = project_path.split("/")
    dirs = parts[:-1]
    if len(dirs) >= 2 and dirs[0].lower() in _SRC_DIRS:
        return dirs[1] if len(dirs) >= 3 else dirs[1].split(".")[0]
    if len(dirs) >= 2:
        return dirs[0]
    if dirs:
        return dirs[0].split(".")[0]
    return parts[-1].split(".")[0]


def test_kind(project_name: str) -> str:
    lowered = project_name.lower()
    if "e2e" in lowered or "endtoend" in lowered or "acceptance" in lowered or "ui" in lowered.split("."):
        return "e2e"
    if "integration" in lowered or "api.tests" in lowered:
        return "integration"
    if "unit" in lowered or lowered.endswith(("tests", "test")):
        return "unit"
    return "other"
