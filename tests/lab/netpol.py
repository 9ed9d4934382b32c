"""NetworkPolicy verdicts from an engine that is not ours: cyclonus (``analyze --mode query-traffic``).

sigs.k8s.io/network-policy-api's policy-assistant is not served by the Go module proxy (its nested module
names another path than its folder), so the lab builds cyclonus, the project policy-assistant grew out
of. cyclonus evaluates ``networking.k8s.io/v1`` NetworkPolicies for a pod-to-pod (or pod-to-IP) tuple of
namespace labels, pod labels, port and protocol, ingress at the destination and egress at the source
together, without a CNI. Its CLI reads one policy per file (a multi-document file keeps only the first:
every policy gets a file of its own here) and prints a table per tuple ending in ``| IS ALLOWED? | TRUE |``.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .cluster import BUILD


@dataclass(frozen=True)
class Peer:
    """A pod (namespace and labels) or, with no namespace, an address outside the cluster."""

    name: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str = "10.244.99.1"
    ns_labels: dict[str, str] = field(default_factory=dict)

    def cyclonus(self) -> dict[str, Any]:
        if self.namespace is None:
            return {"IP": self.ip}
        labels = {"kubernetes.io/metadata.name": self.namespace, **self.ns_labels}
        return {
            "Internal": {"Namespace": self.namespace, "NamespaceLabels": labels, "PodLabels": self.labels},
            "IP": self.ip,
        }


@dataclass(frozen=True)
class Edge:
    source: Peer
    target: Peer
    port: int
    protocol: str = "TCP"
    port_name: str = ""
    why: str = ""

    def __str__(self) -> str:
        where = lambda p: f"{p.namespace}/{p.name}" if p.namespace else p.ip  # noqa: E731
        return f"{where(self.source)} -> {where(self.target)} {self.protocol}/{self.port} ({self.why})"


VERDICT = re.compile(r"^\| IS ALLOWED\? \|\s*(TRUE|FALSE)\s*\|", re.M)


def verdicts(policies: list[dict[str, Any]], edges: list[Edge]) -> list[bool]:
    """Allowed or not, per edge, as cyclonus decides for these policies."""
    binary = BUILD.COMPONENTS["cyclonus"].path("cyclonus")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "policies"
        folder.mkdir()
        for index, policy in enumerate(policies):
            (folder / f"{index:03d}.yaml").write_text(yaml.safe_dump(policy))
        traffic = [
            {
                "Source": e.source.cyclonus(),
                "Destination": e.target.cyclonus(),
                "Protocol": e.protocol,
                "ResolvedPort": e.port,
                "ResolvedPortName": e.port_name,
            }
            for e in edges
        ]
        (Path(tmp) / "traffic.json").write_text(json.dumps(traffic))
        done = subprocess.run(
            [
                str(binary),
                "analyze",
                "--mode",
                "query-traffic",
                "--policy-path",
                str(folder),
                "--traffic-path",
                str(Path(tmp) / "traffic.json"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, f"cyclonus failed: {done.stderr[-2000:]}"
    found = [v == "TRUE" for v in VERDICT.findall(done.stdout)]
    assert len(found) == len(edges), f"cyclonus gave {len(found)} verdicts for {len(edges)} edges"
    return found
