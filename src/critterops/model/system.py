"""The system model: what discovery reads out of a Critter Stack repository.

Frozen data only. Paths are POSIX strings relative to the repository root. Every fact that
came from a specific place in the code carries a :class:`Location` so that later stages (risk,
review) can point a user at the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA = "critterops.system/v1"


@dataclass(frozen=True, slots=True, order=True)
class Location:
    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True, slots=True)
class ScanWarning:
    """Something discovery could not read or resolve; the model is partial there."""

    file: str
    message: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a message contract, saga or event: a record parameter or a property."""

    name: str
    type: str
    optional: bool
    has_default: bool = False
    line: int = 0
    positional: bool = False  # a record's primary-constructor parameter: callers must pass it unless defaulted


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """A C# type declaration with its members (contracts, sagas, events)."""

    name: str
    namespace: str
    file: str
    line: int
    kind: str  # record | class | struct | enum | interface
    members: tuple[Member, ...] = ()
    bases: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.namespace}.{self.name}" if self.namespace else self.name


@dataclass(frozen=True, slots=True)
class Projection:
    name: str
    lifecycle: str  # Inline | Async | Live
    version: int = 1
    registration: str = "projection"  # projection | snapshot | live-aggregation
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class MartenConfig:
    event_sourcing: bool = False
    daemon_mode: str | None = None  # Solo | HotCold | Disabled
    managed_distribution: bool = False  # UseWolverineManagedEventSubscriptionDistribution
    auto_create: str | None = None
    auto_create_by_environment: tuple[tuple[str, str], ...] = ()
    projections: tuple[Projection, ...] = ()
    document_types: tuple[str, ...] = ()
    event_types: tuple[str, ...] = ()
    upcasters: tuple[str, ...] = ()
    integrates_with_wolverine: bool = False
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Listen:
    transport: str  # rabbitmq | kafka | azureservicebus | sqs | local | ...
    queue: str
    bindings: tuple[str, ...] = ()  # exchanges bound to this queue in code
    mode: str | None = None  # inline | buffered | durable
    location: Location | None = None
    # the library extension that set it up (CritterWatch's control queue), None for the domain's own queues:
    # kept out of domain flows and of the "listener with no producer" warnings
    library: str | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    message: str  # short type name, "*" for all, "ns:Name.Space" for a namespace
    transport: str
    to: str
    kind: str = "queue"  # queue | exchange | topic | local | conventional
    full_name: str | None = None
    location: Location | None = None
    library: str | None = None  # routed by a library extension (CritterWatch telemetry), not by the domain


@dataclass(frozen=True, slots=True)
class Binding:
    """An exchange → queue binding declared in code (DeclareExchange/BindExchange/BindQueue)."""

    exchange: str
    queue: str
    routing_key: str = ""
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class WolverineConfig:
    durable_local_queues: bool = False
    durable_outbox_all: bool = False
    durable_inbox_all: bool = False
    message_storage: str | None = None  # marten | postgresql | sqlserver | efcore | None
    message_schema: str | None = None
    conventional_routing: bool = False
    listeners_held: bool = False  # starts with listeners held when configured to (DisableAllExternalListeners)
    auto_provision: bool = False
    transports: tuple[str, ...] = ()
    local_queues: tuple[str, ...] = ()
    handlers: int = 0
    handled_messages: tuple[str, ...] = ()
    http: bool = False  # Wolverine.Http endpoints mapped
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class MigrationOp:
    operation: str  # CreateTable, DropColumn, ...
    table: str | None = None
    column: str | None = None
    line: int = 0


@dataclass(frozen=True, slots=True)
class Migration:
    id: str
    name: str
    file: str
    context: str | None = None
    operations: tuple[MigrationOp, ...] = ()


@dataclass(frozen=True, slots=True)
class EfCoreConfig:
    contexts: tuple[str, ...] = ()
    provider: str | None = None  # npgsql | sqlserver | sqlite | ...
    migrations: tuple[Migration, ...] = ()
    # where the app applies its migrations when it starts (Database.Migrate[Async]): an environment condition
    # as for health endpoints ("all", "Development", "!Development"), None when it never does
    applied_at_startup: str | None = None


@dataclass(frozen=True, slots=True)
class HealthEndpoint:
    path: str
    environments: str  # "all", "Development", "!Development", "Production", ...
    via: str  # the call that maps it, e.g. MapHealthChecks or MapDefaultEndpoints
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A typed or named HttpClient whose base address resolves (or not) to another service."""

    client: str
    target: str | None  # service name, when resolved
    url: str | None = None
    config_key: str | None = None
    location: Location | None = None


@dataclass(frozen=True, slots=True)
class Setting:
    """One configuration value the service's code reads, so the kit can supply exactly that key.

    ``key`` is the .NET configuration path with ``:`` separators (``ConnectionStrings:marten``,
    ``ApiClients:OrdersApiUrl``, ``RabbitMQ:hostname``); the environment variable that sets it is
    :attr:`env_var` (``ConnectionStrings__marten``), which the default configuration providers read.
    """

    key: str
    kind: str  # connection-string | http-base-url | broker | section | key | aspire-reference
    via: str  # the call that reads it: GetConnectionString, UseRabbitMqUsingNamedConnection, GetSection, ...
    target: str | None = None  # the service or infrastructure it points at, when resolved
    secret: bool = False  # holds credentials (connection strings, passwords): supplied from a Secret
    default: str | None = None  # the value the repository's appsettings.json gives it, if any
    file: bool = False  # the code reads a file at this path (mount a file), not the value itself
    location: Location | None = None

    @property
    def env_var(self) -> str:
        return self.key.replace(":", "__")


@dataclass(frozen=True, slots=True)
class SagaStep:
    """One thing a saga's handler does to its state, read from the code (the handler and the methods it
    calls): ``enter`` assigns one of ``states`` (``completes``: every path after it calls ``MarkCompleted()``,
    so the saga is deleted rather than saved in that state); ``complete`` calls ``MarkCompleted()``;
    ``schedule`` schedules the message ``message`` ``delay_s`` seconds ahead (None: no fixed delay).
    ``runs_in`` are the states the saga may be in when it happens, as far as guards on the state member
    tell (all of them for an unguarded handler, none where the saga is created); ``named`` those a guard
    names (``Status == X``, ``Status is X or Y``, ``case X:``) rather than merely lets through."""

    handler: str  # the message type handled; "" where the saga is created outside its handlers
    action: str  # enter | complete | schedule
    runs_in: tuple[str, ...]
    named: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    completes: bool = False
    message: str = ""
    delay_s: float | None = None
    file: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Saga:
    name: str
    full_name: str
    file: str
    line: int
    state_member: str | None
    members: tuple[Member, ...] = ()
    handled_messages: tuple[str, ...] = ()
    states: tuple[str, ...] = ()  # members of the state member's enum, when it is one
    steps: tuple[SagaStep, ...] = ()  # its lifecycle as the handlers' code tells it (empty: not read)


@dataclass(frozen=True, slots=True)
class TestProject:
    project: str
    kind: str  # unit | integration | e2e | other


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    project: str
    bounded_context: str
    kind: str  # api | web | worker
    http_port: int | None = None
    container_port: int | None = None
    dockerfile: str | None = None
    uses: tuple[str, ...] = ()
    database: str | None = None
    schema: str | None = None
    connection_strings: tuple[str, ...] = ()
    marten: MartenConfig | None = None
    wolverine: WolverineConfig | None = None
    sagas: tuple[Saga, ...] = ()
    listens: tuple[Listen, ...] = ()
    publishes: tuple[Publish, ...] = ()
    bindings: tuple[Binding, ...] = ()
    ef_core: EfCoreConfig | None = None
    health: tuple[HealthEndpoint, ...] = ()
    http_calls: tuple[HttpCall, ...] = ()
    tests: tuple[TestProject, ...] = ()
    project_references: tuple[str, ...] = ()
    source_projects: tuple[str, ...] = ()  # the service project and the libraries it owns
    target_framework: str | None = None
    sdk: str | None = None
    compose_service: str | None = None
    aspire_name: str | None = None
    aspire_references: tuple[str, ...] = ()
    command_line: str | None = None  # jasperfx | oakton: the host runs RunJasperFxCommands (db-apply, projections, ...)
    settings: tuple[Setting, ...] = ()  # every configuration key the code reads (see Setting)


@dataclass(frozen=True, slots=True)
class Infrastructure:
    name: str
    kind: str  # postgres | rabbitmq | jaeger | otel-collector | redis | kafka | ... | other
    image: str | None = None
    ports: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    healthcheck: bool = False
    source: str | None = None  # compose file or AppHost


@dataclass(frozen=True, slots=True)
class Flow:
    source: str  # publishing service
    target: str  # consuming service
    message: str
    via: str  # queue, or "exchange -> queue"
    transport: str = "rabbitmq"
    resolution: str = "explicit"  # explicit | conventional | binding


@dataclass(frozen=True, slots=True)
class Project:
    """Every .NET project in the repository, deployable or not."""

    path: str
    name: str
    sdk: str | None
    role: str  # service | library | test | apphost | servicedefaults | contracts | tool
    references: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class System:
    root: str
    services: tuple[Service, ...] = ()
    infrastructure: tuple[Infrastructure, ...] = ()
    contracts: tuple[TypeInfo, ...] = ()
    flows: tuple[Flow, ...] = ()
    warnings: tuple[ScanWarning, ...] = ()
    projects: tuple[Project, ...] = ()
    solution: str | None = None
    exchanges: tuple[str, ...] = field(default=())

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)
