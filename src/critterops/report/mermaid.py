"""A Mermaid flowchart of services, queues, exchanges and message flows (GitHub renders it)."""

from __future__ import annotations

import re

from critterops.model import System

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def _id(prefix: str, name: str) -> str:
    return f"{prefix}_{_UNSAFE.sub('_', name)}"


def _label(text: str) -> str:
    return text.replace('"', "'").replace("<", "&lt;").replace(">", "&gt;")


def mermaid(system: System) -> str:
    lines = ["flowchart LR"]
    contexts: dict[str, list[str]] = {}
    for s in system.services:
        contexts.setdefault(s.bounded_context, []).append(s.name)
    kinds = {s.name: s.kind for s in system.services}
    for context, names in sorted(contexts.items()):
        lines.append(f'  subgraph {_id("bc", context)}["{_label(context)}"]')
        for name in sorted(names):
            shape = ("[/", "/]") if kinds[name] == "web" else (("[[", "]]") if kinds[name] == "worker" else ("[", "]"))
            lines.append(f'    {_id("svc", name)}{shape[0]}"{_label(name)}"{shape[1]}')
        lines.append("  end")
    queues: set[str] = set()
    exchanges: set[str] = set()
    edges: list[str] = []
    published: dict[tuple[str, str], list[str]] = {}
    for s in system.services:
        for pub in s.publishes:
            if pub.kind == "local":
                continue
            published.setdefault((s.name, f"{pub.kind}:{pub.to}"), []).append(pub.message)
        for listen in s.listens:
            if listen.transport == "local":
                continue
            queues.add(listen.queue)
            edges.append(f"  {_id('q', listen.queue)} --> {_id('svc', s.name)}")
            for exchange in listen.bindings:
                exchanges.add(exchange)
                edges.append(f"  {_id('x', exchange)} -.-> {_id('q', listen.queue)}")
        for binding in s.bindings:
            exchanges.add(binding.exchange)
            queues.add(binding.queue)
            edges.append(f"  {_id('x', binding.exchange)} -.-> {_id('q', binding.queue)}")
    for (service, target), messages in sorted(published.items()):
        kind, _, name = target.partition(":")
        node = _id("x", name) if kind in ("exchange", "topic") else _id("q", name)
        (exchanges if kind in ("exchange", "topic") else queues).add(name)
        label = ", ".join(sorted(set(messages)))
        if len(label) > 60:
            label = f"{len(set(messages))} message types"
        edges.append(f'  {_id("svc", service)} -- "{_label(label)}" --> {node}')
    for queue in sorted(queues):
        lines.append(f'  {_id("q", queue)}[("{_label(queue)}")]')
    for exchange in sorted(exchanges):
        lines.append(f'  {_id("x", exchange)}{{{{"{_label(exchange)}"}}}}')
    for s in system.services:
        for call in s.http_calls:
            if call.target and call.target != s.name:
                edges.append(f"  {_id('svc', s.name)} -. HTTP .-> {_id('svc', call.target)}")
    lines += sorted(set(edges))
    lines.append("  classDef queue fill:#fff4dd,stroke:#c90")
    lines.append("  classDef exchange fill:#e8f0ff,stroke:#36c")
    if queues:
        lines.append("  class " + ",".join(_id("q", q) for q in sorted(queues)) + " queue")
    if exchanges:
        lines.append("  class " + ",".join(_id("x", x) for x in sorted(exchanges)) + " exchange")
    return "\n".join(lines) + "\n"
