"""Saga lifecycles: which states end a saga, which wait by design and for how long, and the table a saga lives in.

Below both the kit generator (``SagaStuckInState`` rules, runbooks) and the exporter/status (per-state
limits), so that alerts and ``critterops status`` agree and neither imports the other.

When discovery gives the state member's enum (a ``TypeInfo`` of kind ``enum`` with that name in
``system.contracts``), rules name its members; otherwise they match the well-known names in
:data:`SAGA_TERMINAL_STATES` and :data:`SAGA_WAITING_STATES`. Every state that is neither terminal nor
waiting by design alerts after :data:`SAGA_DEFAULT_LIMIT`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from critterops.configfile import LONG_DURATION, seconds
from critterops.model.system import Saga, System

SAGA_DEFAULT_LIMIT: Final = "5m"
SAGA_TERMINAL_STATES: Final = (
    "Completed",
    "Complete",
    "Closed",
    "Cancelled",
    "Canceled",
    "Finished",
    "Done",
    "Aborted",
    "Archived",
    "Rejected",
    "Declined",
    "Refunded",
    "Expired",
    "Failed",
    "PaymentFailed",
    "OutOfStock",
)
"""States that end a saga: never alerted on (Wolverine deletes completed sagas, so rows in these
states are kept on purpose or are finishing their compensation)."""

SAGA_WAITING_STATES: Final[Mapping[str, str]] = {
    "PendingPayment": "1h",
    "AwaitingPayment": "1h",
    "OnHold": "2d",
    "AwaitingApproval": "2d",
    "Fulfilling": "3d",
    "Reshipping": "3d",
    "Shipped": "15d",
    "InTransit": "15d",
    "DeliveryFailed": "15d",
    "Backordered": "30d",
    "Delivered": "31d",
}
"""States that wait for people, carriers or scheduled messages by design, and how long is too long:
``Shipped`` waits for the carrier (the example polls for two weeks), ``Delivered`` for the 30-day
return window's scheduled ``ReturnWindowExpired``."""


def duration_seconds(duration: str) -> float:
    """``"31d"`` → 2678400.0 (Prometheus durations: ms, s, m, h, d, w)."""
    return seconds(duration, LONG_DURATION)


def saga_table(name: str) -> str:
    """Marten's document table for a saga type: ``mt_doc_`` + the lower-cased type name (nested types get
    the declaring type's name and ``_`` in front, which the model does not record: set ``table`` then)."""
    return f"mt_doc_{name.lower()}"


def saga_states(system: System, saga: Saga) -> tuple[str, ...] | None:
    """The members of the saga's state enum when the model has it, else None."""
    if saga.states:
        return saga.states
    member = next((mb for mb in saga.members if mb.name == saga.state_member), None)
    if member is None:
        return None
    type_name = member.type.rstrip("?").rsplit(".", 1)[-1]
    for info in system.contracts:
        if info.kind == "enum" and info.name == type_name:
            return tuple(mb.name for mb in info.members)
    return None


@dataclass(frozen=True, slots=True)
class StateLimit:
    """One saga rule: the states it covers and how long one may sit in them."""

    limit: str  # a duration, e.g. 5m or 31d
    states: tuple[str, ...]  # the states named (for the default rule: those known to fall under it)
    excluded: tuple[str, ...] = ()  # the default rule matches every state except these
    default: bool = False


def saga_limits(system: System, saga: Saga) -> tuple[tuple[StateLimit, ...], tuple[str, ...], bool]:
    """(rules, terminal states, whether the states came from the enum) for one saga."""
    states = saga_states(system, saga)
    known = states is not None
    candidates = states if states is not None else (*SAGA_TERMINAL_STATES, *SAGA_WAITING_STATES)
    terminal = tuple(s for s in candidates if s in SAGA_TERMINAL_STATES)
    waiting = [s for s in candidates if s in SAGA_WAITING_STATES]
    active = tuple(s for s in (states or ()) if s not in terminal and s not in waiting)
    rules = [StateLimit(SAGA_DEFAULT_LIMIT, active, (*terminal, *waiting), default=True)]
    by_limit: dict[str, list[str]] = {}
    for state in waiting:
        by_limit.setdefault(SAGA_WAITING_STATES[state], []).append(state)
    for limit in sorted(by_limit, key=duration_seconds):
        rules.append(StateLimit(limit, tuple(by_limit[limit])))
    return tuple(rules), terminal, known


def saga_state_limits(system: System) -> tuple[tuple[str, str, float], ...]:
    """Per-state limits the generated SagaStuckInState rules use, so status and alerts agree."""
    out: list[tuple[str, str, float]] = []
    for service in system.services:
        for saga in service.sagas:
            rules, terminal, _ = saga_limits(system, saga)
            for rule in rules:
                for state in rule.states:
                    out.append((saga.name, state, float(duration_seconds(rule.limit))))
            out += [(saga.name, state, float("inf")) for state in terminal]
    return tuple(out)
