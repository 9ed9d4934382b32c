"""Real git repositories built from the bundled example, one commit per test case."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from critterops.commands._example import _apply, build_example_repo

Edits = list[dict[str, Any]]
MakeChange = Callable[..., Path]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Dev",
    "GIT_AUTHOR_EMAIL": "dev@example.test",
    "GIT_COMMITTER_NAME": "Test Dev",
    "GIT_COMMITTER_EMAIL": "dev@example.test",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def git(repo: Path, *args: str) -> str:
    import os

    result = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env={**os.environ, **GIT_ENV}, check=True
    )
    return result.stdout


@pytest.fixture(scope="session")
def pawmart_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PawMart committed once on ``main`` (no pull-request commits)."""
    return build_example_repo(tmp_path_factory.mktemp("template") / "pawmart", commits=0)


@pytest.fixture
def make_change(pawmart_repo: Path, tmp_path: Path) -> MakeChange:
    """Copy the template repository, apply edits as commits on a branch, return the copy."""

    def make(*commits: Edits, message: str = "change") -> Path:
        repo = tmp_path / "repo"
        shutil.copytree(pawmart_repo, repo)
        for i, edits in enumerate(commits):
            for edit in edits:
                _apply(repo, edit)
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "--allow-empty", "-m", f"{message} {i + 1}")
        return repo

    return make
