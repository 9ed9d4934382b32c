"""Message flows between services, derived from routing, listeners and exchange bindings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from critterops.discover.csharp import messages, syntax
from critterops.model import Flow, ScanWarning, Service, TypeInfo

if TYPE_CHECKING:
    from critterops.discover.assemble import ParsedFile

Parse = Callable[[str], "ParsedFile | None"]


def _service_usings(rels: list[str], read: Callable[[str], bytes | None], parse: Parse) -> messages.Usings:
    """The ``global using`` directives of a service's project: they apply to every file in it."""
    shared = messages.Usings()
    for rel in rels:
        if b"global using" in (read(rel) or b""):
            parsed = parse(rel)
            if parsed is not None:
                shared = shared.merged(messages.usings(parsed.tree.root_node)[1])
    return shared


def _creators(
    files: dict[str, list[str]],
    read: Callable[[str], bytes | None],
    parse: Parse,
    contracts: dict[str, str],
) -> dict[str, set[str]]:
    """message → services whose own code creates it, in any form (see :mod:`messages`).

    ``contracts`` maps the full name of each contract to its short name, the key flows use. A file is
    parsed when its bytes name a contract (the short name, which every form spells somewhere: in the
    creation, the return type, the generic argument or a using alias) or a global alias of the project.
    A creation counts when it resolves to the contract's full name: a service's own type that shares the
    contract's short name is not the contract.
    """
    out: dict[str, set[str]] = defaultdict(set)
    shorts = {short.encode() for short in contracts.values()}
    for service, rels in files.items():
        shared = _service_usings(rels, read, parse)
        needles = shorts | {alias.encode() for alias in shared.aliases}
        roots: list[tuple[ParsedFile, messages.Usings]] = []
        for rel in rels:
            data = read(rel) or b""
            if not any(needle in data for needle in needles):
                continue
            parsed = parse(rel)
            if parsed is not None:
                roots.append((parsed, messages.usings(parsed.tree.root_node)[0].merged(shared)))
        own = messages.declared((p.tree.root_node, p.rel) for p, _ in roots) - set(contracts)
        known = set(contracts) | own
        own_shorts = {name.rsplit(".", 1)[-1] for name in own}
        for parsed, scope in roots:
            for creation in messages.creations(parsed.tree.root_node):
                full = messages.resolve(creation.written, creation.namespace, scope, known)
                if full is None:
                    full = _unimported(creation.written, contracts, own_shorts)
                if full in contracts:
                    out[contracts[full]].add(service)
    return out


def _unimported(written: str, contracts: dict[str, str], own_shorts: set[str]) -> str | None:
    """The contract a name denotes that no using directive in the parsed code imports.

    Namespaces also come from places not read here (``<Using Include="..."/>`` items of the project file, the
    SDK's implicit usings), so a name that resolves to nothing names the one contract that ends with it, unless
    the service declares a type of that short name itself (then it is ambiguous and not counted).
    """
    name = written.split("<", 1)[0].removeprefix("global::")
    if name.rsplit(".", 1)[-1] in own_shorts:
        return None
    matches = [full for full in contracts if full == name or full.endswith("." + name)]
    return matches[0] if len(matches) == 1 else None


def _identity(contract: TypeInfo, parse: Parse, by_short: dict[str, TypeInfo], depth: int = 0) -> str:
    """The message type name Wolverine gives a contract, which conventional routing names its exchange and
    queue after: ``[MessageIdentity("alias")]`` (``alias.V{Version}`` with a Version), else the full type name.

    Wolverine V6.29.2: WolverineMessageNaming.ToMessageTypeName tries MessageIdentityAttributeNaming first and
    falls back to FullTypeNaming (Type.FullName) (src/Wolverine/Util/WolverineMessageNaming.cs);
    MessageIdentityAttribute.GetName (src/Wolverine/Attributes/MessageIdentityAttribute.cs);
    RabbitMqMessageRoutingConvention sends to the exchange named so and binds the listener's queue of that
    name to it (src/Transports/RabbitMQ/Wolverine.RabbitMQ/RabbitMqMessageRoutingConvention.cs, with
    _identifierForSender/_queueNameForListener = ToMessageTypeName in src/Wolverine/Transports/
    MessageRoutingConvention.cs).
    """
    if "MessageIdentity" not in contract.attributes or depth > 3:
        return contract.full_name
    parsed = parse(contract.file)
    if parsed is None:
        return contract.full_name
    for decl in syntax.captures(
        "[(class_declaration) @t (record_declaration) @t (struct_declaration) @t]", parsed.tree.root_node, "t"
    ):
        if syntax.text(decl.child_by_field_name("name")) != contract.name:
            continue
        for name, args in syntax.attributes(decl):
            if name != "MessageIdentity" or not args:
                continue
            first = args[0].strip()
            if first.startswith("typeof(") and first.endswith(")"):
                target = by_short.get(syntax.short_type(first[7:-1].strip()))
                return _identity(target, parse, by_short, depth + 1) if target else contract.full_name
            if not first.startswith('"'):
                return contract.full_name
            alias = first.strip('"')
            version = next(
                (a.split("=", 1)[1].strip() for a in args[1:] if a.replace(" ", "").startswith("Version=")), "0"
            )
            return alias if version in ("", "0") else f"{alias}.V{version}"
    return contract.full_name


def _library_owned(services: list[Service]) -> set[tuple[str, str]]:
    """Queues that a library extension sets up: a domain listener on one of them needs no domain producer."""
    owned = {(x.transport, x.queue) for s in services for x in s.listens if x.library}
    owned |= {(p.transport, p.to) for s in services for p in s.publishes if p.library}
    return owned


def _is_library(owned: set[tuple[str, str]], transport: str, queue: str) -> bool:
    # Wolverine reserves the "wolverine." prefix for its own system queues (RabbitMqQueue.isSystemQueue,
    # reply queues "wolverine.response.<guid>" in RabbitMqTransport.tryBuildSystemEndpoints, control queues
    # "wolverine.control.<node number>" in RabbitMqTransportExpression.EnableWolverineControlQueues;
    # src/Transports/RabbitMQ/Wolverine.RabbitMQ/Internal/, Wolverine V6.29.2). Their names exist per node at
    # run time only, so they are not modelled as listens; a listener the code declares on one needs no producer.
    return (transport, queue) in owned or queue.startswith("wolverine.")


def derive_flows(
    services: list[Service],
    contracts: Sequence[TypeInfo],
    files: dict[str, list[str]],
    read: Callable[[str], bytes | None],
    parse: Parse,
) -> tuple[list[Flow], list[ScanWarning]]:
    """Flows between services, and warnings for messages that go nowhere and queues nobody feeds.

    ``files`` maps each service to the C# files it owns; ``read`` and ``parse`` give their bytes and
    syntax trees (used only for conventional routing, to find who creates a message). Queues a library
    sets up (CritterWatch, Wolverine's own) carry no domain flows and need no domain producer.
    """
    contract_names = {c.name for c in contracts}
    by_short = {c.name: c for c in contracts}
    owned = _library_owned(services)
    conventional = [s for s in services if s.wolverine and s.wolverine.conventional_routing]
    handled_by: dict[str, list[str]] = defaultdict(list)
    for s in conventional:
        for message in s.wolverine.handled_messages if s.wolverine else ():
            if message in contract_names:
                handled_by[message].append(s.name)
    identities = {m: _identity(by_short[m], parse, by_short) for m in handled_by}
    flows: list[Flow] = []
    warnings: list[ScanWarning] = []
    listeners: dict[tuple[str, str], list[str]] = defaultdict(list)
    listen_at: dict[tuple[str, str], tuple[str, int]] = {}
    bound: dict[str, set[str]] = defaultdict(set)
    for s in services:
        for listen in s.listens:
            if listen.library or _is_library(owned, listen.transport, listen.queue):
                continue
            listeners[(listen.transport, listen.queue)].append(s.name)
            if listen.location is not None:
                listen_at.setdefault((listen.transport, listen.queue), (listen.location.file, listen.location.line))
            for exchange in listen.bindings:
                bound[exchange].add(listen.queue)
        for binding in s.bindings:
            bound[binding.exchange].add(binding.queue)
    published_queues: set[tuple[str, str]] = set()
    for s in services:
        for pub in s.publishes:
            if pub.kind == "local" or pub.transport == "local" or pub.library:
                continue
            loc = pub.location
            if pub.kind == "queue":
                published_queues.add((pub.transport, pub.to))
                if _is_library(owned, pub.transport, pub.to):
                    continue
                consumers = listeners.get((pub.transport, pub.to), [])
                for consumer in consumers:
                    flows.append(Flow(s.name, consumer, pub.message, pub.to, pub.transport, "explicit"))
                if not consumers and not pub.to.startswith("<"):
                    warnings.append(
                        ScanWarning(
                            loc.file if loc else s.project,
                            f"{s.name} sends {pub.message} to {pub.transport} queue '{pub.to}', which no service "
                            "in this repository listens to: messages pile up unless a consumer lives elsewhere",
                            loc.line if loc else 0,
                        )
                    )
            else:
                queues = sorted(bound.get(pub.to, set()))
                # a conventional listener binds a queue to the exchange named after the message type
                identity = identities.get(pub.message)
                named_for_message = pub.to in (pub.message, identity) or pub.to.endswith("." + pub.message)
                if not queues and named_for_message and handled_by.get(pub.message):
                    for consumer in handled_by[pub.message]:
                        if consumer != s.name:
                            flows.append(
                                Flow(
                                    s.name,
                                    consumer,
                                    pub.message,
                                    f"{pub.to} -> {identity or pub.to}",
                                    pub.transport,
                                    "conventional",
                                )
                            )
                    continue
                for queue in queues:
                    published_queues.add((pub.transport, queue))
                    for consumer in listeners.get((pub.transport, queue), []):
                        flows.append(
                            Flow(s.name, consumer, pub.message, f"{pub.to} -> {queue}", pub.transport, "binding")
                        )
                if not queues and not pub.to.startswith("<"):
                    warnings.append(
                        ScanWarning(
                            loc.file if loc else s.project,
                            f"{s.name} publishes {pub.message} to {pub.transport} {pub.kind} '{pub.to}', but no queue "
                            "is bound to it in this repository's code: messages are dropped unless bound elsewhere",
                            loc.line if loc else 0,
                        )
                    )
    if conventional:
        short_of = {c.full_name: c.name for c in contracts if c.name in handled_by}
        creators = _creators(files, read, parse, short_of)
        known = {(f.source, f.target, f.message) for f in flows}
        conventional_names = {s.name for s in conventional}
        for message, consumers in sorted(handled_by.items()):
            name = identities[message]
            producers = sorted(creators.get(message, set()))
            if any(p in conventional_names for p in producers):
                # the conventional sender's exchange feeds the queues bound to it, explicit ones included
                for queue in (name, *sorted(bound.get(name, set()))):
                    published_queues.add(("rabbitmq", queue))
            for producer in producers:
                for consumer in consumers:
                    if producer != consumer and (producer, consumer, message) not in known:
                        flows.append(Flow(producer, consumer, message, f"{name} -> {name}", "rabbitmq", "conventional"))
        for s in conventional:
            warnings.append(
                ScanWarning(
                    s.project,
                    f"{s.name} uses Wolverine conventional routing: exchanges and queues are named at run time from "
                    "message types, so its flows are inferred from handlers and the messages its code creates "
                    "(resolution: conventional)",
                )
            )
    for (transport, queue), names in sorted(listeners.items()):
        if transport in ("local",) or queue.startswith("<") or (transport, queue) in published_queues:
            continue
        file, line = listen_at.get((transport, queue), (next(s.project for s in services if s.name == names[0]), 0))
        warnings.append(
            ScanWarning(
                file,
                f"{', '.join(names)} listens to {transport} queue '{queue}', but no service in this repository "
                "sends to it (an external producer, or dead wiring)",
                line,
            )
        )
    unique = sorted(set(flows), key=lambda f: (f.source, f.target, f.message, f.via))
    return unique, warnings
