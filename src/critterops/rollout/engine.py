"""The rollout state machine, with Argo Rollouts semantics, and no I/O.

``advance(spec, state, observation) -> (state, actions)``: the runner observes the world
(processes, proxy, a new metrics look, a person's command), feeds the observation in, and carries
out the actions through a backend. Because the machine is pure and its state is plain data,
the runner persists the state after every transition and ``resume`` continues exactly where a
killed controller stopped: a gate that has not passed is evaluated again, a promotion that
happened is never repeated.

Semantics follow Argo Rollouts (reference progressive-delivery.md §1.1):

- canary: ``setWeight`` shifts traffic; ``pause`` with a duration waits, without one waits for
  ``promote``; ``analysis`` runs the judge until it passes or fails; background analysis judges
  every look from the first step; the last step is full promotion;
- blue/green: the new version runs as *preview* with no traffic; pre-promotion analysis must pass
  (a health gate when there is no traffic to judge), then traffic switches at once, post-promotion
  analysis judges it, and the old version is kept for ``scale_down_delay_s`` in case it must switch
  back;
- rolling: fixed steps of weight with health checks only;
- abort (a failed analysis, a crashed or unhealthy canary, a dead proxy, or a person): all traffic
  back to stable, state ``Degraded``; inconclusive analysis (no data, metric source down) pauses and
  never promotes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from critterops.rollout.judges import Counts, Decision, Look, Verdict, make_judge

PROGRESSING, PAUSED, HEALTHY, DEGRADED = "Progressing", "Paused", "Healthy", "Degraded"


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # set-weight | pause | analysis
    weight: int | None = None
    duration_s: float | None = None  # pause: None waits for promote

    def describe(self) -> str:
        if self.kind == "set-weight":
            return f"set weight {self.weight}%"
        if self.kind == "pause":
            return "pause until promoted" if self.duration_s is None else f"pause {self.duration_s:g}s"
        return "analysis"


@dataclass(frozen=True, slots=True)
class AnalysisSpec:
    judge: str = "sequential"
    settings: tuple[tuple[str, Any], ...] = ()
    interval_s: float = 10.0
    background: bool = True  # judge every look from the first step (Argo's background analysis)

    def make(self) -> Any:
        return make_judge(self.judge, **dict(self.settings))


@dataclass(frozen=True, slots=True)
class RolloutSpec:
    service: str
    strategy: str  # canary | bluegreen | rolling
    steps: tuple[Step, ...]
    analysis: AnalysisSpec = AnalysisSpec()
    auto_promote: bool = True  # blue/green: switch without a person once pre-promotion analysis passes
    scale_down_delay_s: float = 30.0
    post_promotion_s: float = 30.0  # blue/green: how long post-promotion analysis watches


def canary_steps(
    weights: list[int], pause_s: float | None, final_analysis: bool = True, approval: bool = False
) -> tuple[Step, ...]:
    """``10,25,50,100`` → set weight and pause per step; before 100, an analysis step that must pass.

    The final analysis step makes promotion depend on the metrics, not on the clock: background
    analysis can only fail a rollout, this gate is what lets it through.
    """
    steps: list[Step] = []
    for weight in weights:
        if weight >= 100:
            break
        steps.append(Step("set-weight", weight))
        steps.append(Step("pause", duration_s=pause_s))
    if final_analysis:
        steps.append(Step("analysis"))
    if approval:
        steps.append(Step("pause"))  # a person promotes: critterops deploy promote
    steps.append(Step("set-weight", 100))
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class Event:
    t: float
    message: str


@dataclass(frozen=True, slots=True)
class State:
    phase: str = PROGRESSING
    step: int = 0  # index of the current step
    weight: int = 0  # percent of traffic on the canary
    step_started: float = 0.0
    started: float = 0.0
    looks: tuple[Look, ...] = ()  # looks of the running analysis
    verdict: str = ""
    reason: str = ""
    promoted: bool = False  # canary became stable: never done twice
    switched: bool = False  # blue/green: traffic switched to the new version
    switched_at: float = 0.0
    events: tuple[Event, ...] = field(default=())
    decided_at: float | None = None

    def log(self, t: float, message: str) -> State:
        return replace(self, events=(*self.events, Event(t, message)))


@dataclass(frozen=True, slots=True)
class Observation:
    now: float
    canary_healthy: bool = True
    stable_healthy: bool = True
    proxy_alive: bool = True
    look: Look | None = None  # a new look, when the interval elapsed
    metrics_available: bool = True
    command: str | None = None  # promote | abort | None
    problem: str | None = None  # why the new version is unhealthy, when the backend knows better than "crashed"


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # set-weight | restore-proxy | promote | stop-stable | stop-canary
    weight: int | None = None
    reason: str = ""


def start(spec: RolloutSpec, now: float) -> tuple[State, list[Action]]:
    state = State(started=now, step_started=now).log(now, f"{spec.strategy} rollout of {spec.service} started")
    return state, [Action("set-weight", 0, "start with all traffic on stable")]


def _abort(state: State, now: float, reason: str, restore_proxy: bool = False) -> tuple[State, list[Action]]:
    actions = [Action("restore-proxy", 0, reason)] if restore_proxy else [Action("set-weight", 0, reason)]
    actions.append(Action("stop-canary", None, "rolled back"))
    new = replace(state, phase=DEGRADED, weight=0, verdict="fail", reason=reason, decided_at=now)
    return new.log(now, f"rolled back: {reason}"), actions


def _judge(spec: RolloutSpec, looks: tuple[Look, ...]) -> Decision:
    decision: Decision = spec.analysis.make().decide(looks)
    return decision


def advance(spec: RolloutSpec, state: State, obs: Observation) -> tuple[State, list[Action]]:
    """One transition. Terminal phases (Healthy, Degraded) never change again."""
    now = obs.now
    if state.phase in (HEALTHY, DEGRADED):
        return state, []
    if obs.command == "abort":
        return _abort(state, now, "aborted by a person")
    if not obs.proxy_alive:
        return _abort(state, now, "the proxy died: restored with all traffic on stable", restore_proxy=True)
    if not obs.canary_healthy:
        return _abort(state, now, obs.problem or "the new version crashed or fails its health check")
    if spec.strategy == "bluegreen":
        return _blue_green(spec, state, obs)
    return _canary(spec, state, obs)


def _take_look(spec: RolloutSpec, state: State, obs: Observation) -> tuple[State, Decision | None]:
    if obs.look is None and obs.metrics_available:
        return state, None
    if not obs.metrics_available:
        decision = Decision(Verdict.INCONCLUSIVE, "the metric source is unavailable: not judging, not promoting")
        return state, decision
    assert obs.look is not None
    looks = (*state.looks, obs.look)
    state = replace(state, looks=looks)
    return state, _judge(spec, looks)


def _canary(spec: RolloutSpec, state: State, obs: Observation) -> tuple[State, list[Action]]:
    now = obs.now
    actions: list[Action] = []
    judging = spec.strategy == "canary" and (spec.analysis.background or _current(spec, state).kind == "analysis")
    if judging and state.weight > 0:
        state, decision = _take_look(spec, state, obs)
        if decision is not None:
            state = replace(state, verdict=decision.verdict.value, reason=decision.reason)
            if decision.verdict is Verdict.FAIL:
                return _abort(state, now, decision.reason)
            if decision.verdict is Verdict.INCONCLUSIVE:
                if state.phase != PAUSED:
                    state = replace(state, phase=PAUSED).log(now, f"paused: {decision.reason}")
                if obs.command != "promote":
                    return state, actions
                state = replace(state, phase=PROGRESSING, looks=()).log(now, "resumed by a person")
            elif decision.verdict is Verdict.PASS and _current(spec, state).kind == "analysis":
                state = _next(state, now, f"analysis passed: {decision.reason}")
    elif state.phase == PAUSED and obs.command != "promote" and _current(spec, state).kind != "pause":
        return state, actions
    while state.step < len(spec.steps):
        step = spec.steps[state.step]
        if step.kind == "set-weight":
            weight = int(step.weight or 0)
            if weight >= 100:
                return _promote(state, now, actions)
            actions.append(Action("set-weight", weight, step.describe()))
            state = _next(replace(state, weight=weight), now, step.describe())
            continue
        if step.kind == "pause":
            if step.duration_s is None:
                if obs.command == "promote":
                    state = _next(replace(state, phase=PROGRESSING), now, "promoted by a person")
                    continue
                if state.phase != PAUSED:
                    state = replace(state, phase=PAUSED).log(now, "waiting for `critterops deploy promote`")
                return state, actions
            if now - state.step_started >= step.duration_s:
                state = _next(state, now, f"paused {step.duration_s:g}s")
                continue
            return state, actions
        # inline analysis: decided above when looks arrive
        if spec.strategy != "canary":
            state = _next(state, now, "no analysis for rolling updates")
            continue
        return state, actions
    return _promote(state, now, actions)


def _current(spec: RolloutSpec, state: State) -> Step:
    return spec.steps[state.step] if state.step < len(spec.steps) else Step("set-weight", 100)


def _next(state: State, now: float, message: str) -> State:
    return replace(state, step=state.step + 1, step_started=now).log(now, message)


def _promote(state: State, now: float, actions: list[Action]) -> tuple[State, list[Action]]:
    if state.promoted:
        return state, actions
    actions += [Action("set-weight", 100, "full promotion"), Action("promote"), Action("stop-stable")]
    reason = state.reason or "every step passed"
    new = replace(state, phase=HEALTHY, weight=100, promoted=True, verdict="pass", reason=reason, decided_at=now)
    return new.log(now, f"promoted: {reason}"), actions


def _blue_green(spec: RolloutSpec, state: State, obs: Observation) -> tuple[State, list[Action]]:
    now = obs.now
    if not state.switched:
        # pre-promotion: the preview must stay healthy for one analysis interval (no live traffic to judge)
        if now - state.step_started < spec.analysis.interval_s:
            return state, []
        if not spec.auto_promote and obs.command != "promote":
            if state.phase != PAUSED:
                state = replace(state, phase=PAUSED).log(
                    now, "preview healthy; waiting for `critterops deploy promote`"
                )
            return state, []
        state = replace(state, phase=PROGRESSING, switched=True, switched_at=now, weight=100, looks=())
        return state.log(now, "pre-promotion checks passed: traffic switched to the new version"), [
            Action("set-weight", 100, "switch to the new version")
        ]
    state, decision = _take_look(spec, state, obs)
    if decision is not None:
        state = replace(state, verdict=decision.verdict.value, reason=decision.reason)
        if decision.verdict is Verdict.FAIL:
            return _abort(state, now, f"post-promotion analysis failed: {decision.reason}")
    if now - state.switched_at >= spec.post_promotion_s:
        actions = [Action("promote"), Action("stop-stable", None, f"after {spec.scale_down_delay_s:g}s")]
        new = replace(state, phase=HEALTHY, promoted=True, verdict="pass", decided_at=now)
        reason = state.reason or "post-promotion analysis saw no regression"
        return replace(new, reason=reason).log(now, f"promoted: {reason}"), actions
    return state, []


__all__ = [
    "DEGRADED",
    "HEALTHY",
    "PAUSED",
    "PROGRESSING",
    "Action",
    "AnalysisSpec",
    "Counts",
    "Event",
    "Observation",
    "RolloutSpec",
    "State",
    "Step",
    "advance",
    "canary_steps",
    "start",
]
