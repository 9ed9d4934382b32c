"""A Mermaid flowchart of services, queues, exchanges and message flows (GitHub renders it).

Every :class:`~critterops.model.Flow` of the system is drawn, so the picture never shows less than
the flow table. What the code declares is a solid arrow (``-->``); what discovery inferred is dashed
(``-.->``): the hop from an exchange to a queue bound to it (``resolution: binding``) and the whole
path of a flow found through Wolverine's conventional routing (``resolution: conventional``), where
exchange and queue are only named at run time. HTTP calls are thick arrows (``==>``). A legend
subgraph says so in the picture itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from critterops.model import Flow, System

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_MAX_LABEL = 60

SOLID, DASHED, THICK = "solid", "dashed", "thick"

LEGEND = (
    '  subgraph legend["Legend"]',
    '    legend_service["service"] -- "declared in code" --> legend_queue[("queue")]',
    '    legend_exchange{{"exchange"}} -. "inferred: binding or conventional routing" .-> legend_queue',
    '    legend_web[/"web app"/] == "HTTP call" ==> legend_worker[["worker"]]',
    "  end",
)


@dataclass(frozen=True, slots=True)
class Edge:
    source: str  # node id
    target: str  # node id
    style: str  # solid | dashed | thick


def _id(prefix: str, name: str) -> str:
    return f"{prefix}_{_UNSAFE.sub('_', name)}"


def _label(text: str) -> str:
    return text.replace('"', "'").replace("<", "&lt;").replace(">", "&gt;")


def _messages(messages: set[str]) -> str:
    label = ", ".join(sorted(messages))
    if len(label) > _MAX_LABEL:
        return f"{len(messages)} message type{'' if len(messages) == 1 else 's'}"
    return label


def _render(edge: Edge, messages: set[str]) -> str:
    if edge.style == THICK:
        return f'  {edge.source} == "{_label(_messages(messages))}" ==> {edge.target}'
    if edge.style == DASHED:
        if messages:
            return f'  {edge.source} -. "{_label(_messages(messages))}" .-> {edge.target}'
        return f"  {edge.source} -.-> {edge.target}"
    if messages:
        return f'  {edge.source} -- "{_label(_messages(messages))}" --> {edge.target}'
    return f"  {edge.source} --> {edge.target}"


def flow_path(flow: Flow) -> list[Edge]:
    """The edges that draw one flow: publisher → (exchange ⇢) queue → consumer, or publisher ⇢ consumer."""
    source, target = _id("svc", flow.source), _id("svc", flow.target)
    if flow.resolution == "conventional":
        return [Edge(source, target, DASHED)]
    exchange, arrow, queue = flow.via.partition(" -> ")
    if not arrow:
        return [Edge(source, _id("q", flow.via), SOLID), Edge(_id("q", flow.via), target, SOLID)]
    hop = DASHED if flow.resolution == "binding" else SOLID
    return [
        Edge(source, _id("x", exchange), SOLID),
        Edge(_id("x", exchange), _id("q", queue), hop),
        Edge(_id("q", queue), target, SOLID),
    ]


def _edges(system: System) -> tuple[dict[Edge, set[str]], set[str], set[str]]:
    """Edges with the message types they carry, and the queues and exchanges they touch."""
    edges: dict[Edge, set[str]] = {}
    queues: set[str] = set()
    exchanges: set[str] = set()

    def add(edge: Edge, message: str | None = None) -> None:
        carried = edges.setdefault(edge, set())
        if message and edge.source.startswith("svc_"):
            carried.add(message)  # what a publisher sends; the hops after it carry the same

    for flow in system.flows:
        if flow.transport == "local":
            continue
        if flow.resolution != "conventional":
            exchange, arrow, queue = flow.via.partition(" -> ")
            if arrow:
                exchanges.add(exchange)
                queues.add(queue)
            else:
                queues.add(flow.via)
        for edge in flow_path(flow):
            add(edge, flow.message)
    for s in system.services:
        for pub in s.publishes:
            if pub.kind == "local" or pub.transport == "local":
                continue
            to_exchange = pub.kind in ("exchange", "topic")
            (exchanges if to_exchange else queues).add(pub.to)
            add(Edge(_id("svc", s.name), _id("x" if to_exchange else "q", pub.to), SOLID), pub.message)
        for listen in s.listens:
            if listen.transport == "local":
                continue
            queues.add(listen.queue)
            add(Edge(_id("q", listen.queue), _id("svc", s.name), SOLID))
            for exchange in listen.bindings:
                exchanges.add(exchange)
                add(Edge(_id("x", exchange), _id("q", listen.queue), DASHED))
        for binding in s.bindings:
            exchanges.add(binding.exchange)
            queues.add(binding.queue)
            add(Edge(_id("x", binding.exchange), _id("q", binding.queue), DASHED))
        for call in s.http_calls:
            if call.target and call.target != s.name:
                add(Edge(_id("svc", s.name), _id("svc", call.target), THICK), "HTTP")
    return edges, queues, exchanges


def mermaid(system: System, *, legend: bool = True) -> str:
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
    edges, queues, exchanges = _edges(system)
    for queue in sorted(queues):
        lines.append(f'  {_id("q", queue)}[("{_label(queue)}")]')
    for exchange in sorted(exchanges):
        lines.append(f'  {_id("x", exchange)}{{{{"{_label(exchange)}"}}}}')
    lines += sorted(_render(edge, messages) for edge, messages in edges.items())
    if legend:
        lines += LEGEND
    lines.append("  classDef queue fill:#fff4dd,stroke:#c90")
    lines.append("  classDef exchange fill:#e8f0ff,stroke:#36c")
    if queues:
        lines.append("  class " + ",".join(_id("q", q) for q in sorted(queues)) + " queue")
    if exchanges:
        lines.append("  class " + ",".join(_id("x", x) for x in sorted(exchanges)) + " exchange")
    if legend:
        lines.append("  class legend_queue queue")
        lines.append("  class legend_exchange exchange")
    return "\n".join(lines) + "\n"
