"""How critterops rolls out a service that consumes messages: the contract shared by the plan, the local
backend and the Kubernetes kit.

**Share of messages.** RabbitMQ gives a queue's messages to its consumers in turn, skipping any whose
prefetch window is full (competing consumers). So a version's share of a queue is its share of the
queue's consumers while no consumer is saturated, and its share of the handling capacity when all are.
critterops sets the share by consumer count: locally, by the listener count of each version
(``CRITTEROPS_LISTENERS``, which the service maps to Wolverine's ``ListenerCount(n)``,
src/Wolverine/Configuration/ListenerConfiguration.cs:437 at V6.29.2); on Kubernetes, by Argo Rollouts'
replica ratio (a canary without traffic routing scales the ReplicaSets to the weight). The realised share
is measured per version from the handlers' own counters and reported beside the planned weight.

**Preview isolation (blue/green).** A preview must not consume live messages before promotion. Wolverine
has ``WolverineOptions.DisableAllExternalListeners`` (src/Wolverine/WolverineOptions.cs:592), read once by
``EndpointCollection.StartListenersAsync`` (Configuration/EndpointCollection.cs:353), and
``IEndpointCollection.StartListenerAsync`` / ``StopListenerAsync`` (EndpointCollection.cs:47-48) to start
and stop a listener later. The contract:

- critterops tells a version its role in ``CRITTEROPS_ROLE`` (``preview`` or ``active``) at start, and keeps
  the current role in the file named by ``CRITTEROPS_ROLE_FILE``; on Kubernetes both come from the pod label
  ``critterops.dev/role``, which Argo's ``previewMetadata`` / ``activeMetadata`` set and change on promotion
  (the downward API updates the file, not the variable);
- the service binds ``DisableAllExternalListeners`` to ``CRITTEROPS_ROLE == "preview"`` and, when the file
  turns ``active``, starts its listeners with ``StartListenerAsync``.

critterops recognises the first half in Program.cs (``DisableAllExternalListeners`` assigned from anything but
a literal). A consumer without it gets a canary by consumer share instead of blue/green, and the plan says why.

**Drain.** No version is stopped while it holds unacknowledged messages: critterops sends SIGTERM (Wolverine
stops its listeners and drains in-flight messages on shutdown), waits for the process to end and for the
broker to show no unacknowledged message on its connections, bounded by the drain timeout, and reports the
wait.
"""

from __future__ import annotations

import math
from typing import Final

from critterops.model import Service

ROLE_ENV: Final = "CRITTEROPS_ROLE"
ROLE_FILE_ENV: Final = "CRITTEROPS_ROLE_FILE"
ROLE_LABEL: Final = "critterops.dev/role"
PREVIEW, ACTIVE = "preview", "active"
LISTENERS_ENV: Final = "CRITTEROPS_LISTENERS"
VERSION_ENV: Final = "CRITTEROPS_VERSION"
DRAIN_TIMEOUT_S: Final = 60.0
MAX_LISTENERS: Final = 200


def traffic(service: Service | None) -> str:
    """``http``, ``messages``, ``http+messages`` or ``none``: what a service receives."""
    if service is None:
        return "none"
    http = service.http_port is not None or service.kind in ("api", "web")
    messages = bool(service.listens) or bool(service.wolverine and service.wolverine.handled_messages)
    if http and messages:
        return "http+messages"
    return "http" if http else "messages" if messages else "none"


def holds_listeners(service: Service | None) -> bool:
    """True when the service can start as a preview that consumes nothing (see the module's contract)."""
    return bool(service and service.wolverine and service.wolverine.listeners_held)


def listener_split(weight: float, stable_listeners: int) -> int:
    """The canary's listener count for ``weight`` percent of messages beside ``stable_listeners`` listeners.

    ``c / (s + c) ≈ w`` gives ``c = w·s / (1 − w)``, rounded, at least 1 while the weight is above 0.
    """
    if weight <= 0:
        return 0
    if weight >= 100:
        return stable_listeners
    share = weight / 100.0
    return max(1, min(MAX_LISTENERS, round(share * stable_listeners / (1.0 - share))))


def stable_listeners_for(weights: list[int] | tuple[int, ...], error: float = 0.2) -> int:
    """The smallest stable listener count that realises every weight within ``error`` (relative).

    With 1 % steps that is 99 stable listeners beside 1; with 10 % steps, 9 beside 1.
    """
    steps = [w for w in weights if 0 < w < 100]
    if not steps:
        return 1
    for stable in range(1, MAX_LISTENERS + 1):
        if all(_relative_error(w, stable) <= error for w in steps):
            return stable
    return MAX_LISTENERS


def _relative_error(weight: int, stable: int) -> float:
    canary = listener_split(weight, stable)
    realised = canary / (canary + stable)
    return abs(realised - weight / 100.0) / (weight / 100.0)


def replica_split(weight: int, replicas: int, max_surge: int = 1) -> tuple[int, int]:
    """Argo Rollouts' basic canary without traffic routing: (canary, stable) pods at ``weight`` percent.

    The closest of ceil/floor(weight·replicas/100) over ``replicas`` pods, or over ``replicas + 1`` when the
    Rollout may surge; a weight of 1-99 never gets 0 canary pods (argo-rollouts v1.9.1
    utils/replicaset/canary.go:218-289, approximateWeightedCanaryStableReplicaCounts).
    """
    if replicas <= 0:
        return 0, 0
    exact = replicas * weight / 100
    ceil_count, floor_count = math.ceil(exact), math.floor(exact)

    def tied(total: int) -> bool:
        return math.modf(total * (weight / 100))[0] == 0.5

    zero_allowed = weight in (0, 100) or (replicas == 1 and max_surge == 0)
    options: list[tuple[int, int]] = []
    if ceil_count < replicas or zero_allowed:
        options.append((ceil_count, replicas))
    if not tied(replicas) and (floor_count != 0 or zero_allowed):
        options.append((floor_count, replicas))
    if max_surge > 0:
        options.append((ceil_count, replicas + 1))
        if not tied(replicas + 1) and (floor_count != 0 or zero_allowed):
            options.append((floor_count, replicas + 1))
    if not options:
        return 0, replicas
    best = options[0]
    for option in options[1:]:
        if abs(option[0] * 100 / option[1] - weight) < abs(best[0] * 100 / best[1] - weight):
            best = option
    return best[0], best[1] - best[0]


__all__ = [
    "ACTIVE",
    "DRAIN_TIMEOUT_S",
    "LISTENERS_ENV",
    "PREVIEW",
    "ROLE_ENV",
    "ROLE_FILE_ENV",
    "ROLE_LABEL",
    "VERSION_ENV",
    "holds_listeners",
    "listener_split",
    "replica_split",
    "stable_listeners_for",
    "traffic",
]
