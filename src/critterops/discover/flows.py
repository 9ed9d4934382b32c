"""Message flows between services, derived from routing, listeners and exchange bindings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

from critterops.discover.csharp import syntax
from critterops.model import Flow, ScanWarning, Service

if TYPE_CHECKING:
    from critterops.discover.assemble import ParsedFile


def _creators(
    files: dict[str, list[str]],
    read: Callable[[str], bytes | None],
    parse: Callable[[str], ParsedFile | None],
    messages: set[str],
) -> dict[str, set[str]]:
    """message → services whose own code constructs it (``new OrderPlaced(...)``), from the syntax tree."""
    out: dict[str, set[str]] = defaultdict(set)
    needles = {m: f"new {m}".encode() for m in messages}
    for service, rels in files.items():
        for rel in rels:
            data = read(rel) or b""
            if not any(needle in data for needle in needles.values()):
                continue
            parsed = parse(rel)
            if parsed is None:
                continue
            for node in syntax.captures("(object_creation_expression type: (_) @t)", parsed.tree.root_node, "t"):
                name = syntax.short_type(syntax.text(node)).split("<")[0]
                if name in messages:
                    out[name].add(service)
    return out


def derive_flows(
    services: list[Service],
    contract_names: set[str],
    files: dict[str, list[str]],
    read: Callable[[str], bytes | None],
    parse: Callable[[str], ParsedFile | None],
) -> tuple[list[Flow], list[ScanWarning]]:
    """Flows between services, and warnings for messages that go nowhere and queues nobody feeds.

    ``files`` maps each service to the C# files it owns; ``read`` and ``parse`` give their bytes and
    syntax trees (used only for conventional routing, to find who constructs a message).
    """
    conventional = [s for s in services if s.wolverine and s.wolverine.conventional_routing]
    handled_by: dict[str, list[str]] = defaultdict(list)
    for s in conventional:
        for message in s.wolverine.handled_messages if s.wolverine else ():
            if message in contract_names:
                handled_by[message].append(s.name)
    flows: list[Flow] = []
    warnings: list[ScanWarning] = []
    listeners: dict[tuple[str, str], list[str]] = defaultdict(list)
    listen_at: dict[tuple[str, str], tuple[str, int]] = {}
    bound: dict[str, set[str]] = defaultdict(set)
    for s in services:
        for listen in s.listens:
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
            if pub.kind == "local" or pub.transport == "local":
                continue
            loc = pub.location
            if pub.kind == "queue":
                published_queues.add((pub.transport, pub.to))
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
                named_for_message = pub.to == pub.message or pub.to.endswith("." + pub.message)
                if not queues and named_for_message and handled_by.get(pub.message):
                    for consumer in handled_by[pub.message]:
                        if consumer != s.name:
                            flows.append(
                                Flow(
                                    s.name,
                                    consumer,
                                    pub.message,
                                    f"{pub.to} (conventional)",
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
        creators = _creators(files, read, parse, set(handled_by))
        known = {(f.source, f.target, f.message) for f in flows}
        for message, consumers in sorted(handled_by.items()):
            for producer in sorted(creators.get(message, set())):
                for consumer in consumers:
                    if producer != consumer and (producer, consumer, message) not in known:
                        flows.append(
                            Flow(producer, consumer, message, f"{message} (conventional)", "rabbitmq", "conventional")
                        )
        for s in conventional:
            warnings.append(
                ScanWarning(
                    s.project,
                    f"{s.name} uses Wolverine conventional routing: exchanges and queues are named at run time from "
                    "message types, so its flows are inferred from handlers and `new Message(...)` in code "
                    "(resolution: conventional)",
                )
            )
    for (transport, queue), names in sorted(listeners.items()):
        if transport in ("local",) or queue.startswith("<") or (transport, queue) in published_queues:
            continue
        if conventional:
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
