"""Helpers for the review tests: write a rule case (and its earlier commit) into a folder."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from critterops.review.model import Case

KENNEL = Path(__file__).parent / "fixtures" / "kennel"


def write(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def materialise(root: Path, case: Case) -> Path:
    """The case's repository; with ``case.base``, a git repository whose first commit is the base and whose
    second commit (tagged ``head``) is the case's files, and ``base`` names the first."""
    root.mkdir(parents=True, exist_ok=True)
    if case.base is None:
        write(root, case.files)
        return root
    _git(root, "init", "-q", "-b", "main")
    write(root, case.base)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "base")
    _git(root, "tag", "base")
    for rel in case.base:
        if rel not in case.files:
            (root / rel).unlink()
    write(root, case.files)
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "head", "--allow-empty")
    return root


@pytest.fixture
def kennel(tmp_path: Path) -> Path:
    """A copy of the fixture repository, as a git repository (baselines record its first commit)."""
    root = tmp_path / "kennel"
    files = {p.relative_to(KENNEL).as_posix(): p.read_text() for p in KENNEL.rglob("*") if p.is_file()}
    write(root, files)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "kennel")
    return root
