"""Saga lifecycles: which states end a saga, which wait by design and for how long, and the table a saga lives in.

Below both the kit generator (``SagaStuckInState`` rules, runbooks) and the exporter/status (per-state
limits), so that alerts and ``critterops status`` agree and neither imports the other.

The code decides where it says something. When discovery read the saga's handlers (``Saga.steps``, see
:mod:`critterops.discover.csharp.sagas`), each state of its enum gets, in this order:

1. terminal when every handler that assigns it calls ``MarkCompleted()`` afterwards: Wolverine deletes the
   saga, so no document stays in that state;
2. the delay of a scheduled timeout plus :func:`timeout_slack` when the handler that enters the state
   schedules a message (``TimeoutMessage``, ``Delay``, ``DelayedFor``, ``ScheduleAsync``) whose handler
   leaves it, and no other handler that names the state in a guard does;
3. terminal when no handler can move a saga on from it (every handler that changes the state, or
   completes the saga, is guarded against it);
4. :data:`SAGA_DEFAULT_LIMIT` (or its well-known waiting limit) when a handler whose guard names the
   state (``if (Status == Shipped)``, ``case Shipped:``, ``Status is Cancelled or OutOfStock``) moves it on.

Where the code says nothing specific (a state that only unguarded handlers could leave, a state no
handler assigns) and for sagas whose handlers were not read, the well-known names in
:data:`SAGA_TERMINAL_STATES` and :data:`SAGA_WAITING_STATES` decide, and every other state alerts after
:data:`SAGA_DEFAULT_LIMIT`. :func:`saga_lifecycle` gives each state's verdict with its reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from critterops.configfile import LONG_DURATION, seconds
from critterops.model.system import Saga, SagaStep, System

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


@dataclass(frozen=True, slots=True)
class StateVerdict:
    """What the lifecycle says about one state: terminal (never alerted) or its limit, and why."""

    state: str
    limit: str | None  # a duration; None: terminal
    reason: str
    from_code: bool  # False: the well-known names decided, the code said nothing specific

    @property
    def terminal(self) -> bool:
        return self.limit is None


def timeout_slack(delay_s: float) -> float:
    """How long after a scheduled timeout's delay the state may still last: a tenth of the delay, at least
    5 minutes and at most an hour. Wolverine's durability agent polls for due scheduled envelopes every
    ``ScheduledJobPollingTime`` (5 s by default: JasperFx/wolverine ``src/Wolverine/DurabilitySettings.cs``,
    V6.29.2); the rest is for the handler's retries."""
    return min(max(delay_s * 0.1, 300.0), 3600.0)


def duration_text(value_s: float) -> str:
    """Seconds as the largest whole Prometheus unit: 1200 → ``20m``, 2595600 → ``721h``."""
    whole = max(1, round(value_s))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def saga_lifecycle(system: System, saga: Saga) -> tuple[StateVerdict, ...] | None:
    """Each state's verdict, from the saga's code (see the module docstring); None when discovery did not
    read its handlers or the states are unknown (then :func:`saga_limits` uses the names alone)."""
    states = saga_states(system, saga)
    if not saga.steps or not states:
        return None
    return tuple(_verdict(state, saga.steps) for state in states)


def _verdict(state: str, steps: tuple[SagaStep, ...]) -> StateVerdict:
    entries = [s for s in steps if s.action == "enter" and state in s.states]
    if not entries:
        return _by_name(state, "no handler assigns it")
    if all(s.completes for s in entries):
        return StateVerdict(
            state, None, "every handler that assigns it calls MarkCompleted(): the saga is deleted", True
        )
    exits = [
        s
        for s in steps
        if state in s.runs_in and (s.action == "complete" or (s.action == "enter" and set(s.states) - {state}))
    ]
    leaving = {s.handler for s in exits}
    timeouts = [
        (step.delay_s, step.message)
        for entry in entries
        if not entry.completes
        for step in steps
        if step.action == "schedule"
        and step.handler == entry.handler
        and step.delay_s is not None
        and step.message in leaving
        and (set(step.runs_in) & set(entry.runs_in) or not (step.runs_in or entry.runs_in))
    ]
    named = sorted({s.handler or "(creation)" for s in exits if state in s.named} - {m for _, m in timeouts})
    if timeouts and not named:
        delay, message = max(timeouts)
        limit = duration_text(delay + timeout_slack(delay))
        return StateVerdict(
            state, limit, f"left by {message}, scheduled {duration_text(delay)} after entering it", True
        )
    if not exits:
        return StateVerdict(state, None, "no handler moves a saga on from it", True)
    if named:
        limit = SAGA_WAITING_STATES.get(state, SAGA_DEFAULT_LIMIT)
        return StateVerdict(state, limit, "left by " + ", ".join(named) + " (a guard names it)", True)
    others = sorted({s.handler or "(creation)" for s in exits})
    shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    return _by_name(state, f"only handlers that do not guard on it could leave it ({shown})")


def _by_name(state: str, why: str) -> StateVerdict:
    if state in SAGA_TERMINAL_STATES:
        return StateVerdict(state, None, f"{why}; a well-known terminal name", False)
    if state in SAGA_WAITING_STATES:
        return StateVerdict(state, SAGA_WAITING_STATES[state], f"{why}; a well-known waiting name", False)
    return StateVerdict(state, SAGA_DEFAULT_LIMIT, why, False)


def saga_limits(system: System, saga: Saga) -> tuple[tuple[StateLimit, ...], tuple[str, ...], bool]:
    """(rules, terminal states, whether the states came from the enum) for one saga: from its lifecycle
    (:func:`saga_lifecycle`) when the code was read, else from the well-known names (for the enum's
    states, or the names themselves when the states are unknown)."""
    lifecycle = saga_lifecycle(system, saga)
    known = True
    if lifecycle is None:
        states = saga_states(system, saga)
        known = states is not None
        candidates = states if states is not None else (*SAGA_TERMINAL_STATES, *SAGA_WAITING_STATES)
        lifecycle = tuple(_by_name(state, "the handlers were not read") for state in candidates)
    terminal = tuple(v.state for v in lifecycle if v.terminal)
    active = tuple(v.state for v in lifecycle if v.limit == SAGA_DEFAULT_LIMIT)
    others = tuple(v.state for v in lifecycle if v.limit is not None and v.limit != SAGA_DEFAULT_LIMIT)
    rules = [StateLimit(SAGA_DEFAULT_LIMIT, active, (*terminal, *others), default=True)]
    by_limit: dict[str, list[str]] = {}
    for verdict in lifecycle:
        if verdict.limit is not None and verdict.limit != SAGA_DEFAULT_LIMIT:
            by_limit.setdefault(verdict.limit, []).append(verdict.state)
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
