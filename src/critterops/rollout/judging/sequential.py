r"""The default judge: an anytime-valid test of the canary's error rate against stable's.

It may be consulted after every look, as often as the engine likes, and still rolls back a canary
that is no worse than stable with probability at most ``alpha`` over the whole analysis: every
decision rule below compares a nonnegative supermartingale with ``1/alpha``, and Ville's inequality
bounds the chance that one *ever* crosses (Ramdas et al., Statist. Sci. 2023). No peeking penalty,
no fixed sample size, no normal approximation for the error rates.

**Model.** In look ``k`` the canary serves ``n_k`` requests with ``x_k`` errors and stable ``m_k``
with ``y_k``. Given the request counts, each request fails independently with the version's rate
for that look, ``p_c,k`` and ``p_s,k``. Rates may drift from look to look (an incident that hits
both versions is allowed); only the FAIL test needs nothing more.

**FAIL: conditional mixture likelihood ratio.** Let ``s_k = x_k + y_k`` and ``psi_k`` the odds
ratio ``[p_c/(1-p_c)] / [p_s/(1-p_s)]``. Given ``s_k``, the canary's share follows Fisher's
noncentral hypergeometric law, free of stable's rate:

.. math::  P_\psi(x \mid s) = \binom{n}{x}\binom{m}{s-x}\psi^x \Big/ \sum_y \binom{n}{y}\binom{m}{s-y}\psi^y .

For ``psi >= 1`` the ratio ``L_k(psi) = P_psi(x_k | s_k) / P_1(x_k | s_k)`` has mean at most 1
whenever the canary is no worse (``psi_k <= 1``), by convexity of the exponential family's
cumulant function; the product over looks is a test supermartingale, and so is the mixture

.. math::  E_t = \sum_j w_j \prod_{k \le t} L_k(\psi_j),\qquad \psi_j = 2^{j/2},\ j = 1..12,\ w_j = 1/12,

a log-uniform prior on odds ratios from 1.4 to 64 fixed in advance (Robbins' mixture SPRT;
Johari, Koomen, Pekelis, Walsh, "Always valid inference: continuous monitoring of A/B tests",
Oper. Res. 2022). The judge fails when ``E_t >= 1/alpha_err``. Conditioning on the event totals
to remove the baseline rate is the construction of Lindon, Sanden, Shirikian, "Rapid regression
detection in software deployments through sequential testing" (KDD 2022) for count metrics. A
look with no errors contributes exactly 1, so sparse and zero counts are handled exactly. With
``margin > 0`` the judge also needs the confidence sequences below to put ``p_c - p_s`` above the
margin, which bounds false rollbacks of canaries within the margin by ``alpha/2``.

**PASS: confidence sequences.** For each version separately, Robbins' beta-binomial mixture
``M_t(p) = B(a+S_t, b+F_t)/B(a, b) / (p^{S_t}(1-p)^{F_t})`` (prior Beta(0.5, 50)) is a martingale
at the true rate, so ``{p : M_t(p) < 4/alpha}`` covers it at all looks with probability
``1 - alpha/4`` (Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic
confidence sequences", Ann. Statist. 2021). Running intersections give ``p_c - p_s <= U_c - L_s``.
This part assumes each version's rate is constant over the analysis. The judge passes, after
``min_requests`` canary requests, when ``U_c - L_s < tolerance`` and also either
``U_c - L_s < negligible`` or the odds ratio is shown below ``max_ratio``: a mirror-image mixture
test of ``psi >= max_ratio`` (alternatives ``max_ratio / psi_j``) reaching ``2/alpha``. The second
condition keeps a tenfold rise on a tiny baseline (0.05 % → 0.5 %, within 1 pp) from passing
while the fail test is still gathering errors. A wrong pass (canary worse than the tolerance, or
than ``max_ratio`` and ``negligible`` together) happens with probability at most ``alpha``.
At ``max_duration_s`` the judge passes without such proof when nothing has shown harm (or is
inconclusive when the canary got fewer than ``min_requests`` requests).

**Latency guard.** Per look with latencies on both sides, ``d_k = log(canary mean / stable mean)``.
The sequential t-test Bayes factor for ``d_k - log(1 + latency_tolerance)`` (normal prior,
variance 1, on the standardised mean; right-Haar prior on the scale: Lai 1976; Pérez-Ortiz, Lardy,
de Heide, Grünwald, Ann. Statist. 2024) fails the canary when the mean is positive and the factor
reaches ``1/alpha_lat``. Inverting the same factor gives a confidence sequence for the mean of
``d_k``; when latencies are measured, a pass also needs its upper end below
``log(1 + latency_tolerance)``, so a slower canary is not passed on its error rate alone. Exact
when the ``d_k`` are Gaussian and independent, which per-look means of tens of requests roughly
are.

**Alpha budget.** ``alpha_err = (1 - latency_share) alpha`` and ``alpha_lat = latency_share alpha``
(all of ``alpha`` to errors when the guard is off), so false rollbacks of an identical canary stay
below ``alpha`` in total. What breaks the guarantee: errors that come in bursts within a look
(overdispersion), and request counts chosen by peeking at the same look's errors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from critterops.rollout.judging import settings as check
from critterops.rollout.judging.evidence import (
    FloatArray,
    beta_binomial_bounds,
    mixture_log_e,
    odds_ratio_log_lr,
    t_confidence_sequence,
    t_test_log_bf,
)
from critterops.rollout.judging.types import Decision, Look, Verdict, check_looks, finite, no_looks, pct, points, pp

ODDS_RATIOS = 2.0 ** (np.arange(1, 13) / 2.0)  # the mixture's alternatives, sqrt(2) .. 64
_LOG_GRID = np.log(ODDS_RATIOS)
_LOG_WEIGHTS = np.full(ODDS_RATIOS.size, -math.log(ODDS_RATIOS.size))
BETA_PRIOR = (0.5, 50.0)  # per-version confidence sequences: prior mean ~1 %, worth 50 requests
T_PRIOR_VARIANCE = 1.0


@dataclass(frozen=True, slots=True)
class SequentialSettings:
    alpha: float = 0.01
    margin: float = 0.0
    tolerance: float = 0.01
    max_ratio: float = 3.0
    negligible: float = 0.005
    min_requests: int = 500
    max_duration_s: float = 1200.0
    latency: bool = True
    latency_tolerance: float = 0.10
    latency_share: float = 0.1

    def __post_init__(self) -> None:
        check.number("alpha", self.alpha, low=0, high=0.5, open_low=True)
        check.number("margin", self.margin, low=0, high=1, open_high=True)
        check.number("tolerance", self.tolerance, low=0, high=1, open_low=True)
        check.number("max_ratio", self.max_ratio, low=1, open_low=True)
        check.number("negligible", self.negligible, low=0, high=self.tolerance)
        check.integer("min_requests", self.min_requests, low=0)
        check.number("max_duration_s", self.max_duration_s, low=0, open_low=True)
        if not isinstance(self.latency, bool):
            raise ValueError(f"latency must be true or false, got {self.latency!r}")
        check.number("latency_tolerance", self.latency_tolerance, low=0)
        check.number("latency_share", self.latency_share, low=0, high=1, open_low=True, open_high=True)

    @property
    def alpha_errors(self) -> float:
        return self.alpha * (1 - self.latency_share) if self.latency else self.alpha

    @property
    def alpha_latency(self) -> float:
        return self.alpha * self.latency_share


@dataclass(frozen=True, slots=True)
class Trace:
    """The judge's statistics after each look (arrays, one entry per look)."""

    t: FloatArray
    canary_requests: FloatArray  # cumulative
    canary_errors: FloatArray
    stable_requests: FloatArray
    stable_errors: FloatArray
    log_e_fail: FloatArray  # log of the fail mixture e-process
    log_e_ratio: FloatArray  # log of the "odds ratio >= max_ratio" e-process
    diff_lower: FloatArray  # confidence sequence for p_c - p_s (running intersection)
    diff_upper: FloatArray
    log_bf_latency: FloatArray  # latency guard, carried forward over looks without latency
    t_latency: FloatArray
    latency_ratio: FloatArray  # geometric mean of canary/stable mean latency so far
    latency_upper: FloatArray  # confidence sequence's upper end for that ratio (running minimum)
    latency_looks: FloatArray


@dataclass(frozen=True, slots=True)
class _Rules:
    """Boolean arrays, one entry per look: which rule holds there."""

    fail_errors: npt.NDArray[np.bool_]
    fail_latency: npt.NDArray[np.bool_]
    enough: npt.NDArray[np.bool_]
    measured: npt.NDArray[np.bool_]
    latency_ok: npt.NDArray[np.bool_]
    negligible: npt.NDArray[np.bool_]
    ratio_ok: npt.NDArray[np.bool_]
    passed: npt.NDArray[np.bool_]
    timeout: npt.NDArray[np.bool_]


def _latency_pairs(looks: Sequence[Look]) -> tuple[list[int], list[float]]:
    index, logs = [], []
    for k, look in enumerate(looks):
        c, s = look.canary.latency_ms, look.stable.latency_ms
        if c is None or s is None or not (look.canary.requests and look.stable.requests):
            continue
        if c > 0 and s > 0 and math.isfinite(c) and math.isfinite(s):
            index.append(k)
            logs.append(math.log(c / s))
    return index, logs


def trace(looks: Sequence[Look], settings: SequentialSettings) -> Trace:
    """Every statistic the judge uses, after each look."""
    s = settings
    n = np.array([look.canary.requests for look in looks], dtype=np.int64)
    x = np.array([look.canary.errors for look in looks], dtype=np.int64)
    m = np.array([look.stable.requests for look in looks], dtype=np.int64)
    y = np.array([look.stable.errors for look in looks], dtype=np.int64)
    grid = np.concatenate([_LOG_GRID, math.log(s.max_ratio) - _LOG_GRID, [math.log(s.max_ratio)]])
    log_lr = odds_ratio_log_lr(n, m, x, x + y, grid)
    g = _LOG_GRID.size
    log_e_fail = mixture_log_e(log_lr[:, :g], _LOG_WEIGHTS)
    log_e_ratio = mixture_log_e(log_lr[:, g : 2 * g] - log_lr[:, 2 * g :], _LOG_WEIGHTS)

    cn, cx, cm, cy = (np.cumsum(a).astype(np.float64) for a in (n, x, m, y))
    low_c, up_c = beta_binomial_bounds(cn, cx, s.alpha / 4, *BETA_PRIOR)
    low_s, up_s = beta_binomial_bounds(cm, cy, s.alpha / 4, *BETA_PRIOR)
    low_c, low_s = np.maximum.accumulate(low_c), np.maximum.accumulate(low_s)
    up_c, up_s = np.minimum.accumulate(up_c), np.minimum.accumulate(up_s)

    k = len(looks)
    log_bf, t_stat, ratio, count = np.zeros(k), np.zeros(k), np.full(k, np.nan), np.zeros(k)
    upper = np.full(k, np.inf)
    index, logs = _latency_pairs(looks)
    if index:
        d = np.array(logs)
        bf, tt = t_test_log_bf(d - math.log1p(s.latency_tolerance), T_PRIOR_VARIANCE)
        center, radius = t_confidence_sequence(d, s.alpha_latency, T_PRIOR_VARIANCE)
        up = np.minimum.accumulate(np.exp(center + radius))
        position = np.full(k, -1)
        position[index] = np.arange(len(index))
        position = np.maximum.accumulate(position)  # the last look with latency, at or before each look
        seen = position >= 0
        safe = np.where(seen, position, 0)
        log_bf = np.where(seen, bf[safe], 0.0)
        t_stat = np.where(seen, tt[safe], 0.0)
        ratio = np.where(seen, np.exp(center[safe]), np.nan)
        upper = np.where(seen, up[safe], np.inf)
        count = np.where(seen, safe + 1.0, 0.0)
    return Trace(
        t=np.array([look.t for look in looks], dtype=np.float64),
        canary_requests=cn,
        canary_errors=cx,
        stable_requests=cm,
        stable_errors=cy,
        log_e_fail=log_e_fail,
        log_e_ratio=log_e_ratio,
        diff_lower=low_c - up_s,
        diff_upper=up_c - low_s,
        log_bf_latency=log_bf,
        t_latency=t_stat,
        latency_ratio=ratio,
        latency_upper=upper,
        latency_looks=count,
    )


def _evidence(log_e: float) -> str:
    e = math.exp(min(log_e, 700.0))
    if e >= 1e6:
        return f"{e:.1e}"
    return f"{e:,.0f}" if e >= 10 else f"{e:.2f}"


def _rate(errors: float, requests: float) -> float:
    return errors / requests if requests else math.nan


class SequentialJudge:
    """Anytime-valid: fails on evidence that the canary errs more, passes on proof that it does not."""

    name: str

    def __init__(self, settings: SequentialSettings | None = None) -> None:
        self.settings = settings or SequentialSettings()
        self.name = "sequential"

    def decide(self, looks: Sequence[Look]) -> Decision:
        check_looks(looks)
        if not looks:
            return no_looks(self.name)
        tr = trace(looks, self.settings)
        rules = self._rules(tr)
        terminal = rules.fail_errors | rules.fail_latency | rules.passed | rules.timeout
        k = int(np.argmax(terminal)) if terminal.any() else len(looks) - 1
        verdict, reason = self._verdict(tr, rules, k)
        return Decision(verdict, reason, None, finite(self._details(tr, k)))

    def _rules(self, tr: Trace) -> _Rules:
        """Each decision rule's outcome at every look."""
        s = self.settings
        enough = tr.canary_requests >= s.min_requests
        measured = (tr.latency_looks > 0) if s.latency else np.zeros(tr.t.size, dtype=bool)
        latency_ok = ~measured | (tr.latency_upper < 1 + s.latency_tolerance)
        negligible = tr.diff_upper < s.negligible
        ratio_ok = tr.log_e_ratio >= math.log(2 / s.alpha)
        return _Rules(
            fail_errors=(tr.log_e_fail >= math.log(1 / s.alpha_errors))
            & ((s.margin == 0) | (tr.diff_lower > s.margin)),
            fail_latency=measured & (tr.t_latency > 0) & (tr.log_bf_latency >= math.log(1 / s.alpha_latency)),
            enough=enough,
            measured=measured,
            latency_ok=latency_ok,
            negligible=negligible,
            ratio_ok=ratio_ok,
            passed=enough & (tr.diff_upper < s.tolerance) & latency_ok & (negligible | ratio_ok),
            timeout=tr.t >= s.max_duration_s,
        )

    def _verdict(self, tr: Trace, rules: _Rules, k: int) -> tuple[Verdict, str]:
        s = self.settings
        n, x = tr.canary_requests[k], tr.canary_errors[k]
        m, y = tr.stable_requests[k], tr.stable_errors[k]
        counts = f"canary {pct(_rate(x, n))} ({x:,.0f}/{n:,.0f}) vs stable {pct(_rate(y, m))} ({y:,.0f}/{m:,.0f})"
        confidence = f"{1 - s.alpha:.0%}"
        upper, lower = float(tr.diff_upper[k]), float(tr.diff_lower[k])
        evidence = f"evidence {_evidence(tr.log_e_fail[k])}"
        needed = _evidence(math.log(1 / s.alpha_errors))
        if rules.fail_errors[k]:
            beyond = f", and the difference is at least {pp(lower)} > margin {points(s.margin)}" if s.margin else ""
            return Verdict.FAIL, (
                f"Canary errors more often: {counts}; {evidence} ≥ {needed} "
                f"(false-rollback risk ≤ {s.alpha_errors:.2%}){beyond}."
            )
        if rules.fail_latency[k]:
            return Verdict.FAIL, (
                f"Canary is slower: mean latency {tr.latency_ratio[k] - 1:+.1%} vs stable over "
                f"{tr.latency_looks[k]:.0f} looks (t = {tr.t_latency[k]:.1f}); evidence "
                f"{_evidence(tr.log_bf_latency[k])} ≥ {_evidence(math.log(1 / s.alpha_latency))} that it exceeds "
                f"the {s.latency_tolerance:.0%} latency tolerance."
            )
        bounded = rules.measured[k] and math.isfinite(tr.latency_upper[k])
        latency = f", mean latency at most {tr.latency_upper[k] - 1:+.1%}" if bounded else ""
        if rules.passed[k]:
            why = (
                f"below the negligible {points(s.negligible)}"
                if rules.negligible[k]
                else f"error odds below {s.max_ratio:g}× stable's, within the {points(s.tolerance)} tolerance"
            )
            return Verdict.PASS, (
                f"Canary is not worse: {counts}; difference at most {pp(upper)}{latency} ({confidence} "
                f"confidence), {why}."
            )
        if rules.timeout[k]:
            if rules.enough[k]:
                return Verdict.PASS, (
                    f"No evidence of harm after {tr.t[k]:.0f} s (max duration): {counts}; {evidence} of the "
                    f"{needed} needed to fail."
                )
            return Verdict.INCONCLUSIVE, (
                f"Max duration {s.max_duration_s:.0f} s reached with {n:,.0f} canary requests "
                f"(needs {s.min_requests:,}): too little traffic to judge."
            )
        if not rules.enough[k]:
            missing = f"{s.min_requests:,} canary requests"
        elif upper >= s.tolerance:
            missing = f"a difference bound below {points(s.tolerance)}"
        elif not (rules.negligible[k] or rules.ratio_ok[k]):
            missing = f"error odds shown below {s.max_ratio:g}× stable's or a bound below {points(s.negligible)}"
        else:
            missing = f"mean latency shown within +{s.latency_tolerance:.0%}"
        return Verdict.CONTINUE, (
            f"{counts[0].upper()}{counts[1:]}: {evidence} of the {needed} needed to fail; difference at most "
            f"{pp(upper)}{latency}; passing needs {missing}."
        )

    def _details(self, tr: Trace, k: int) -> dict[str, float]:
        return {
            "t": float(tr.t[k]),
            "look": float(k + 1),
            "canary_requests": float(tr.canary_requests[k]),
            "canary_errors": float(tr.canary_errors[k]),
            "stable_requests": float(tr.stable_requests[k]),
            "stable_errors": float(tr.stable_errors[k]),
            "e_value": math.exp(min(float(tr.log_e_fail[k]), 700.0)),
            "fail_threshold": 1 / self.settings.alpha_errors,
            "diff_lower": float(tr.diff_lower[k]),
            "diff_upper": float(tr.diff_upper[k]),
            "ratio_e_value": math.exp(min(float(tr.log_e_ratio[k]), 700.0)),
            "latency_e_value": math.exp(min(float(tr.log_bf_latency[k]), 700.0)) if tr.t_latency[k] > 0 else 1.0,
            "latency_ratio": float(tr.latency_ratio[k]),
            "latency_ratio_upper": float(tr.latency_upper[k]),
        }
