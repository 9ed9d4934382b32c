"""Drive a rollout: observe, advance the state machine, act through the local backend, persist.

The loop ticks every ``tick_s``. Each tick it checks the processes and the proxy, turns HAProxy's
per-server counters into a look every ``analysis.interval_s``, reads a person's command from the
state folder, advances the engine, carries out its actions, and saves the state, so a killed
controller resumes from the last transition (``critterops deploy resume``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from critterops.errors import BackendError
from critterops.rollout.engine import (
    DEGRADED,
    HEALTHY,
    Action,
    Observation,
    RolloutSpec,
    State,
    advance,
    start,
)
from critterops.rollout.judges import Counts, Look
from critterops.rollout.local.haproxy import HAProxy, ServerStats
from critterops.rollout.local.httpfile import parse_http_file
from critterops.rollout.local.processes import VersionProcess, free_port, http_status, pid_alive
from critterops.rollout.local.traffic import LoadGenerator
from critterops.rollout.sources import PrometheusSource
from critterops.rollout.store import Runtime, Store

STABLE, CANARY = "stable", "canary"
MAX_WEIGHT = 256  # HAProxy's absolute weights; 100 % = 100 keeps the numbers readable


@dataclass
class Progress:
    """What the live view shows after every tick."""

    state: State
    look: Look | None
    stable_requests: int = 0
    canary_requests: int = 0


@dataclass
class _Counters:
    last: dict[str, ServerStats] = field(default_factory=dict)
    at: float = 0.0


def _delta(now: ServerStats, before: ServerStats | None) -> Counts:
    requests = now.requests - (before.requests if before else 0)
    errors = now.errors - (before.errors if before else 0)
    latency = float(now.rtime) if requests > 0 else None
    requests = max(requests, 0)
    return Counts(requests, min(max(errors, 0), requests), latency)


class Driven:
    """The loop every local rollout shares: tick until promoted or rolled back, holding the controller lock."""

    store: Store
    state: State | None

    def tick(self, now: float) -> Progress:
        raise NotImplementedError

    def _finish(self) -> None:
        """What the loop leaves behind when it ends, however it ends."""

    def run(self, tick_s: float = 0.5, on_progress: Callable[[Progress], None] | None = None) -> State:
        assert self.state is not None
        self.store.claim()
        try:
            while self.state.phase not in (HEALTHY, DEGRADED):
                progress = self.tick(time.time())
                if on_progress:
                    on_progress(progress)
                if self.state.phase in (HEALTHY, DEGRADED):
                    break
                time.sleep(tick_s)
        finally:
            self._finish()
            self.store.release()
        return self.state


class LocalRollout(Driven):
    """One rollout of one service on this machine."""

    def __init__(self, store: Store, spec: RolloutSpec, runtime: Runtime) -> None:
        self.store = store
        self.spec = spec
        self.runtime = runtime
        self.proxy = HAProxy(store.folder, "app") if (store.folder / "haproxy.cfg").exists() else HAProxy()
        self.processes: dict[str, VersionProcess] = {}
        self.counters = _Counters()
        self.state: State | None = None
        # PromQL for real deployments; HAProxy's own counters otherwise
        self.source = PrometheusSource(runtime.prometheus, runtime.queries) if runtime.prometheus else None

    # -- setup ----------------------------------------------------------------------------------------------

    def launch(self, now: float) -> None:
        """Start both versions and HAProxy with all traffic on stable; record the runtime."""
        HAProxy.find()
        folder = self.store.folder
        for name, command in ((STABLE, self.runtime.stable_command), (CANARY, self.runtime.canary_command)):
            process = VersionProcess(name, command, folder).start()
            self.processes[name] = process
            try:
                process.wait_healthy(self.runtime.health_path, timeout=60)
            except BackendError:
                self.shutdown()
                raise
            self.runtime.ports[name] = process.port
            if process.pid:
                self.runtime.pids[name] = process.pid
        self.runtime.listen_port = self.runtime.listen_port or free_port()
        self.proxy.start(
            folder,
            "app",
            dict(self.runtime.ports),
            {STABLE: 100, CANARY: 0},
            self.runtime.listen_port,
            health_path=self.runtime.health_path,
        )
        self.store.save_rollout(self.spec, self.runtime)
        self.state, actions = start(self.spec, now)
        self._act(actions)
        self.store.save_state(self.state)
        self.counters = _Counters(self.proxy.stats(), now)

    def reattach(self) -> None:
        """After a restart of the controller: find the proxy and the processes again."""
        self.state = self.store.load_state()
        if self.state is None:
            raise BackendError("the rollout has no saved state; start it again")
        with contextlib.suppress(BackendError, OSError):
            self.counters = _Counters(self.proxy.stats(), time.time())

    # -- the loop -------------------------------------------------------------------------------------------

    def _healthy(self, name: str) -> bool:
        process = self.processes.get(name)
        if process is not None and not process.alive():
            return False
        pid = self.runtime.pids.get(name)
        if process is None and pid is not None and not pid_alive(pid):
            return False
        port = self.runtime.ports.get(name)
        return port is not None and http_status(port, self.runtime.health_path, timeout=2.0) == 200

    def observe(self, now: float) -> Observation:
        assert self.state is not None
        proxy_alive = self.proxy.alive()
        look: Look | None = None
        available = True
        if self.source is not None and now - self.counters.at >= self.spec.analysis.interval_s:
            reading = self.source.read()
            self.counters.at = now
            stable, canary = reading.stable, reading.canary
            if not reading.available or stable is None or canary is None:
                available = False
            else:
                look = Look(
                    round(now - self.state.started, 3),
                    Counts(stable.requests, stable.errors, stable.latency_ms),
                    Counts(canary.requests, canary.errors, canary.latency_ms),
                )
        elif proxy_alive and now - self.counters.at >= self.spec.analysis.interval_s:
            try:
                stats = self.proxy.stats()
                before = self.counters.last
                look = Look(
                    round(now - self.state.started, 3),
                    _delta(stats[STABLE], before.get(STABLE)),
                    _delta(stats[CANARY], before.get(CANARY)),
                )
                self.counters = _Counters(stats, now)
            except (BackendError, OSError, KeyError):
                available = False
        command = self.store.take_command()
        canary_ok = self.state.promoted or self._healthy(CANARY)
        return Observation(now, canary_ok, True, proxy_alive, look, available, command)

    def tick(self, now: float) -> Progress:
        assert self.state is not None
        observation = self.observe(now)
        self.state, actions = advance(self.spec, self.state, observation)
        self._act(actions)
        self.store.save_state(self.state)
        return Progress(self.state, observation.look)

    def _act(self, actions: list[Action]) -> None:
        for action in actions:
            if action.kind == "set-weight":
                weight = int(action.weight or 0)
                with contextlib.suppress(BackendError, OSError):
                    self.proxy.set_weights({STABLE: 100 - weight, CANARY: weight})
            elif action.kind == "restore-proxy":
                self.proxy.restart_all_on(STABLE)
            elif action.kind == "stop-canary":
                self._stop(CANARY)
            elif action.kind == "stop-stable":
                self._stop(STABLE)

    def _stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.stop()
            return
        pid = self.runtime.pids.get(name)
        if pid and pid_alive(pid):
            import os
            import signal

            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)

    def shutdown(self) -> None:
        """Stop everything this rollout started (the demo and tests call this at the end)."""
        for name in list(self.processes):
            self._stop(name)
        for name in (STABLE, CANARY):
            self._stop(name)
        with contextlib.suppress(BackendError, OSError):
            self.proxy.stop()


def state_root(path: Path | None) -> Path:
    return path or Path(".critterops") / "deploy"


def start_load(url: str, rps: float, http_file: str | None) -> LoadGenerator:
    """Synthetic load through the proxy: a ``.http`` file's requests round-robin, or ``GET /api/orders``."""
    requests = parse_http_file(Path(http_file)) if http_file else None
    target = url if requests else f"{url}/api/orders"
    return LoadGenerator(target, rps, requests=requests, keep_outcomes=False).start()
