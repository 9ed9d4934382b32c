"""CR116 manifest-missing-resources.

Bad: a container in a Deployment of the repository with no ``resources``. Good: requests (cpu, memory) and a
memory limit.

Without requests the scheduler packs pods blindly and the pod is first to be evicted (BestEffort); without a
memory limit one leaking .NET process can starve its node. Only manifests the repository already has are
read (the kit writes its own with both).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule
from critterops.review.rules._manifests import COMPLETE, DEPLOYMENT, FILE, PDB, PROBES, container_hits


def _missing(c: dict[str, Any]) -> list[str]:
    resources = c.get("resources") if isinstance(c.get("resources"), dict) else {}
    assert isinstance(resources, dict)
    return [
        what
        for what, ok in (
            ("requests", isinstance(resources.get("requests"), dict) and resources["requests"]),
            ("memory limit", isinstance(resources.get("limits"), dict) and "memory" in resources["limits"]),
        )
        if not ok
    ]


def check(ctx: ReviewContext) -> Iterator[Hit]:
    return container_hits(ctx, _missing)


RULE = Rule(
    id="CR116",
    name="manifest-missing-resources",
    severity="warning",
    summary="a container in the repository's manifests without resource requests or a memory limit",
    why="the scheduler places it blindly, it is evicted first, and a leak can starve the node",
    fix="set resources.requests (cpu, memory) and resources.limits.memory",
    check=check,
    cases=(
        Case("no-resources", {FILE: DEPLOYMENT + PROBES + PDB}, ((FILE, 17),)),
        Case("complete", {FILE: COMPLETE}),
    ),
)
