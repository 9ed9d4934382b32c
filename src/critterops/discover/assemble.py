"""Put the pieces together: repository → :class:`critterops.model.System`.

The order matters and is cheap to follow:
1. walk the tree, read every ``.csproj`` and solution, classify projects;
2. parse only the C# files that can hold facts (startup wiring, sagas, handlers, projections,
   migrations, contracts), collecting string constants first so that names resolve;
3. build one :class:`Service` per deployable project from its own code, the libraries it owns,
   and the shared extension methods it calls (``MapDefaultEndpoints`` in ServiceDefaults);
4. derive the message flows between services.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from tree_sitter import Node, Tree

from critterops.discover import compose as compose_mod
from critterops.discover import configkeys, dockerfiles, msbuild, settings
from critterops.discover.apphost import AppHostInfo, project_type_name, read_apphost
from critterops.discover.csharp import syntax
from critterops.discover.csharp.codeindex import CodeIndex, find_declaration
from critterops.discover.csharp.configvocab import looks_like_configuration
from critterops.discover.csharp.sagas import saga_steps
from critterops.discover.csharp.types import (
    TypeDecl,
    applied_events,
    declarations,
    handled_messages,
)
from critterops.discover.csharp.values import Scope, collect_constants
from critterops.discover.csharp.wiring import Wiring, extract, looks_like_wiring
from critterops.discover.files import SourceTree
from critterops.discover.flows import derive_flows
from critterops.discover.names import dns_name, unique_names
from critterops.discover.projects import (
    ProjectGraph,
    bounded_context,
    build_graph,
    local_name,
    solution_folders,
    strip_shared_prefix,
    test_kind,
)
from critterops.model import (
    EfCoreConfig,
    HealthEndpoint,
    HttpCall,
    Infrastructure,
    MartenConfig,
    Migration,
    Project,
    Projection,
    Saga,
    Service,
    Setting,
    System,
    TestProject,
    TypeInfo,
    WolverineConfig,
)
from critterops.model.system import SagaStep

# A file is parsed for its type declarations only when it can hold one that matters: Wolverine
# finds handlers by class-name suffix (Handler, Consumer), sagas derive from Saga, aggregates and
# projections have Apply methods, HTTP endpoints carry [Wolverine*] attributes.
TYPE_MARKERS = (
    b"Saga",
    b"Handler",
    b"Consumer",
    b"Apply(",
    b"Projection",
    b": DbContext",
    b": IdentityDbContext",
    b"DbContext(",
    b": Migration",
    b"[Migration(",
)
_TYPE_RE = re.compile(b"|".join(re.escape(m) for m in TYPE_MARKERS))
_STATE_TYPE = re.compile(r"(Status|State|Stage|Phase)\??$")


@dataclass
class ParsedFile:
    rel: str
    tree: Tree
    constants: dict[str, str] = field(default_factory=dict)
    types: list[TypeDecl] | None = None
    wiring: bool = False  # holds wiring markers
    declares: bool = False  # holds type markers (saga, handler, projection, DbContext, migration)


@dataclass
class Context:
    tree: SourceTree
    graph: ProjectGraph
    parsed: dict[str, ParsedFile] = field(default_factory=dict)
    global_constants: dict[str, str] = field(default_factory=dict)
    compose: list[compose_mod.ComposeService] = field(default_factory=list)
    docker: dict[str, dockerfiles.DockerfileInfo] = field(default_factory=dict)
    apphost: AppHostInfo = field(default_factory=AppHostInfo)
    shared_methods: dict[str, list[tuple[str, Node]]] = field(default_factory=dict)
    config_methods: configkeys.SharedCode | None = None  # shared methods that read configuration
    appsettings: dict[str, dict[str, str]] = field(default_factory=dict)  # flattened, by path

    def parse(self, rel: str) -> ParsedFile | None:
        if rel in self.parsed:
            return self.parsed[rel]
        data = self.tree.read_bytes(rel)
        if data is None:
            return None
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        parsed = ParsedFile(rel, syntax.parse(data))
        if parsed.tree.root_node.has_error:
            first = _first_error(parsed.tree.root_node)
            self.tree.warn(rel, "C# that does not parse cleanly; facts from it may be partial", first)
        parsed.constants = collect_constants(parsed.tree.root_node)
        parsed.wiring = looks_like_wiring(data)
        parsed.declares = _TYPE_RE.search(data) is not None
        self.parsed[rel] = parsed
        return parsed

    def types(self, rel: str) -> list[TypeDecl]:
        parsed = self.parse(rel)
        if parsed is None:
            return []
        if parsed.types is None:
            parsed.types = declarations(parsed.tree.root_node, rel, Scope(self.global_constants))
        return parsed.types


def _first_error(node: Node) -> int:
    for child in syntax.captures("(ERROR) @e", node, "e")[:1]:
        return syntax.line(child)
    return 0


def _cs_files(ctx: Context, project: str) -> list[str]:
    return [f for f in ctx.graph.files_of(project) if f.endswith(".cs")]


def _scan_projects(tree: SourceTree) -> tuple[dict[str, msbuild.CsProject], str | None]:
    projects = {rel: msbuild.read_project(tree, rel) for rel in tree.with_suffix(".csproj")}
    msbuild.apply_build_props(tree, projects)
    solutions = sorted(tree.with_suffix(".sln", ".slnx"), key=lambda p: (p.count("/"), p))
    solution = solutions[0] if solutions else None
    if solution:
        for listed in msbuild.read_solution(tree, solution):
            if listed.endswith(".csproj") and listed not in projects:
                tree.warn(solution, f"lists {listed}, which does not exist")
    return projects, solution


def _read_infrastructure_files(ctx: Context) -> None:
    for rel in compose_mod.find_compose_files(ctx.tree):
        ctx.compose += compose_mod.read_compose(ctx.tree, rel)
    for rel in ctx.tree.files:
        if dockerfiles.is_dockerfile(rel):
            ctx.docker[rel] = dockerfiles.read_dockerfile(ctx.tree, rel)
    for path, role in ctx.graph.roles.items():
        if role != "apphost":
            continue
        for rel in _cs_files(ctx, path):
            data = ctx.tree.read_bytes(rel) or b""
            if b"AddProject" in data or b"DistributedApplication" in data:
                parsed = ctx.parse(rel)
                if parsed is not None:
                    info = read_apphost(parsed.tree.root_node, Scope(parsed.constants))
                    ctx.apphost.projects.update(info.projects)
                    ctx.apphost.references.update(info.references)
                    ctx.apphost.resources.update(info.resources)
                    ctx.apphost.databases.update(info.databases)
                    ctx.apphost.http_ports.update(info.http_ports)


def _parse_sources(ctx: Context) -> None:
    """Parse the files that can hold facts; collect constants; index shared wiring methods."""
    relevant = {p for p, r in ctx.graph.roles.items() if r in ("service", "library", "contracts", "servicedefaults")}
    for project in sorted(relevant):
        role = ctx.graph.roles[project]
        for rel in _cs_files(ctx, project):
            data = ctx.tree.read_bytes(rel)
            if data is None:
                continue
            wanted = (
                role == "contracts"
                or looks_like_wiring(data)
                or (role != "servicedefaults" and _TYPE_RE.search(data) is not None)
                or b"const string" in data
                or b"static readonly string" in data
            )
            if wanted:
                ctx.parse(rel)
    for done in ctx.parsed.values():
        for key, value in done.constants.items():
            ctx.global_constants.setdefault(key, value)
    # wiring methods in shared code (ServiceDefaults, shared libraries) that services call
    for project in sorted(ctx.graph.shared | {p for p, r in ctx.graph.roles.items() if r == "servicedefaults"}):
        for rel in _cs_files(ctx, project):
            shared = ctx.parsed.get(rel)
            if shared is None or not shared.wiring:
                continue
            for method in syntax.captures("(method_declaration) @m", shared.tree.root_node, "m"):
                # every method: a wiring method is often reached through one that is not
                # (AddServiceDefaults -> ConfigureOpenTelemetry -> AddMeter)
                name = syntax.text(method.child_by_field_name("name"))
                ctx.shared_methods.setdefault(name, []).append((rel, method))


def _appsettings(ctx: Context, rel: str) -> dict[str, str]:
    """A flattened appsettings file, read once (the wiring's scope and the settings' defaults use it)."""
    if rel not in ctx.appsettings:
        ctx.appsettings[rel] = settings.read_appsettings(ctx.tree, rel) if ctx.tree.exists(rel) else {}
    return ctx.appsettings[rel]


def _service_config(ctx: Context, project_dir: str) -> dict[str, str]:
    config: dict[str, str] = {}
    for name in ("appsettings.json", "appsettings.Development.json"):
        rel = posixpath.join(project_dir, name) if project_dir else name
        for key, value in _appsettings(ctx, rel).items():
            config.setdefault(key, value)
    return config


def _merge_wiring(items: list[Wiring]) -> Wiring:
    merged = Wiring(file=items[0].file if items else "")
    for w in items:
        for name in (
            "marten",
            "event_sourcing",
            "integrates_with_wolverine",
            "wolverine",
            "durable_local_queues",
            "durable_outbox_all",
            "durable_inbox_all",
            "conventional_routing",
            "listeners_held",
            "auto_provision",
            "managed_distribution",
            "blazor",
            "wolverine_http",
        ):
            if getattr(w, name):
                setattr(merged, name, True)
        for name in (
            "daemon_mode",
            "schema",
            "schema_unresolved",
            "message_storage",
            "message_schema",
            "db_provider",
            "marten_location",
            "wolverine_location",
            "command_line",
        ):
            if getattr(merged, name) is None and getattr(w, name) is not None:
                setattr(merged, name, getattr(w, name))
        for name in (
            "auto_create",
            "projections",
            "document_types",
            "aggregate_types",
            "appended_events",
            "upcasters",
            "transports",
            "listens",
            "publishes",
            "bindings",
            "exchanges",
            "local_queues",
            "db_contexts",
            "startup_migrations",
            "connection_names",
            "health",
            "http_calls",
            "meters",
            "unresolved",
        ):
            target = getattr(merged, name)
            for item in getattr(w, name):
                if item not in target:
                    target.append(item)
        merged.invoked |= w.invoked
    return merged


def _service_wiring(ctx: Context, files: list[str], scope: Scope) -> Wiring:
    items: list[Wiring] = []
    for rel in files:
        parsed = ctx.parsed.get(rel)
        if parsed is not None and parsed.wiring:
            items.append(extract(parsed.tree.root_node, rel, scope))
    merged = _merge_wiring(items)
    followed: set[str] = set()
    pending = sorted(merged.invoked & set(ctx.shared_methods))
    while pending:
        name = pending.pop()
        if name in followed:
            continue
        followed.add(name)
        for rel, method in ctx.shared_methods[name]:
            sub = extract(method, rel, scope)
            sub.health = [HealthEndpoint(h.path, h.environments, f"{name}()", h.location) for h in sub.health]
            merged = _merge_wiring([merged, sub])
            pending += sorted((sub.invoked & set(ctx.shared_methods)) - followed)
    return merged


def _state_member(decl: TypeDecl) -> str | None:
    for member in decl.info.members:
        if member.name in ("Status", "State"):
            return member.name
    for member in decl.info.members:
        if _STATE_TYPE.search(member.type) and member.type not in ("string", "string?"):
            return member.name
    return None


def _saga_states(ctx: Context, saga: TypeDecl, files: list[str]) -> tuple[str, ...]:
    """The members of the enum the saga's state property is typed with, from the service's own files."""
    state = _state_member(saga)
    member = next((m for m in saga.info.members if m.name == state), None)
    if member is None:
        return ()
    type_name = member.type.rstrip("?").rsplit(".", 1)[-1]
    needle = f"enum {type_name}".encode()
    for rel in files:
        data = ctx.tree.read_bytes(rel)
        if data is None or needle not in data:
            continue
        for decl in ctx.types(rel):
            if decl.info.kind == "enum" and decl.info.name == type_name:
                return tuple(m.name for m in decl.info.members)
    return ()


def _saga_steps(ctx: Context, saga: TypeDecl, files: list[str], states: tuple[str, ...]) -> tuple[SagaStep, ...]:
    """The saga's lifecycle as its handlers' code tells it (see :mod:`critterops.discover.csharp.sagas`)."""
    member = _state_member(saga)
    parsed = ctx.parse(saga.info.file)
    decl = find_declaration(parsed.tree.root_node, saga.info.name, saga.info.line) if parsed else None
    typed = next((m.type for m in saga.info.members if m.name == member), "")
    if decl is None or not states or not typed:
        return ()

    def root(rel: str) -> Node | None:
        found = ctx.parse(rel)
        return found.tree.root_node if found is not None else None

    index = CodeIndex(files, ctx.tree.read_bytes, root)
    return saga_steps(index, saga.info.file, decl, member, typed.rstrip("?").rsplit(".", 1)[-1], states)


def _find_dockerfile(ctx: Context, project: msbuild.CsProject, compose_dockerfile: str | None) -> str | None:
    own = [d for d in ctx.docker if posixpath.dirname(d) == project.directory]
    if own:
        return sorted(own, key=lambda d: (d.rsplit("/", 1)[-1] != "Dockerfile", d))[0]
    if compose_dockerfile and compose_dockerfile in ctx.docker:
        return compose_dockerfile
    names = {project.name.lower(), project.assembly_name.lower()}
    mentioning = [d for d, info in ctx.docker.items() if info.mentions & names]
    return sorted(mentioning)[0] if len(mentioning) >= 1 else None


def _compose_for(ctx: Context, project: msbuild.CsProject) -> compose_mod.ComposeService | None:
    for svc in ctx.compose:
        if svc.dockerfile and posixpath.dirname(svc.dockerfile) == project.directory:
            return svc
        if svc.build_context == project.directory:
            return svc
    names = {project.name.lower(), project.assembly_name.lower()}
    for svc in ctx.compose:
        if svc.dockerfile and svc.dockerfile in ctx.docker and ctx.docker[svc.dockerfile].mentions & names:
            return svc
    return None


def _uses(project_packages: list[str], wiring: Wiring, warn: list[str]) -> list[str]:
    """What infrastructure a service really connects to.

    The wiring decides; package references only count where no wiring was found at all (the
    configuration is somewhere discovery cannot see). A package that the wiring never uses gets a
    warning rather than an egress rule.
    """
    lowered = [p.lower() for p in project_packages]
    saw_wiring = wiring.wolverine or wiring.marten or bool(wiring.db_contexts)
    uses: list[str] = []

    def has(*prefixes: str) -> bool:
        return any(p.startswith(prefix.lower()) for p in lowered for prefix in prefixes)

    if (
        wiring.marten
        or wiring.db_provider in ("npgsql",)
        or wiring.message_storage == "postgresql"
        or (not saw_wiring and has("Marten", "WolverineFx.Marten", "Npgsql", "WolverineFx.Postgresql", "Aspire.Npgsql"))
    ):
        uses.append("postgres")
    for transport in wiring.transports:
        if transport not in ("local", "postgresql", "sqlserver") and transport not in uses:
            uses.append(transport)
    by_package = {
        "rabbitmq": ("WolverineFx.RabbitMQ", "RabbitMQ.Client", "Aspire.RabbitMQ"),
        "kafka": ("WolverineFx.Kafka", "Confluent.Kafka"),
        "azureservicebus": ("WolverineFx.AzureServiceBus", "Azure.Messaging.ServiceBus"),
        "sqs": ("WolverineFx.AmazonSqs",),
    }
    for transport, packages in by_package.items():
        if transport in uses or not has(*packages):
            continue
        if saw_wiring:
            warn.append(
                f"references {packages[0]} but its code never configures the {transport} transport: "
                "treated as not connecting to it"
            )
        else:
            uses.append(transport)
    if has("StackExchange.Redis", "Aspire.StackExchange.Redis", "Microsoft.Extensions.Caching.StackExchangeRedis"):
        uses.append("redis")
    if wiring.db_provider == "sqlserver" or (not saw_wiring and has("Microsoft.EntityFrameworkCore.SqlServer")):
        uses.append("sqlserver")
    return uses


def _database(
    ctx: Context,
    wiring: Wiring,
    config: dict[str, str],
    compose_svc: compose_mod.ComposeService | None,
    aspire_name: str | None,
) -> tuple[str | None, list[str]]:
    names = wiring.connection_names or []
    candidates = [*names, "postgres", "Postgres", "DefaultConnection", "marten", "Marten", "database", "Database"]
    lowered = {k.lower(): v for k, v in config.items()}
    env = {k.lower(): v for k, v in (compose_svc.environment if compose_svc else {}).items()}
    found: dict[str, str] = {}
    for name in candidates:
        for source, value in (
            ("docker-compose", env.get(f"connectionstrings__{name.lower()}")),
            ("appsettings.json", lowered.get(f"connectionstrings:{name.lower()}")),
        ):
            if value and source not in found:
                kind, database = settings.connection_database(value)
                if database and kind in ("postgres", "sqlserver", None):
                    found[source] = database
        if found:
            break
    if found:
        values = list(found.values())
        if len(set(values)) > 1 and compose_svc is not None:
            ctx.tree.warn(
                compose_svc.file,
                f"service {compose_svc.name}: database {values[0]!r} in docker-compose "
                f"but {values[1]!r} in appsettings.json; using the docker-compose one",
            )
        return values[0], names
    if aspire_name:
        for ref in ctx.apphost.references.get(aspire_name, []):
            if ctx.apphost.resources.get(ref) == "database":
                return ref, names
    for name in names:
        if name in ctx.apphost.databases:
            return name, names
    return None, names


def _config_methods(ctx: Context) -> configkeys.SharedCode:
    """Methods of shared code (ServiceDefaults, shared libraries) in files that read configuration."""
    out = configkeys.SharedCode()
    for project in sorted(ctx.graph.shared | {p for p, r in ctx.graph.roles.items() if r == "servicedefaults"}):
        for rel in _cs_files(ctx, project):
            data = ctx.tree.read_bytes(rel)
            parsed = ctx.parse(rel) if data is not None and looks_like_configuration(data) else None
            for method in syntax.captures("(method_declaration) @m", parsed.tree.root_node, "m") if parsed else []:
                out.methods.setdefault(syntax.text(method.child_by_field_name("name")), []).append((rel, method))
    return out


def _find_type(ctx: Context, files: list[str], name: str) -> TypeInfo | None:
    """A class declared in the service's code or in shared code (an options class bound to a section)."""
    short = name.rsplit(".", 1)[-1]
    needles = (f"class {short}".encode(), f"record {short}".encode(), f"struct {short}".encode())
    shared = (
        {rel for methods in ctx.config_methods.methods.values() for rel, _ in methods} if ctx.config_methods else set()
    )
    for rel in [*files, *sorted(shared)]:
        data = ctx.tree.read_bytes(rel)
        if data is None or not any(n in data for n in needles):
            continue
        for decl in ctx.types(rel):
            if decl.info.name == short:
                return decl.info
    return None


def _service_settings(
    ctx: Context,
    files: list[str],
    scope: Scope,
    project: msbuild.CsProject,
    compose_svc: compose_mod.ComposeService | None,
    aspire_name: str | None,
    wiring: Wiring,
) -> tuple[Setting, ...]:
    """Every configuration key the service's code reads (see :mod:`critterops.discover.configkeys`)."""
    if ctx.config_methods is None:
        ctx.config_methods = _config_methods(ctx)
    sources: list[tuple[str, Node]] = []
    for rel in files:
        data = ctx.tree.read_bytes(rel)
        parsed = ctx.parse(rel) if data is not None and looks_like_configuration(data) else None
        if parsed is not None:
            sources.append((rel, parsed.tree.root_node))
    # a Blazor WebAssembly app reads its configuration in the browser, from wwwroot/appsettings.json
    # (learn.microsoft.com/aspnet/core/blazor/fundamentals/configuration)
    browser = (project.sdk or "").lower() == "microsoft.net.sdk.blazorwebassembly"
    appsettings = posixpath.join(project.directory, *(["wwwroot"] if browser else []), "appsettings.json")
    local = {k.lower().replace(":", "__"): v for k, v in scope.config.items()}  # appsettings(.Development).json
    local.update({k.lower(): v for k, v in (compose_svc.environment if compose_svc else {}).items()})  # compose wins
    projects = set(ctx.apphost.projects.values())
    rabbit = [x.location for x in wiring.listens if x.transport == "rabbitmq"]
    rabbit += [x.location for x in wiring.publishes if x.transport == "rabbitmq"]
    found, warnings = configkeys.service_settings(
        configkeys.gather(sources, ctx.config_methods, scope),
        defaults=_appsettings(ctx, appsettings),
        values=lambda key: local.get(key.replace(":", "__").lower()),
        infra=configkeys.infrastructure(ctx.compose, ctx.apphost),
        find_type=lambda name: _find_type(ctx, files, name),
        references=[(r, r in projects) for r in ctx.apphost.references.get(aspire_name or "", [])],
        rabbit_at=next((loc for loc in rabbit if loc is not None), None),
    )
    for warning in warnings:
        ctx.tree.warn(warning.file, warning.message, warning.line)
    return found


def _resolve_http_calls(calls: list[HttpCall], by_port: dict[int, str], by_host: dict[str, str]) -> list[HttpCall]:
    out: list[HttpCall] = []
    for call in calls:
        target: str | None = None
        if call.url:
            url = call.url.replace("https+http://", "http://")
            match = re.match(r"^\w+://([^/:]+)(?::(\d+))?", url)
            if match:
                host, port = match.group(1).lower(), match.group(2)
                if host in ("localhost", "127.0.0.1", "host.docker.internal") and port:
                    target = by_port.get(int(port))
                else:
                    target = by_host.get(host)
        if target is None and call.config_key:
            # ApiClients:OrdersApiUrl names orders-api; CustomerIdentity:BaseUrl names customeridentity-api:
            # the longest host name (with or without its -api/-web suffix) that the key contains
            key = call.config_key.lower().replace(":", "").replace("_", "")
            found = [
                (len(stem), name)
                for host, name in by_host.items()
                for stem in {
                    host.replace("-", "").replace(".", ""),
                    re.sub(r"[-.](api|web)$", "", host).replace("-", ""),
                }
                if stem and stem in key
            ]
            target = max(found)[1] if found else None
        out.append(HttpCall(call.client, target, call.url, call.config_key, call.location))
    return out


def _build_service(ctx: Context, path: str, name: str) -> Service:
    graph = ctx.graph
    project = graph.projects[path]
    owned = graph.owned[path]
    files = [f for p in owned for f in _cs_files(ctx, p)]
    constants: dict[str, str] = dict(ctx.global_constants)
    for rel in files:
        parsed = ctx.parsed.get(rel)
        if parsed is not None:
            constants.update(parsed.constants)
    config = _service_config(ctx, project.directory)
    scope = Scope(constants, config)
    wiring = _service_wiring(ctx, files, scope)
    for _line, message in wiring.unresolved:
        ctx.tree.warn(project.path, message)
    decls: list[TypeDecl] = []
    for rel in files:
        # only declarations that matter carry a marker (a saga, a handler, a projection, ...)
        parsed = ctx.parsed.get(rel)
        if parsed is not None and parsed.declares:
            decls += ctx.types(rel)
    by_name = {d.info.name: d for d in decls}

    # ports, Dockerfile, compose
    launch_rel = posixpath.join(project.directory, "Properties", "launchSettings.json")
    launch = (
        settings.read_launch_settings(ctx.tree, launch_rel) if ctx.tree.exists(launch_rel) else settings.LaunchInfo()
    )
    compose_svc = _compose_for(ctx, project)
    dockerfile = _find_dockerfile(ctx, project, compose_svc.dockerfile if compose_svc else None)
    if compose_svc is None and dockerfile:
        compose_svc = next((c for c in ctx.compose if c.dockerfile == dockerfile), None)
    if compose_svc and compose_svc.dockerfile and not ctx.tree.exists(compose_svc.dockerfile):
        ctx.tree.warn(
            compose_svc.file,
            f"service {compose_svc.name} is built from {compose_svc.dockerfile}, "
            "which does not exist: `docker compose build` fails",
        )
    if dockerfile is None and (project.sdk or "").lower() != "microsoft.net.sdk.blazorwebassembly":
        ctx.tree.warn(
            project.path,
            "no Dockerfile builds this service: the deployment kit needs one "
            "(`critterops generate` writes a multi-stage, non-root Dockerfile)",
        )
    for meter, where in wiring.meters:
        if meter == "Wolverine":
            ctx.tree.warn(
                where.file,
                'AddMeter("Wolverine") captures no Wolverine metrics: the meter is named '
                '"Wolverine:<service name>"; use AddMeter("Wolverine*")',
                where.line,
            )
    host_port = container_port = None
    if compose_svc:
        pairs = compose_svc.port_pairs()
        if pairs:
            host_port, container_port = pairs[0]
    if container_port is None and dockerfile and ctx.docker[dockerfile].exposes:
        container_port = ctx.docker[dockerfile].exposes[0]
    aspire_name = ctx.apphost.projects.get(project_type_name(project.name))
    http_port = launch.http_port or host_port or (ctx.apphost.http_ports.get(aspire_name or ""))
    has_razor = any(f.endswith(".razor") for f in graph.files_of(path))
    sdk = (project.sdk or "").lower()
    if wiring.blazor or sdk.endswith("blazorwebassembly") or (has_razor and sdk.endswith(".web")):
        kind = "web"
    elif sdk.endswith(".web"):
        kind = "api"
    else:
        kind = "worker"
        if launch.http_port is None and host_port is None:
            http_port = None

    # Marten
    projections: list[Projection] = []
    event_types: list[str] = list(wiring.appended_events)
    for proj in wiring.projections:
        decl = by_name.get(proj.name)
        version = decl.projection_version if decl and decl.projection_version else 1
        projections.append(Projection(proj.name, proj.lifecycle, version, proj.registration, proj.location))
        if decl is not None:
            event_types += applied_events(decl)
    for aggregate in wiring.aggregate_types:
        decl = by_name.get(aggregate)
        if decl is not None:
            event_types += applied_events(decl)
    marten: MartenConfig | None = None
    if wiring.marten or project.has_package("Marten"):
        auto = wiring.auto_create
        default_auto = next((v for env, v in auto if env == "all"), auto[0][1] if auto else None)
        marten = MartenConfig(
            event_sourcing=wiring.event_sourcing or bool(projections),
            daemon_mode=wiring.daemon_mode,
            managed_distribution=wiring.managed_distribution,
            auto_create=default_auto,
            auto_create_by_environment=tuple(sorted(set(auto))) if len({v for _, v in auto}) > 1 else (),
            projections=tuple(projections),
            document_types=tuple(dict.fromkeys(wiring.document_types)),
            event_types=tuple(sorted(set(event_types))),
            upcasters=tuple(wiring.upcasters),
            integrates_with_wolverine=wiring.integrates_with_wolverine,
            location=wiring.marten_location,
        )
        if wiring.schema_unresolved:
            ctx.tree.warn(project.path, f"Marten schema `{wiring.schema_unresolved}` cannot be resolved statically")

    # Wolverine: handlers, sagas
    sagas: list[Saga] = []
    handled: list[str] = []
    handler_count = 0
    for decl in decls:
        is_saga = any(b.rsplit(".", 1)[-1] == "Saga" for b in decl.info.bases)
        messages = handled_messages(decl, is_saga)
        handler_count += len(messages)
        handled += messages
        if is_saga:
            sagas.append(
                Saga(
                    decl.info.name,
                    decl.info.full_name,
                    decl.info.file,
                    decl.info.line,
                    _state_member(decl),
                    decl.info.members,
                    tuple(sorted(set(messages))),
                    states := _saga_states(ctx, decl, files),
                    _saga_steps(ctx, decl, files, states),
                )
            )
    wolverine: WolverineConfig | None = None
    if wiring.wolverine or project.has_package("WolverineFx"):
        wolverine = WolverineConfig(
            durable_local_queues=wiring.durable_local_queues,
            durable_outbox_all=wiring.durable_outbox_all,
            durable_inbox_all=wiring.durable_inbox_all,
            message_storage=wiring.message_storage,
            message_schema=wiring.message_schema,
            conventional_routing=wiring.conventional_routing,
            listeners_held=wiring.listeners_held,
            auto_provision=wiring.auto_provision,
            transports=tuple(wiring.transports),
            local_queues=tuple(wiring.local_queues),
            handlers=handler_count,
            handled_messages=tuple(sorted(set(handled))),
            http=wiring.wolverine_http,
            location=wiring.wolverine_location,
        )

    # EF Core
    contexts = [
        d.info.name
        for d in decls
        if any(b.split("<")[0].rsplit(".", 1)[-1] in ("DbContext", "IdentityDbContext") for b in d.info.bases)
    ]
    contexts += [c for c in wiring.db_contexts if c not in contexts]
    migrations = _migrations(decls)
    ef_core = (
        EfCoreConfig(
            tuple(contexts),
            wiring.db_provider,
            tuple(sorted(migrations, key=lambda m: m.id)),
            " | ".join(sorted(set(wiring.startup_migrations))) or None,
        )
        if contexts or migrations
        else None
    )

    packages = [pkg for p in owned for pkg in graph.projects[p].packages]
    notes: list[str] = []
    uses = _uses(packages, wiring, notes)
    for note in notes:
        ctx.tree.warn(project.path, note)
    database, connection_names = _database(ctx, wiring, config, compose_svc, aspire_name)
    if database and "postgres" not in uses and "sqlserver" not in uses:
        uses.insert(0, "postgres")
    schema = (wiring.schema or ("public" if marten else None)) if marten else wiring.message_schema

    tests = [
        TestProject(t, test_kind(graph.projects[t].name))
        for t, role in sorted(graph.roles.items())
        if role == "test" and (set(owned) & (graph.closure[t] | {t}))
    ]
    service = Service(
        name=name,
        project=path,
        bounded_context=bounded_context(path, graph.prefix, graph.folders.get(path, ())),
        kind=kind,
        http_port=http_port,
        container_port=container_port,
        dockerfile=dockerfile,
        uses=tuple(uses),
        database=database,
        schema=schema,
        connection_strings=tuple(connection_names),
        marten=marten,
        wolverine=wolverine,
        sagas=tuple(sagas),
        listens=tuple(wiring.listens),
        publishes=tuple(wiring.publishes),
        bindings=tuple(wiring.bindings),
        ef_core=ef_core,
        health=tuple(wiring.health),
        http_calls=tuple(wiring.http_calls),
        tests=tuple(tests),
        project_references=tuple(project.references),
        source_projects=tuple(owned),
        target_framework=project.target_framework,
        sdk=project.sdk,
        compose_service=compose_svc.name if compose_svc else None,
        aspire_name=aspire_name,
        aspire_references=tuple(sorted(ctx.apphost.references.get(aspire_name or "", []))),
        command_line=wiring.command_line,
        settings=_service_settings(ctx, files, scope, project, compose_svc, aspire_name, wiring),
    )
    return service


def _migrations(decls: list[TypeDecl]) -> list[Migration]:
    """EF Core migrations, with the partial classes of X.cs and X.Designer.cs merged."""
    parts: dict[str, list[TypeDecl]] = defaultdict(list)
    for d in decls:
        if d.migration_id or d.migration_ops or any(b.rsplit(".", 1)[-1] == "Migration" for b in d.info.bases):
            parts[d.info.full_name].append(d)
    out: list[Migration] = []
    for pieces in parts.values():
        migration_id = next((p.migration_id for p in pieces if p.migration_id), None)
        main = next((p for p in pieces if p.migration_ops), None) or next(
            (p for p in pieces if not p.info.file.endswith(".Designer.cs")), pieces[0]
        )
        context = next((p.migration_context for p in pieces if p.migration_context), None)
        ops = tuple(op for p in pieces for op in p.migration_ops)
        out.append(Migration(migration_id or main.info.name, main.info.name, main.info.file, context, ops))
    return out


def _contracts(ctx: Context) -> list[TypeInfo]:
    out: list[TypeInfo] = []
    for path, role in sorted(ctx.graph.roles.items()):
        if role != "contracts":
            continue
        for rel in _cs_files(ctx, path):
            for decl in ctx.types(rel):
                info = decl.info
                if not decl.public or info.kind == "interface":
                    continue
                if info.name.endswith(("Exception", "Attribute", "Extensions")):
                    continue
                out.append(info)
    return out


def _infrastructure(ctx: Context, service_compose: set[str]) -> list[Infrastructure]:
    out: dict[str, Infrastructure] = {}
    for svc in ctx.compose:
        if svc.name in service_compose or (svc.build_context and not svc.image):
            continue
        out.setdefault(
            svc.name,
            Infrastructure(
                svc.name,
                compose_mod.infra_kind(svc.image),
                svc.image,
                tuple(svc.ports),
                tuple(svc.profiles),
                svc.healthcheck,
                svc.file,
            ),
        )
    kinds = {i.kind for i in out.values()}
    for resource, kind in sorted(ctx.apphost.resources.items()):
        if kind == "database" or kind in kinds:
            continue
        out.setdefault(resource, Infrastructure(resource, kind, None, (), (), False, "AppHost"))
    return sorted(out.values(), key=lambda i: i.name)


def _service_names(ctx: Context, paths: list[str], solution: str | None) -> dict[str, str]:
    """A service is called what the Aspire AppHost calls it (``AddProject<Projects.X>("orders-api")``,
    DNS-1123 normalised, without a prefix every resource shares that is the repository's own name),
    else after its project without the repository-wide dotted prefix (``Acme.Shop.Orders.Api`` →
    ``orders-api``)."""
    projects = ctx.graph.projects
    aspire = {
        p: dns_name(name)
        for p in paths
        if (name := ctx.apphost.projects.get(project_type_name(projects[p].name))) is not None
    }
    owners = {dns_name(projects[p].name.split(".")[0]) for p, r in ctx.graph.roles.items() if r == "apphost"}
    if solution:
        owners.add(dns_name(PurePosixPath(solution).stem.split(".")[0]))
    aspire = strip_shared_prefix(aspire, owners)
    return {p: aspire.get(p) or dns_name(local_name(projects[p].name, ctx.graph.prefix)) for p in paths}


def discover_tree(tree: SourceTree) -> System:
    projects, solution = _scan_projects(tree)
    graph = build_graph(tree, projects)
    if solution:
        graph.folders = solution_folders(tree, solution)
    ctx = Context(tree, graph)
    _read_infrastructure_files(ctx)
    _parse_sources(ctx)
    service_paths = graph.services()
    names = unique_names(
        _service_names(ctx, service_paths, solution),
        {p: dns_name(bounded_context(p, graph.prefix, graph.folders.get(p, ()))) for p in service_paths},
    )
    services: list[Service] = []
    for path in service_paths:
        service = _build_service(ctx, path, names[path])
        services.append(service)
    by_port = {s.http_port: s.name for s in services if s.http_port}
    by_host: dict[str, str] = {}
    for s in services:
        for host in (s.name, s.compose_service, s.aspire_name, PurePosixPath(s.project).stem.lower()):
            if host:
                by_host[host.lower()] = s.name
    resolved: list[Service] = []
    for s in services:
        calls = _resolve_http_calls(list(s.http_calls), by_port, by_host)
        found = configkeys.resolve_targets(
            s.settings,
            {c.config_key.lower(): c.target for c in calls if c.config_key and c.target},
            by_host,
            lambda key, url: _resolve_http_calls([HttpCall("", None, url, key)], by_port, by_host)[0].target,
        )
        resolved.append(replace(s, http_calls=tuple(calls), settings=found))
    services = resolved
    contracts = _contracts(ctx)
    files = {s.name: [f for p in s.source_projects for f in _cs_files(ctx, p)] for s in services}
    flows, flow_warnings = derive_flows(services, contracts, files, tree.read_bytes, ctx.parse)
    for warning in flow_warnings:
        tree.warnings.append(warning)
    infrastructure = _infrastructure(ctx, {s.compose_service for s in services if s.compose_service})
    project_models = tuple(
        Project(
            p,
            projects[p].name,
            projects[p].sdk,
            graph.roles[p],
            tuple(r for r in projects[p].references),
            tuple(projects[p].packages),
        )
        for p in sorted(projects)
    )
    if not projects:
        tree.warn(".", "no .csproj found: this does not look like a .NET repository")
    exchanges = sorted(
        {p.to for s in services for p in s.publishes if p.kind == "exchange"}
        | {b.exchange for s in services for b in s.bindings}
    )
    warnings = sorted(set(tree.warnings), key=lambda w: (w.file, w.line, w.message))
    return System(
        root=str(tree.root),
        services=tuple(services),
        infrastructure=tuple(infrastructure),
        contracts=tuple(contracts),
        flows=tuple(flows),
        warnings=tuple(warnings),
        projects=project_models,
        solution=solution,
        exchanges=tuple(exchanges),
    )


__all__ = ["discover_tree"]
