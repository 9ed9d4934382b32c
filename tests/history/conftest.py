"""Fixtures: a fresh git repository per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.history.gitrepos import Git


@pytest.fixture
def git(tmp_path: Path) -> Git:
    return Git(tmp_path / "repo")
