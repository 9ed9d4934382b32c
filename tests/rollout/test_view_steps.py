"""``critterops demo`` prints one line per traffic step and a plain closing sentence (issue 13, item 9).

Driven through the real rollout engine with made-up looks, so it needs no HAProxy and no processes.
"""

from __future__ import annotations

import io
import random
import re

from critterops.commands.demo import NEXT_STEPS, fit
from critterops.rollout.engine import DEGRADED, HEALTHY, AnalysisSpec, Observation, RolloutSpec, advance, canary_steps
from critterops.rollout.engine import start as start_rollout
from critterops.rollout.judges import Counts, Look
from critterops.rollout.runner import Progress
from critterops.rollout.view import LiveView

SPEC = RolloutSpec(
    "orders-api",
    "canary",
    canary_steps([10, 25, 50, 100], pause_s=4.0),
    AnalysisSpec("sequential", (), interval_s=2.0, background=True),
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(canary_error_rate: float, seed: int, tty: bool = False) -> tuple[str, str, int]:
    """Play a rollout tick by tick (0.25 s) with a look every 2 s; the view's text, the phase, the looks."""
    rng = random.Random(seed)
    out = Terminal() if tty else io.StringIO()
    view = LiveView(SPEC, out, synthetic=True, per_step=True)
    state, _ = start_rollout(SPEC, 0.0)
    looks = 0
    t = 0.0
    while state.phase not in (HEALTHY, DEGRADED) and t < 600:
        t += 0.25
        look = None
        if t % 2.0 == 0 and state.weight > 0:
            canary_n = 80 * state.weight // 50
            stable_n = 160 - canary_n
            look = Look(
                t,
                Counts(stable_n, sum(rng.random() < 0.005 for _ in range(stable_n)), 40.0),
                Counts(canary_n, sum(rng.random() < canary_error_rate for _ in range(canary_n)), 41.0),
            )
            looks += 1
        state, _ = advance(SPEC, state, Observation(now=t, look=look))
        view.update(Progress(state, look))
    view.close()
    return out.getvalue(), state.phase, looks


def test_a_faulty_canary_is_told_step_by_step_in_plain_words() -> None:
    text, phase, looks = _run(0.12, seed=1)
    lines = text.splitlines()
    assert phase == DEGRADED
    assert lines[0].strip().startswith("canary of orders-api (synthetic load): 10% → 25% → 50% → 100% of traffic")
    assert lines[-1].strip().startswith("rolled back after ")
    assert "the canary did worse than stable" in lines[-1] and lines[-1].endswith("Stable takes all traffic.")
    assert len(lines) < looks + 2  # fewer lines than looks: one per step, not one per look
    assert re.match(r"\s+10% of traffic on the canary for \d+s: canary \d+ errors? in \d+ requests", lines[1])
    assert "evidence" not in text and "None" not in text and " pp" not in text


def test_a_good_canary_ends_promoted_after_one_line_per_step() -> None:
    text, phase, looks = _run(0.005, seed=3)
    lines = [line.strip() for line in text.splitlines()]
    assert phase == HEALTHY
    steps = [line for line in lines if "% of traffic on the canary" in line]
    assert [line.split("%")[0] for line in steps] == ["10", "25", "50", "50"]
    assert steps[-1].startswith("50% of traffic on the canary, final analysis for")
    assert any(line.startswith("final analysis at 50% of traffic") for line in lines)
    assert lines[-1].startswith("promoted after") and lines[-1].endswith("It now takes all traffic.")
    assert looks > 2 * len(lines)  # the analysis alone takes many looks, shown as one line
    assert "evidence" not in text and "None" not in text


def test_on_a_terminal_the_panel_crops_no_words() -> None:
    text, phase, _ = _run(0.12, seed=1, tty=True)
    assert phase == DEGRADED
    flat = " ".join(line.strip("│ ╭╮╰╯─") for line in text.splitlines())
    assert "judged against stable by the sequential test" in " ".join(flat.split())
    assert "Stable takes all traffic." in text
    assert not re.search(r"\b1 (errors|requests)\b", text)


def test_fit_never_cuts_a_word() -> None:
    text = "contract-breaking: Carrier → CarrierCode — consumed by orders-api, storefront-web; published by x"
    for width in range(10, len(text) + 5):
        cut = fit(text, width)
        assert len(cut) <= max(width, len("contract-breaking:…"))
        assert cut == text or (cut.endswith("…") and text.startswith(cut[:-1]) and text[len(cut) - 1] in " ,;:—")
    assert fit("short", 80) == "short"


def test_the_demo_ends_with_commands_to_try_next() -> None:
    commands = [line.split("#")[0].strip() for line in NEXT_STEPS.splitlines() if "critterops " in line]
    assert len(commands) >= 3 and all(c.startswith("critterops ") for c in commands)
    assert "critterops scan --example --diagram" in commands
