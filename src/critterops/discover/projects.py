"""Classify .NET projects (service, library, test, AppHost, ServiceDefaults, contracts) and decide
which libraries each service owns."""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field

from critterops.discover.csharp.types import HANDLER_METHODS
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
# What makes a shared library a message-contracts project is how its types are used, not its name: a
# Wolverine handler takes one as its first parameter (HandlerChain.Handle/Handles/Consume/Consumes and the
# saga names, JasperFx/wolverine V6.29.2 src/Wolverine/Runtime/Handlers/HandlerChain.cs), or a bus sends it
# (PublishAsync/SendAsync/InvokeAsync/InvokeForTenantAsync/ScheduleAsync/BroadcastToTopicAsync in
# src/Wolverine/IMessageBus.cs), or routing names it (WolverineOptions.PublishMessage<T>(),
# src/Wolverine/WolverineOptions.Endpoints.cs), or a handler cascades it through OutgoingMessages.Add.
_HANDLER_NAMES = sorted(HANDLER_METHODS | {f"{n}Async" for n in HANDLER_METHODS if not n.endswith("Async")})
_HANDLED = re.compile(
    rb"\b(?:" + "|".join(_HANDLER_NAMES).encode() + rb")\s*\(\s*(?:\[[^\]]*\]\s*)?(?:[\w.]+\.)?([A-Z]\w*)\s+\w"
)
_SENT = re.compile(
    rb"\b(?:PublishAsync|SendAsync|InvokeAsync|InvokeForTenantAsync|ScheduleAsync|BroadcastToTopicAsync|"
    rb"PublishMessage)\s*(?:<\s*(?:[\w.]+\.)?([A-Z]\w*)|\(\s*new\s+(?:[\w.]+\.)?([A-Z]\w*))"
)
_CASCADED = re.compile(rb"\.Add\(\s*new\s+(?:[\w.]+\.)?([A-Z]\w*)")
_DECLARED = re.compile(
    rb"\bpublic\s+(?:(?:sealed|abstract|partial|readonly)\s+)*(?:record\s+struct|record\s+class|record|class|struct)"
    rb"\s+([A-Z]\w*)"
)
# the last dotted parts of a project name that say which layer it is, not which module
_LAYERS = frozenset(
    {
        "api", "web", "host", "worker", "service", "domain", "application", "infrastructure", "core",
        "handlers", "endpoints", "persistence", "data", "module", "server", "client", "ui",
    }
)  # fmt: skip
_SRC_DIRS = {"src", "source", "services", "apps", "app", "backend", "service"}
_GROUP_DIRS = {"modules", "contexts", "boundedcontexts", "bounded-contexts", "domains"}


@dataclass
class ProjectGraph:
    projects: dict[str, CsProject]
    roles: dict[str, str] = field(default_factory=dict)
    closure: dict[str, set[str]] = field(default_factory=dict)
    owned: dict[str, list[str]] = field(default_factory=dict)  # service → its project + owned libraries
    shared: set[str] = field(default_factory=set)
    prefix: str = ""  # the dotted prefix every project name shares (Acme.Shop.), see common_prefix
    folders: dict[str, tuple[str, ...]] = field(default_factory=dict)  # solution folders, see solution_folders
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
    # the prefix of the code's projects: an AppHost or a test project named otherwise (AppHost,
    # Tests.Integration) does not make the shared namespace any less repository-wide
    graph.prefix = common_prefix(
        [p.name for path, p in projects.items() if graph.roles[path] in ("service", "library")]
    )

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
        if graph.roles[lib] == "library" and len(used_by) > 1:
            graph.shared.add(lib)
    for lib in _message_contracts(tree, graph, files_by_project):
        graph.roles[lib] = "contracts"
    for service in graph.services():
        owned = [service]
        for lib in sorted(graph.closure[service]):
            if graph.roles.get(lib) == "library" and lib not in graph.shared:
                owned.append(lib)
        graph.owned[service] = owned
    return graph


def common_prefix(names: list[str]) -> str:
    """The dotted prefix every project name shares (``Acme.Shop.`` for ``Acme.Shop.Orders.Api`` and
    ``Acme.Shop.Billing``): a repository-wide namespace, never a module or bounded context."""
    split = [n.split(".") for n in names]
    if len(split) < 2:
        return ""
    prefix: list[str] = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        prefix.append(parts[0])
    # every name must keep a part of its own
    prefix = prefix[: min(len(p) for p in split) - 1]
    return ".".join(prefix) + "." if prefix else ""


def module_of(name: str, prefix: str = "") -> str:
    """The module a project belongs to by its name: the repository-wide prefix and the layer parts
    dropped (``Acme.Shop.Orders.Api`` → ``Orders``; ``Orders.Domain`` → ``Orders``)."""
    return _module_parts(name, prefix)[0]


def local_name(name: str, prefix: str) -> str:
    """A project name without the repository-wide prefix, unless only a layer would be left
    (``Wolverine.Api`` stays itself: ``Api`` names nothing)."""
    rest = name[len(prefix) :] if prefix and name.startswith(prefix) else name
    if not rest or all(p.lower() in _LAYERS for p in rest.split(".") if p):
        return name
    return rest


def _module_parts(name: str, prefix: str) -> list[str]:
    rest = name[len(prefix) :] if prefix and name.startswith(prefix) else name
    parts = [p for p in rest.split(".") if p]
    if parts and all(p.lower() in _LAYERS for p in parts):
        # only a layer is left (CritterBids.Api, the one host): the prefix is the module
        parts = [p for p in name.split(".") if p]
    while len(parts) > 1 and parts[-1].lower() in _LAYERS:
        parts.pop()
    return parts or [name]


def _same_module(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """``Orders`` and ``Orders.Domain`` are one module; ``Worker.Ping`` and ``Worker.Pong`` are two."""
    return a[: len(b)] == b or b[: len(a)] == a


def _message_uses(data: bytes) -> set[str]:
    used = {m.group(1).decode() for m in _HANDLED.finditer(data)}
    used |= {(m.group(1) or m.group(2)).decode() for m in _SENT.finditer(data)}
    if b"OutgoingMessages" in data:
        used |= {m.group(1).decode() for m in _CASCADED.finditer(data)}
    return used


def _message_contracts(tree: SourceTree, graph: ProjectGraph, files: dict[str, list[str]]) -> list[str]:
    """Libraries whose public types travel as messages between several modules: handled or sent by
    the code of at least two modules (services, or the modules of one host), one of them handling.

    A module is a project name without the repository-wide prefix and the layer parts, so a service's
    ``Orders.Api`` and ``Orders`` projects are one user and a modular monolith's ``Orders`` and
    ``Shipping`` modules are two."""
    candidates = [p for p, role in graph.roles.items() if role == "library"]
    if not candidates:
        return []
    prefix = graph.prefix
    uses: dict[str, set[str]] = {}
    handled: dict[str, set[str]] = {}
    for path, role in graph.roles.items():
        if role in ("test", "tool", "apphost"):
            continue
        for rel in files.get(path, []):
            if rel.endswith(".cs"):
                data = tree.read_bytes(rel) or b""
                uses.setdefault(path, set()).update(_message_uses(data))
                handled.setdefault(path, set()).update(m.group(1).decode() for m in _HANDLED.finditer(data))
    out: list[str] = []
    for lib in sorted(candidates):
        declared: set[str] = set()
        for rel in files.get(lib, []):
            if rel.endswith(".cs"):
                declared |= {m.group(1).decode() for m in _DECLARED.finditer(tree.read_bytes(rel) or b"")}
        if not declared:
            continue
        own = tuple(_module_parts(graph.projects[lib].name, prefix))
        modules: list[tuple[str, ...]] = []
        handlers = False
        for user, used in uses.items():
            if user == lib or lib not in graph.closure.get(user, set()) or not (used & declared):
                continue
            module = tuple(_module_parts(graph.projects[user].name, prefix))
            if not _same_module(module, own):
                modules.append(module)
                handlers = handlers or bool(handled.get(user, set()) & declared)
        distinct = [
            m for m in set(modules) if not any(o != m and _same_module(o, m) and len(o) < len(m) for o in modules)
        ]
        if len(distinct) > 1 and handlers:
            out.append(lib)
    return out


def bounded_context(project_path: str, prefix: str = "", folders: tuple[str, ...] = ()) -> str:
    """The bounded context from the code's own layout: the folder that groups a context's projects
    (``src/Orders/Orders.Api/``), else the project's folder or name as a module (``src/Acme.Shop.Orders.Api/``
    → ``Orders`` once the repository-wide ``prefix`` is dropped). Grouping folders (``src``, ``modules``)
    are skipped; the repository's checkout folder is never part of the path."""
    grouping = [f for f in folders if f.lower() not in _SRC_DIRS | _GROUP_DIRS | {"tests", "test"}]
    if grouping and not grouping[0].startswith("."):
        return module_of(grouping[0], prefix)
    parts = project_path.split("/")
    dirs = parts[:-1]
    while len(dirs) > 1 and dirs[0].lower() in _SRC_DIRS | _GROUP_DIRS:
        dirs = dirs[1:]
    if len(dirs) >= 2:
        return module_of(dirs[0], prefix)
    return module_of(dirs[0] if dirs else posixpath.splitext(parts[-1])[0], prefix)


# Visual Studio's solution-folder project type (the GUID every .sln gives a solution folder)
_SLN_FOLDER_TYPE = "2150E333-8FDC-42A3-9474-1A3956D46DE8"
_SLN_ENTRY = re.compile(
    r'^Project\("\{(?P<type>[^}]*)\}"\)\s*=\s*"(?P<name>[^"]*)",\s*"(?P<path>[^"]*)",\s*"\{(?P<guid>[^}]*)\}"',
    re.MULTILINE,
)
_SLN_NESTED = re.compile(r"^\s*\{(?P<child>[^}]*)\}\s*=\s*\{(?P<parent>[^}]*)\}", re.MULTILINE)


def solution_folders(tree: SourceTree, rel: str) -> dict[str, tuple[str, ...]]:
    """Project path → the solution folders that hold it, outermost first (``.slnx`` ``<Folder Name="/A/B/">``,
    ``.sln`` solution folders joined by ``NestedProjects``). The developers' own grouping of the code."""
    content = tree.read_text(rel) or ""
    base = posixpath.dirname(rel)

    def norm(path: str) -> str:
        return posixpath.normpath(posixpath.join(base, path.replace("\\", "/")))

    out: dict[str, tuple[str, ...]] = {}
    if rel.lower().endswith(".slnx"):
        for folder in re.finditer(r'<Folder\s+Name="(?P<name>[^"]*)"\s*>(?P<body>.*?)</Folder>', content, re.DOTALL):
            names = tuple(n for n in folder.group("name").split("/") if n)
            for path in re.findall(r'<Project\s+Path="([^"]+)"', folder.group("body")):
                out[norm(path)] = names
        return out
    entries = {m.group("guid").upper(): m for m in _SLN_ENTRY.finditer(content)}
    parents = {m.group("child").upper(): m.group("parent").upper() for m in _SLN_NESTED.finditer(content)}
    for guid, entry in entries.items():
        if entry.group("type").upper() == _SLN_FOLDER_TYPE:
            continue
        chain: list[str] = []
        current = parents.get(guid)
        while current in entries and len(chain) < 20:
            chain.insert(0, entries[current].group("name"))
            current = parents.get(current)
        if chain:
            out[norm(entry.group("path"))] = tuple(chain)
    return out


def strip_shared_prefix(names: dict[str, str], owners: set[str]) -> dict[str, str]:
    """Aspire resource names without a prefix they all share when it is the repository's own name
    (``crittersupply-aspire-orders-api`` → ``orders-api`` when the AppHost is ``CritterSupply.AppHost``):
    a prefix every resource carries names the repository, not the service. ``owners``: the
    DNS-normalised names of the repository (its AppHost's and its solution's first part)."""
    if len(names) < 2:
        return dict(names)
    split = [n.split("-") for n in names.values()]
    common: list[str] = []
    for tokens in zip(*split, strict=False):
        if len(set(tokens)) != 1:
            break
        common.append(tokens[0])
    common = common[: min(len(t) for t in split) - 1]
    if not common or common[0] not in owners:
        return dict(names)
    cut = len("-".join(common)) + 1
    return {key: name[cut:] for key, name in names.items()}


def test_kind(project_name: str) -> str:
    lowered = project_name.lower()
    if "e2e" in lowered or "endtoend" in lowered or "acceptance" in lowered or "ui" in lowered.split("."):
        return "e2e"
    if "integration" in lowered or "api.tests" in lowered:
        return "integration"
    if "unit" in lowered or lowered.endswith(("tests", "test")):
        return "unit"
    return "other"
