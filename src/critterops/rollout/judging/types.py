"""What a judge reads (one :class:`Look` per analysis interval) and what it returns (a :class:`Decision`).

A judge is called after every look with *all* looks so far and must be pure and deterministic.
All judges here follow one rule for time: a judge's verdict at look ``k`` depends only on looks
``1..k``, and the first look whose verdict is not ``CONTINUE`` decides for good. So
``decide(looks)`` returns the verdict of the earliest deciding look (its time is in
``details["t"]``, its 1-based index in ``details["look"]``), and calling it on longer histories
gives the same answer. To resume after ``INCONCLUSIVE`` (a pause for a human), start a new analysis
with only the looks taken after the resume.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Counts:
    """One version over one look interval (not cumulative).

    ``errors`` are 5xx responses or failed message handlings. ``latency_ms`` is the mean response
    time in the interval (``None`` when there were no requests, or it was not measured);
    ``p99_ms`` its 99th percentile. ``buckets`` is the interval's latency histogram when the source
    has one: ``(upper bound in ms, requests in the interval that took at most that long)`` pairs,
    bounds ascending, counts cumulative over the bounds as in a Prometheus histogram, the last bound
    ``inf`` (its count is the interval's requests). Counts are checked when built: the engine must
    clamp ``errors <= requests`` when it derives both from separately scraped counters.
    """

    requests: int
    errors: int
    latency_ms: float | None
    p99_ms: float | None = None
    buckets: tuple[tuple[float, int], ...] | None = None

    def __post_init__(self) -> None:
        if self.requests < 0 or self.errors < 0:
            raise ValueError(f"counts must not be negative (requests={self.requests}, errors={self.errors})")
        if self.errors > self.requests:
            raise ValueError(f"errors ({self.errors}) exceed requests ({self.requests})")
        for name, value in (("latency_ms", self.latency_ms), ("p99_ms", self.p99_ms)):
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        if self.buckets is not None:
            bounds = [bound for bound, _ in self.buckets]
            counts = [count for _, count in self.buckets]
            if not bounds or bounds != sorted(set(bounds)) or not math.isinf(bounds[-1]):
                raise ValueError(f"buckets need ascending distinct bounds ending at inf, got {bounds}")
            if any(c < 0 for c in counts) or counts != sorted(counts):
                raise ValueError(f"bucket counts must be cumulative (non-decreasing, not negative), got {counts}")

    @property
    def error_rate(self) -> float:
        """Errors per request; NaN when there were no requests."""
        return self.errors / self.requests if self.requests else math.nan


@dataclass(frozen=True, slots=True)
class Look:
    """One analysis interval: seconds since the analysis started, and both versions' counts."""

    t: float
    stable: Counts
    canary: Counts


class Verdict(str, Enum):  # noqa: UP042 - the promised interface is a str-valued Enum
    CONTINUE = "continue"
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


TERMINAL = frozenset({Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE})


@dataclass(frozen=True, slots=True)
class Decision:
    """A judge's answer after a look.

    ``reason`` is one sentence for the live view, with the numbers. ``score`` is 0-100 where the
    judge has one (Kayenta). ``details`` always holds ``t`` and ``look`` (when and at which look,
    1-based, the verdict was reached) plus judge-specific figures; only finite numbers (a figure
    that is undefined or unbounded at that look is left out), so it serialises as strict JSON.
    """

    verdict: Verdict
    reason: str
    score: float | None = None
    details: dict[str, float] = field(default_factory=dict)


class Judge(Protocol):
    """Decides, after every look, whether the canary is worse than stable."""

    name: str

    def decide(self, looks: Sequence[Look]) -> Decision: ...


def check_looks(looks: Sequence[Look]) -> None:
    """Raise ``ValueError`` unless the looks are in time order."""
    for before, after in itertools.pairwise(looks):
        if after.t < before.t:
            raise ValueError(f"looks must be in time order: t={after.t} comes after t={before.t}")


def finite(details: dict[str, float]) -> dict[str, float]:
    """``details`` without NaN or infinite values."""
    return {key: float(value) for key, value in details.items() if math.isfinite(value)}


def no_looks(name: str) -> Decision:
    return Decision(Verdict.CONTINUE, f"{name}: no looks yet.", details={"t": 0.0, "look": 0.0})


def pct(rate: float, digits: int = 2) -> str:
    """A rate as a percentage for reason strings: ``0.0123`` → ``"1.23%"``; NaN → ``"n/a"``."""
    if math.isnan(rate):
        return "n/a"
    return f"{100 * rate:.{digits}f}%"


def pp(diff: float, digits: int = 2) -> str:
    """A difference of rates in percentage points, signed: ``0.004`` → ``"+0.40 pp"``."""
    if math.isnan(diff):
        return "n/a"
    return f"{100 * diff:+.{digits}f} pp"


def points(rate: float) -> str:
    """A tolerance in percentage points, unsigned: ``0.01`` → ``"1 pp"``, ``0.005`` → ``"0.5 pp"``."""
    return f"{100 * rate:.3g} pp"
