"""``.pre-commit-hooks.yaml``: valid for pre-commit, and the hooks work through ``pre-commit try-repo``.

The manifest is checked with pre-commit's own schema (``pre_commit.clientlib.load_manifest``,
pre-commit 4.7.0). ``try-repo`` installs critterops from a copy of the committed tree (as a
``rev:`` would) into pre-commit's own virtualenv, so it needs the package index; it runs on the
bundled example with its kit committed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from critterops.commands._example import build_example_repo

clientlib = pytest.importorskip("pre_commit.clientlib")

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"
# The hook takes the flags the kit was generated with. A fixed --tag: the default (the commit) changes
# with every commit. No docker part: Dockerfiles the kit wrote are found as the services' own on the
# next run and reported stale, so `generate --check` after `generate` is not clean with them (yet).
KIT_ARGS = ["--tag", "v1", "--only", "kubernetes,github,observability,runbooks"]
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


def test_the_manifest_is_valid_for_pre_commit() -> None:
    hooks = {hook["id"]: hook for hook in clientlib.load_manifest(str(MANIFEST))}
    assert set(hooks) == {"critterops-generate-check", "critterops-review"}
    for hook in hooks.values():
        assert hook["language"] == "python"  # pre-commit installs critterops itself at the rev pinned
        assert hook["pass_filenames"] is False  # both commands read the whole repository
        assert hook["entry"].startswith("critterops ")
    assert hooks["critterops-generate-check"]["entry"] == "critterops generate --check"
    assert hooks["critterops-review"]["entry"] == "critterops review --fail-on error"


def test_a_broken_manifest_is_rejected_by_the_same_check(tmp_path: Path) -> None:
    broken = tmp_path / ".pre-commit-hooks.yaml"
    broken.write_text(MANIFEST.read_text().replace("language: python", "language: pythn", 1))
    with pytest.raises(clientlib.InvalidManifestError):
        clientlib.load_manifest(str(broken))


def _hook_repo(dest: Path) -> str:
    """The committed tree plus the manifest, as a git repository; returns its commit."""
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", "HEAD", "src", "pyproject.toml", "README.md"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    shutil.copy(MANIFEST, dest / MANIFEST.name)
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run([*GIT, "-C", str(dest), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(dest), "commit", "-qm", "hooks"], check=True)
    return subprocess.run(
        ["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _try(repo: Path, hooks: Path, ref: str, hook: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["pre-commit", "try-repo", str(hooks), hook, "--ref", ref, "--all-files"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},
        timeout=900,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pre-commit") is None, reason="pre-commit is in the test extra")
def test_try_repo_runs_both_hooks(tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    ref = _hook_repo(hooks)
    repo = build_example_repo(tmp_path / "pawmart")
    home = tmp_path / "pre-commit-home"

    drift = _try(repo, hooks, ref, "critterops-generate-check", home)
    assert drift.returncode == 1, drift.stdout + drift.stderr
    assert "critterops generate --check" in drift.stdout and "Failed" in drift.stdout
    assert "difference(s) between" in drift.stdout

    # try-repo keeps its environment in a temporary store; a configured hook keeps it in
    # PRE_COMMIT_HOME, where the critterops it installed generates the kit the hook then accepts
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {ref}\n    hooks:\n      - id: critterops-generate-check\n"
        f"        args: {json.dumps(KIT_ARGS)}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    run = ["pre-commit", "run", "--all-files"]
    subprocess.run(run, cwd=repo, env=env, capture_output=True, timeout=900, check=False)
    installed = next(home.glob("repo*/py_env-*/bin/critterops"))
    subprocess.run([str(installed), "generate", str(repo), *KIT_ARGS], check=True, capture_output=True)
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-qm", "kit"], check=True)
    clean = subprocess.run(run, cwd=repo, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "critterops generate --check" in clean.stdout and "Passed" in clean.stdout

    # the example is built to have findings: some are errors, so the review hook fails and shows them
    review = _try(repo, hooks, ref, "critterops-review", home)
    assert review.returncode == 1, review.stdout + review.stderr
    assert "critterops review" in review.stdout and "Failed" in review.stdout
    assert "CR1" in review.stdout
