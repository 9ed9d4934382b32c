"""Drive a rollout of a message consumer on this machine: no proxy, the queue itself shares the messages.

The state machine is the HTTP rollout's (:mod:`critterops.rollout.engine`); only the backend differs
(the contract is in :mod:`critterops.plan.consumers`):

- **weight → listeners.** Stable runs ``stable_listeners`` listeners; a canary weight ``w`` runs the new
  version with ``listener_split(w, stable)`` listeners, so its share of the queue's consumers is ``w``.
  Wolverine reads its listener count at start, so a new weight starts a new canary process with the new
  count and then drains the old one (make before break: the queue always has its consumers).
- **judging on handlers.** Every interval, each version's handler counters (``/metrics`` of each process:
  Wolverine's messages succeeded, execution failures, execution time) become a look: attempts, failed
  attempts, mean handling time. The realised share of received messages is recorded per weight step.
- **blue/green.** The preview starts with ``CRITTEROPS_ROLE=preview`` and its role file ``preview``, so it
  consumes nothing; critterops checks that at the broker (the preview's connections hold no consumer) and
  rolls back a preview that consumes anyway. The switch writes ``active`` to the new version's role file and
  ``preview`` to the old one's: the old version stops consuming but keeps running until the scale-down.
- **drain.** A version is stopped with SIGTERM and given ``drain_timeout_s`` to finish and ack what it
  holds; the unacknowledged messages it held (from the broker) and the time it took are logged, and a
  SIGKILL after the timeout is logged as such (its unacked messages return to the queue: at-least-once).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from critterops.errors import BackendError, UserError
from critterops.plan.consumers import (
    ACTIVE,
    LISTENERS_ENV,
    PREVIEW,
    ROLE_ENV,
    ROLE_FILE_ENV,
    VERSION_ENV,
    listener_split,
)
from critterops.rollout.engine import Action, Observation, RolloutSpec, State, advance, start
from critterops.rollout.judges import Counts, Look
from critterops.rollout.local.outbox import OutboxWatch
from critterops.rollout.local.processes import LOOPBACK, VersionProcess, http_status, pid_alive
from critterops.rollout.local.rabbit import Management, Publisher
from critterops.rollout.runner import Driven, Progress
from critterops.rollout.store import Runtime, Store
from critterops.watch import promtext

STABLE, CANARY = "stable", "canary"
SUCCEEDED = "wolverine_messages_succeeded_Messages_total"
FAILED = "wolverine_execution_failure_Messages_total"
RECEIVED = "wolverine_messages_received_Messages_total"
TIME_SUM, TIME_COUNT = "wolverine_execution_time_milliseconds_sum", "wolverine_execution_time_milliseconds_count"


@dataclass(frozen=True)
class Totals:
    """One process's handler counters at one moment."""

    received: float = 0.0
    succeeded: float = 0.0
    failed: float = 0.0
    time_sum: float = 0.0
    time_count: float = 0.0


def read_totals(port: int, timeout: float = 2.0) -> Totals | None:
    """The handler counters a process exposes on ``/metrics`` (None: it did not answer)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("GET", "/metrics", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        if response.status != 200:
            return None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    sums: dict[str, float] = {}
    for item in promtext.parse(body).samples:
        sums[item.name] = sums.get(item.name, 0.0) + item.value
    return Totals(
        sums.get(RECEIVED, 0.0),
        sums.get(SUCCEEDED, 0.0),
        sums.get(FAILED, 0.0),
        sums.get(TIME_SUM, 0.0),
        sums.get(TIME_COUNT, 0.0),
    )


@dataclass
class _Version:
    process: VersionProcess | None
    pid: int
    port: int
    listeners: int
    role_file: Path


@dataclass
class _Step:
    weight: int
    planned_listeners: tuple[int, int]
    received: dict[str, float] = field(default_factory=lambda: {STABLE: 0.0, CANARY: 0.0})


class ConsumerRollout(Driven):
    """One rollout of one message-consuming service on this machine (same interface as LocalRollout)."""

    def __init__(self, store: Store, spec: RolloutSpec, runtime: Runtime) -> None:
        if not runtime.queue or not runtime.amqp:
            raise UserError("a consumer rollout needs --queue and --amqp")
        self.store, self.spec, self.runtime = store, spec, runtime
        self.management = Management(runtime.management) if runtime.management else None
        self.outbox = OutboxWatch(runtime.outbox_dsn, runtime.outbox_schema) if runtime.outbox_dsn else None
        self.versions: dict[str, _Version] = {}
        self.last: dict[int, Totals] = {}
        self.look_at = 0.0
        self.state: State | None = None
        self.step: _Step | None = None
        self.generation = 0
        self.load: Publisher | None = None
        self.stable_listeners = max(1, runtime.stable_listeners)

    # -- processes ------------------------------------------------------------------------------------------

    def _spawn(self, role: str, listeners: int, held: bool = False) -> _Version:
        self.generation += 1
        name = f"{role}-{self.generation}"
        folder = self.store.folder
        role_file = folder / f"{name}.role"
        role_file.write_text(PREVIEW if held else ACTIVE, encoding="utf-8")
        command = self.runtime.stable_command if role == STABLE else self.runtime.canary_command
        env = {
            LISTENERS_ENV: str(listeners),
            ROLE_ENV: PREVIEW if held else ACTIVE,
            ROLE_FILE_ENV: str(role_file),
            VERSION_ENV: role,
        }
        process = VersionProcess(name, command, folder, env=env).start()
        try:
            process.wait_healthy(self.runtime.health_path, timeout=60)
        except BackendError:
            process.stop()
            raise
        assert process.pid is not None
        version = _Version(process, process.pid, process.port, listeners, role_file)
        self._remember()
        return version

    def _remember(self) -> None:
        self.runtime.pids = {role: v.pid for role, v in self.versions.items()}
        self.runtime.ports = {role: v.port for role, v in self.versions.items()}
        self.runtime.listeners = {role: v.listeners for role, v in self.versions.items()}

    def _drain(self, version: _Version, label: str) -> str:
        """SIGTERM, then wait up to the drain timeout; what happened, in one line for the log."""
        held: int | None = None
        if self.management is not None:
            with contextlib.suppress(BackendError):
                held = self.management.unacked_of([version.pid])
        nodes: set[int] | None = None
        if self.outbox is not None:
            with contextlib.suppress(BackendError):
                nodes = self.outbox.nodes()
        started = time.monotonic()
        timeout = self.runtime.drain_timeout_s
        if version.process is not None:
            code = version.process.stop(grace=timeout)
        else:  # reattached after a controller restart: only the pid is known
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(version.pid, signal.SIGTERM)
            deadline = started + timeout
            while pid_alive(version.pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            code = None
            if pid_alive(version.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(version.pid, signal.SIGKILL)
                code = -signal.SIGKILL
        self.last.pop(version.pid, None)
        took = time.monotonic() - started
        holding = "" if held is None else f", holding {held} unacknowledged message(s) at SIGTERM"
        outbox = self._outbox_after(nodes, max(1.0, timeout - took))
        if code == -signal.SIGKILL:
            return (
                f"{label} did not drain within {timeout:g}s{holding}: killed; what it held returns to the queue "
                f"(at-least-once){outbox}"
            )
        return f"{label} drained and stopped in {took:.1f}s{holding}{outbox}"

    def _outbox_after(self, before: set[int] | None, timeout: float) -> str:
        if self.outbox is None or before is None:
            return ""
        try:
            gone, left, waited = self.outbox.wait_released(before, timeout)
        except BackendError as error:
            return f"; {error}"
        if not gone:
            return "; its outbox: no Wolverine node left wolverine_nodes"
        if left:
            return (
                f"; its outbox: {left} outgoing envelope(s) still owned by node(s) {sorted(gone)} after {waited:.1f}s "
                "(orphaned: another node's durability agent recovers them)"
            )
        return f"; its outbox: drained (node(s) {sorted(gone)} own no outgoing envelope)"

    # -- setup ----------------------------------------------------------------------------------------------

    def launch(self, now: float) -> None:
        self.store.folder.mkdir(parents=True, exist_ok=True)
        self.versions[STABLE] = self._spawn(STABLE, self.stable_listeners)
        if self.spec.strategy == "bluegreen":
            try:
                self.versions[CANARY] = self._spawn(CANARY, self.stable_listeners, held=True)
            except BackendError:
                self.shutdown()
                raise
        self._remember()
        self.store.save_rollout(self.spec, self.runtime)
        self.state, actions = start(self.spec, now)
        self._act(actions)
        self.store.save_state(self.state)
        self.look_at = now
        self._baseline()

    def reattach(self) -> None:
        self.state = self.store.load_state()
        if self.state is None:
            raise BackendError("the rollout has no saved state; start it again")
        for role, pid in self.runtime.pids.items():
            port = self.runtime.ports.get(role, 0)
            listeners = self.runtime.listeners.get(role, self.stable_listeners)
            role_file = next(iter(sorted(self.store.folder.glob(f"{role}-*.role"))), self.store.folder / "none")
            self.versions[role] = _Version(None, pid, port, listeners, role_file)
        self.look_at = time.time()
        self._baseline()

    def _baseline(self) -> None:
        for version in self.versions.values():
            totals = read_totals(version.port)
            if totals is not None:
                self.last[version.pid] = totals

    # -- the loop -------------------------------------------------------------------------------------------

    def _alive(self, role: str) -> bool:
        version = self.versions.get(role)
        if version is None:
            return True  # no canary at weight 0
        if version.process is not None and not version.process.alive():
            return False
        if version.process is None and not pid_alive(version.pid):
            return False
        return http_status(version.port, self.runtime.health_path, timeout=2.0) == 200

    def _preview_consumes(self) -> bool:
        """Blue/green before the switch: does the preview hold a consumer on the queue? (It must not.)"""
        canary = self.versions.get(CANARY)
        if canary is None:
            return False
        totals = read_totals(canary.port)  # its own counters know at once; the broker's statistics lag a second
        if totals is not None and totals.received > 0:
            return True
        if self.management is None or self.runtime.queue is None:
            return False
        try:
            return (self.management.unacked_of([canary.pid]) or 0) > 0 or _consumes(
                self.management, self.runtime.queue, canary.pid
            )
        except BackendError:
            return False

    def _delta(self, role: str) -> tuple[Counts, float] | None:
        version = self.versions.get(role)
        if version is None:
            return Counts(0, 0, None), 0.0
        totals = read_totals(version.port)
        if totals is None:
            return None
        before = self.last.get(version.pid, Totals())
        self.last[version.pid] = totals
        attempts = max(0, round((totals.succeeded - before.succeeded) + (totals.failed - before.failed)))
        failed = min(attempts, max(0, round(totals.failed - before.failed)))
        count = totals.time_count - before.time_count
        latency = (totals.time_sum - before.time_sum) / count if count > 0 else None
        return Counts(attempts, failed, latency), max(0.0, totals.received - before.received)

    def observe(self, now: float) -> Observation:
        assert self.state is not None
        look: Look | None = None
        available = True
        if now - self.look_at >= self.spec.analysis.interval_s:
            self.look_at = now
            stable, canary = self._delta(STABLE), self._delta(CANARY)
            if stable is None or canary is None:
                available = False
            else:
                look = Look(round(now - self.state.started, 3), stable[0], canary[0])
                if self.step is not None:
                    self.step.received[STABLE] += stable[1]
                    self.step.received[CANARY] += canary[1]
                    self._record_share()
        command = self.store.take_command()
        problem: str | None = None
        healthy = self.state.promoted or self._alive(CANARY)
        if healthy and self.spec.strategy == "bluegreen" and not self.state.switched and self._preview_consumes():
            healthy = False
            problem = (
                "the preview consumes live messages before promotion: it does not hold its listeners "
                f"({ROLE_ENV}=preview; see critterops.plan.consumers)"
            )
        return Observation(now, healthy, True, True, look, available, command, problem)

    def _record_share(self) -> None:
        assert self.step is not None
        total = self.step.received[STABLE] + self.step.received[CANARY]
        entry = {
            "weight": float(self.step.weight),
            "stable_listeners": float(self.step.planned_listeners[0]),
            "canary_listeners": float(self.step.planned_listeners[1]),
            "messages": total,
            "realised": round(self.step.received[CANARY] / total, 4) if total else -1.0,
        }
        shares = [s for s in self.runtime.shares if s.get("weight") != entry["weight"]]
        self.runtime.shares = [*shares, entry]

    def tick(self, now: float) -> Progress:
        assert self.state is not None
        observation = self.observe(now)
        self.state, actions = advance(self.spec, self.state, observation)
        self._act(actions)
        self.store.save_rollout(self.spec, self.runtime)
        self.store.save_state(self.state)
        return Progress(self.state, observation.look)

    def _log(self, message: str) -> None:
        if self.state is not None:
            self.state = self.state.log(time.time(), message)

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if action.kind == "set-weight":
                self._weight(int(action.weight or 0))
            elif action.kind in ("stop-canary", "restore-proxy"):
                self._activate(STABLE)  # make before break: the old version consumes again first
                self._stop(CANARY, "the new version")
            elif action.kind == "stop-stable":
                self._stop(STABLE, "the old version")
                if CANARY in self.versions:
                    self.versions[STABLE] = self.versions.pop(CANARY)  # the new version is the stable one now
        self._remember()

    def _weight(self, weight: int) -> None:
        if self.spec.strategy == "bluegreen":
            if weight >= 100 and CANARY in self.versions:
                _set_role(self.versions[CANARY], ACTIVE)
                _set_role(self.versions[STABLE], PREVIEW)
                self._log("switched: the new version consumes; the old one stopped consuming and stays up")
            return
        stable = self.stable_listeners
        canary = stable if weight >= 100 else listener_split(weight, stable)
        self.step = _Step(weight, (stable, canary))
        current = self.versions.get(CANARY)
        if current is not None and current.listeners == canary:
            return
        if canary == 0:
            if current is not None:
                self._stop(CANARY, "the new version")
            return
        fresh = self._spawn(CANARY, canary)
        self.versions[CANARY] = fresh
        self.last[fresh.pid] = read_totals(fresh.port) or Totals()
        self._log(f"weight {weight}%: the new version runs {canary} listener(s) beside {stable} stable")
        if current is not None:
            self._log(self._drain(current, f"the new version's previous process ({current.listeners} listeners)"))

    def _activate(self, role: str) -> None:
        version = self.versions.get(role)
        if version is not None:
            _set_role(version, ACTIVE)

    def _stop(self, role: str, label: str) -> None:
        version = self.versions.pop(role, None)
        if version is not None:
            self._log(self._drain(version, label))

    def _finish(self) -> None:
        assert self.state is not None
        self.store.save_rollout(self.spec, self.runtime)
        self.store.save_state(self.state)

    def start_load(self, rps: float) -> Publisher:
        assert self.runtime.amqp and self.runtime.queue
        self.load = Publisher(self.runtime.amqp, self.runtime.queue, rps).start()
        return self.load

    def shutdown(self) -> None:
        """Stop every version this rollout runs, draining each."""
        for role in list(self.versions):
            self._stop(role, f"the {role} version")
        self._remember()


def _set_role(version: _Version, role: str) -> None:
    temp = version.role_file.with_suffix(".tmp")
    temp.write_text(role, encoding="utf-8")
    os.replace(temp, version.role_file)


def _consumes(management: Management, queue: str, pid: int) -> bool:
    """True when a consumer on ``queue`` sits on a connection of process ``pid`` (``GET /api/consumers``)."""
    from critterops.rollout.local.rabbit import client_ports

    ports = client_ports([pid])
    if not ports:
        return False
    names = {
        c.get("name") for c in management.get("/api/connections?columns=name,peer_port") if c.get("peer_port") in ports
    }
    for consumer in management.get("/api/consumers"):
        if (consumer.get("queue") or {}).get("name") != queue:
            continue
        if (consumer.get("channel_details") or {}).get("connection_name") in names:
            return True
    return False


__all__ = ["ConsumerRollout", "Totals", "read_totals"]
