"""Build the bundled example's git repository: PawMart on ``main`` plus a pull request branch.

``risk``, ``plan`` and ``affected`` need history; ``--example`` gives them one without network or
a .NET checkout. The change is data (``examples/changes/pawmart.yaml``): each commit's edits replace
one exact, unique piece of text, write a file, append to one, or delete one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from critterops.commands._common import example_path
from critterops.errors import BackendError

BASE_BRANCH = "main"
HEAD_BRANCH = "feature/carrier-codes"


def _git(repo: Path, *args: str, author: str | None = None, date: str | None = None) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    if author:
        name, email = author.rsplit(" <", 1)
        env.update(
            GIT_AUTHOR_NAME=name,
            GIT_AUTHOR_EMAIL=email.rstrip(">"),
            GIT_COMMITTER_NAME=name,
            GIT_COMMITTER_EMAIL=email.rstrip(">"),
        )
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, env=env, check=False)
    if result.returncode != 0:
        raise BackendError(f"git {args[0]} failed while building the example: {result.stderr.decode().strip()}")


def _apply(root: Path, edit: dict[str, Any]) -> None:
    path = root / edit["path"]
    if "write" in edit:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(edit["write"], encoding="utf-8")
    elif "append" in edit:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(edit["append"])
    elif edit.get("delete"):
        path.unlink()
    else:
        text = path.read_text(encoding="utf-8")
        old = edit["replace"]
        if text.count(old) != 1:
            raise BackendError(
                f"bundled change does not apply to {edit['path']}: {old!r} found {text.count(old)} times"
            )
        path.write_text(text.replace(old, edit["with"]), encoding="utf-8")


def change_script(name: str = "pawmart") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((example_path("changes") / f"{name}.yaml").read_text(encoding="utf-8"))
    return data


def build_example_repo(dest: Path, commits: int | None = None) -> Path:
    """Write the example into ``dest`` as a git repository; ``commits`` limits the branch's commits."""
    if shutil.which("git") is None:
        raise BackendError("git is not installed; the example repository is built with git")
    script = change_script()
    shutil.copytree(example_path(), dest, dirs_exist_ok=True)
    _git(dest, "init", "-q", "-b", BASE_BRANCH)
    _git(dest, "add", "-A")
    base = script["base"]
    _git(dest, "commit", "-q", "-m", base["message"], author=base["author"], date=base["date"])
    _git(dest, "checkout", "-q", "-b", HEAD_BRANCH)
    for commit in script["commits"][:commits]:
        for edit in commit["edits"]:
            _apply(dest, edit)
        _git(dest, "add", "-A")
        _git(dest, "commit", "-q", "-m", commit["message"], author=commit["author"], date=commit["date"])
    return dest


@contextmanager
def example_repo() -> Iterator[Path]:
    """A temporary example repository, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="critterops-example-"))
    try:
        yield build_example_repo(folder / "pawmart")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
