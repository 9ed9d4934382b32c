"""CR117 manifest-missing-probes.

Bad: a container in a Deployment of the repository with no ``readinessProbe`` (or no ``livenessProbe``).
Good: both, on distinct endpoints, the liveness one not depending on PostgreSQL or RabbitMQ.

Without readiness a rolling update sends traffic to pods that are still starting (Marten and Wolverine
connect and may build their schema at startup); without liveness a hung process is never restarted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule
from critterops.review.rules._manifests import COMPLETE, DEPLOYMENT, FILE, PDB, RESOURCES, container_hits


def _missing(c: dict[str, Any]) -> list[str]:
    return [p for p in ("readinessProbe", "livenessProbe") if not isinstance(c.get(p), dict)]


def check(ctx: ReviewContext) -> Iterator[Hit]:
    return container_hits(ctx, _missing)


RULE = Rule(
    id="CR117",
    name="manifest-missing-probes",
    severity="warning",
    summary="a container in the repository's manifests without readiness or liveness probe",
    why="rollouts send traffic to pods still starting, and hung processes are never restarted",
    fix="add a readinessProbe and a livenessProbe on endpoints mapped in production",
    check=check,
    cases=(
        Case("no-probes", {FILE: DEPLOYMENT + RESOURCES + PDB}, ((FILE, 17),)),
        Case("complete", {FILE: COMPLETE}),
    ),
)
