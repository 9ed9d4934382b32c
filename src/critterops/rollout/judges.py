"""Canary judges: after every look, is the canary worse than the stable version?

Three kinds, built with :func:`make_judge`:

- ``"sequential"`` (the default): an anytime-valid test of canary vs stable error rates, with a
  latency guard. It may be asked after every look and still rolls back an identical canary with
  probability at most ``alpha`` (1 %), and it passes only once the data show the canary is not
  worse by more than the tolerance. See :mod:`critterops.rollout.judging.sequential`.
- ``"threshold"``: absolute per-look limits on the canary (success rate, p99), counted the way
  Argo Rollouts counts measurements. See :mod:`critterops.rollout.judging.threshold`.
- ``"mann-whitney"``: Kayenta's NetflixACAJudge-v1.0 on per-look error rates and latencies. See
  :mod:`critterops.rollout.judging.kayenta`.

Every judge is pure: ``judge.decide(looks)`` reads all looks so far and returns a
:class:`Decision`; the earliest look that reached ``PASS``, ``FAIL`` or ``INCONCLUSIVE`` decides
for good (its time is ``details["t"]``). So a judge that has passed keeps saying so: to keep
watching afterwards (background analysis across weight steps), or to resume after a person
cleared an ``INCONCLUSIVE``, start over with only the new looks.

    judge = make_judge("sequential", alpha=0.01, tolerance=0.01)
    decision = judge.decide(looks)
    if decision.verdict is Verdict.FAIL: ...
"""

from __future__ import annotations

from typing import Any

from critterops.rollout.judging import settings as _settings
from critterops.rollout.judging.kayenta import KayentaJudge, KayentaSettings
from critterops.rollout.judging.sequential import SequentialJudge, SequentialSettings
from critterops.rollout.judging.threshold import ThresholdJudge, ThresholdSettings
from critterops.rollout.judging.types import TERMINAL, Counts, Decision, Judge, Look, Verdict

__all__ = [
    "KINDS",
    "TERMINAL",
    "Counts",
    "Decision",
    "Judge",
    "KayentaJudge",
    "KayentaSettings",
    "Look",
    "SequentialJudge",
    "SequentialSettings",
    "ThresholdJudge",
    "ThresholdSettings",
    "Verdict",
    "make_judge",
]

KINDS = ("sequential", "threshold", "mann-whitney")


def make_judge(kind: str = "sequential", **settings: Any) -> Judge:
    """A judge of this kind with these settings; ``ValueError`` names what is wrong.

    Settings (defaults):

    - ``threshold``: ``min_success_rate`` 0.99, ``max_latency_ms`` 500 (``None``: no latency check),
      ``failure_limit`` 1 (-1: never), ``consecutive_error_limit`` 4, ``inconclusive_limit`` 0,
      ``count`` 10.
    - ``mann-whitney``: ``pass_score`` 90, ``marginal`` 75, ``min_looks`` 3, ``lifetime_looks`` 12,
      ``confidence`` 0.98, ``tolerance`` 0.25, ``allowed_increase`` 1.0,
      ``metrics`` (``error_rate``, ``latency``), ``critical`` (), ``seed`` 0.
    - ``sequential``: ``alpha`` 0.01, ``margin`` 0, ``tolerance`` 0.01, ``max_ratio`` 3,
      ``negligible`` 0.005, ``min_requests`` 500, ``max_duration_s`` 1200, ``latency`` True,
      ``latency_tolerance`` 0.10, ``latency_share`` 0.1, ``latency_block_s`` 60,
      ``latency_window_requests`` 0, ``tail_quantile`` 0.95, ``tail_ratio`` 1.5.
    """
    if kind == "threshold":
        return ThresholdJudge(_settings.build(ThresholdSettings, kind, settings))
    if kind == "mann-whitney":
        return KayentaJudge(_settings.build(KayentaSettings, kind, settings))
    if kind == "sequential":
        return SequentialJudge(_settings.build(SequentialSettings, kind, settings))
    raise ValueError(f"unknown judge kind {kind!r}; choose one of {', '.join(KINDS)}")
