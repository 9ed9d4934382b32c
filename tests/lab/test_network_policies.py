"""Proof 6: the kit's NetworkPolicies allow exactly what the system does, judged by cyclonus.

The required edges come from the system model, not from the policies: every HTTP client to the service it
calls, every service to the broker and the database it uses, every app to the OpenTelemetry collector
(OTLP, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` in the kit says) and to DNS, Prometheus to the collector, the
exporter and the broker's metrics, the critterops exporter to the database and the broker's management
API, and the ingress controller to browser-facing front ends. The pods are the overlay's own (labels
and namespace as rendered); the peers outside the kit sit where the kit's own configuration puts them
(the collector as ``otel-collector`` in the namespace, Prometheus in ``monitoring``, the controller in
``ingress-nginx``, DNS in ``kube-system``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.model import Service, System

from .kits import generate, render
from .netpol import Edge, Peer, verdicts
from .repos import critter_conventions_repo

APP_PORT = 8080


def peers(docs: list[dict[str, Any]]) -> dict[str, Peer]:
    """One pod per workload of the overlay, labelled as its pod template is, in the overlay's namespace."""
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] == "NetworkPolicy"}
    assert len(namespaces) == 1, namespaces
    NS = namespaces.pop()
    out = {}
    for index, doc in enumerate(d for d in docs if d["kind"] in ("Rollout", "Deployment", "StatefulSet")):
        name = doc["metadata"]["name"]
        labels = {k: str(v) for k, v in doc["spec"]["template"]["metadata"]["labels"].items()}
        out[name] = Peer(name, NS, labels, f"10.244.1.{index + 10}")
    # job pods (migrations) and the smoke-traffic pods of blue/green pre-promotion analyses, as rendered
    for index, doc in enumerate(d for d in docs if d["kind"] == "Job"):
        labels = {k: str(v) for k, v in doc["spec"]["template"]["metadata"]["labels"].items()}
        out[f"job:{doc['metadata']['name']}"] = Peer(doc["metadata"]["name"], NS, labels, f"10.244.4.{index + 10}")
    for index, doc in enumerate(d for d in docs if d["kind"] == "AnalysisTemplate"):
        for metric in doc["spec"]["metrics"]:
            job = metric.get("provider", {}).get("job")
            if job:
                labels = {k: str(v) for k, v in job["spec"]["template"]["metadata"]["labels"].items()}
                owner = doc["metadata"]["name"].removesuffix("-smoke")
                out[f"smoke:{owner}"] = Peer(f"{owner}-smoke", NS, labels, f"10.244.5.{index + 10}")
    system = next(iter(d for d in docs if d["kind"] in ("Rollout", "Deployment")))["metadata"]["labels"].get(
        "app.kubernetes.io/part-of", ""
    )
    # the collector and the exporter labelled as the kit labels what it deploys
    ours = {"app.kubernetes.io/part-of": system}
    for name, ns, labels in (
        ("otel-collector", NS, {"app.kubernetes.io/name": "otel-collector", **ours}),
        ("critterops-exporter", NS, {"app.kubernetes.io/name": "critterops-exporter", **ours}),
        ("prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}),
        ("ingress-nginx", "ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"}),
        ("kube-dns", "kube-system", {"k8s-app": "kube-dns"}),
    ):
        out.setdefault(name, Peer(name, ns, labels, f"10.244.2.{len(out) + 10}"))
    return out


def _static(service: Service) -> bool:
    return (service.sdk or "").lower().endswith("blazorwebassembly")


def required_edges(system: System, pods: dict[str, Peer], managed: Peer | None) -> list[Edge]:
    """What the running system needs, from the model. ``managed``: the address of a managed database and
    broker (production), or None when they run in the namespace (dev)."""
    postgres = managed or pods.get("postgres")
    rabbitmq = managed or pods.get("rabbitmq")
    edges: list[Edge] = []
    for service in system.services:
        me = pods[service.name]
        if _static(service):
            # a WebAssembly app is files: the browser fetches them through the ingress controller, and the
            # browser (through the ingress controller too) calls the APIs it names
            edges.append(Edge(pods["ingress-nginx"], me, APP_PORT, port_name="http", why="static site via ingress"))
            for call in service.http_calls:
                if call.target and call.target in pods:
                    edges.append(
                        Edge(pods["ingress-nginx"], pods[call.target], APP_PORT, port_name="http", why="browser API")
                    )
            continue
        smoke = pods.get(f"smoke:{service.name}")
        if smoke:
            edges.append(Edge(smoke, me, APP_PORT, port_name="http", why="smoke traffic to the preview"))
        for call in service.http_calls:
            if call.target and call.target in pods:
                edges.append(Edge(me, pods[call.target], APP_PORT, port_name="http", why=f"HTTP client {call.client}"))
        if "postgres" in service.uses and postgres:
            edges.append(Edge(me, postgres, 5432, port_name="postgres", why="database"))
        if "rabbitmq" in service.uses and rabbitmq:
            edges.append(Edge(me, rabbitmq, 5672, port_name="amqp", why="broker"))
        edges.append(Edge(me, pods["otel-collector"], 4317, why="OTLP"))
        edges.append(Edge(me, pods["kube-dns"], 53, "UDP", why="DNS"))
        edges.append(Edge(me, pods["kube-dns"], 53, "TCP", why="DNS"))
        if service.kind == "web":
            edges.append(Edge(pods["ingress-nginx"], me, APP_PORT, port_name="http", why="browser via ingress"))
    for name, job in pods.items():
        if name.startswith("job:") and postgres:
            edges.append(Edge(job, postgres, 5432, port_name="postgres", why="migration job"))
    edges.append(Edge(pods["prometheus"], pods["otel-collector"], 8889, why="scrape collector"))
    edges.append(Edge(pods["prometheus"], pods["critterops-exporter"], 9180, why="scrape exporter"))
    if postgres:
        edges.append(Edge(pods["critterops-exporter"], postgres, 5432, why="exporter reads Marten/Wolverine"))
    if rabbitmq:
        edges.append(Edge(pods["critterops-exporter"], rabbitmq, 15672, why="exporter reads the management API"))
        if managed is None:
            edges.append(Edge(pods["prometheus"], rabbitmq, 15692, why="scrape rabbitmq_prometheus"))
    return edges


def forbidden_edges(system: System, pods: dict[str, Peer]) -> list[Edge]:
    """A sample of what must stay closed."""
    calls = {(s.name, c.target) for s in system.services for c in s.http_calls if not _static(s)}
    http = [s.name for s in system.services if s.kind in ("api", "web")]
    browser = {c.target for s in system.services if _static(s) for c in s.http_calls}
    edges = [
        Edge(pods[a.name], pods[b], APP_PORT, port_name="http", why="no such call")
        for a in system.services
        for b in http
        if a.name != b and (a.name, b) not in calls
    ][:12]
    intruder = Peer("intruder", "elsewhere", {"app.kubernetes.io/name": next(iter(http))}, "10.244.3.3")
    edges += [Edge(intruder, pods[b], APP_PORT, port_name="http", why="same labels, other namespace") for b in http]
    edges += [Edge(pods[s.name], Peer("internet", ip="203.0.113.10"), 443, why="the internet") for s in system.services]
    edges += [
        Edge(pods["ingress-nginx"], pods[s.name], APP_PORT, port_name="http", why="ingress to an internal API")
        for s in system.services
        if s.kind == "api" and s.name not in browser
    ]
    # a static front end's pods call nothing: its HTTP clients run in the browser
    edges += [
        Edge(pods[s.name], pods[c.target], APP_PORT, port_name="http", why="static pods make no calls")
        for s in system.services
        if _static(s)
        for c in s.http_calls
        if c.target in pods
    ]
    edges += [
        Edge(smoke, pods[other], APP_PORT, port_name="http", why="smoke traffic reaches only its service")
        for name, smoke in pods.items()
        if name.startswith("smoke:")
        for other in http
        if other != name.removeprefix("smoke:")
    ][:6]
    edges += [
        Edge(pods[s.name], pods["critterops-exporter"], 9180, why="only Prometheus scrapes the exporter")
        for s in system.services
    ]
    edges += [
        Edge(pods[s.name], pods["otel-collector"], 8889, why="only Prometheus scrapes the collector")
        for s in system.services
    ]
    return edges


def _check(docs: list[dict[str, Any]], edges: list[Edge], expected: bool) -> list[str]:
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policies
    return [str(e) for e, allowed in zip(edges, verdicts(policies, edges), strict=True) if allowed != expected]


@pytest.fixture(scope="module")
def kits(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[System, Path]]:
    fixture = critter_conventions_repo(tmp_path_factory.mktemp("kennel"))
    return {
        "example": (discover(example_path()), generate(None, tmp_path_factory.mktemp("ex"), "kubernetes")),
        "fixture": (discover(fixture), generate(fixture, tmp_path_factory.mktemp("fx"), "kubernetes")),
    }


CASES = [pytest.param(kit, env, id=f"{kit}-{env}") for kit in ("example", "fixture") for env in ("dev", "production")]


@pytest.mark.parametrize(("kit", "env"), CASES)
def test_forbidden_edges_are_denied(lab: object, kits: dict[str, tuple[System, Path]], kit: str, env: str) -> None:
    system, out = kits[kit]
    docs = render(out, env)
    wrong = _check(docs, forbidden_edges(system, peers(docs)), expected=False)
    assert not wrong, "allowed although nothing needs it:\n" + "\n".join(wrong)


@pytest.mark.parametrize(("kit", "env"), CASES)
def test_every_required_edge_is_allowed(lab: object, kits: dict[str, tuple[System, Path]], kit: str, env: str) -> None:
    system, out = kits[kit]
    docs = render(out, env)
    managed = Peer("managed", ip="10.20.0.5") if env == "production" else None
    blocked = _check(docs, required_edges(system, peers(docs), managed), expected=True)
    assert not blocked, f"{len(blocked)} edges the system needs are blocked:\n" + "\n".join(blocked)
