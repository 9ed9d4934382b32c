"""Kits placed in the lab: the changes a user makes to run a generated kit in a cluster of their own.

Each change is named: the namespace (each test or demo gets a fresh one), the address of Prometheus in
the AnalysisTemplates (the lab's, instead of ``prometheus.monitoring.svc``) and, with ``fast``, shorter
pauses and analysis intervals so that a rollout walks in seconds what it walks in minutes in production.
"""

from __future__ import annotations

import copy
from typing import Any

CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PriorityClass",
    "StorageClass",
    "ClusterAnalysisTemplate",
}


def into_namespace(docs: list[dict[str, Any]], namespace: str) -> list[dict[str, Any]]:
    """The objects with their namespace set to ``namespace`` (namespaced kinds only); Namespace objects dropped."""
    placed = []
    for doc in docs:
        if doc["kind"] == "Namespace":
            continue
        doc = copy.deepcopy(doc)
        if doc["kind"] not in CLUSTER_SCOPED:
            doc["metadata"]["namespace"] = namespace
        placed.append(doc)
    return placed


def for_lab(docs: list[dict[str, Any]], prometheus: str, fast: bool = False) -> list[dict[str, Any]]:
    """Point analyses at the lab's Prometheus; with ``fast``, pauses of 3 s and analyses every 2 s after 20 s.

    ``fast`` keeps every other value (counts, limits, conditions, queries) as generated, so the
    decisions are the kit's own; only the clock runs faster.
    """
    out = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        if doc["kind"] == "AnalysisTemplate":
            for metric in doc["spec"]["metrics"]:
                provider = metric.get("provider", {})
                if "prometheus" in provider:
                    provider["prometheus"]["address"] = prometheus
                if fast:
                    if "interval" in metric:
                        metric["interval"] = "2s"
                    if "initialDelay" in metric:
                        # a stand-in's first samples take a few seconds to reach Prometheus, more on a loaded
                        # machine (each stand-in is a Python process starting the OpenTelemetry SDK): with 10 s a
                        # blue/green pre-promotion run sometimes spent its 5 measurements (10 s) before 3
                        # consecutive ones had data, ended Inconclusive and paused the Rollout, as designed
                        metric["initialDelay"] = "20s"
        if doc["kind"] == "Rollout" and fast:
            strategy = doc["spec"]["strategy"]
            for step in strategy.get("canary", {}).get("steps", []):
                if "pause" in step and "duration" in step["pause"]:
                    step["pause"]["duration"] = "3s"
            if "blueGreen" in strategy and "scaleDownDelaySeconds" in strategy["blueGreen"]:
                strategy["blueGreen"]["scaleDownDelaySeconds"] = 5
        out.append(doc)
    return out
