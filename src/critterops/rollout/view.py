"""The live view of a rollout: a refreshing panel on a terminal, plain progress lines otherwise.

Two levels of detail: ``per_step=False`` (``critterops deploy``) prints every look with the judge's
own words, for an operator who wants the numbers; ``per_step=True`` (``critterops demo``) prints one
line per traffic step and a closing sentence in plain words, for someone seeing critterops for the
first time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from critterops.rollout.engine import DEGRADED, HEALTHY, RolloutSpec, State
from critterops.rollout.judges import Counts, Look


def _rate(c: Counts) -> str:
    return f"{c.errors / c.requests:6.2%}" if c.requests else "     –"


def _latency(c: Counts) -> str:
    return f"{c.latency_ms:5.0f}ms" if c.latency_ms is not None else "     –"


def look_line(spec: RolloutSpec, state: State, look: Look) -> str:
    step = spec.steps[state.step].describe() if state.step < len(spec.steps) else "promoting"
    return (
        f"{look.t:6.1f}s  weight {state.weight:>3}%  [{step}]  "
        f"stable {look.stable.requests:>4} req {_rate(look.stable)} {_latency(look.stable)}  "
        f"canary {look.canary.requests:>4} req {_rate(look.canary)} {_latency(look.canary)}  "
        f"→ {state.verdict or 'waiting'}: {state.reason}"
    )


@dataclass
class Tally:
    """Requests, errors and latency summed over looks (a step, or the whole rollout)."""

    requests: dict[str, int] = field(default_factory=lambda: {"stable": 0, "canary": 0})
    errors: dict[str, int] = field(default_factory=lambda: {"stable": 0, "canary": 0})
    latency: dict[str, float] = field(default_factory=lambda: {"stable": 0.0, "canary": 0.0})  # ms x requests
    timed: dict[str, int] = field(default_factory=lambda: {"stable": 0, "canary": 0})

    def add(self, look: Look) -> None:
        for name, counts in (("stable", look.stable), ("canary", look.canary)):
            self.requests[name] += counts.requests
            self.errors[name] += counts.errors
            if counts.latency_ms is not None and counts.requests:
                self.latency[name] += counts.latency_ms * counts.requests
                self.timed[name] += counts.requests

    def errors_of(self, name: str) -> str:
        n, e = self.requests[name], self.errors[name]
        rate = f" ({e / n:.1%})" if n else ""
        return f"{e:,} error{'' if e == 1 else 's'} in {n:,} request{'' if n == 1 else 's'}{rate}"

    def latency_of(self, name: str) -> str:
        return f"{self.latency[name] / self.timed[name]:.0f} ms" if self.timed[name] else "no timing"

    def compared(self) -> str:
        return (
            f"canary {self.errors_of('canary')}, stable {self.errors_of('stable')}; mean latency "
            f"{self.latency_of('canary')} against {self.latency_of('stable')}"
        )


def outcome_line(state: State, tally: Tally, judged: bool) -> str:
    """How the rollout ended, in plain words, with the numbers the decision rests on."""
    after = f"after {(state.decided_at or state.started) - state.started:.0f}s"
    if state.phase == HEALTHY:
        return f"promoted {after}: the canary did as well as stable — {tally.compared()}. It now takes all traffic."
    if judged:
        return f"rolled back {after}: the canary did worse than stable — {tally.compared()}. Stable takes all traffic."
    return f"rolled back {after}: {state.reason}. Stable takes all traffic again."


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class LiveView:
    """Receives a :class:`Progress` after every tick."""

    def __init__(self, spec: RolloutSpec, stream: TextIO, synthetic: bool = False, per_step: bool = False) -> None:
        self.spec = spec
        self.stream = stream
        self.per_step = per_step
        self.step_key: tuple[int, bool] | None = None
        self.step_started = 0.0
        self.step_tally = Tally()
        self.tally = Tally()
        self.finished = False
        self.events_shown = 0
        self.totals = {"stable": [0, 0], "canary": [0, 0]}
        self.live: Any = None
        self.lines: list[str] = []
        label = " (synthetic load)" if synthetic else ""
        header = f"{spec.strategy} rollout of {spec.service}{label}, judge: {spec.analysis.judge}"
        self.indent = ""
        if per_step:
            weights = [f"{step.weight}%" for step in spec.steps if step.kind == "set-weight"]
            header = (
                f"{spec.strategy} of {spec.service}{label}: {' → '.join(weights)} of traffic, "
                f"judged against stable by the {spec.analysis.judge} test"
            )
            self.indent = "     "
        if stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self.console = Console(file=stream)
            self.header = header
            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.start()
        else:
            stream.write(self.indent + header + "\n")

    def update(self, progress: Any) -> None:
        if self.per_step:
            self._update_per_step(progress)
        else:
            self._update_per_look(progress)
        if self.live is not None:
            self._render(progress.state)

    def _update_per_step(self, progress: Any) -> None:
        """One line when a traffic step ends, one sentence when the rollout ends."""
        state: State = progress.state
        now = state.events[-1].t - state.started if state.events else 0.0
        for event in state.events[self.events_shown :]:
            if event.message.startswith(("paused:", "resumed", "waiting")):
                self._line(f"{event.t - state.started:6.1f}s  {event.message}")
        self.events_shown = len(state.events)
        look: Look | None = progress.look
        if look is not None:  # measured at the weight before this tick's transition
            self.step_tally.add(look)
            self.tally.add(look)
            for name, counts in (("stable", look.stable), ("canary", look.canary)):
                self.totals[name][0] += counts.requests
                self.totals[name][1] += counts.errors
            now = max(now, look.t)
        step = self.spec.steps[state.step] if state.step < len(self.spec.steps) else None
        key = (state.weight, step is not None and step.kind == "analysis")
        if key != self.step_key:
            self._end_step(now)
            self.step_key, self.step_started = key, now
            if key[1] and state.phase not in (HEALTHY, DEGRADED):
                self._line(
                    f"final analysis at {state.weight}% of traffic: the judge watches until the canary is shown "
                    "to be no worse than stable (the longest step)"
                )
        if state.phase in (HEALTHY, DEGRADED) and not self.finished:
            self.finished = True
            judged = look is not None and bool(state.looks) and state.looks[-1] is look
            self._line(outcome_line(state, self.tally, judged))

    def _end_step(self, now: float) -> None:
        if self.step_key is None or self.step_key[0] == 0 or not self.step_tally.requests["canary"]:
            self.step_tally = Tally()
            return
        weight, analysis = self.step_key
        what = f"{weight}% of traffic on the canary" + (", final analysis" if analysis else "")
        self._line(f"{what} for {now - self.step_started:.0f}s: {self.step_tally.compared()}")
        self.step_tally = Tally()

    def _update_per_look(self, progress: Any) -> None:
        state: State = progress.state
        for event in state.events[self.events_shown :]:
            self._line(f"{event.t - state.started:6.1f}s  {event.message}")
        self.events_shown = len(state.events)
        look: Look | None = progress.look
        if look is not None:
            for name, counts in (("stable", look.stable), ("canary", look.canary)):
                self.totals[name][0] += counts.requests
                self.totals[name][1] += counts.errors
            self._line(look_line(self.spec, state, look))

    def _line(self, text: str) -> None:
        if self.live is None:
            self.stream.write(self.indent + text + "\n")
            self.stream.flush()
        else:
            self.lines = [*self.lines[-14:], text]

    def _render(self, state: State) -> None:
        from rich.panel import Panel
        from rich.text import Text

        stable, canary = self.totals["stable"], self.totals["canary"]
        summary = (
            f"phase {state.phase}   canary weight {state.weight}%   "
            f"stable {_count(stable[0], 'request')} / {_count(stable[1], 'error')}   "
            f"canary {_count(canary[0], 'request')} / {_count(canary[1], 'error')}"
        )
        # a long header would be cropped mid-word as the panel's title: it goes in the body instead
        title, first = (
            (f"{self.spec.strategy} of {self.spec.service}", [self.header])
            if self.per_step
            else (
                self.header,
                [],
            )
        )
        body = Text("\n".join([*first, summary, "", *self.lines]))
        self.live.update(Panel(body, title=title))

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
