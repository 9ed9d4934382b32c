"""Does the risk model work on this repository's own history? A time-aware evaluation (risk design §3.4).

Protocol:

1. Mine the first-parent history and label it with SZZ (:mod:`.szz`).
2. Gap g = the 75th percentile of the observed fix latency (inducer → first fix). Commits younger
   than g at the end of the history are not tested: most of their fixes have not happened yet.
3. Rolling origin: the last 40% of the testable commits are cut into 3 consecutive test windows
   (2 or 1 if the data do not allow 3). For a window starting at t, the models train only on commits
   older than t − g, with the labels known at t (fixes that landed before t), so nothing from the
   future leaks in. Every fold is retrained; predictions of all windows are pooled.
4. On the pooled test commits, for our model (Kamei + rule signals) and the baselines (seeded
   random, LA-only LR, plain Kamei LR, and the untrained rule "touches source, then by lines added"):
   AUC with a 1000-resample bootstrap CI, Recall@20%Effort, capture when gating the riskiest 10%,
   and the Brier score against the base rate. Everything is repeated on the commits that touch
   source code, since docs-only commits are trivially safe and inflate AUC.
5. A paired bootstrap of AUC(ours) − AUC(plain Kamei) with a one-sided p, and a verdict in words.

6. The model that ships (:func:`shipped_evaluation`), evaluated out of sample: on a repository of its
   training corpus (recognised by its root commit) the artefact's leave-one-repository-out model
   scores all its mature commits; on any other repository the shipped model scores the commits after
   the time cut (the pooled test windows). Reported: per-commit calibrated p, level, top terms and
   label; AUC with CI and what the number of positives means for its width; a reliability table
   and the expected calibration error (ECE) before and after calibration; the share of commits and
   of later-fixed commits at each level.

Histories too small for this produce a report whose ``status`` is ``"insufficient"`` and whose
``message`` says what is missing, never an exception.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from critterops.gitrepo import GitRepo
from critterops.history.metrics import (
    Interval,
    PairedDifference,
    Vector,
    auc,
    auc_interval,
    base_rate_brier,
    brier,
    capture_at,
    paired_auc_difference,
    recall_at_effort,
)
from critterops.history.mining import FEATURES, KAMEI_FEATURES, RULE_FEATURES, History, mine_history
from critterops.history.model import RiskModel, fit, load_default_model, matrix
from critterops.history.szz import GAP_PERCENTILE, Latency, SzzResult, find_inducers, fix_latency
from critterops.jsonsafe import json_safe

MIN_COMMITS = 60
MIN_POSITIVES = 10
MIN_TRAIN_COMMITS = 40
MIN_TRAIN_POSITIVES = 5
MIN_TEST_COMMITS = 20
TEST_SHARE = 0.4
MAX_FOLDS = 3
RESAMPLES = 1000
_DAY = 86_400

Status = Literal["ok", "insufficient"]


@dataclass(frozen=True, slots=True)
class Metrics:
    """One model on one subset of the pooled test commits; Brier is None for scores that are not probabilities."""

    auc: Interval | None
    recall_at_20_effort: float | None
    capture_at_10: float | None
    brier: float | None


@dataclass(frozen=True, slots=True)
class ModelResult:
    name: str
    description: str
    all: Metrics
    source: Metrics


@dataclass(frozen=True, slots=True)
class Subset:
    """The pooled test commits ("all") or those touching source code ("source")."""

    name: str
    commits: int
    positives: int
    base_rate: float
    base_rate_brier: float


@dataclass(frozen=True, slots=True)
class Fold:
    train_until: str
    test_from: str
    test_to: str
    train_commits: int
    train_positives: int
    test_commits: int
    test_positives: int
    auc_ours: float | None
    auc_kamei: float | None


@dataclass(frozen=True, slots=True)
class ReliabilityBin:
    """Commits whose calibrated p fell in [low, high): their mean p and the observed share later fixed."""

    low: float
    high: float
    commits: int
    mean_p: float
    observed: float


@dataclass(frozen=True, slots=True)
class LevelShare:
    """One level on the evaluation: how many commits it flags and how many of the later-fixed ones it holds."""

    level: str
    threshold: float
    commits: int
    share_of_commits: float
    positives: int
    share_of_positives: float
    precision: float | None


@dataclass(frozen=True, slots=True)
class ScoredCommit:
    sha: str
    date: str
    p: float
    level: str
    top_terms: tuple[tuple[str, float, float], ...]
    label: int | None  # 1 later fixed, 0 not (yet), None when its label is younger than the gap


@dataclass(frozen=True, slots=True)
class ShippedEvaluation:
    """The artefact's model on commits it was not trained on."""

    protocol: str
    model: str
    commits: int
    positives: int
    source_commits: int
    source_positives: int
    auc: Interval | None
    auc_source: Interval | None
    brier: float | None
    ece_uncalibrated: float | None
    ece: float | None
    reliability: tuple[ReliabilityBin, ...]
    levels: tuple[LevelShare, ...]
    precision_note: str
    scored: tuple[ScoredCommit, ...]
    suggested_levels: tuple[LevelShare, ...] = ()
    suggestion: str = ""


@dataclass(frozen=True, slots=True)
class HistoryReport:
    repo: str
    head: str
    status: Status
    message: str
    commits: int
    first: str
    last: str
    fix_commits: int
    blamed_fixes: int
    reverts: int
    positives: int
    szz_skipped: dict[str, int]
    latency: Latency | None
    gap_days: float | None
    split: str
    folds: tuple[Fold, ...]
    subsets: tuple[Subset, ...]
    results: tuple[ModelResult, ...]
    ours_vs_kamei_all: PairedDifference | None
    ours_vs_kamei_source: PairedDifference | None
    verdict: str
    reasons: tuple[str, ...]
    notes: tuple[str, ...]
    seed: int
    resamples: int
    shipped: ShippedEvaluation | None = None
    shipped_vs_kamei_all: PairedDifference | None = None
    shipped_vs_kamei_source: PairedDifference | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (NaN becomes null)."""
        data: dict[str, Any] = json_safe(asdict(self))
        return data


def evaluate_history(
    repo: GitRepo | str | Path, *, head: str = "HEAD", seed: int = 0, resamples: int = RESAMPLES
) -> HistoryReport:
    """Mine, label and evaluate ``head``'s history; see the module docstring for the protocol.

    Raises :class:`~critterops.errors.UserError` for a path that is not a repository or an unknown
    ``head``; a history too small to evaluate is a report with ``status == "insufficient"``.
    """
    repo = repo if isinstance(repo, GitRepo) else GitRepo.open(repo)
    history = mine_history(repo, head, first_parent=False)
    return evaluate_labelled(history, find_inducers(repo, history), seed=seed, resamples=resamples)


# -- the protocol -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Split:
    train: tuple[int, ...]
    train_labels: tuple[int, ...]
    test: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class _Scorer:
    name: str
    description: str
    features: tuple[str, ...] | None  # None: not trained
    probabilistic: bool


SCORERS = (
    _Scorer("ours", "LR: Kamei + rule signals", FEATURES, True),
    _Scorer("kamei", "LR: plain Kamei (14)", KAMEI_FEATURES, True),
    _Scorer("la", "LR: LA only", ("la",), True),
    _Scorer("rule", "rule: source, then LA", None, False),
    _Scorer("random", "random (seeded)", None, False),
)


def evaluate_labelled(
    history: History,
    szz: SzzResult,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
    model: RiskModel | None = None,
) -> HistoryReport:
    """Evaluate an already mined and labelled history (the testable core of :func:`evaluate_history`).

    ``model`` is the model that ships (default: the published artefact).
    """
    commits = history.commits
    shipped_model, protocol = _shipped_for(history, model or load_default_model())
    base = _Base(history, szz, seed, resamples)
    if len(commits) < MIN_COMMITS:
        return base.insufficient(f"only {len(commits)} commits; the evaluation needs at least {MIN_COMMITS}")
    if len(szz.inducers) < MIN_POSITIVES:
        return base.insufficient(
            f"only {len(szz.inducers)} commits were later fixed (SZZ found {len(szz.fixes)} blamable fixes and "
            f"{szz.reverts} reverts); the evaluation needs at least {MIN_POSITIVES}"
        )
    latency = fix_latency(history, szz)
    gap = latency.p75_days * _DAY
    splits, split_note = _rolling_origin(history, szz, gap)
    loro_only = None
    if protocol.startswith("leave-one"):  # the shipped model needs no training split: all mature commits are test
        mature_labels = {szz.label(commits[i].sha) for i in mature_commits(history, gap)}
        if mature_labels == {0, 1}:
            loro_only = shipped_evaluation(
                history, szz, shipped_model, protocol, [], gap, seed=seed, resamples=resamples, loro=True
            )
    if not splits:
        return base.insufficient(split_note, latency=latency, shipped=loro_only)
    test = [i for split in splits for i in split.test]
    labels = np.asarray([szz.label(commits[i].sha) for i in test], dtype=float)
    if labels.min() == labels.max():
        return base.insufficient(
            f"all {len(test)} test commits ({_date(commits[test[0]].commit_time)} to "
            f"{_date(commits[test[-1]].commit_time)}) are {'later fixed' if labels[0] else 'clean'}, so no "
            "ranking metric is defined",
            latency=latency,
            shipped=loro_only,
        )
    scores = {s.name: _scores(s, history, splits, seed) for s in SCORERS}
    scores["shipped"] = shipped_model.predict_many(matrix([commits[i].features for i in test], shipped_model.features))
    source = np.asarray([commits[i].features.source for i in test], dtype=bool)
    loc = np.asarray([commits[i].features.la + commits[i].features.ld for i in test], dtype=float)
    shipped_scorer = _Scorer("shipped", f"shipped model ({protocol.split(':')[0]})", None, True)
    results = tuple(
        _result(s, labels, scores[s.name], loc, source, seed, resamples) for s in (shipped_scorer, *SCORERS)
    )
    paired_all = paired_auc_difference(labels, scores["ours"], scores["kamei"], resamples=resamples, seed=seed)
    assert paired_all is not None  # both classes are present, checked above
    paired_source = paired_auc_difference(
        labels[source], scores["ours"][source], scores["kamei"][source], resamples=resamples, seed=seed
    )
    shipped_paired = (
        paired_auc_difference(labels, scores["shipped"], scores["kamei"], resamples=resamples, seed=seed),
        paired_auc_difference(
            labels[source], scores["shipped"][source], scores["kamei"][source], resamples=resamples, seed=seed
        ),
    )
    last_train = splits[-1]
    verdict, reasons = _verdict(results, paired_all, paired_source, history, last_train, int(labels.sum()))
    return base.report(
        status="ok",
        message=split_note,
        latency=latency,
        gap_days=latency.p75_days,
        split=f"rolling origin, {len(splits)} folds" if len(splits) > 1 else "single time-ordered split",
        folds=tuple(_fold(history, szz, split, scores, test) for split in splits),
        subsets=(_subset("all", labels), _subset("source", labels[source])),
        results=results,
        paired=(paired_all, paired_source),
        shipped_paired=shipped_paired,
        verdict=verdict,
        reasons=reasons,
        excluded=len(commits) - len(mature_commits(history, gap)),
        shipped=shipped_evaluation(
            history,
            szz,
            shipped_model,
            protocol,
            test,
            gap,
            seed=seed,
            resamples=resamples,
            loro=protocol.startswith("leave-one"),
        ),
    )


# -- the model that ships -----------------------------------------------------------------------


def _shipped_for(history: History, model: RiskModel) -> tuple[RiskModel, str]:
    """The artefact's model this history may be evaluated with, out of sample, and how."""
    roots = set(history.roots)
    for p in model.provenance:
        if roots and roots & set(filter(None, p.root.split(","))):
            held = model.without(p.repo)
            if held is not None:
                return held, (
                    f"leave-one-repository-out: this repository is {p.repo} of the training corpus; the model "
                    f"evaluated is the shipped recipe trained without it, on all its {len(history.commits)} "
                    "commits' mature ones"
                )
    return model, (
        "time cut: the shipped model (never trained on this repository) scores the commits after the cut, "
        "the same ones the baselines, trained on the repository's past, are tested on"
    )


N_BINS = 10


def expected_calibration_error(labels: Vector, p: Vector, bins: int = N_BINS) -> tuple[float, list[ReliabilityBin]]:
    """ECE over ``bins`` equal-width bins of p: Σ (n_b/n)·|mean p_b − observed_b|, and the table."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    table: list[ReliabilityBin] = []
    total = 0.0
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        if not n:
            continue
        mean_p, observed = float(p[inside].mean()), float(labels[inside].mean())
        total += n / p.size * abs(mean_p - observed)
        table.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), n, round(mean_p, 4), round(observed, 4)))
    return total, table


def level_shares(labels: Vector, p: Vector, medium: float, high: float) -> tuple[LevelShare, ...]:
    positives = max(1.0, float(labels.sum()))
    out: list[LevelShare] = []
    for name, low, up in (("high", high, math.inf), ("medium", medium, high), ("low", -math.inf, medium)):
        inside = (p >= low) & (p < up)
        n, k = int(inside.sum()), int(labels[inside].sum())
        out.append(
            LevelShare(
                name,
                float(max(low, 0.0)),
                n,
                n / max(1, p.size),
                k,
                k / positives,
                k / n if n else None,
            )
        )
    return tuple(out)


def shipped_evaluation(
    history: History,
    szz: SzzResult,
    model: RiskModel,
    protocol: str,
    test: Sequence[int],
    gap: float,
    *,
    seed: int,
    resamples: int,
    loro: bool,
) -> ShippedEvaluation:
    """The shipped (or held-out) model's calibrated p on out-of-sample commits, with the label of each."""
    commits = history.commits
    mature = set(mature_commits(history, gap))
    chosen = sorted(mature, key=lambda i: (commits[i].commit_time, i)) if loro else list(test)
    rows = [commits[i].features for i in chosen]
    raw = matrix(rows, model.features)
    p = model.predict_many(raw)
    uncalibrated = 1 / (1 + np.exp(-model.logits(raw)))
    labels = np.asarray([szz.label(commits[i].sha) for i in chosen], dtype=float)
    source = np.asarray([r.source for r in rows], dtype=bool)
    levels = model.levels
    medium, high = (levels.medium, levels.high) if levels is not None else (0.3, 0.6)
    ece, table = expected_calibration_error(labels, p)
    ece_raw, _ = expected_calibration_error(labels, uncalibrated)
    scored = []
    for index, prob in zip(chosen, p, strict=True):
        commit = commits[index]
        level = "high" if prob >= high else "medium" if prob >= medium else "low"
        scored.append(
            ScoredCommit(
                commit.sha,
                _date(commit.commit_time),
                round(float(prob), 4),
                level,
                tuple((n, round(c, 4), v) for n, c, v in model.explain(commit.features, top=3)),
                szz.label(commit.sha),
            )
        )
    for index in sorted(set(range(len(commits))) - mature, key=lambda i: (commits[i].commit_time, i)):
        commit = commits[index]
        prob = float(model.predict(commit.features))
        level = "high" if prob >= high else "medium" if prob >= medium else "low"
        terms = tuple((n, round(c, 4), v) for n, c, v in model.explain(commit.features, top=3))
        scored.append(ScoredCommit(commit.sha, _date(commit.commit_time), round(prob, 4), level, terms, None))
    suggested, suggestion = _suggest_levels(labels, p, high)
    auc_all = auc_interval(labels, p, resamples=resamples, seed=seed)
    auc_src = auc_interval(labels[source], p[source], resamples=resamples, seed=seed) if source.any() else None
    positives = int(labels.sum())
    return ShippedEvaluation(
        protocol=protocol,
        model=f"{len(model.features)} features, calibration {model.calibration.method}",
        commits=int(labels.size),
        positives=positives,
        source_commits=int(source.sum()),
        source_positives=int(labels[source].sum()),
        auc=auc_all,
        auc_source=auc_src,
        brier=brier(labels, p) if labels.size else None,
        ece_uncalibrated=round(ece_raw, 4) if labels.size else None,
        ece=round(ece, 4) if labels.size else None,
        reliability=tuple(table),
        levels=level_shares(labels, p, medium, high),
        precision_note=_precision_note(positives, auc_all),
        scored=tuple(scored),
        suggested_levels=suggested,
        suggestion=suggestion,
    )


def _suggest_levels(labels: Vector, p: Vector, high: float) -> tuple[tuple[LevelShare, ...], str]:
    """The levels ``risk`` uses by default on this repository: thresholds at its own riskiest 8% (high)
    and 25% (medium) of commits (``change.model.repository_levels``), here set on the evaluated commits."""
    from critterops.history.train import HIGH_SHARE, MEDIUM_SHARE

    if p.size < MIN_TEST_COMMITS:
        return (), ""
    share = float(np.mean(p >= high))
    medium_at = round(float(np.quantile(p, 1 - MEDIUM_SHARE)), 2)
    high_at = round(float(np.quantile(p, 1 - HIGH_SHARE)), 2)
    if not 0 < medium_at < high_at < 1:
        return (), ""
    shares = level_shares(labels, p, medium_at, high_at)
    caught = shares[0]
    return shares, (
        f"The shipped thresholds put {share:.0%} of these commits at high. By default `risk` sets the thresholds "
        f"from the repository's own recent commits (its riskiest {HIGH_SHARE:.0%} at high); on these commits that "
        f"is high at p ≥ {high_at}, medium at p ≥ {medium_at}: high flags {caught.share_of_commits:.0%} of them "
        f"and holds {caught.share_of_positives:.0%} of the later-fixed ones (thresholds set on these same commits, "
        f"so slightly optimistic). To fix them instead: `risk: {{medium: {medium_at}, high: {high_at}}}` in "
        "critterops.yaml."
    )


def _precision_note(positives: int, interval: Interval | None) -> str:
    """What the number of positives means for the width of the AUC interval."""
    if interval is None:
        return f"{positives} later-fixed commits: AUC is not defined (one class)."
    width = interval.high - interval.low
    if positives < MIN_POSITIVES:
        scale = "far too few to tell a good model from a mediocre one"
    elif positives < 30:
        scale = "few: differences of less than about 0.1 in AUC between models cannot be told apart"
    elif positives < 100:
        scale = "enough to separate a useful model from chance, not to rank close models"
    else:
        scale = "enough for differences of a few hundredths of AUC to show"
    return f"{positives} later-fixed commits: the AUC's 95% CI is {width:.2f} wide ({scale})."


def _time_order(history: History) -> list[int]:
    return sorted(range(len(history.commits)), key=lambda i: (history.commits[i].commit_time, i))


def mature_commits(history: History, gap: float) -> list[int]:
    """Positions, in time order, of commits at least ``gap`` seconds older than the newest commit.

    Their labels are mature: most of their fixes would have landed by the end of the history.
    """
    end = max(c.commit_time for c in history.commits)
    return [i for i in _time_order(history) if history.commits[i].commit_time <= end - gap]


def _rolling_origin(history: History, szz: SzzResult, gap: float) -> tuple[list[_Split], str]:
    """The most folds (3, 2, then 1) whose every fold has enough training data and test commits."""
    testable = mature_commits(history, gap)
    region = testable[len(testable) - math.ceil(TEST_SHARE * len(testable)) :]
    order = _time_order(history)
    problem = "no testable commits"
    for folds in range(MAX_FOLDS, 0, -1):
        splits: list[_Split] = []
        for window in np.array_split(np.asarray(region, dtype=int), folds):
            split, problem = _split(history, szz, order, [int(i) for i in window], gap)
            if split is None:
                break
            splits.append(split)
        else:
            return splits, f"label gap {gap / _DAY:.1f} days (p{GAP_PERCENTILE} of fix latency)"
    return [], problem


def _split(
    history: History, szz: SzzResult, order: list[int], window: list[int], gap: float
) -> tuple[_Split | None, str]:
    commits = history.commits
    if len(window) < MIN_TEST_COMMITS:
        return None, (
            f"the test window holds {len(window)} commits (at least {MIN_TEST_COMMITS} needed) once the newest "
            f"commits, whose labels are younger than the {gap / _DAY:.0f}-day gap, are set aside"
        )
    start = commits[window[0]].commit_time
    train = [i for i in order if commits[i].commit_time < start - gap]
    labels = [szz.label(commits[i].sha, known_at=start) for i in train]
    if len(train) < MIN_TRAIN_COMMITS or sum(labels) < MIN_TRAIN_POSITIVES:
        return None, (
            f"only {len(train)} commits ({sum(labels)} known to be fixed) precede the test window by the "
            f"{gap / _DAY:.0f}-day label gap; training needs {MIN_TRAIN_COMMITS} commits and "
            f"{MIN_TRAIN_POSITIVES} fixed ones"
        )
    return _Split(tuple(train), tuple(labels), tuple(window)), ""


def _scores(scorer: _Scorer, history: History, splits: Sequence[_Split], seed: int) -> Vector:
    """Pooled test scores of one scorer, each fold's model trained on that fold's past only."""
    commits = history.commits
    if scorer.name == "random":
        return np.random.default_rng(seed).random(sum(len(split.test) for split in splits))
    parts: list[Vector] = []
    for split in splits:
        test_rows = [commits[i].features for i in split.test]
        if scorer.features is not None:
            model = fit(
                matrix([commits[i].features for i in split.train], scorer.features), split.train_labels, scorer.features
            )
            parts.append(model.predict_many(matrix(test_rows, scorer.features)))
        else:  # the untrained rule: any source file first, then more lines added; in [0, 1)
            parts.append(np.asarray([(r.source + r.la / (1 + r.la)) / 2 for r in test_rows], dtype=float))
    return np.concatenate(parts)


def _result(
    scorer: _Scorer,
    labels: Vector,
    scores: Vector,
    loc: Vector,
    source: npt.NDArray[np.bool_],
    seed: int,
    resamples: int,
) -> ModelResult:
    """One scorer's metrics on all pooled test commits and on those touching source code."""
    return ModelResult(
        scorer.name,
        scorer.description,
        _metrics(labels, scores, loc, scorer.probabilistic, seed, resamples),
        _metrics(labels[source], scores[source], loc[source], scorer.probabilistic, seed, resamples),
    )


def _metrics(labels: Vector, scores: Vector, loc: Vector, probabilistic: bool, seed: int, resamples: int) -> Metrics:
    if labels.size == 0:
        return Metrics(None, None, None, None)
    return Metrics(
        auc=auc_interval(labels, scores, resamples=resamples, seed=seed),
        recall_at_20_effort=recall_at_effort(labels, scores, loc, 0.2),
        capture_at_10=capture_at(labels, scores, 0.1),
        brier=brier(labels, scores) if probabilistic else None,
    )


def _subset(name: str, labels: Vector) -> Subset:
    positives = int(labels.sum())
    rate = positives / labels.size if labels.size else 0.0
    return Subset(name, int(labels.size), positives, rate, base_rate_brier(labels) if labels.size else 0.0)


def _fold(history: History, szz: SzzResult, split: _Split, scores: dict[str, Vector], pooled: Sequence[int]) -> Fold:
    commits = history.commits
    at = {index: k for k, index in enumerate(pooled)}
    rows = [at[i] for i in split.test]
    labels = np.asarray([szz.label(commits[i].sha) for i in split.test], dtype=float)
    return Fold(
        train_until=_date(commits[split.train[-1]].commit_time),
        test_from=_date(commits[split.test[0]].commit_time),
        test_to=_date(commits[split.test[-1]].commit_time),
        train_commits=len(split.train),
        train_positives=sum(split.train_labels),
        test_commits=len(split.test),
        test_positives=int(labels.sum()),
        auc_ours=auc(labels, scores["ours"][rows]),
        auc_kamei=auc(labels, scores["kamei"][rows]),
    )


def _date(timestamp: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


# -- verdict ------------------------------------------------------------------------------------


def _verdict(
    results: tuple[ModelResult, ...],
    paired_all: PairedDifference,
    paired_source: PairedDifference | None,
    history: History,
    last: _Split,
    test_positives: int,
) -> tuple[str, tuple[str, ...]]:
    """One sentence on ours vs plain Kamei and against the design target, plus likely reasons if we lose."""
    by_name = {r.name: r for r in results}
    sentences = [_comparison_sentence("all commits", paired_all)]
    if paired_source is not None:
        sentences.append(_comparison_sentence("source-touching commits", paired_source))
    sentences.append(_target_sentence(by_name["ours"].all, by_name["la"].all))
    if paired_all.p_one_sided < 0.05 and (paired_source is None or paired_source.p_one_sided < 0.05):
        return " ".join(sentences), ()
    widest = max((p for p in (paired_all, paired_source) if p is not None), key=_width)
    return " ".join(sentences), _reasons(widest, history, last, test_positives)


def _width(paired: PairedDifference) -> float:
    return paired.difference.high - paired.difference.low


def _comparison_sentence(scope: str, paired: PairedDifference) -> str:
    d = paired.difference
    verb = "beats" if paired.p_one_sided < 0.05 else "does NOT beat"
    return (
        f"On {scope}, our model {verb} plain Kamei LR: ΔAUC {d.value:+.3f} "
        f"(95% CI {d.low:+.3f} to {d.high:+.3f}, one-sided p = {paired.p_one_sided:.3f})."
    )


def _target_sentence(ours: Metrics, la_only: Metrics) -> str:
    if ours.auc is None or la_only.auc is None:
        return "The design target (AUC ≥ 0.75, CI above the LA-only LR) cannot be checked."
    met = ours.auc.value >= 0.75 and ours.auc.low > la_only.auc.value
    return (
        f"Design target (AUC ≥ 0.75 with the CI's lower bound above LA-only's {la_only.auc.value:.3f}): "
        f"{'met' if met else 'not met'} (AUC {ours.auc.value:.3f}, CI {ours.auc.low:.3f}–{ours.auc.high:.3f})."
    )


def _reasons(paired: PairedDifference, history: History, last: _Split, test_positives: int) -> tuple[str, ...]:
    """Checks that explain a loss or a tie, each stated with its numbers (``paired``: the widest comparison)."""
    rows = [history.commits[i].features for i in last.train]
    positives = sum(last.train_labels)
    width = paired.difference.high - paired.difference.low
    reasons: list[str] = []
    if test_positives < 30 or width > 0.1:
        reasons.append(
            f"sample size: {test_positives} later-fixed commits in the test windows; the ΔAUC interval is "
            f"{width:.2f} wide"
        )
    events_per_feature = positives / len(FEATURES)
    if events_per_feature < 10:
        reasons.append(
            f"too few positives per feature: {positives} fixed training commits for {len(FEATURES)} features "
            f"({events_per_feature:.1f} per feature, fewer than the usual 10; plain Kamei has "
            f"{len(KAMEI_FEATURES)} features)"
        )
    raw = matrix(rows, RULE_FEATURES)
    size = np.log1p([r.la + r.ld for r in rows])
    collinear = _collinear(np.log1p(raw), size)
    if collinear:
        reasons.append("rule signals collinear with size: " + ", ".join(collinear))
    rare = [name for name, share in zip(RULE_FEATURES, (raw > 0).mean(axis=0), strict=True) if share < 0.05]
    if rare:
        reasons.append(
            "rare rule signals (on in under 5% of training commits, too rarely to learn a weight): " + ", ".join(rare)
        )
    reasons.append(
        "label noise: SZZ labels come from keyword-matched fixes (about half of SZZ fixes are not real fixes, "
        "risk design §3.1) and miss defects fixed without a keyword"
    )
    return tuple(reasons)


def _collinear(logged: Vector, size: Vector, threshold: float = 0.4) -> list[str]:
    names: list[str] = []
    for j, name in enumerate(RULE_FEATURES):
        column = logged[:, j]
        if column.std() > 0 and size.std() > 0:
            r = float(np.corrcoef(column, size)[0, 1])
            if abs(r) >= threshold:
                names.append(f"{name} r = {r:.2f}")
    return names


# -- report assembly ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Base:
    history: History
    szz: SzzResult
    seed: int
    resamples: int

    def insufficient(
        self, message: str, latency: Latency | None = None, shipped: ShippedEvaluation | None = None
    ) -> HistoryReport:
        if self.history.shallow:
            message += " (this is a shallow clone: `git fetch --unshallow` gives the evaluation the whole history)"
        verdict = f"Not enough data to evaluate the model on this history: {message}."
        if shipped is not None:
            verdict = (
                f"Not enough data to compare with models trained on this history ({message}); the model that "
                "ships is evaluated on it out of sample above."
            )
        return self.report(
            status="insufficient",
            message=f"Not enough data to evaluate: {message}.",
            latency=latency,
            gap_days=latency.p75_days if latency else None,
            split="none",
            verdict=verdict,
            shipped=shipped,
        )

    def report(
        self,
        *,
        status: Status,
        message: str,
        latency: Latency | None,
        gap_days: float | None,
        split: str,
        verdict: str,
        folds: tuple[Fold, ...] = (),
        subsets: tuple[Subset, ...] = (),
        results: tuple[ModelResult, ...] = (),
        paired: tuple[PairedDifference | None, PairedDifference | None] = (None, None),
        shipped_paired: tuple[PairedDifference | None, PairedDifference | None] = (None, None),
        reasons: tuple[str, ...] = (),
        excluded: int = 0,
        shipped: ShippedEvaluation | None = None,
    ) -> HistoryReport:
        commits = self.history.commits
        times = [c.commit_time for c in commits]
        return HistoryReport(
            repo=self.history.root,
            head=self.history.head,
            status=status,
            message=message,
            commits=len(commits),
            first=_date(min(times)) if times else "",
            last=_date(max(times)) if times else "",
            fix_commits=sum(c.features.fix for c in commits),
            blamed_fixes=len(self.szz.fixes),
            reverts=self.szz.reverts,
            positives=len(self.szz.inducers),
            szz_skipped=dict(self.szz.skipped),
            latency=latency,
            gap_days=gap_days,
            split=split,
            folds=folds,
            subsets=subsets,
            results=results,
            ours_vs_kamei_all=paired[0],
            ours_vs_kamei_source=paired[1],
            shipped_vs_kamei_all=shipped_paired[0],
            shipped_vs_kamei_source=shipped_paired[1],
            verdict=verdict,
            reasons=reasons,
            notes=self._notes(excluded),
            seed=self.seed,
            resamples=self.resamples,
            shipped=shipped,
        )

    def _notes(self, excluded: int) -> tuple[str, ...]:
        notes: list[str] = []
        if self.history.shallow:
            notes.append("shallow clone: history features (LT, NDEV, AGE, NUC, EXP) only see the fetched commits")
        if excluded:
            notes.append(f"{excluded} newest commits are not tested: their labels are younger than the gap")
        merges = sum(c.is_merge for c in self.history.commits)
        if merges:
            notes.append(f"{merges} merge commits on the first-parent chain are counted by their first-parent diff")
        times = [c.commit_time for c in self.history.commits]
        backwards = sum(later < earlier for earlier, later in itertools.pairwise(times))
        if backwards and not self.history.first_parent:
            notes.append(
                f"{backwards} commits are dated before their predecessor in the walk (rewritten or skewed dates): "
                "time splits follow the commit dates, so those commits may sit in a different window"
            )
        return tuple(notes)
