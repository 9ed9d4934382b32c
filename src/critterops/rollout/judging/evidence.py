"""E-processes and confidence sequences for the sequential judge, in numpy only.

Four constructions, each valid at every look at once (so under optional stopping), by Ville's
inequality: a nonnegative supermartingale ``E`` with ``E_0 = 1`` exceeds ``1/alpha`` at *any* time
with probability at most ``alpha`` (Ville 1939; Ramdas, Grünwald, Vovk, Shafer, "Game-theoretic
statistics and safe anytime-valid inference", Statist. Sci. 2023).

1. :func:`odds_ratio_log_lr` and :func:`mixture_log_e`: the **conditional mixture likelihood ratio**
   for "the canary's error odds are at most stable's". Given both versions' request counts ``n``,
   ``m`` in a look and the look's total errors ``s``, the canary's errors ``x`` follow Fisher's
   noncentral hypergeometric law ``P_psi(x) ∝ C(n, x) C(m, s - x) psi^x`` with ``psi`` the odds
   ratio, whatever stable's error rate is (the nuisance parameter conditions away; it may even
   drift between looks). This is an exponential family in ``log psi`` with statistic ``x``, so the
   likelihood ratio ``L(psi) = P_psi(x) / P_1(x)`` has expectation at most 1 under every
   ``psi' <= 1`` when ``psi >= 1`` (convexity of the cumulant function). The product over looks is
   then a test supermartingale for "canary no worse", and so is any mixture of such products over
   a prior on ``psi`` fixed in advance: the mixture sequential probability ratio test (Robbins 1970;
   Johari, Koomen, Pekelis, Walsh, "Always valid inference", Oper. Res. 2022). Conditioning on the
   event totals is how Lindon, Sanden, Shirikian ("Rapid regression detection in software
   deployments through sequential testing", KDD 2022) and Lindon & Malek ("Anytime-valid inference
   for multinomial count data", NeurIPS 2022) make count tests free of the unknown baseline rate.
   It is exact at zero and small counts: a look without errors contributes a factor of exactly 1.
2. :func:`beta_binomial_bounds`: a **confidence sequence for one error proportion**, from Robbins'
   beta-binomial mixture martingale ``M_t(p) = B(a + S, b + n - S) / B(a, b) / (p^S (1-p)^(n-S))``
   (Robbins 1970; Howard, Ramdas, McAuliffe, Sekhon, "Time-uniform, nonparametric, nonasymptotic
   confidence sequences", Ann. Statist. 2021, §3). ``{p : M_t(p) < 1/alpha}`` covers the true
   rate at all times with probability ``1 - alpha``; with no errors it gives a one-sided bound
   that shrinks like ``log(1/alpha)/n``, with no normal approximation anywhere.
3. :func:`t_test_log_bf`: a **sequential t-test** for "the mean of Gaussian per-look values is
   zero": the Bayes factor with a ``N(0, g)`` prior on the standardized effect and the right-Haar
   prior on the scale (Rouder et al. 2009, eq. 1) is an e-process under the null, by group
   invariance (Lai, "On confidence sequences", Ann. Statist. 1976; Pérez-Ortiz, Lardy, de Heide,
   Grünwald, "E-statistics, group invariance and anytime-valid testing", Ann. Statist. 2024).
   Exact only for Gaussian values; used as a latency guard.
4. :func:`share_bet_log_e`: a **betting e-process on the canary's share of each look's events**
   (errors, or requests slower than a bound), robust to events that come in bursts. The
   hypergeometric ratio of 1. treats each error as landing on the canary independently, so a burst
   of ``k`` errors routed as a unit (session affinity, retries on one connection, the proxy's own
   retries) counts as ``k`` pieces of evidence although it is on the canary with probability ``w``,
   not ``w^k``. Whatever the clustering, if each error *or burst* is on the canary with probability
   at most its traffic share ``w = n/(n+m)``, the share ``x/s`` has conditional mean at most ``w``,
   so every factor ``1 + a (x/(s w) - 1)`` with ``0 <= a <= 1`` fixed before the split is seen has
   mean at most 1 and is not negative: their product is a test supermartingale (testing by
   betting: Shafer, "Testing by betting", JRSS A 2021; Waudby-Smith & Ramdas, "Estimating means of
   bounded random variables by betting", JRSS B 2024). No other per-look factor is valid for every
   clustering: the worst case puts all ``s`` errors in one burst, and a factor whose mean is at
   most 1 under every law of ``x`` on ``0..s`` with mean ``s w`` lies below a line through
   ``(s w, 1)``. The fraction ``a`` is the one that maximises the expected log growth against a
   binomial split at odds ratio ``psi`` (Kelly), which for a single error is exactly the
   likelihood ratio of 1.; a mixture over a grid of ``psi`` fixed in advance keeps the guarantee.
   Even against the narrower null "errors come in groups, each group on the canary independently
   with probability ``w``", the growth-optimal e-value (the alternative over its reverse
   information projection on the laws of all groupings of ``s`` errors; Grünwald, de Heide,
   Koolen, "Safe testing", JRSS B 2024) grows as fast as this linear bet: identical for
   ``s <= 6`` and within 2 % at ``s = 8`` (``w = 0.1``, ``psi = 5``, computed numerically). Against
   independent errors the likelihood ratio grows faster (0.72 against 0.60 per look at ``s = 3``):
   that is the price of not being fooled by bursts.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_PADDED_LIMIT = 4_000_000  # cells of the (looks x support x grid) array before falling back to windows
_WIDE_SUPPORT = 4_096  # a look with more possible canary-error counts than this is summed in windows


def lgamma(x: npt.ArrayLike) -> FloatArray:
    """``log Γ(x)`` for ``x > 0``, vectorised (numpy has none): Stirling's series at ``x + 8``.

    Absolute error below 1e-12 for the arguments used here (checked against :func:`math.lgamma`).
    """
    x = np.asarray(x, dtype=np.float64)
    z = x + 8.0
    shift = np.log(x * (x + 1) * (x + 2) * (x + 3)) + np.log((x + 4) * (x + 5) * (x + 6) * (x + 7))
    zi = 1.0 / z
    zi2 = zi * zi
    series = zi * (1 / 12 + zi2 * (-1 / 360 + zi2 * (1 / 1260 + zi2 * (-1 / 1680 + zi2 / 1188))))
    result: FloatArray = (z - 0.5) * np.log(z) - z + _HALF_LOG_2PI + series - shift
    return result


def log_factorial(k: npt.ArrayLike) -> FloatArray:
    return lgamma(np.asarray(k, dtype=np.float64) + 1.0)


def _logsumexp(a: FloatArray, axis: int) -> FloatArray:
    top = np.max(a, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out: FloatArray = np.log(np.sum(np.exp(a - top), axis=axis)) + np.squeeze(top, axis=axis)
    return out


def _fnch_log_weights(n: npt.ArrayLike, m: npt.ArrayLike, s: npt.ArrayLike, y: npt.ArrayLike) -> FloatArray:
    """``log C(n, y) + log C(m, s - y)`` up to terms that do not depend on ``y``."""
    n_, m_, s_, y_ = (np.asarray(v, dtype=np.int64) for v in (n, m, s, y))
    return -(log_factorial(y_) + log_factorial(n_ - y_) + log_factorial(s_ - y_) + log_factorial(m_ - s_ + y_))


def odds_ratio_log_lr(
    n: npt.ArrayLike, m: npt.ArrayLike, x: npt.ArrayLike, s: npt.ArrayLike, log_psi: npt.ArrayLike
) -> FloatArray:
    """Per look and per alternative, ``log P_psi(x | s) - log P_1(x | s)``: shape ``(looks, grid)``.

    ``n``, ``m``: canary and stable requests; ``x``: canary errors; ``s``: both versions' errors.
    """
    n_ = np.asarray(n, dtype=np.int64)
    m_ = np.asarray(m, dtype=np.int64)
    x_ = np.asarray(x, dtype=np.int64)
    s_ = np.asarray(s, dtype=np.int64)
    lp = np.asarray(log_psi, dtype=np.float64)
    lo = np.maximum(0, s_ - m_)
    hi = np.minimum(s_, n_)
    size = hi - lo + 1
    out = np.zeros((n_.size, lp.size))
    informative = size > 1  # one possible value: the look says nothing about psi
    if not informative.any():
        return out
    wide = informative & (size > _WIDE_SUPPORT)
    narrow = np.flatnonzero(informative & ~wide)
    if narrow.size:
        width = int(size[narrow].max())
        if narrow.size * width * lp.size > _PADDED_LIMIT:  # keep memory bounded: one look at a time
            for k in narrow:
                out[k] = _log_lr_window(n_[k], m_[k], x_[k], s_[k], lo[k], hi[k], lp)
        else:
            y = lo[narrow, None] + np.arange(width)[None, :]
            valid = y <= hi[narrow, None]
            y = np.where(valid, y, lo[narrow, None])
            logw = _fnch_log_weights(n_[narrow, None], m_[narrow, None], s_[narrow, None], y)
            logw = np.where(valid, logw, -np.inf)
            log_norm_alt = _logsumexp(logw[:, :, None] + y[:, :, None] * lp[None, None, :], axis=1)
            log_norm_null = _logsumexp(logw, axis=1)
            out[narrow] = x_[narrow, None] * lp[None, :] - log_norm_alt + log_norm_null[:, None]
    for k in np.flatnonzero(wide):
        out[k] = _log_lr_window(n_[k], m_[k], x_[k], s_[k], lo[k], hi[k], lp)
    return out


def _log_lr_window(
    n: np.int64, m: np.int64, x: np.int64, s: np.int64, lo: np.int64, hi: np.int64, lp: FloatArray
) -> FloatArray:
    """One look, summing each normaliser only where its terms are not negligible (huge counts)."""
    result = np.empty(lp.size)
    log_norm = []
    for log_psi in (0.0, *lp.tolist()):
        mode, sd = _fnch_mode_sd(int(n), int(m), int(s), math.exp(log_psi))
        reach = int(40 * sd) + 40
        y = np.arange(max(int(lo), mode - reach), min(int(hi), mode + reach) + 1)
        terms = _fnch_log_weights(n, m, s, y) + y * log_psi
        log_norm.append(float(_logsumexp(terms, axis=0)))
    for j, log_psi in enumerate(lp.tolist()):
        result[j] = x * log_psi - log_norm[j + 1] + log_norm[0]
    return result


def _fnch_mode_sd(n: int, m: int, s: int, psi: float) -> tuple[int, float]:
    """Mode of Fisher's noncentral hypergeometric (Liao & Rosen 2001) and an approximate sd."""
    lo, hi = max(0, s - m), min(s, n)
    if psi == 1.0:
        mode = int((s + 1) * (n + 1) / (n + m + 2))
    else:
        a = psi - 1.0
        b = n + s - (n + m) - (n + s + 2) * psi
        c = (n + 1) * (s + 1) * psi
        mode = int(-2 * c / (b - math.sqrt(b * b - 4 * a * c)))
    mode = min(max(mode, lo), hi)
    parts = [float(mode), float(n - mode), float(s - mode), float(m - s + mode)]
    inv = sum(1.0 / p for p in parts if p > 0)
    return mode, (1.0 / inv) ** 0.5 if inv > 0 else 0.0


_KELLY_CAP = 64  # events per look beyond which the bet's fraction is computed as for 64 (still valid)
_KELLY_STEPS = 25
MAX_FRACTION = 0.9  # a look where the canary has none of many events costs at most a factor of 10


def kelly_fractions(s: npt.ArrayLike, w: npt.ArrayLike, log_psi: npt.ArrayLike) -> FloatArray:
    """Per look and alternative, the fraction ``a`` in ``[0, 0.9]`` maximising ``E log(1 + a z)``.

    ``z = x/(s w) - 1`` with ``x ~ Binomial(min(s, 64), q)`` and ``q = psi w / (psi w + 1 - w)``, the
    canary's share of events when its odds are ``psi`` times stable's. Shape ``(looks, grid)``; 0
    where ``s == 0`` or ``w`` is 0 or 1. The optimum solves ``E[z / (1 + a z)] = 0`` (decreasing
    in ``a``), found by bisection, then capped at :data:`MAX_FRACTION` so that one look cannot
    wipe out the evidence gathered so far (with many events the optimum nears 1).
    """
    s_ = np.minimum(np.asarray(s, dtype=np.int64), _KELLY_CAP)
    w_ = np.asarray(w, dtype=np.float64)
    lp = np.asarray(log_psi, dtype=np.float64)
    out = np.zeros((s_.size, lp.size))
    live = np.flatnonzero((s_ > 0) & (w_ > 0) & (w_ < 1))
    if not live.size:
        return out
    size, share = s_[live].astype(np.float64), w_[live]
    psi = np.exp(lp)[None, :]
    q = psi * share[:, None] / (psi * share[:, None] + 1 - share[:, None])
    x = np.arange(int(size.max()) + 1, dtype=np.float64)[None, None, :]
    valid = x <= size[:, None, None]
    q3 = np.clip(q[:, :, None], 1e-300, 1 - 1e-16)
    log_p = (
        log_factorial(size)[:, None, None]
        - log_factorial(x)
        - log_factorial(np.maximum(size[:, None, None] - x, 0))
        + x * np.log(q3)
        + (size[:, None, None] - x) * np.log1p(-q3)
    )
    p = np.where(valid, np.exp(np.where(valid, log_p, 0.0)), 0.0)
    z = x / (size[:, None, None] * share[:, None, None]) - 1.0
    low, high = np.zeros(q.shape), np.ones(q.shape)
    for _ in range(_KELLY_STEPS):
        mid = 0.5 * (low + high)
        slope = np.sum(p * z / (1.0 + mid[:, :, None] * z), axis=2)
        low = np.where(slope > 0, mid, low)
        high = np.where(slope > 0, high, mid)
    single = size[:, None] == 1  # one event: the optimum in closed form, (q - w) / (1 - w)
    low = np.where(single, (q - share[:, None]) / (1 - share[:, None]), low)
    out[live] = np.clip(low, 0.0, MAX_FRACTION)
    return out


def share_bet_log_e(
    n: npt.ArrayLike,
    m: npt.ArrayLike,
    x: npt.ArrayLike,
    s: npt.ArrayLike,
    log_psi: npt.ArrayLike,
) -> FloatArray:
    """Per look and alternative, ``log(1 + a (x/(s w) - 1))`` with ``w = n/(n+m)``: shape ``(looks, grid)``.

    ``n``, ``m``: canary and stable requests; ``x``: the canary's events; ``s``: both versions'
    events; ``a`` from :func:`kelly_fractions`. A look without events, or without traffic on one
    side, contributes 0 (a factor of 1).
    """
    n_ = np.asarray(n, dtype=np.float64)
    m_ = np.asarray(m, dtype=np.float64)
    x_ = np.asarray(x, dtype=np.float64)
    s_ = np.asarray(s, dtype=np.int64)
    total = n_ + m_
    w = np.divide(n_, total, out=np.zeros_like(total), where=total > 0)
    a = kelly_fractions(s_, w, log_psi)
    z = np.divide(x_, s_ * w, out=np.ones_like(w), where=(s_ > 0) & (w > 0)) - 1.0
    out: FloatArray = np.log1p(a * z[:, None])
    return out


def mixture_log_e(log_lr: FloatArray, log_weights: FloatArray) -> FloatArray:
    """``log`` of the mixture e-process after each look: ``log sum_j w_j prod_k L_k(psi_j)``."""
    cumulative = np.cumsum(log_lr, axis=0) + log_weights[None, :]
    return _logsumexp(cumulative, axis=1)


def beta_binomial_bounds(
    n: npt.ArrayLike, s: npt.ArrayLike, alpha: float, a: float, b: float, iterations: int = 50
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper ends of the beta-binomial mixture confidence sequence for one proportion.

    ``n``, ``s``: cumulative requests and errors after each look. Each returned pair is the
    interval ``{p : M(p) < 1/alpha}``; it covers the true proportion at every look simultaneously
    with probability at least ``1 - alpha`` (so running intersections are valid too). ``log M`` is
    convex in ``p`` with its minimum (below 0) at ``S/n``, so each end is found by bisection.
    """
    n_ = np.asarray(n, dtype=np.float64)
    s_ = np.asarray(s, dtype=np.float64)
    f_ = n_ - s_
    # log of the mixture's marginal likelihood, B(a + S, b + F) / B(a, b)
    log_marginal = (
        lgamma(a + s_) + lgamma(b + f_) - lgamma(a + b + n_) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    )
    budget = math.log(1.0 / alpha) - log_marginal
    p_hat = np.divide(s_, n_, out=np.zeros_like(n_), where=n_ > 0)
    # Both ends at once: the first half searches (p_hat, 1) for the upper end, the second (0, p_hat).
    both_s, both_f, both_budget = np.tile(s_, 2), np.tile(f_, 2), np.tile(budget, 2)
    inner = np.tile(p_hat, 2)  # inside the sequence
    outer = np.concatenate([np.ones_like(p_hat), np.zeros_like(p_hat)])  # outside (or on the edge)
    tiny = 1e-300
    for _ in range(iterations):
        mid = 0.5 * (inner + outer)
        clipped = np.clip(mid, tiny, 1.0 - 1e-16)
        loglik = both_s * np.log(clipped) + both_f * np.log1p(-clipped)
        inside = -loglik < both_budget
        inner = np.where(inside, mid, inner)
        outer = np.where(inside, outer, mid)
    k = p_hat.size
    upper = np.where((f_ == 0) | (n_ == 0), 1.0, outer[:k])
    lower = np.where((s_ == 0) | (n_ == 0), 0.0, outer[k:])
    return lower, upper


def t_confidence_sequence(values: FloatArray, alpha: float, g: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """After each value: the mean and the radius of the confidence sequence ``mean ± radius``.

    It is ``{mu : BF_n(values - mu) < 1/alpha}`` for the Bayes factor of :func:`t_test_log_bf`, which
    depends on ``|t|`` only and grows with it, so the set is ``|t(mu)| < t*_n`` where
    ``BF_n(t*_n) = 1/alpha`` has a closed form. Radius ``inf`` until the factor can reach ``1/alpha``.
    """
    d = np.asarray(values, dtype=np.float64)
    count = np.arange(1, d.size + 1, dtype=np.float64)
    radius = np.full(d.size, np.inf)
    mean = np.cumsum(d) / count if d.size else np.zeros(0)
    if d.size < 2:
        return mean, radius
    c = d - d[0]
    s1, s2 = np.cumsum(c), np.cumsum(c * c)
    nu = count - 1
    var = np.maximum(np.divide(s2 - s1 * s1 / count, nu, out=np.zeros_like(s2), where=nu > 0), 0.0)
    spread = 1.0 + count * g
    # (1 + u) / (1 + u / spread) = q with u = t^2 / nu, q = (sqrt(spread) / alpha)^(2 / n)
    q = np.exp((np.log(spread) + 2 * math.log(1 / alpha)) / count)
    reachable = (q < spread) & (nu > 0)
    u = np.divide(q - 1, 1 - q / spread, out=np.full_like(q, np.inf), where=reachable)
    t_star = np.sqrt(nu * np.where(reachable, u, 0.0))
    radius = np.where(reachable, t_star * np.sqrt(var / count), np.inf)
    return mean, radius


def t_test_log_bf(values: FloatArray, g: float = 1.0) -> tuple[FloatArray, FloatArray]:
    """After each value: the log Bayes factor against "mean zero" and the t statistic.

    ``BF_n = (1 + n g)^(-1/2) [(1 + t^2/nu) / (1 + t^2/(nu (1 + n g)))]^(n/2)``, ``nu = n - 1``
    (Rouder et al. 2009). Before two values, or while they are all equal to the first (no scale
    yet), the factor is 1 and t is 0.
    """
    d = np.asarray(values, dtype=np.float64)
    count = np.arange(1, d.size + 1, dtype=np.float64)
    log_bf = np.zeros(d.size)
    t = np.zeros(d.size)
    if d.size < 2:
        return log_bf, t
    c = d - d[0]
    s1 = np.cumsum(c)
    s2 = np.cumsum(c * c)
    mean_c = s1 / count
    nu = count - 1
    var = np.divide(s2 - s1 * mean_c, nu, out=np.zeros_like(s2), where=nu > 0)
    var = np.maximum(var, 0.0)
    ok = (count >= 2) & (var > 1e-300 * np.maximum(1.0, s2))
    mean = mean_c + d[0]
    t = np.where(ok, mean / np.sqrt(np.where(ok, var, 1.0) / count), 0.0)
    spread = 1.0 + count * g
    safe_nu = np.where(ok, nu, 1.0)
    log_bf = np.where(
        ok,
        -0.5 * np.log(spread) + 0.5 * count * (np.log1p(t * t / safe_nu) - np.log1p(t * t / (safe_nu * spread))),
        0.0,
    )
    return log_bf, t
