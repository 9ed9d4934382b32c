"""Where the alerts' ``runbook_url`` points: the runbook pages on GitHub, or a path in the repository.

The runbooks are files of the kit (``<kit>/runbooks/<alert>.md``), so a link resolves when it names
them where the repository is browsed. With a GitHub remote that is
``https://github.com/<owner>/<repo>/blob/<default branch>/<kit path>/runbooks``; the default branch is
the one ``git clone`` records as ``refs/remotes/<remote>/HEAD``, else ``HEAD``, which GitHub resolves
to the repository's default branch in ``blob`` URLs (rOpenSci, "Don't Lose your HEAD over Default
Branches", 2022). Without one (no git checkout, no remote on github.com, a kit outside the
repository) the base is the kit's path relative to the repository root, and :class:`RunbookBase`
says why, so ``generate`` can warn and the observability README can tell the reader.

:func:`runbook_base` decides from plain data; :func:`read_checkout` is the thin adapter that asks git.
Nothing here touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from critterops.errors import CritteropsError
from critterops.gitrepo import GitRepo

# https://github.com/o/r(.git), git@github.com:o/r.git, ssh://git@github.com[:22]/o/r.git, git://github.com/o/r
_GITHUB = re.compile(
    r"^(?:(?:https?|ssh|git)://)?(?:[^@/]+@)?(?:www\.)?github\.com(?::\d+)?[:/]"
    r"(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Remote:
    """A git remote: its name, URL and the default branch git recorded for it, if any."""

    name: str
    url: str
    default_branch: str | None = None  # refs/remotes/<name>/HEAD, set by git clone or git remote set-head


@dataclass(frozen=True, slots=True)
class Checkout:
    """What the links need to know about the repository: its top-level folder and its remotes."""

    root: Path
    remotes: tuple[Remote, ...]


@dataclass(frozen=True, slots=True)
class RunbookBase:
    """The base of the alerts' ``runbook_url``: an https URL, or a path relative to the repository root
    with the reason (``note``) no URL could be derived."""

    url: str
    note: str | None = None

    @property
    def absolute(self) -> bool:
        return is_absolute(self.url)


def is_absolute(base: str) -> bool:
    """Whether a runbook base is a URL (``scheme://``) rather than a path in the repository."""
    return re.match(r"^[a-z][a-z0-9+.-]*://", base, re.IGNORECASE) is not None


def github_repository(url: str) -> tuple[str, str] | None:
    """``(owner, repository)`` of a remote URL on github.com, else None. Credentials in the URL are
    skipped, never returned."""
    match = _GITHUB.match(url.strip())
    return (match.group("owner"), match.group("repo")) if match else None


def runbook_base(checkout: Checkout | None, kit: Path, kit_prefix: str) -> RunbookBase:
    """The base for a kit written to ``kit`` (absolute), which the command names ``kit_prefix``
    (relative to the repository it was given, ``""`` or ``"."`` for its root)."""
    relative = f"{kit_prefix}/runbooks" if kit_prefix not in ("", ".") else "runbooks"
    if checkout is None:
        return RunbookBase(relative, "the repository is not a git checkout")
    try:
        in_repo = kit.relative_to(checkout.root).as_posix()
    except ValueError:
        return RunbookBase(relative, f"the kit folder is outside the git repository {checkout.root}")
    remotes = sorted(checkout.remotes, key=lambda r: r.name != "origin")  # origin first, then as git lists them
    remote = next((r for r in remotes if github_repository(r.url)), None)
    if remote is None:
        why = "the repository has no git remote" if not remotes else "no git remote is on github.com"
        return RunbookBase(relative, why)
    owner_repo = github_repository(remote.url)
    assert owner_repo is not None
    owner, repo = owner_repo
    branch = quote(remote.default_branch or "HEAD", safe="/")
    path = "" if in_repo == "." else quote(in_repo, safe="/") + "/"
    return RunbookBase(f"https://github.com/{owner}/{repo}/blob/{branch}/{path}runbooks")


def read_checkout(path: Path) -> Checkout | None:
    """The checkout ``path`` lies in, with its remotes; None when it is not one or git cannot tell."""
    try:
        repo = GitRepo.open(path)
        names = repo.run("remote").split()
        remotes = []
        for name in names:
            url = repo.run("remote", "get-url", name, check=False).strip()
            head = repo.run("symbolic-ref", "--quiet", f"refs/remotes/{name}/HEAD", check=False).strip()
            prefix = f"refs/remotes/{name}/"
            remotes.append(Remote(name, url, head.removeprefix(prefix) if head.startswith(prefix) else None))
    except CritteropsError:
        return None
    return Checkout(repo.root.resolve(), tuple(remotes))
