"""The evaluation protocol: splits without leakage, baselines, verdicts, and small-data messages."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from critterops.errors import UserError
from critterops.history.evaluate import (
    HistoryReport,
    evaluate_history,
    evaluate_labelled,
    expected_calibration_error,
    level_shares,
)
from critterops.history.mining import FEATURES, CommitRecord, Features, History
from critterops.history.model import Provenance, RiskModel, fit, matrix
from critterops.history.szz import Inducer, SzzResult
from critterops.report.history import history_markdown, history_text
from tests.history.gitrepos import DAY, T0, Git

LATENCY = 5 * DAY


def _synthetic(n: int, seed: int, *, positives_before: int | None = None) -> tuple[History, SzzResult]:
    """``n`` commits half a day apart; later-fixed ones planted by lines added and the source flag.

    Most fixes land 5 days after their inducer (the label gap); one in seven lands after 60 days.
    """
    rng = np.random.default_rng(seed)
    commits: list[CommitRecord] = []
    inducers: dict[str, Inducer] = {}
    for i in range(n):
        la = int(rng.lognormal(3, 1.5))
        source = int(rng.random() < 0.7)
        values = {name: int(rng.integers(0, 4)) for name in FEATURES} | {"la": la, "source": source, "fix": 0}
        at = T0 + i * DAY // 2
        sha = f"{i + 1:040x}"
        commits.append(
            CommitRecord(
                sha=sha,
                parents=(f"{i:040x}",) if i else (),
                author="A",
                email="a@example.com",
                author_kind="human",
                developer="a",
                author_time=at,
                commit_time=at,
                subject=f"change {i}",
                title=f"change {i}",
                reverts=None,
                files=(),
                features=Features(**values),
            )
        )
        p = 1 / (1 + math.exp(-(-4.5 + 0.7 * math.log1p(la) + 1.2 * source)))
        if rng.random() < p and (positives_before is None or i < positives_before):
            late = len(inducers) % 7 == 6  # one in seven is found only after 60 days
            inducers[sha] = Inducer(sha, f"{n + i:040x}", at + (60 * DAY if late else LATENCY), "blame")
    history = History("/synthetic", commits[-1].sha, False, tuple(commits), {c.sha: k for k, c in enumerate(commits)})
    return history, SzzResult(inducers, tuple(i.fix_sha for i in inducers.values()), 0, {}, 0)


@pytest.fixture(scope="module")
def report() -> HistoryReport:
    history, szz = _synthetic(400, seed=5)
    return evaluate_labelled(history, szz, seed=1, resamples=1000)


def test_rolling_origin_with_a_gap_and_no_future_labels(report: HistoryReport) -> None:
    history, szz = _synthetic(400, seed=5)
    assert report.status == "ok"
    assert report.gap_days == 5.0 and report.latency is not None and report.latency.p75_days == 5.0
    assert report.split == "rolling origin, 3 folds" and len(report.folds) == 3
    end = history.commits[-1].commit_time
    testable = [c for c in history.commits if c.commit_time <= end - LATENCY]
    first_test = len(testable) - sum(f.test_commits for f in report.folds)
    for fold in report.folds:
        start = testable[first_test].commit_time
        first_test += fold.test_commits
        train = [c for c in history.commits if c.commit_time < start - LATENCY]
        known = [c for c in train if c.sha in szz.inducers and szz.inducers[c.sha].fix_time < start]
        assert fold.train_commits == len(train) and fold.train_positives == len(known)
        assert len(known) < sum(c.sha in szz.inducers for c in train)  # some fixes came after the window opened
        assert fold.train_until < fold.test_from
    assert any("not tested" in note for note in report.notes)


def test_models_and_baselines_on_all_and_source_commits(report: HistoryReport) -> None:
    by_name = {r.name: r for r in report.results}
    assert list(by_name) == ["shipped", "ours", "kamei", "la", "rule", "random"]
    ours = by_name["ours"].all
    assert ours.auc is not None and ours.auc.value > 0.65 and ours.auc.resamples == 1000
    assert ours.brier is not None and ours.brier < report.subsets[0].base_rate_brier
    random_auc = by_name["random"].all.auc
    assert random_auc is not None and 0.3 < random_auc.value < 0.7
    assert by_name["rule"].all.brier is None and by_name["random"].source.brier is None
    all_commits, source = report.subsets
    assert (all_commits.name, source.name) == ("all", "source")
    assert source.commits < all_commits.commits and source.positives <= all_commits.positives
    assert report.ours_vs_kamei_all is not None and report.ours_vs_kamei_source is not None
    assert "plain Kamei LR" in report.verdict and "Design target" in report.verdict


def test_report_is_json_and_renders(report: HistoryReport) -> None:
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["status"] == "ok" and len(data["results"]) == 6
    text, markdown = history_text(report), history_markdown(report)
    for rendered in (text, markdown):
        assert "LR: Kamei + rule signals" in rendered and "random (seeded)" in rendered
        assert "Commits touching source code" in rendered and report.verdict in rendered
    assert "|---|" in markdown and "R@20%E" in text


def test_a_loss_to_plain_kamei_is_said_plainly_with_reasons() -> None:
    history, szz = _synthetic(240, seed=11)
    loss = evaluate_labelled(history, szz, resamples=300)
    assert loss.status == "ok"
    assert "does NOT beat plain Kamei LR" in loss.verdict
    assert loss.reasons and any(r.startswith("label noise") for r in loss.reasons)


def test_one_class_in_the_test_windows_is_a_message_not_a_crash() -> None:
    history, szz = _synthetic(400, seed=5, positives_before=150)
    result = evaluate_labelled(history, szz, resamples=100)
    assert result.status == "insufficient"
    assert "are clean, so no ranking metric is defined" in result.message
    assert result.results == () and json.dumps(result.to_dict())


def test_no_fixes_at_all() -> None:
    history, _ = _synthetic(100, seed=2)
    result = evaluate_labelled(history, SzzResult({}, (), 0, {}, 0))
    assert result.status == "insufficient" and "only 0 commits were later fixed" in result.message


def test_a_tiny_repository_says_there_is_not_enough_data(git: Git) -> None:
    for i in range(5):
        git.commit(f"fix: change {i}", {"src/App/A.cs": f"int x = {i};\n"}, at=T0 + i * DAY)
    result = evaluate_history(git.root)
    assert result.status == "insufficient"
    assert result.message == "Not enough data to evaluate: only 5 commits; the evaluation needs at least 60."
    assert (result.commits, result.positives) == (5, 4)
    text = history_text(result)
    assert "Not enough data" in text and "AUC" not in text
    assert "Not enough data" in history_markdown(result)


def test_bad_input_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        evaluate_history(tmp_path)
    empty = Git(tmp_path / "empty")
    with pytest.raises(UserError):
        evaluate_history(empty.root)


def _model_for(history: History, szz: SzzResult) -> RiskModel:
    rows = [c.features for c in history.commits]
    labels = [int(c.sha in szz.inducers) for c in history.commits]
    return fit(matrix(rows, FEATURES), labels, FEATURES)


def test_the_shipped_model_is_evaluated_after_the_time_cut_on_an_unknown_repository(report: HistoryReport) -> None:
    shipped = report.shipped
    assert shipped is not None and shipped.protocol.startswith("time cut")
    assert shipped.commits == sum(f.test_commits for f in report.folds)  # the commits after the cut
    assert shipped.auc is not None and 0 <= shipped.ece <= 1  # type: ignore[operator]
    assert sum(level.commits for level in shipped.levels) == shipped.commits
    assert sum(level.positives for level in shipped.levels) == shipped.positives
    assert f"{shipped.positives} later-fixed commits" in shipped.precision_note and "CI" in shipped.precision_note
    labelled = [c for c in shipped.scored if c.label is not None]
    assert len(labelled) == shipped.commits and sum(c.label for c in labelled) == shipped.positives  # type: ignore[misc]
    young = [c for c in shipped.scored if c.label is None]
    assert young and all(0 <= c.p <= 1 and len(c.top_terms) == 3 for c in shipped.scored)
    data = report.to_dict()["shipped"]
    assert {"sha", "date", "p", "level", "top_terms", "label"} <= set(data["scored"][0])
    text = history_text(report)
    assert "The model that ships, out of sample" in text and "ECE" in text and "of later-fixed" in text
    assert report.shipped_vs_kamei_all is not None and "shipped model − plain Kamei: ΔAUC" in text


def test_a_corpus_repository_is_evaluated_with_the_model_trained_without_it() -> None:
    history, szz = _synthetic(400, seed=5)
    history = replace(history, roots=(history.commits[0].sha,))
    other, other_szz = _synthetic(400, seed=9)
    held = _model_for(other, other_szz)
    shipped = replace(
        _model_for(history, szz),  # trained on this very history: must not be the one evaluated
        provenance=(Provenance("me/repo", history.head, 400, 10, "a", "b", root=history.commits[0].sha),),
        held_out=(("me/repo", held),),
    )
    result = evaluate_labelled(history, szz, resamples=200, model=shipped)
    assert result.shipped is not None and result.shipped.protocol.startswith("leave-one-repository-out")
    assert "me/repo" in result.shipped.protocol
    mature = [c for c in history.commits if c.commit_time <= history.commits[-1].commit_time - LATENCY]
    assert result.shipped.commits == len(mature)  # every mature commit is out of sample
    first = result.shipped.scored[0]
    assert first.p == pytest.approx(held.predict(history.commits[0].features), abs=1e-4)


def test_expected_calibration_error_and_level_shares() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    labels = (rng.random(20000) < p).astype(float)
    ece, table = expected_calibration_error(labels, p)
    assert ece < 0.02 and len(table) == 10 and sum(b.commits for b in table) == 20000
    shifted, _ = expected_calibration_error(labels, np.clip(p + 0.2, 0, 1))
    assert 0.15 < shifted < 0.25
    shares = {s.level: s for s in level_shares(labels, p, 0.5, 0.9)}
    assert shares["high"].share_of_commits == pytest.approx(0.1, abs=0.01)
    assert shares["high"].precision == pytest.approx(0.95, abs=0.02)
    assert sum(s.share_of_positives for s in shares.values()) == pytest.approx(1.0)


def test_repository_thresholds_are_reported_with_what_they_catch() -> None:
    from critterops.history.evaluate import _suggest_levels

    rng = np.random.default_rng(3)
    p = rng.random(1000)
    labels = (rng.random(1000) < p * 0.3).astype(float)
    shares, text = _suggest_levels(labels, p, high=0.3)  # 70% of commits at high
    assert shares and shares[0].share_of_commits == pytest.approx(0.08, abs=0.01)
    assert "70%" in text and "critterops.yaml" in text and "optimistic" in text
    assert shares[0].share_of_positives > shares[0].share_of_commits  # the riskiest commits hold more fixes
    assert _suggest_levels(labels[:10], p[:10], high=0.3) == ((), "")  # too few commits to set thresholds on


def test_a_corpus_repository_too_small_to_split_still_gets_the_out_of_sample_evaluation() -> None:
    history, szz = _synthetic(400, seed=5, positives_before=150)  # the test windows hold no positive
    history = replace(history, roots=(history.commits[0].sha,))
    other, other_szz = _synthetic(400, seed=9)
    shipped = replace(
        _model_for(other, other_szz),
        provenance=(Provenance("me/repo", history.head, 400, 10, "a", "b", root=history.commits[0].sha),),
        held_out=(("me/repo", _model_for(other, other_szz)),),
    )
    result = evaluate_labelled(history, szz, resamples=100, model=shipped)
    assert result.status == "insufficient" and result.shipped is not None
    assert result.shipped.positives > 0 and result.shipped.auc is not None
    assert "evaluated on it out of sample" in result.verdict
    assert "The model that ships, out of sample" in history_text(result)
