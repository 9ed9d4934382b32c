"""The first hour with critterops: nothing-to-compare, help text, set-up (issue 13, item 9)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from critterops.cli import _commands, build_parser, main
from critterops.errors import EXIT_USAGE
from tests.history.gitrepos import Git


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["risk", "plan"])
def test_main_checked_out_on_main_has_nothing_to_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    git = Git(tmp_path / "repo")
    git.commit("first", {"README.md": "hello\n"})
    git.commit("second", {"README.md": "hello again\n"})
    code, out, err = _run(capsys, command, str(git.root))
    assert code == 0
    assert out == ""  # no empty report pretending a comparison happened
    assert "Nothing to compare" in err and "same commit as main" in err
    assert f"critterops {command} --base HEAD~1" in err
    assert "origin/main" not in err  # this repository has no remote to suggest


def test_first_commit_does_not_suggest_a_parent_it_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git = Git(tmp_path / "repo")
    git.commit("first", {"README.md": "hello\n"})
    git.git("remote", "add", "origin", str(tmp_path / "elsewhere"))
    code, _, err = _run(capsys, "risk", str(git.root))
    assert code == 0
    assert "HEAD~1" not in err
    assert "critterops risk --base origin/main" in err


def test_branch_behind_its_base_has_nothing_to_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git = Git(tmp_path / "repo")
    git.commit("first", {"README.md": "hello\n"})
    git.git("branch", "feature")
    git.commit("second", {"README.md": "hello again\n"})
    git.git("checkout", "-q", "feature")
    code, out, err = _run(capsys, "plan", str(git.root))
    assert (code, out) == (0, "")
    assert "has no commit that main does not already have" in err


def test_explicit_base_equal_to_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git = Git(tmp_path / "repo")
    git.commit("first", {"README.md": "hello\n"})
    code, _, err = _run(capsys, "risk", str(git.root), "--base", "main")
    assert code == 0
    assert "--base main and --head HEAD are the same commit" in err


def test_a_real_range_is_still_compared(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git = Git(tmp_path / "repo")
    git.commit("first", {"README.md": "hello\n"})
    git.commit("second", {"README.md": "hello again\n"})
    code, out, err = _run(capsys, "risk", str(git.root), "--base", "HEAD~1", "--no-model")
    assert code == 0
    assert "Nothing to compare" not in err
    assert out.startswith("Risk of HEAD~1")
    assert "1 file" in out and "1 files" not in out


def test_no_known_base_branch_says_which_base_to_give(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git = Git(tmp_path / "repo")
    git.commit("first", {"README.md": "hello\n"})
    git.commit("second", {"README.md": "hello again\n"})
    git.git("branch", "-m", "trunk")
    code, _, err = _run(capsys, "risk", str(git.root))
    assert code == EXIT_USAGE
    assert "none of origin/HEAD" in err and "critterops risk --base HEAD~1" in err


def _parsers(parser: argparse.ArgumentParser, path: str = "critterops") -> list[tuple[str, argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found += _parsers(child, f"{path} {name}")
    return found


def test_every_cli_option_has_help_text() -> None:
    parsers = _parsers(build_parser(_commands()))
    assert len(parsers) > len(_commands())  # the walk reached the subcommands and deploy's own subcommands
    missing = [
        f"{path} {'/'.join(action.option_strings) or action.dest}"
        for path, parser in parsers
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction)
        and action.help != argparse.SUPPRESS
        and not (action.help or "").strip()
    ]
    assert missing == []


def test_every_subcommand_has_help_text() -> None:
    missing = [
        f"{path} {choice.dest}"
        for path, parser in _parsers(build_parser(_commands()))
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for choice in action._choices_actions
        if not (choice.help or "").strip()
    ]
    assert missing == []
