"""A service's level: the most severe rule finding or the model's level, whichever is higher; no composite."""

from __future__ import annotations

from pathlib import Path

import pytest

from critterops.change.score import Levels, levels_for, range_risk, rule_severity, service_risk
from critterops.model import CommitRisk, Finding, Location
from critterops.plan.policy import default_policy

LEVELS = Levels(medium=0.2, high=0.5)


def _commit(sha: str, p: float) -> CommitRisk:
    return CommitRisk(sha * 10, f"commit {sha}", p, (("la", 1.2, 300.0),))


def _finding(rule: str, **facts: str) -> Finding:
    return Finding(rule, ("orders",), "detail", (Location("x.cs"),), facts=tuple(facts.items()))


@pytest.mark.parametrize(
    ("rule", "p", "level", "rule_level", "model_level"),
    [
        ("contract-breaking", 0.01, "high", "high", "low"),  # a breaking contract is high whatever the model says
        ("code-changed", 0.01, "low", "low", "low"),
        ("code-changed", 0.3, "medium", "low", "medium"),
        ("code-changed", 0.7, "high", "low", "high"),
        ("projection-changed", 0.05, "medium", "medium", "low"),
    ],
)
def test_level_is_the_higher_of_rules_and_model(
    rule: str, p: float, level: str, rule_level: str, model_level: str
) -> None:
    risk = service_risk("orders", ("direct",), [_finding(rule)], [_commit("a", p)], LEVELS)
    assert (risk.level, risk.rule_level, risk.model_level) == (level, rule_level, model_level)
    assert risk.score == risk.model_probability == p  # the shown number is the calibrated p itself
    assert f"rules {rule_level}" in risk.basis and f"model p {p:.2f}" in risk.basis


def test_without_model_the_level_is_the_rules_and_no_number_is_invented() -> None:
    risk = service_risk("orders", ("direct",), [_finding("wiring-changed")], [], LEVELS)
    assert (risk.level, risk.model_level, risk.model_probability, risk.score) == ("medium", None, None, 0.0)


def test_severity_refinements() -> None:
    assert rule_severity(_finding("event-breaking", mitigated="true")) == "medium"
    assert rule_severity(_finding("event-breaking", mitigated="false")) == "high"
    assert rule_severity(_finding("saga-state-changed", breaking="true")) == "high"
    assert rule_severity(_finding("saga-state-changed")) == "medium"


def test_range_risk_does_not_grow_with_the_number_of_commits() -> None:
    one = range_risk([_commit("a", 0.3)], LEVELS)
    ten = range_risk([_commit(str(i), 0.3) for i in range(10)], LEVELS)
    assert one is not None and ten is not None
    assert one.max_probability == ten.max_probability == 0.3
    assert (ten.commits, ten.above_high) == (10, 0)
    assert range_risk([_commit("a", 0.6), _commit("b", 0.1)], LEVELS).above_high == 1  # type: ignore[union-attr]
    assert range_risk([], LEVELS) is None


def test_default_policy_lets_assess_choose_the_thresholds() -> None:
    from critterops.change.score import model_levels

    assert levels_for(default_policy()) is None
    shipped = model_levels()
    assert 0 < shipped.medium < shipped.high < 1 and "held-out" in shipped.source


def test_thresholds_relative_to_the_repository_s_recent_commits(tmp_path: Path) -> None:
    from critterops.change.model import repository_levels
    from tests.history.gitrepos import ALICE, BOB, DAY, T0, Git, lines

    git = Git(tmp_path / "repo")
    for i in range(45):
        size = 3 if i % 10 else 400  # every tenth commit is large
        files = {f"src/App/App/F{i % 7}.cs": lines(size + i)}
        git.commit(f"change {i}", files, author=(ALICE, BOB)[i % 2], at=T0 + i * DAY)
    assert repository_levels(git.repo(), "HEAD") is None  # too short a history to set thresholds on
    for i in range(45, 120):
        size = 3 if i % 10 else 400
        files = {f"src/App/App/F{i % 7}.cs": lines(size + i)}
        git.commit(f"change {i}", files, author=(ALICE, BOB)[i % 2], at=T0 + i * DAY)
    levels = repository_levels(git.repo(), "HEAD")
    assert levels is not None and 0 < levels.medium < levels.high < 1
    assert "riskiest 8%" in levels.source and "last 119 commits" in levels.source
