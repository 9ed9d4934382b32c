"""Read the Wolverine, Marten, EF Core and ASP.NET Core wiring out of C# startup code.

The input is a syntax node (a whole ``Program.cs``, or the body of an extension method such as
``MapDefaultEndpoints``) and a :class:`Scope` to evaluate names with. The output is a
:class:`Wiring`: plain facts with locations, merged later per service.

Sources of the vocabulary: Wolverine docs (guide/messaging/transports/rabbitmq, guide/durability),
Marten docs (events/projections, configuration/hostbuilder), and reference/critter-ops.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from tree_sitter import Node

from critterops.discover.csharp.syntax import (
    arguments,
    captures,
    chain,
    chain_up,
    environment_condition,
    invocations,
    line,
    method_name,
    receiver,
    short_type,
    text,
)
from critterops.discover.csharp.values import Scope
from critterops.model import (
    Binding,
    HealthEndpoint,
    HttpCall,
    Listen,
    Location,
    Projection,
    Publish,
)

# Wolverine transport method infixes → transport names used in the model.
TRANSPORTS = {
    "Rabbit": "rabbitmq",
    "RabbitMq": "rabbitmq",
    "Kafka": "kafka",
    "AzureServiceBus": "azureservicebus",
    "Sqs": "sqs",
    "Sns": "sns",
    "Pulsar": "pulsar",
    "Nats": "nats",
    "Redis": "redis",
    "RedisStream": "redis",
    "Mqtt": "mqtt",
    "PubSub": "gcp-pubsub",
    "GcpPubSub": "gcp-pubsub",
    "Local": "local",
    "Postgresql": "postgresql",
    "SqlServer": "sqlserver",
}

_USE_TRANSPORT = {
    "UseRabbitMq": "rabbitmq",
    "UseRabbitMqUsingNamedConnection": "rabbitmq",
    "UseKafka": "kafka",
    "UseAzureServiceBus": "azureservicebus",
    "UseAzureServiceBusTesting": "azureservicebus",
    "UseAmazonSqsTransport": "sqs",
    "UseAmazonSqsTransportLocally": "sqs",
    "UseAmazonSnsTransport": "sns",
    "UsePulsar": "pulsar",
    "UseNats": "nats",
    "UseRedisTransport": "redis",
    "UseMqtt": "mqtt",
    "UsePubsub": "gcp-pubsub",
    "UsePubsubTesting": "gcp-pubsub",
    "UsePostgresqlPersistenceAndTransport": "postgresql",
    "UseSqlServerPersistenceAndTransport": "sqlserver",
}
USE_TRANSPORT = _USE_TRANSPORT  # public: configreads classifies what flows into these calls as broker settings

_LISTEN = re.compile(r"^ListenTo(?P<t>[A-Za-z]+?)(?P<k>Queue|Topic|Subscription|Subject|Stream|Exchange)$")
_ROUTE = re.compile(r"^To(?P<t>[A-Za-z]+?)(?P<k>Queue|Exchange|Topic|Topics|Subject|Stream|RoutingKey)$")
_MESSAGE_SELECTORS = {
    "Message",
    "PublishMessage",
    "MessagesFromNamespace",
    "MessagesFromNamespaceContaining",
    "MessagesFromAssembly",
    "MessagesFromAssemblyContaining",
    "MessagesImplementing",
    "PublishAllMessages",
    "AllMessages",
}
_LIFECYCLE = re.compile(r"(?:Projection|Snapshot)Lifecycle\.(Inline|Async|Live)")
_DAEMON = re.compile(r"DaemonMode\.(Solo|HotCold|Disabled|ExternallyManaged)")
_AUTO_CREATE = re.compile(r"AutoCreate\.(All|CreateOrUpdate|CreateOnly|None)")
_HEALTHY_PATH = re.compile(r"health|alive|ready|live|ping|status", re.IGNORECASE)
_DB_PROVIDERS = {
    "UseNpgsql": "npgsql",
    "UseSqlServer": "sqlserver",
    "UseSqlite": "sqlite",
    "UseMySql": "mysql",
    "UseInMemoryDatabase": "inmemory",
    "UseCosmos": "cosmos",
}


@dataclass
class Wiring:
    """Facts found in one piece of startup code."""

    file: str
    marten: bool = False
    marten_location: Location | None = None
    event_sourcing: bool = False
    daemon_mode: str | None = None
    managed_distribution: bool = False
    integrates_with_wolverine: bool = False
    auto_create: list[tuple[str, str]] = field(default_factory=list)  # (environment, value)
    schema: str | None = None
    schema_unresolved: str | None = None
    projections: list[Projection] = field(default_factory=list)
    document_types: list[str] = field(default_factory=list)
    aggregate_types: list[str] = field(default_factory=list)
    appended_events: list[str] = field(default_factory=list)
    upcasters: list[str] = field(default_factory=list)
    wolverine: bool = False
    wolverine_location: Location | None = None
    transports: list[str] = field(default_factory=list)
    listens: list[Listen] = field(default_factory=list)
    publishes: list[Publish] = field(default_factory=list)
    bindings: list[Binding] = field(default_factory=list)
    exchanges: list[str] = field(default_factory=list)
    local_queues: list[str] = field(default_factory=list)
    durable_local_queues: bool = False
    durable_outbox_all: bool = False
    durable_inbox_all: bool = False
    conventional_routing: bool = False
    listeners_held: bool = False  # DisableAllExternalListeners set from configuration, not a literal
    auto_provision: bool = False
    message_storage: str | None = None
    message_schema: str | None = None
    db_contexts: list[str] = field(default_factory=list)
    db_provider: str | None = None
    connection_names: list[str] = field(default_factory=list)
    health: list[HealthEndpoint] = field(default_factory=list)
    http_calls: list[HttpCall] = field(default_factory=list)
    meters: list[tuple[str, Location]] = field(default_factory=list)
    blazor: bool = False
    command_line: str | None = None  # jasperfx | oakton: Program.cs ends with RunJasperFxCommands/RunOaktonCommands
    startup_migrations: list[str] = field(default_factory=list)  # environments where Database.Migrate runs
    wolverine_http: bool = False
    invoked: set[str] = field(default_factory=set)
    unresolved: list[tuple[int, str]] = field(default_factory=list)


def _loc(wiring: Wiring, node: Node) -> Location:
    return Location(wiring.file, line(node))


def _value(scope: Scope, wiring: Wiring, node: Node | None, what: str) -> str | None:
    value = scope.evaluate(node)
    if value is None and node is not None:
        wiring.unresolved.append((line(node), f"{what} `{text(node)[:80]}` cannot be resolved statically"))
    return value


def _messages_in_chain(call: Node, scope: Scope) -> list[tuple[str, str | None]]:
    """Message selectors below a routing call: ``PublishMessage<A>().ToRabbitQueue`` gives [A]."""
    found: list[tuple[str, str | None]] = []
    for link in chain(call):
        name, generics = method_name(link)
        if name not in _MESSAGE_SELECTORS:
            continue
        if name in ("PublishAllMessages", "AllMessages"):
            found.append(("*", None))
        elif name in ("MessagesFromNamespace",):
            args = arguments(link)
            ns = scope.evaluate(args[0]) if args else None
            found.append((f"ns:{ns or '?'}", None))
        elif generics:
            full = generics[0]
            if name.startswith("MessagesFrom") or name == "MessagesImplementing":
                found.append((f"ns:{full}", None))
            else:
                found.append((short_type(full), full if "." in full else None))
    # the statement form: opts.Publish(x => { x.Message<A>(); x.ToRabbitQueue("q"); })
    bottom = list(chain(call))[-1]
    param = receiver(bottom)
    if not found and param is not None and param.type == "identifier":
        lam = call.parent
        while lam is not None and lam.type != "lambda_expression":
            lam = lam.parent
        if lam is not None:
            pname = text(param)
            for inv in invocations(lam):
                name, generics = method_name(inv)
                rec = receiver(inv)
                if name == "Message" and generics and rec is not None and text(rec) == pname:
                    full = generics[0]
                    found.append((short_type(full), full if "." in full else None))
                elif name in ("MessagesFromNamespaceContaining", "MessagesImplementing") and generics:
                    found.append((f"ns:{generics[0]}", None))
                elif name in ("AllMessages",) and rec is not None and text(rec) == pname:
                    found.append(("*", None))
    return found


def _listen_mode(call: Node) -> str | None:
    for up in chain_up(call):
        name, _ = method_name(up)
        if name == "ProcessInline":
            return "inline"
        if name == "BufferedInMemory":
            return "buffered"
        if name == "UseDurableInbox":
            return "durable"
    return None


def _bindings_inside(node: Node, scope: Scope, queue: str | None, wiring: Wiring) -> list[str]:
    """Exchanges bound to a queue inside a listener's configuration lambda or chain."""
    exchanges: list[str] = []
    candidates = [*invocations(node)]
    for inv in candidates:
        name, _ = method_name(inv)
        if name in ("BindExchange", "BindToExchange"):
            args = arguments(inv)
            exchange = scope.evaluate(args[0]) if args else None
            if exchange:
                exchanges.append(exchange)
                if queue:
                    key = scope.evaluate(args[1]) if len(args) > 1 else None
                    wiring.bindings.append(Binding(exchange, queue, key or "", _loc(wiring, inv)))
    return exchanges


def _handle_listen(call: Node, name: str, scope: Scope, wiring: Wiring) -> None:
    match = _LISTEN.match(name)
    if match is None:
        return
    transport = TRANSPORTS.get(match["t"], match["t"].lower())
    args = arguments(call)
    queue = _value(scope, wiring, args[0], "queue name") if args else None
    if queue is None:
        queue = f"<unresolved:{text(args[0])[:60]}>" if args else "<unnamed>"
    exchanges: list[str] = []
    for arg in args[1:]:
        exchanges += _bindings_inside(arg, scope, queue, wiring)
    for up in chain_up(call):
        up_name, _ = method_name(up)
        if up_name in ("BindExchange", "BindToExchange"):
            up_args = arguments(up)
            exchange = scope.evaluate(up_args[0]) if up_args else None
            if exchange:
                exchanges.append(exchange)
                wiring.bindings.append(Binding(exchange, queue, "", _loc(wiring, up)))
        if up_name == "FromTopic":  # Azure Service Bus subscriptions
            up_args = arguments(up)
            topic = scope.evaluate(up_args[0]) if up_args else None
            if topic:
                exchanges.append(topic)
    wiring.listens.append(Listen(transport, queue, tuple(exchanges), _listen_mode(call), _loc(wiring, call)))
    if transport not in wiring.transports:
        wiring.transports.append(transport)


def _handle_route(call: Node, name: str, scope: Scope, wiring: Wiring) -> None:
    match = _ROUTE.match(name)
    if match is None:
        return
    infix = match["t"]
    if infix not in TRANSPORTS and not infix.endswith(("Rabbit", "Kafka")):
        return
    transport = TRANSPORTS.get(infix, infix.lower())
    kind = {
        "Queue": "queue",
        "Exchange": "exchange",
        "Topic": "topic",
        "Topics": "topic",
        "Subject": "topic",
        "Stream": "topic",
        "RoutingKey": "exchange",
    }[match["k"]]
    if transport == "local":
        kind = "local"
    messages = _messages_in_chain(call, scope)
    if not messages:
        return  # e.g. outgoing.ToRabbitQueue in a handler: not static routing
    args = arguments(call)
    destination = _value(scope, wiring, args[0], "destination") if args else None
    if destination is None:
        destination = f"<unresolved:{text(args[0])[:60]}>" if args else "<by message type>"
    if match["k"] == "Topics":
        destination = f"{destination} (topic per message)"
    for message, full in messages:
        wiring.publishes.append(Publish(message, transport, destination, kind, full, _loc(wiring, call)))
    if kind == "exchange" and destination not in wiring.exchanges:
        wiring.exchanges.append(destination)
    if transport == "local" and destination not in wiring.local_queues:
        wiring.local_queues.append(destination)


# Wolverine endpoint URIs ("rabbitmq://queue/name", "postgresql://name") → transport, for library-owned queues.
_URI_SCHEMES: Final = {
    "rabbitmq": "rabbitmq",
    "postgresql": "postgresql",
    "sqlserver": "sqlserver",
    "asb": "azureservicebus",
    "sqs": "sqs",
    "kafka": "kafka",
}


def _uri_queue(node: Node, scope: Scope) -> tuple[str, str] | None:
    """``new Uri("rabbitmq://queue/x")`` or ``"rabbitmq://queue/x".ToUri()`` → ("rabbitmq", "x")."""
    inner: Node | None = node
    if node.type == "object_creation_expression":
        found = arguments(node) if node.child_by_field_name("arguments") is not None else []
        inner = found[0] if found else None
    elif node.type == "invocation_expression" and method_name(node)[0] == "ToUri":
        inner = receiver(node)
    uri = scope.evaluate(inner) if inner is not None else None
    if not uri or "://" not in uri:
        return None
    scheme, _, rest = uri.partition("://")
    transport = _URI_SCHEMES.get(scheme.lower())
    parts = [p for p in rest.split("/") if p]
    if transport is None or not parts:
        return None
    return transport, parts[-1]


def _handle_critterwatch(call: Node, scope: Scope, wiring: Wiring) -> None:
    """``opts.AddCritterWatchMonitoring(telemetryUri, controlUri)``: the service sends its telemetry to the
    CritterWatch console's queue and listens to its own control queue, which the console feeds. Both belong to
    the library, not to the domain. (CritterWatch is commercial and not in the public sources; the two endpoints
    are as its users' Program.cs files wire them: telemetry first, the service's control queue second.)"""
    args = arguments(call)
    telemetry = _uri_queue(args[0], scope) if args else None
    control = _uri_queue(args[1], scope) if len(args) > 1 else None
    if telemetry is not None:
        wiring.publishes.append(
            Publish(
                "CritterWatch telemetry", telemetry[0], telemetry[1], "queue", None, _loc(wiring, call), "CritterWatch"
            )
        )
    if control is not None:
        wiring.listens.append(Listen(control[0], control[1], (), None, _loc(wiring, call), "CritterWatch"))


def _handle_projection(call: Node, name: str, generics: tuple[str, ...], wiring: Wiring) -> None:
    rec = receiver(call)
    if rec is None or not text(rec).endswith("Projections"):
        return
    args = arguments(call)
    arg_text = " ".join(text(a) for a in args)
    lifecycle_match = _LIFECYCLE.search(arg_text)
    if name == "LiveStreamAggregation":
        lifecycle = "Live"
    elif lifecycle_match:
        lifecycle = lifecycle_match.group(1)
    else:
        lifecycle = "Inline"
    if name not in ("Add", "Snapshot", "LiveStreamAggregation", "Register", "SelfAggregate"):
        return
    type_name = generics[0] if generics else ""
    if not type_name and args:
        first = args[0]
        if first.type == "object_creation_expression":
            type_name = text(first.child_by_field_name("type"))
        elif first.type == "identifier":
            type_name = text(first)
    if not type_name:
        return
    registration = {
        "Snapshot": "snapshot",
        "SelfAggregate": "snapshot",
        "LiveStreamAggregation": "live-aggregation",
    }.get(name, "projection")
    wiring.projections.append(Projection(short_type(type_name), lifecycle, 1, registration, _loc(wiring, call)))
    if registration in ("snapshot", "live-aggregation"):
        wiring.aggregate_types.append(short_type(type_name))
        wiring.event_sourcing = True


def _handle_http_client(call: Node, generics: tuple[str, ...], scope: Scope, wiring: Wiring) -> None:
    args = arguments(call)
    client = ""
    if args and args[0].type in ("string_literal", "identifier", "member_access_expression"):
        client = scope.evaluate(args[0]) or text(args[0])
    if generics:
        client = short_type(generics[-1])
    url: str | None = None
    key: str | None = None
    for inv_node in [call, *chain_up(call)]:
        for assign in captures("(assignment_expression) @a", inv_node, "a"):
            left = assign.child_by_field_name("left")
            if left is not None and text(left).endswith("BaseAddress"):
                right = assign.child_by_field_name("right")
                scope.config_keys.clear()
                url = scope.evaluate(right)
                key = scope.config_keys[0] if scope.config_keys else None
        if url or key:
            break
    wiring.http_calls.append(HttpCall(client or "HttpClient", None, url, key, _loc(wiring, call)))


def _handle_call(call: Node, scope: Scope, wiring: Wiring) -> None:
    name, generics = method_name(call)
    if not name:
        return
    wiring.invoked.add(name)
    if name.startswith("ListenTo"):
        _handle_listen(call, name, scope, wiring)
        return
    if name.startswith("To") and len(name) > 2 and name[2].isupper():
        _handle_route(call, name, scope, wiring)
        return
    if name == "AddMarten":
        wiring.marten = True
        wiring.marten_location = _loc(wiring, call)
    elif name == "AddAsyncDaemon":
        found = _DAEMON.search(text(call.child_by_field_name("arguments")))
        wiring.daemon_mode = found.group(1) if found else "Solo"
    elif name == "IntegrateWithWolverine":
        wiring.integrates_with_wolverine = True
        wiring.message_storage = wiring.message_storage or "marten"
    elif name in ("UseWolverine", "AddWolverine"):
        wiring.wolverine = True
        wiring.wolverine_location = _loc(wiring, call)
    elif name in _USE_TRANSPORT:
        transport = _USE_TRANSPORT[name]
        if transport not in wiring.transports:
            wiring.transports.append(transport)
        for up in chain_up(call):
            up_name, _ = method_name(up)
            if up_name == "AutoProvision":
                wiring.auto_provision = True
            if up_name.startswith("Use") and "ConventionalRouting" in up_name:
                wiring.conventional_routing = True
    elif "ConventionalRouting" in name and name.startswith("Use"):
        wiring.conventional_routing = True
    elif name == "DeclareExchange":
        args = arguments(call)
        exchange = scope.evaluate(args[0]) if args else None
        if exchange:
            if exchange not in wiring.exchanges:
                wiring.exchanges.append(exchange)
            own_args = call.child_by_field_name("arguments")  # not the calls earlier in the chain
            for inv in invocations(own_args) if own_args is not None else []:
                inv_name, _ = method_name(inv)
                if inv_name == "BindQueue":
                    inv_args = arguments(inv)
                    queue = scope.evaluate(inv_args[0]) if inv_args else None
                    key = scope.evaluate(inv_args[1]) if len(inv_args) > 1 else None
                    if queue:
                        wiring.bindings.append(Binding(exchange, queue, key or "", _loc(wiring, inv)))
    elif name == "BindExchange" and not any(method_name(a)[0].startswith("ListenTo") for a in chain(call)):
        # rabbit.BindExchange("exchange").ToQueue("queue", "key") on the transport configuration
        args = arguments(call)
        exchange = scope.evaluate(args[0]) if args else None
        for up in chain_up(call):
            up_name, _ = method_name(up)
            if up_name == "ToQueue" and exchange:
                up_args = arguments(up)
                queue = scope.evaluate(up_args[0]) if up_args else None
                key = scope.evaluate(up_args[1]) if len(up_args) > 1 else None
                if queue:
                    wiring.bindings.append(Binding(exchange, queue, key or "", _loc(wiring, up)))
    elif name in ("LocalQueue", "LocalQueueFor"):
        args = arguments(call)
        queue = scope.evaluate(args[0]) if args else (short_type(generics[0]).lower() if generics else None)
        if queue and queue not in wiring.local_queues:
            wiring.local_queues.append(queue)
    elif name == "UseDurableLocalQueues":
        wiring.durable_local_queues = True
    elif name == "AddCritterWatchMonitoring":
        _handle_critterwatch(call, scope, wiring)
    elif name == "UseDurableOutboxOnAllSendingEndpoints":
        wiring.durable_outbox_all = True
    elif name == "UseDurableInboxOnAllListeners":
        wiring.durable_inbox_all = True
    elif name in ("PersistMessagesWithPostgresql", "PersistMessagesWithSqlServer"):
        wiring.message_storage = "postgresql" if "Postgres" in name else "sqlserver"
        args = arguments(call)
        if len(args) > 1:
            wiring.message_schema = scope.evaluate(args[1])
    elif name == "UseEntityFrameworkCoreTransactions":
        wiring.message_storage = wiring.message_storage or "efcore"
    elif name in ("Add", "Snapshot", "LiveStreamAggregation", "SelfAggregate"):
        _handle_projection(call, name, generics, wiring)
    elif name == "For" and generics and text(receiver(call)).endswith("Schema"):
        wiring.document_types.append(short_type(generics[0]))
    elif name in ("AppendOne", "AppendMany") or (
        name in ("StartStream", "Append", "StartStreamAsync") and "Events" in text(receiver(call))
    ):
        wiring.event_sourcing = True
        if generics and name == "StartStream":
            wiring.aggregate_types.append(short_type(generics[0]))
        for arg in arguments(call):
            if arg.type == "object_creation_expression":
                wiring.appended_events.append(short_type(text(arg.child_by_field_name("type"))))
    elif name in ("FetchForWriting", "AggregateStreamAsync", "FetchLatest", "FetchForExclusiveWriting"):
        wiring.event_sourcing = True
        if generics:
            wiring.aggregate_types.append(short_type(generics[0]))
    elif name in ("Upcast", "MapEventType", "AddEventType", "AddEventTypes") and generics:
        wiring.upcasters.append(f"{name}<{', '.join(generics)}>")
    elif name in ("AddDbContext", "AddDbContextPool", "AddDbContextFactory", "AddPooledDbContextFactory"):
        if generics:
            wiring.db_contexts.append(short_type(generics[0]))
    elif name in _DB_PROVIDERS:
        wiring.db_provider = wiring.db_provider or _DB_PROVIDERS[name]
    elif name == "GetConnectionString":
        args = arguments(call)
        conn = scope.evaluate(args[0]) if args else None
        if conn and conn not in wiring.connection_names:
            wiring.connection_names.append(conn)
    elif name in ("MapHealthChecks", "MapGet"):
        args = arguments(call)
        path = scope.evaluate(args[0]) if args else None
        if path and (name != "MapGet" or _HEALTHY_PATH.search(path)):
            wiring.health.append(HealthEndpoint(path, environment_condition(call), name, _loc(wiring, call)))
    elif name == "AddHttpClient" or name in ("AddRefitClient",):
        _handle_http_client(call, generics, scope, wiring)
    elif name == "AddMeter":
        for arg in arguments(call):
            meter = scope.evaluate(arg)
            if meter:
                wiring.meters.append((meter, _loc(wiring, call)))
    elif name in ("AddRazorComponents", "AddServerSideBlazor", "MapRazorComponents", "MapBlazorHub"):
        wiring.blazor = True
    elif name in ("MapWolverineEndpoints", "AddWolverineHttp"):
        wiring.wolverine_http = True
    elif name in _COMMAND_LINE:
        wiring.command_line = wiring.command_line or _COMMAND_LINE[name]
    elif name in ("Migrate", "MigrateAsync") and text(receiver(call)).endswith("Database"):
        # EF Core applying its migrations when the app starts (DatabaseFacade.Migrate[Async])
        wiring.startup_migrations.append(environment_condition(call))


# The host's command line: `return await app.RunJasperFxCommands(args);` (JasperFx, Wolverine 4+/Marten 8+,
# JasperFx/src/JasperFx/CommandLine/CommandLineHostingExtensions.cs) or its predecessor Oakton's
# RunOaktonCommands. Only then do `db-apply`, `projections` and `resources` run from the service's image.
_COMMAND_LINE: Final = {"RunJasperFxCommands": "jasperfx", "RunOaktonCommands": "oakton"}


def _handle_assignment(node: Node, scope: Scope, wiring: Wiring) -> None:
    left = node.child_by_field_name("left")
    right = node.child_by_field_name("right")
    if left is None or right is None:
        return
    target = text(left).rsplit(".", 1)[-1]
    if target == "AutoCreateSchemaObjects":
        env = environment_condition(node)
        if right.type == "conditional_expression":
            for branch in ("consequence", "alternative"):
                sub = right.child_by_field_name(branch)
                found = _AUTO_CREATE.search(text(sub))
                if found and sub is not None:
                    wiring.auto_create.append((environment_condition(sub), found.group(1)))
        else:
            found = _AUTO_CREATE.search(text(right))
            if found:
                wiring.auto_create.append((env, found.group(1)))
    elif target == "DatabaseSchemaName" and "Events." not in text(left):
        value = scope.evaluate(right)
        if value is not None:
            wiring.schema = value.lower()
        else:
            wiring.schema_unresolved = text(right)
    elif target == "UseWolverineManagedEventSubscriptionDistribution" and text(right) == "true":
        wiring.managed_distribution = True
    elif target == "MessageStorageSchemaName":
        wiring.message_schema = scope.evaluate(right)
    elif target == "DisableAllExternalListeners" and text(right).strip() not in ("true", "false"):
        # WolverineOptions.DisableAllExternalListeners (src/Wolverine/WolverineOptions.cs:592 at V6.29.2) is read
        # once, by EndpointCollection.StartListenersAsync (Configuration/EndpointCollection.cs:353); bound to
        # configuration, it lets a preview start without consuming (see critterops.plan.consumers).
        wiring.listeners_held = True


def extract(root: Node, file: str, scope: Scope) -> Wiring:
    """All wiring facts under ``root``."""
    wiring = Wiring(file=file)
    local_scope = scope.with_locals(root)
    for call in invocations(root):
        _handle_call(call, local_scope, wiring)
    data = root.text or b""
    if b"=" in data:
        for assign in captures("(assignment_expression) @a", root, "a"):
            _handle_assignment(assign, local_scope, wiring)
    return wiring


# Bytes that a file must contain to be worth parsing for wiring. A cheap filter before parsing:
# missing a marker only means the file cannot hold that construct.
WIRING_MARKERS = (
    b"UseWolverine",
    b"AddWolverine",
    b"AddMarten",
    b"ListenTo",
    b"PublishMessage",
    b"PublishAllMessages",
    b".Publish(",
    b"MapHealthChecks",
    b"AddHttpClient",
    b"AddDbContext",
    b"DatabaseSchemaName",
    b"AddAsyncDaemon",
    b"UseRabbitMq",
    b"AddRazorComponents",
    b"AddServerSideBlazor",
    b"Projections.",
    b"AddMeter",
    b"MapDefaultEndpoints",
    b"LocalQueue",
    b"DeclareExchange",
    b"BindExchange",
    b"PersistMessagesWith",
    b"UseKafka",
    b"UseAzureServiceBus",
    b"UseAmazonSqs",
    b"ConventionalRouting",
    b"AddCritterWatchMonitoring",
    b"UseNpgsql",
    b"GetConnectionString",
    b"AutoCreateSchemaObjects",
    # event store usage in handlers: event sourcing and the event types appended
    b"Events.StartStream",
    b"Events.Append",
    b"FetchForWriting",
    b"AggregateStreamAsync",
    b"FetchLatest",
    b"AppendOne",
    b"AppendMany",
    b"RunJasperFxCommands",
    b"RunOaktonCommands",
    b"MigrateAsync",
    b"Migrate(",
)


_WIRING_RE = re.compile(b"|".join(re.escape(m) for m in WIRING_MARKERS))


def looks_like_wiring(data: bytes) -> bool:
    return _WIRING_RE.search(data) is not None
