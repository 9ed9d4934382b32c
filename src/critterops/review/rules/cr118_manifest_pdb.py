"""CR118 manifest-missing-pdb.

Bad: a Deployment with ``replicas: 2`` and no PodDisruptionBudget selecting its pods. Good: a
``policy/v1`` PodDisruptionBudget with ``maxUnavailable: 1`` and the pod template's labels as selector.

A node drain (cluster upgrade, autoscaler) may evict every replica at once without one: the service
is down, and its RabbitMQ queues stop being consumed, while nothing was deployed. Single-replica
workloads are not reported (a PDB cannot keep one pod up without blocking the drain).
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.context import ReviewContext, template_labels
from critterops.review.model import Case, Hit, Rule
from critterops.review.rules._manifests import COMPLETE, DEPLOYMENT, FILE, PROBES, RESOURCES


def check(ctx: ReviewContext) -> Iterator[Hit]:
    pdbs = [m for m in ctx.manifests() if m.kind == "PodDisruptionBudget"]
    for m in ctx.workloads():
        spec = m.doc.get("spec") if isinstance(m.doc.get("spec"), dict) else {}
        replicas = spec.get("replicas", 1) if isinstance(spec, dict) else 1
        if not isinstance(replicas, int) or replicas < 2 or m.kind == "DaemonSet":
            continue
        labels = template_labels(m.doc)
        covered = False
        for pdb in pdbs:
            if pdb.namespace != m.namespace:
                continue
            selector = (pdb.doc.get("spec") or {}).get("selector") or {}
            match = selector.get("matchLabels") if isinstance(selector, dict) else None
            if isinstance(match, dict) and match and all(labels.get(str(k)) == str(v) for k, v in match.items()):
                covered = True
        if not covered:
            yield Hit(
                m.file,
                m.line,
                f"{m.kind}/{m.name} runs {replicas} replicas and no PodDisruptionBudget selects its pods",
                anchor=f"{m.kind}/{m.name}",
            )


RULE = Rule(
    id="CR118",
    name="manifest-missing-pdb",
    severity="warning",
    summary="a replicated workload in the repository's manifests without a PodDisruptionBudget",
    why="a node drain may evict all replicas at once: an outage, and queues left unconsumed, with no deploy",
    fix="add a policy/v1 PodDisruptionBudget (maxUnavailable: 1) selecting the pod template's labels",
    check=check,
    cases=(
        Case("no-pdb", {FILE: DEPLOYMENT + PROBES + RESOURCES}, ((FILE, 1),)),
        Case("with-pdb", {FILE: COMPLETE}),
        Case("single-replica", {FILE: (DEPLOYMENT + PROBES + RESOURCES).replace("replicas: 2", "replicas: 1")}),
    ),
)
