"""``risk --history`` on awkward real repositories: clear messages, never a traceback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from critterops.cli import main
from critterops.history.evaluate import evaluate_history
from tests.history.gitrepos import ALICE, BOB, DAY, T0, Git, lines

APP = "src/Orders/Orders/Order{}.cs"


def _grow(git: Git, commits: int, fixes: int, *, at: int = T0, step: int = DAY, message: bytes | None = None) -> None:
    """``commits`` feature commits over 10 files, then ``fixes`` fixes that change earlier lines."""
    for i in range(commits):
        git.commit(f"feature {i}", {APP.format(i % 10): lines(3 + i, f"v{i}")}, author=(ALICE, BOB)[i % 2], at=at)
        at += step
    for k in range(fixes):
        body = message or f"fix bug {k}".encode()
        git.commit(body, {APP.format(k % 10): lines(2, f"fixed{k}")}, author=ALICE, at=at)
        at += step


def test_too_few_fixes_says_so_with_the_count(git: Git, capsys: pytest.CaptureFixture[str]) -> None:
    _grow(git, 70, 2)
    result = evaluate_history(git.root)
    assert result.status == "insufficient"
    assert f"only {result.positives} commits were later fixed" in result.message
    assert "needs at least 10" in result.message
    assert main(["risk", str(git.root), "--history"]) == 0
    assert "Not enough data" in capsys.readouterr().out


def test_shallow_clone_is_named_in_the_notes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    origin = Git(tmp_path / "origin")
    _grow(origin, 70, 12)
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "30", f"file://{origin.root}", str(shallow)], check=True, capture_output=True
    )
    result = evaluate_history(shallow)
    assert any("shallow clone" in note for note in result.notes)
    assert main(["risk", str(shallow), "--history"]) == 0
    assert "shallow clone" in capsys.readouterr().out


def test_rewritten_dates_are_noted_not_fatal(git: Git) -> None:
    # dates jump back by a year half way (a rebase that kept author dates, a clock set wrong)
    _grow(git, 40, 0, at=T0 + 400 * DAY)
    _grow(git, 40, 12, at=T0)
    result = evaluate_history(git.root)
    assert any("dated before their predecessor" in note for note in result.notes)
    json.dumps(result.to_dict(), allow_nan=False)


def test_non_utf8_messages(git: Git, capsys: pytest.CaptureFixture[str]) -> None:
    _grow(git, 70, 12, message=b"fix: caf\xe9 na\xefve bug\n")
    result = evaluate_history(git.root)
    assert result.positives > 0
    assert main(["risk", str(git.root), "--history", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["positives"] == result.positives
