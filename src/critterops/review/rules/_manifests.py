"""Shared by the manifest rules (CR116-CR118): a workload written the way a hand-made repository often has it,
and the walk over the containers of the repository's workloads."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from critterops.review.context import ReviewContext, containers
from critterops.review.model import Hit


def container_hits(ctx: ReviewContext, missing: Callable[[dict[str, Any]], list[str]]) -> Iterator[Hit]:
    """A hit on each container of the repository's workloads for which ``missing`` names something, at the
    container's ``name:`` line."""
    for m in ctx.workloads():
        for c in containers(m.doc):
            absent = missing(c)
            if absent:
                name = str(c.get("name", "?"))
                line = ctx.find_line(m.file, f"- name: {name}", m.line, 0) or ctx.find_line(
                    m.file, f"name: {name}", m.line, m.line
                )
                yield Hit(
                    m.file,
                    line,
                    f"{m.kind}/{m.name} container {name} has no {' and no '.join(absent)}",
                    anchor=f"{m.kind}/{m.name}/{name}",
                )


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders-api
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels:
      app: orders-api
  template:
    metadata:
      labels:
        app: orders-api
    spec:
      containers:
        - name: orders-api
          image: registry.example.com/orders-api:1.4.2
          ports:
            - containerPort: 8080
"""
PROBES = """          readinessProbe:
            httpGet: {path: /health/ready, port: 8080}
          livenessProbe:
            httpGet: {path: /health/live, port: 8080}
"""
RESOURCES = """          resources:
            requests: {cpu: 100m, memory: 256Mi}
            limits: {memory: 512Mi}
"""
PDB = """---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: orders-api
  namespace: shop
spec:
  maxUnavailable: 1
  selector:
    matchLabels:
      app: orders-api
"""
FILE = "deploy/orders-api.yaml"
COMPLETE = DEPLOYMENT + PROBES + RESOURCES + PDB
