"""Runbook links: the alerts' runbook_url names the kit's pages on GitHub, or says it is a relative path."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from critterops.cli import main
from critterops.commands._common import example_path
from critterops.generate.links import Checkout, Remote, github_repository, read_checkout, runbook_base
from tests.history.gitrepos import Git

# ─── remotes ─────────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("https://github.com/acme/pawmart.git", ("acme", "pawmart"), id="https"),
        pytest.param("https://github.com/acme/pawmart", ("acme", "pawmart"), id="https-no-suffix"),
        pytest.param("https://github.com/acme/pawmart/", ("acme", "pawmart"), id="trailing-slash"),
        pytest.param("git@github.com:acme/pawmart.git", ("acme", "pawmart"), id="scp-like-ssh"),
        pytest.param("ssh://git@github.com:22/acme/pawmart.git", ("acme", "pawmart"), id="ssh-with-port"),
        pytest.param("https://x-access-token:s3cret@github.com/acme/pawmart.git", ("acme", "pawmart"), id="token"),
        pytest.param("https://GitHub.com/Acme/Paw.Mart.git", ("Acme", "Paw.Mart"), id="dotted-name"),
        pytest.param("https://gitlab.com/acme/pawmart.git", None, id="gitlab"),
        pytest.param("https://github.example.com/acme/pawmart.git", None, id="enterprise-host"),
        pytest.param("https://github.com.evil.test/acme/pawmart.git", None, id="lookalike-host"),
        pytest.param("https://github.com/acme", None, id="owner-only"),
        pytest.param("/srv/git/pawmart.git", None, id="local-path"),
    ],
)
def test_github_remotes_are_recognised(url: str, expected: tuple[str, str] | None) -> None:
    assert github_repository(url) == expected


ROOT = Path("/src/pawmart")


@pytest.mark.parametrize(
    ("checkout", "kit", "prefix", "url", "note"),
    [
        pytest.param(
            Checkout(ROOT, (Remote("origin", "git@github.com:acme/pawmart.git", "trunk"),)),
            ROOT / "deploy",
            "deploy",
            "https://github.com/acme/pawmart/blob/trunk/deploy/runbooks",
            None,
            id="default-branch-known",
        ),
        pytest.param(
            Checkout(ROOT, (Remote("origin", "https://github.com/acme/pawmart", None),)),
            ROOT / "deploy",
            "deploy",
            "https://github.com/acme/pawmart/blob/HEAD/deploy/runbooks",
            None,
            id="default-branch-unknown",
        ),
        pytest.param(
            Checkout(ROOT, (Remote("origin", "https://github.com/acme/pawmart", "release/2.x"),)),
            ROOT / "ops kit",
            "ops kit",
            "https://github.com/acme/pawmart/blob/release/2.x/ops%20kit/runbooks",
            None,
            id="slash-branch-and-space",
        ),
        pytest.param(
            Checkout(ROOT, (Remote("origin", "https://github.com/acme/pawmart", "main"),)),
            ROOT,
            ".",
            "https://github.com/acme/pawmart/blob/main/runbooks",
            None,
            id="kit-at-the-root",
        ),
        pytest.param(
            Checkout(
                ROOT,
                (
                    Remote("fork", "https://github.com/me/pawmart", "main"),
                    Remote("origin", "https://github.com/acme/pawmart", "main"),
                ),
            ),
            ROOT / "deploy",
            "deploy",
            "https://github.com/acme/pawmart/blob/main/deploy/runbooks",
            None,
            id="origin-before-others",
        ),
        pytest.param(
            Checkout(
                ROOT,
                (
                    Remote("origin", "https://gitlab.com/acme/pawmart", "main"),
                    Remote("mirror", "https://github.com/acme/pawmart", "main"),
                ),
            ),
            ROOT / "deploy",
            "deploy",
            "https://github.com/acme/pawmart/blob/main/deploy/runbooks",
            None,
            id="first-github-remote",
        ),
        pytest.param(
            Checkout(ROOT, (Remote("origin", "https://gitlab.com/acme/pawmart", "main"),)),
            ROOT / "deploy",
            "deploy",
            "deploy/runbooks",
            "no git remote is on github.com",
            id="not-github",
        ),
        pytest.param(
            Checkout(ROOT, ()), ROOT / "deploy", "deploy", "deploy/runbooks", "has no git remote", id="no-remote"
        ),
        pytest.param(None, ROOT / "deploy", "deploy", "deploy/runbooks", "not a git checkout", id="no-checkout"),
        pytest.param(
            Checkout(ROOT, (Remote("origin", "https://github.com/acme/pawmart", "main"),)),
            Path("/tmp/kit"),
            "kit",
            "kit/runbooks",
            "outside the git repository",
            id="kit-outside",
        ),
    ],
)
def test_the_base_follows_the_remote_or_says_why_not(
    checkout: Checkout | None, kit: Path, prefix: str, url: str, note: str | None
) -> None:
    base = runbook_base(checkout, kit, prefix)
    assert base.url == url
    assert base.absolute == (note is None)
    assert (base.note is None) if note is None else (base.note is not None and note in base.note)


# ─── real repositories ───────────────────────────────────────────────────────────────────────────


@pytest.fixture
def git(tmp_path: Path) -> Git:
    return Git(tmp_path / "repo")


def _clone(upstream: Git, target: Path, remote_url: str) -> Path:
    """A clone of ``upstream`` (git records the upstream's default branch as origin/HEAD) whose
    origin then points at GitHub, as after ``git clone git@github.com:...``."""
    upstream.git("clone", "-q", str(upstream.root), str(target))
    upstream.git("-C", str(target), "remote", "set-url", "origin", remote_url)
    return target


def test_a_clone_knows_its_github_remote_and_default_branch(git: Git, tmp_path: Path) -> None:
    git.commit("init", {"README.md": "pawmart\n"})
    git.git("branch", "-m", "main", "trunk")
    clone = _clone(git, tmp_path / "clone", "git@github.com:acme/pawmart.git")
    assert read_checkout(clone / "services") is None, "a folder that does not exist is no checkout"
    (clone / "services").mkdir()
    checkout = read_checkout(clone / "services")
    assert checkout == Checkout(clone.resolve(), (Remote("origin", "git@github.com:acme/pawmart.git", "trunk"),))
    base = runbook_base(checkout, (clone / "services" / "deploy").resolve(), "deploy")
    assert base.url == "https://github.com/acme/pawmart/blob/trunk/services/deploy/runbooks", "path from the top"


def test_a_remote_added_by_hand_links_to_github_s_default_branch(git: Git) -> None:
    git.commit("init", {"README.md": "pawmart\n"})
    git.git("remote", "add", "upstream", "https://github.com/acme/pawmart.git")
    checkout = read_checkout(git.root)
    assert checkout is not None and checkout.remotes == (Remote("upstream", "https://github.com/acme/pawmart.git"),)
    assert runbook_base(checkout, git.root.resolve() / "deploy", "deploy").url == (
        "https://github.com/acme/pawmart/blob/HEAD/deploy/runbooks"
    )


def test_a_folder_outside_git_is_no_checkout(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    assert read_checkout(tmp_path / "plain") is None


# ─── critterops generate ─────────────────────────────────────────────────────────────────────────


def _example_repo(tmp_path: Path) -> Git:
    """The bundled example committed to a repository whose default branch is trunk."""
    upstream = Git(tmp_path / "upstream")
    shutil.copytree(example_path(), upstream.root, dirs_exist_ok=True)
    upstream.git("add", "-A")
    upstream.commit("the example")
    upstream.git("branch", "-m", "main", "trunk")
    return upstream


def _rules(kit: Path) -> list[dict[str, object]]:
    groups = yaml.safe_load((kit / "observability" / "prometheus" / "alerts.yaml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_generate_links_every_alert_to_its_page_on_github(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clone = _clone(_example_repo(tmp_path), tmp_path / "pawmart", "git@github.com:acme/pawmart.git")
    kit = clone / "deploy"
    assert main(["generate", str(clone), "--out", str(kit), "--only", "observability,runbooks"]) == 0
    assert "runbook_url" not in capsys.readouterr().err, "no warning when the links resolve"

    prefix = "https://github.com/acme/pawmart/blob/trunk/"
    branch = subprocess.run(
        ["git", "-C", str(clone), "symbolic-ref", "--short", "refs/remotes/origin/HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert branch == "origin/trunk", "the branch in the links is the one the remote calls its default"
    rules = _rules(kit)
    assert rules
    for rule in rules:
        url = str(rule["annotations"]["runbook_url"])  # type: ignore[index]
        assert url.startswith(prefix), url
        assert (clone / url.removeprefix(prefix)).is_file(), f"{url} names no page of the kit"

    readme = (kit / "observability" / "README.md").read_text()
    links = [line.split("](")[1].rstrip(") |") for line in readme.splitlines() if "](../runbooks/" in line]
    assert len(links) == len({r["alert"] for r in rules})
    assert all((kit / "observability" / link).resolve().is_file() for link in links)
    assert "relative path" not in readme


def test_generate_without_a_github_remote_writes_relative_links_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _example_repo(tmp_path)
    kit = repo.root / "ops"
    assert main(["generate", str(repo.root), "--out", str(kit), "--only", "observability,runbooks"]) == 0
    err = capsys.readouterr().err
    assert "runbook_url is the relative path ops/runbooks/<alert>.md because the repository has no git remote" in err
    for rule in _rules(kit):
        url = str(rule["annotations"]["runbook_url"])  # type: ignore[index]
        assert url == f"ops/runbooks/{rule['alert']}.md" and (repo.root / url).is_file()
    assert (
        "`ops/runbooks/<alert>.md`, a relative path rather than a link" in (kit / "observability/README.md").read_text()
    )


def test_an_explicit_runbook_url_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = _example_repo(tmp_path)
    kit = repo.root / "deploy"
    base = "https://wiki.example.com/pawmart/runbooks"
    assert main(["generate", str(repo.root), "--out", str(kit), "--only", "observability", "--runbook-url", base]) == 0
    assert "runbook_url" not in capsys.readouterr().err
    assert {str(r["annotations"]["runbook_url"]) for r in _rules(kit)} == {  # type: ignore[index]
        f"{base}/{r['alert']}.md" for r in _rules(kit)
    }
