"""The rollout state machine on scripted observations (the fake backend): Argo semantics, faults, resume."""

from __future__ import annotations

from dataclasses import replace

from critterops.rollout.engine import (
    DEGRADED,
    HEALTHY,
    PAUSED,
    AnalysisSpec,
    Observation,
    RolloutSpec,
    State,
    Step,
    advance,
    canary_steps,
    start,
)
from critterops.rollout.judges import Counts, Look


def healthy_look(t: float, weight: int, errors_canary: int = 0) -> Look:
    canary = min(1000, max(1, 10 * weight))
    stable = 1000 - canary
    return Look(t, Counts(stable, min(5, stable), 40.0 if stable else None), Counts(canary, errors_canary, 41.0))


def run(spec: RolloutSpec, script: list[Observation]) -> tuple[State, list[str]]:
    state, actions = start(spec, 0.0)
    log = [f"{a.kind}:{a.weight}" for a in actions]
    for obs in script:
        state, actions = advance(spec, state, obs)
        log += [f"{a.kind}:{a.weight}" for a in actions]
    return state, log


SPEC = RolloutSpec(
    "orders-api",
    "canary",
    canary_steps([10, 50, 100], pause_s=10),
    AnalysisSpec("threshold", (("count", 2), ("failure_limit", 0)), interval_s=5),
)


def looks_every(seconds: float, until: float, weight: int = 10, errors: int = 0) -> list[Observation]:
    out = []
    t = seconds
    while t <= until:
        out.append(Observation(t, look=healthy_look(t, weight, errors)))
        t += seconds
    return out


def test_steps_follow_argo_semantics_and_promote_once() -> None:
    state, log = run(SPEC, [Observation(0.1), *looks_every(5, 60)])
    assert state.phase == HEALTHY and state.promoted
    weights = [entry for entry in log if entry.startswith("set-weight")]
    assert weights == ["set-weight:0", "set-weight:10", "set-weight:50", "set-weight:100"]
    assert log.count("promote:None") == 1
    again, actions = advance(SPEC, state, Observation(99, look=healthy_look(99, 100)))
    assert again == state and actions == [], "a finished rollout never acts again"


def test_failed_analysis_rolls_back_to_stable() -> None:
    state, log = run(SPEC, [Observation(0.1), Observation(5, look=healthy_look(5, 10, errors_canary=30))])
    assert state.phase == DEGRADED and state.weight == 0
    assert log[-2:] == ["set-weight:0", "stop-canary:None"]
    assert "rolled back" in state.events[-1].message


def test_crashed_canary_and_dead_proxy_abort() -> None:
    crashed, _ = run(SPEC, [Observation(0.1), Observation(1, canary_healthy=False)])
    assert crashed.phase == DEGRADED and "crashed" in crashed.reason
    proxy, log = run(SPEC, [Observation(0.1), Observation(1, proxy_alive=False)])
    assert proxy.phase == DEGRADED and "restore-proxy:0" in log, "restore the proxy with all traffic on stable"


def test_metric_source_down_pauses_and_never_promotes() -> None:
    script = [Observation(0.1)] + [Observation(t, metrics_available=False) for t in range(5, 200, 5)]
    state, log = run(SPEC, script)
    assert state.phase == PAUSED and not state.promoted and "set-weight:100" not in log
    assert "unavailable" in state.reason


def test_pause_without_duration_waits_for_a_person() -> None:
    spec = replace(SPEC, steps=(Step("set-weight", 20), Step("pause"), Step("set-weight", 100)))
    waiting, _ = run(spec, [Observation(0.1), *looks_every(5, 30, weight=20)])
    assert waiting.phase == PAUSED and waiting.weight == 20
    promoted, _ = advance(spec, waiting, Observation(31, command="promote"))
    assert promoted.phase == HEALTHY


def test_abort_by_a_person() -> None:
    state, _ = run(SPEC, [Observation(0.1), Observation(2, command="abort")])
    assert state.phase == DEGRADED and state.reason == "aborted by a person"


def test_resume_from_saved_state_skips_no_gate(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from critterops.rollout.store import Runtime, Store

    store = Store(tmp_path, "orders-api")
    store.save_rollout(SPEC, Runtime("a", "b"))
    state, _ = start(SPEC, 0.0)
    state, _ = advance(SPEC, state, Observation(0.1))
    state, _ = advance(SPEC, state, Observation(5, look=healthy_look(5, 10)))
    store.save_state(state)
    spec, runtime = store.load_rollout()
    restored = store.load_state()
    assert spec == SPEC and runtime.stable_command == "a"
    assert restored == state, "the state survives a controller restart exactly"
    after, actions = advance(spec, restored, Observation(6))
    assert after.step == state.step and after.weight == 10 and not [a for a in actions if a.kind == "promote"]


def test_blue_green_switches_after_the_preview_and_can_switch_back() -> None:
    spec = RolloutSpec(
        "orders-api",
        "bluegreen",
        (),
        AnalysisSpec("threshold", (("count", 3), ("failure_limit", 0)), interval_s=5),
        post_promotion_s=15,
    )
    good, log = run(spec, [Observation(1), Observation(5), *looks_every(5, 25, weight=100)])
    assert good.phase == HEALTHY and "set-weight:100" in log
    bad, log = run(
        spec, [Observation(1), Observation(5), Observation(10, look=healthy_look(10, 100, errors_canary=200))]
    )
    assert bad.phase == DEGRADED and log[-2:] == ["set-weight:0", "stop-canary:None"]
