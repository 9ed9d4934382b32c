"""The live view of a rollout: a refreshing panel on a terminal, plain progress lines otherwise."""

from __future__ import annotations

from typing import Any, TextIO

from critterops.rollout.engine import RolloutSpec, State
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


class LiveView:
    """Receives a :class:`Progress` after every tick."""

    def __init__(self, spec: RolloutSpec, stream: TextIO, synthetic: bool = False) -> None:
        self.spec = spec
        self.stream = stream
        self.events_shown = 0
        self.totals = {"stable": [0, 0], "canary": [0, 0]}
        self.live: Any = None
        self.lines: list[str] = []
        label = " (synthetic load)" if synthetic else ""
        header = f"{spec.strategy} rollout of {spec.service}{label}, judge: {spec.analysis.judge}"
        if stream.isatty():
            from rich.console import Console
            from rich.live import Live

            self.console = Console(file=stream)
            self.header = header
            self.live = Live(console=self.console, refresh_per_second=4, transient=False)
            self.live.start()
        else:
            stream.write(header + "\n")

    def update(self, progress: Any) -> None:
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
        if self.live is not None:
            self._render(state)

    def _line(self, text: str) -> None:
        if self.live is None:
            self.stream.write(text + "\n")
            self.stream.flush()
        else:
            self.lines = [*self.lines[-14:], text]

    def _render(self, state: State) -> None:
        from rich.panel import Panel
        from rich.text import Text

        stable, canary = self.totals["stable"], self.totals["canary"]
        summary = (
            f"phase {state.phase}   canary weight {state.weight}%   "
            f"stable {stable[0]} req / {stable[1]} errors   canary {canary[0]} req / {canary[1]} errors"
        )
        body = Text("\n".join([summary, "", *self.lines]))
        self.live.update(Panel(body, title=self.header))

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
