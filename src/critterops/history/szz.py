"""SZZ labels: which commits later needed a fix (risk design §3.1–3.4).

Fix commits are found by keywords in their title (:mod:`critterops.history.messages`) and by git's
"This reverts commit X" line, which labels X directly. For every other fix, the lines it deleted or
changed in shipped code (non-test ``.cs``, ``.csproj``, ``.razor``, ``.cshtml``, ``.props`` and
``appsettings*.json``; see :mod:`critterops.history.paths`) are blamed at the fix's parent with
``git blame --first-parent -w``: first-parent because merges are the rows of the mined history, ``-w``
so re-indentation does not hide the commit that wrote a line. The fix's own diff is taken with
``-w`` too, so lines it only re-indented are not blamed, and blank, comment-only and brace-only
lines are skipped (AG-SZZ). A fix that only adds lines labels nothing (B-SZZ).

Fixes are not blamed when they are:

* merges other than pull-request merges: syncing two lines of work is a meta-change (MA-SZZ);
* authored by automation bots: a dependency bump that mentions a security fix does not fix a
  defect written in this repository. Coding agents' fixes are kept (a person asked for them; on
  CritterSupply they are most of the fixes). Bot- and agent-written *inducers* keep their labels;
* larger than :data:`MAX_FIX_FILES` files. PySZZ's default is 20, but squash-merged pull requests
  bundle a fix with its tests, docs and notes: on CritterSupply 10 of 52 fix commits touch more than
  20 files and only 2 more than 50, while sweeping changes ("fixed formatting", 91 files on
  EventSourcing.NetCore) are still dropped.

Every label records the earliest fix that revealed it, so evaluation can ask what was *known* at a
given time and measure the fix-latency distribution.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import numpy as np

from critterops.gitrepo import GitRepo
from critterops.history import messages, paths
from critterops.history.mining import CommitRecord, History

MAX_FIX_FILES = 50
GAP_PERCENTILE = 75
_DAY = 86_400
_PATHSPECS = ("*.cs", "*.csproj", "*.razor", "*.cshtml", "*.props", ":(icase)*appsettings*.json")
_HUNK = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_BLAME_LINE = re.compile(r"^([0-9a-f]{40}) \d+ \d+(?: \d+)?$")
_COMMENT_STARTS = ("//", "/*", "*", "@*", "<!--", "-->", "#region", "#endregion")
_FORMAT_ONLY = re.compile(r"^[{}()\[\];,]+$")


@dataclass(frozen=True, slots=True)
class Inducer:
    """A commit that a later fix blamed (or reverted); ``fix_time`` is when it first became known."""

    sha: str
    fix_sha: str
    fix_time: int
    via: Literal["blame", "revert"]


@dataclass(frozen=True, slots=True)
class SzzResult:
    """Labels for a history plus what SZZ looked at and why it skipped fixes."""

    inducers: dict[str, Inducer]
    fixes: tuple[str, ...]
    reverts: int
    skipped: dict[str, int]
    blame_calls: int

    def label(self, sha: str, known_at: int | None = None) -> int:
        """1 if the commit induced a fix (that had landed before ``known_at``, when given)."""
        found = self.inducers.get(sha)
        if found is None:
            return 0
        return int(known_at is None or found.fix_time < known_at)


@dataclass(frozen=True, slots=True)
class Latency:
    """Days from an inducing commit to the first fix that blamed or reverted it; the label gap is p75."""

    inducers: int
    median_days: float
    p75_days: float
    p90_days: float


def fix_latency(history: History, szz: SzzResult) -> Latency:
    """The fix-latency distribution; its 75th percentile is the gap labels need to mature."""
    days = np.asarray(
        [
            max(0, i.fix_time - history.commits[history.positions[i.sha]].commit_time) / _DAY
            for i in szz.inducers.values()
        ]
    )
    if days.size == 0:
        return Latency(0, 0.0, 0.0, 0.0)
    median, p75, p90 = np.percentile(days, [50, GAP_PERCENTILE, 90])
    return Latency(int(days.size), round(float(median), 1), round(float(p75), 1), round(float(p90), 1))


@dataclass(frozen=True, slots=True)
class _Blame:
    fix: CommitRecord
    path: str
    lines: tuple[int, ...]


def find_inducers(repo: GitRepo, history: History, *, max_fix_files: int = MAX_FIX_FILES) -> SzzResult:
    """Run SZZ over a mined history: reverts label directly, other fixes are blamed."""
    found: dict[str, Inducer] = {}
    skipped: Counter[str] = Counter()
    to_blame: list[CommitRecord] = []
    reverts = 0
    for commit in history.commits:
        target = history.find(commit.reverts) if commit.reverts else None
        if target is not None and _precedes(history, target, commit):
            reverts += 1
            _record(found, target.sha, commit, "revert")
        elif commit.features.fix:
            reason = _skip_reason(commit, max_fix_files)
            if reason:
                skipped[reason] += 1
            else:
                to_blame.append(commit)
    blames = list(_deleted_lines(repo, to_blame))
    ignored = _ignored_revisions(repo, history)
    workers = max(1, min(8, os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda b: _blame(repo, b, ignored, history.first_parent), blames))
    blamed_fixes = set()
    for blame, shas in zip(blames, results, strict=True):
        blamed_fixes.add(blame.fix.sha)
        if not shas:
            skipped["blame call that found no line"] += 1
        for sha in shas:
            inducer = history.commits[history.positions[sha]] if sha in history.positions else None
            if inducer is None or not _precedes(history, inducer, blame.fix):
                skipped["blamed commit not an earlier commit of the mined history"] += 1
                continue
            _record(found, sha, blame.fix, "blame")
    skipped["fix deletes no blamable line"] += len(to_blame) - len(blamed_fixes)
    return SzzResult(
        inducers=found,
        fixes=tuple(c.sha for c in history.commits if c.sha in blamed_fixes),
        reverts=reverts,
        skipped={reason: n for reason, n in sorted(skipped.items()) if n},
        blame_calls=len(blames),
    )


def _precedes(history: History, earlier: CommitRecord, later: CommitRecord) -> bool:
    """An inducer must come before its fix on the chain and must not be dated after it."""
    return history.positions[earlier.sha] < history.positions[later.sha] and earlier.commit_time <= later.commit_time


def _record(found: dict[str, Inducer], sha: str, fix: CommitRecord, via: Literal["blame", "revert"]) -> None:
    """Keep the earliest fix per inducer: that is when the defect became known."""
    current = found.get(sha)
    if current is None or fix.commit_time < current.fix_time:
        found[sha] = Inducer(sha=sha, fix_sha=fix.sha, fix_time=fix.commit_time, via=via)


def _skip_reason(commit: CommitRecord, max_fix_files: int) -> str | None:
    if commit.is_merge and messages.pull_request_branch(commit.subject) is None:
        return "merge other than a pull request (meta-change)"
    if commit.author_kind == "automation":
        return "automation-bot fix"
    if commit.features.nf > max_fix_files:
        return f"fix touches more than {max_fix_files} files"
    if not any(paths.classify(t.old_path or t.path).szz and t.deleted for t in commit.files):
        return "fix deletes no line of shipped code"
    return None


def _deleted_lines(repo: GitRepo, fixes: list[CommitRecord]) -> Iterator[_Blame]:
    """The old-side line numbers each fix deleted or changed, per file, in one ``git show`` call.

    ``-U0`` gives exact hunks, ``-w`` leaves out lines whose only change is whitespace.
    """
    if not fixes:
        return
    out = repo.run_bytes(
        "show",
        "-U0",
        "-w",
        "-M",
        "--diff-merges=first-parent",
        "--no-ext-diff",
        "--no-textconv",
        "--no-color",
        "--format=%x1e%H",
        *(c.sha for c in fixes),
        "--",
        *_PATHSPECS,
    )
    by_sha = {c.sha: c for c in fixes}
    for sha, path, lines in _parse_unified(out):
        if sha in by_sha and paths.classify(path).szz and lines:
            yield _Blame(by_sha[sha], path, tuple(lines))


def _parse_unified(out: bytes) -> Iterator[tuple[str, str, list[int]]]:
    """Yield ``(commit, old path, deleted meaningful line numbers)`` from ``git show -U0`` output."""
    sha, path = "", ""
    lines: list[int] = []
    old_line = old_left = new_left = 0
    for raw in out.split(b"\n"):
        if (old_left or new_left) and raw[:1] in (b"-", b"+", b"\\"):  # hunk content (``\`` = no newline)
            if raw.startswith(b"-"):
                if _meaningful(raw[1:]):
                    lines.append(old_line)
                old_line += 1
                old_left -= 1
            elif raw.startswith(b"+"):
                new_left -= 1
            continue
        if raw.startswith(b"\x1e") or raw.startswith(b"diff --git "):
            if path and lines:
                yield sha, path, lines
            path, lines = "", []
            if raw.startswith(b"\x1e"):
                sha = raw[1:].decode()
        elif raw.startswith(b"--- "):
            path = _diff_path(raw[4:])
        elif hunk := _HUNK.match(raw):
            old_line = int(hunk.group(1))
            old_left = int(hunk.group(2) or b"1")
            new_left = int(hunk.group(3) or b"1")
    if path and lines:
        yield sha, path, lines


def _meaningful(line: bytes) -> bool:
    """Not blank, not comment-only, not just braces or brackets (AG-SZZ's cosmetic lines)."""
    text = line.decode("utf-8", "replace").strip()
    return bool(text) and not text.startswith(_COMMENT_STARTS) and not _FORMAT_ONLY.match(text)


def _diff_path(raw: bytes) -> str:
    """The path of a ``--- a/<path>`` header: git C-quotes odd names and adds a tab after names with spaces."""
    raw = raw.rstrip(b"\t")
    if raw == b"/dev/null":
        return ""
    if raw.startswith(b'"') and raw.endswith(b'"'):
        raw = _unquote(raw[1:-1])
    return raw[2:].decode("utf-8", "surrogateescape") if raw.startswith(b"a/") else ""


_ESCAPES = {ord("n"): b"\n", ord("t"): b"\t", ord('"'): b'"', ord("\\"): b"\\", ord("a"): b"\a", ord("b"): b"\b"}


def _unquote(quoted: bytes) -> bytes:
    """Undo git's C-style quoting: ``\\"``, ``\\\\``, ``\\t``, ``\\n`` and octal ``\\303\\251``."""
    out = bytearray()
    i = 0
    while i < len(quoted):
        char = quoted[i]
        if char != ord("\\") or i + 1 == len(quoted):
            out.append(char)
            i += 1
        elif quoted[i + 1 : i + 4].isdigit():
            out.append(int(quoted[i + 1 : i + 4], 8))
            i += 4
        else:
            out += _ESCAPES.get(quoted[i + 1], quoted[i + 1 : i + 2])
            i += 2
    return bytes(out)


def _ranges(lines: tuple[int, ...]) -> list[str]:
    """Consecutive line numbers as ``-L start,end`` arguments, one blame call per file."""
    spans: list[list[int]] = []
    for n in sorted(set(lines)):
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return [arg for start, end in spans for arg in ("-L", f"{start},{end}")]


def _ignored_revisions(repo: GitRepo, history: History) -> list[str]:
    """Revisions listed in ``.git-blame-ignore-revs`` (formatting sweeps), if they are in this history.

    Passed one by one with ``--ignore-rev``: an unknown sha in the file would make every blame fail.
    """
    listing = repo.root / ".git-blame-ignore-revs"
    if not listing.is_file():
        return []
    wanted = {line.split("#", 1)[0].strip().lower() for line in listing.read_text("utf-8", "replace").splitlines()}
    return [arg for sha in sorted(wanted & history.positions.keys()) for arg in ("--ignore-rev", sha)]


def _blame(repo: GitRepo, blame: _Blame, ignored: list[str], first_parent: bool = True) -> set[str]:
    """The commits that last touched the given lines at the fix's first parent.

    On a history of every non-merge commit the blame follows all parents, so a line resolves to the
    side-branch commit that wrote it, which is a row of that history.
    """
    out = repo.run(
        "blame",
        *(("--first-parent",) if first_parent else ()),
        "-w",
        "--porcelain",
        *ignored,
        *_ranges(blame.lines),
        f"{blame.fix.sha}^",
        "--",
        blame.path,
        check=False,
    )
    return {m.group(1) for line in out.splitlines() if (m := _BLAME_LINE.match(line))}
