"""The bundled example never mixes into the system being scanned (issue 13, item 9).

A checkout of critterops, or a folder with the user's system next to a copy of
``src/critterops/examples/pawmart``, used to report PawMart's five services as the user's own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from critterops.discover import discover
from critterops.discover.assemble import discover_tree
from critterops.discover.gittree import GitTree
from tests.conftest import WriteRepo, web_csproj
from tests.history.gitrepos import Git

PROGRAM = 'builder.UseWolverine(o => { o.UseRabbitMq(); o.ListenToRabbitQueue("barks"); });'


def _user_system_with_example(root: Path, pawmart: Path) -> None:
    (root / "Kennel").mkdir(parents=True, exist_ok=True)
    (root / "Kennel/Kennel.csproj").write_text(web_csproj(), encoding="utf-8")
    (root / "Kennel/Program.cs").write_text(PROGRAM, encoding="utf-8")
    shutil.copytree(pawmart, root / "vendor/pawmart")


def test_a_copy_of_the_example_next_to_the_system_is_skipped(write_repo: WriteRepo, pawmart: Path) -> None:
    root = write_repo({})
    _user_system_with_example(root, pawmart)
    system = discover(root)
    assert [s.name for s in system.services] == ["kennel"]
    assert not any(p.path.startswith("vendor/") for p in system.projects)
    skipped = [w for w in system.warnings if w.file == "vendor/pawmart"]
    assert len(skipped) == 1 and "critterops scan --example" in skipped[0].message


def test_the_example_scanned_on_its_own_is_whole(pawmart: Path) -> None:
    system = discover(pawmart)
    assert len(system.services) == 5
    assert not any("bundled with critterops" in w.message for w in system.warnings)


def test_the_example_is_skipped_when_reading_from_git(tmp_path: Path, pawmart: Path) -> None:
    git = Git(tmp_path / "repo")
    _user_system_with_example(git.root, pawmart)
    git.git("add", "-A")
    commit = git.commit("kennel, with a copy of the example")
    system = discover_tree(GitTree.at(git.repo(), commit))
    assert [s.name for s in system.services] == ["kennel"]
    assert any(w.file == "vendor/pawmart" and "bundled with critterops" in w.message for w in system.warnings)
