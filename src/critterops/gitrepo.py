"""Read a git repository without touching its working tree.

Everything goes through the ``git`` command line (``rev-parse``, ``diff``, ``ls-tree``,
``cat-file --batch``): the user's checkout, index and stash are never modified, so critterops can
run on a dirty tree or in CI on a detached head. Errors a user can fix (an unknown ref, a
shallow clone, a path that is not a repository) become :class:`UserError` with the fix;
a missing or broken ``git`` becomes :class:`BackendError`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from critterops.errors import BackendError, UserError

# No pager, no colour, no user config that could change the output format we parse.
_ENV = {
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
}
_BASE_ARGS = ("-c", "core.quotepath=off", "-c", "color.ui=never", "-c", "diff.renames=true")


@dataclass(frozen=True, slots=True)
class FileChange:
    """One file in a diff. ``status`` is git's letter: A, M, D, R (rename), C, T (type change)."""

    status: str
    path: str
    old_path: str | None = None
    added: int = 0
    deleted: int = 0
    binary: bool = False


class GitRepo:
    """A repository on disk, addressed by its top-level folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open(cls, path: str | Path) -> GitRepo:
        if shutil.which("git") is None:
            raise BackendError("git is not installed or not on PATH; critterops reads history with the git CLI")
        where = Path(path)
        if not where.is_dir():
            raise UserError(f"{path}: no such directory")
        result = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--show-toplevel"],
            capture_output=True,
            env={**os.environ, **_ENV},
            check=False,
        )
        if result.returncode != 0:
            raise UserError(
                f"{path}: not a git repository. Comparing versions needs the repository's history "
                "(clone it, or run inside the checkout)."
            )
        return cls(Path(result.stdout.decode().strip()))

    # -- running git ----------------------------------------------------------------------------

    def run_bytes(self, *args: str, input: bytes | None = None, check: bool = True) -> bytes:
        try:
            result = subprocess.run(
                ["git", *_BASE_ARGS, "-C", str(self.root), *args],
                input=input,
                capture_output=True,
                env={**os.environ, **_ENV},
                check=False,
            )
        except OSError as error:
            raise BackendError(f"cannot run git: {error}") from error
        if check and result.returncode != 0:
            message = result.stderr.decode("utf-8", "replace").strip().splitlines()
            raise BackendError(f"git {args[0]} failed: {message[-1] if message else 'exit ' + str(result.returncode)}")
        return result.stdout

    def run(self, *args: str, check: bool = True) -> str:
        return self.run_bytes(*args, check=check).decode("utf-8", "replace")

    # -- refs -----------------------------------------------------------------------------------

    def is_shallow(self) -> bool:
        return self.run("rev-parse", "--is-shallow-repository").strip() == "true"

    def resolve(self, ref: str) -> str:
        """The commit a ref names, or a :class:`UserError` that says how to make it resolvable."""
        if not ref or ref.startswith("-"):
            raise UserError(f"{ref!r} is not a git revision")
        out = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}", check=False)
        sha = out.strip()
        if sha:
            return sha
        hint = ""
        if "/" in ref and not ref.startswith("refs/"):
            remote = ref.split("/", 1)[0]
            hint = f" If it is a remote branch, fetch it first: git fetch {remote} {ref.split('/', 1)[1]}."
        if self.is_shallow():
            hint += (
                " This clone is shallow, so older commits are missing: fetch more history "
                "(git fetch --deepen=200, or actions/checkout with fetch-depth: 0)."
            )
        raise UserError(f"unknown git revision {ref!r} in {self.root}.{hint}")

    def merge_base(self, base: str, head: str) -> str:
        out = self.run("merge-base", base, head, check=False).strip()
        if out:
            return out
        if self.is_shallow():
            depth = self.run("rev-list", "--count", head, check=False).strip() or "?"
            raise UserError(
                f"{base[:12]} and {head[:12]} share no history in this shallow clone (it holds {depth} commits "
                "of the head). Fetch enough history to reach their common ancestor: git fetch --deepen=N, "
                "or actions/checkout with fetch-depth: 0."
            )
        raise UserError(f"{base[:12]} and {head[:12]} have no common ancestor; pass a --base on the same history")

    def commits(self, base: str, head: str, *, merges: bool = True) -> list[str]:
        """Commits reachable from head and not from base, oldest first."""
        args = ["rev-list", "--reverse", "--topo-order"]
        if not merges:
            args.append("--no-merges")
        out = self.run(*args, f"{base}..{head}")
        return out.split()

    def is_dirty(self) -> bool:
        return bool(self.run("status", "--porcelain", "--untracked-files=no", check=False).strip())

    # -- content --------------------------------------------------------------------------------

    def diff(self, base: str, head: str) -> list[FileChange]:
        """Files changed between two commits, with renames detected and line counts."""
        names = self.run_bytes("diff", "--name-status", "-z", "-M", "--no-ext-diff", base, head).split(b"\0")
        counts: dict[str, tuple[int, int, bool]] = {}
        numstat = self.run_bytes("diff", "--numstat", "-z", "-M", "--no-ext-diff", base, head).split(b"\0")
        i = 0
        while i < len(numstat):
            entry = numstat[i].decode("utf-8", "replace")
            i += 1
            if not entry:
                continue
            added, deleted, path = entry.split("\t", 2)
            if not path:  # rename: "a\td\t" then old NUL new
                path = numstat[i + 1].decode("utf-8", "replace")
                i += 2
            binary = added == "-"
            counts[path] = (0 if binary else int(added), 0 if binary else int(deleted), binary)
        changes: list[FileChange] = []
        j = 0
        while j < len(names):
            status = names[j].decode()
            j += 1
            if not status:
                continue
            if status[0] in "RC":
                old, new = names[j].decode("utf-8", "replace"), names[j + 1].decode("utf-8", "replace")
                j += 2
            else:
                old, new = None, names[j].decode("utf-8", "replace")
                j += 1
            n_added, n_deleted, binary = counts.get(new, (0, 0, False))
            changes.append(FileChange(status[0], new, old, n_added, n_deleted, binary))
        return changes

    def show(self, commit: str, path: str) -> bytes | None:
        """A file's bytes at a commit, or None when it does not exist there."""
        result = subprocess.run(
            ["git", *_BASE_ARGS, "-C", str(self.root), "cat-file", "blob", f"{commit}:{path}"],
            capture_output=True,
            env={**os.environ, **_ENV},
            check=False,
        )
        return result.stdout if result.returncode == 0 else None

    def list_files(self, commit: str) -> list[tuple[str, str, str]]:
        """``(mode, blob sha, path)`` of every file in a commit's tree."""
        out = self.run_bytes("ls-tree", "-r", "-z", "--full-tree", commit)
        entries: list[tuple[str, str, str]] = []
        for record in out.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            mode, kind, sha = meta.decode().split(" ")
            if kind == "blob":
                entries.append((mode, sha, path.decode("utf-8", "replace")))
        return entries

    def read_blobs(self, shas: list[str]) -> dict[str, bytes]:
        """Many blobs in one ``git cat-file --batch`` call."""
        if not shas:
            return {}
        unique = list(dict.fromkeys(shas))
        out = self.run_bytes("cat-file", "--batch", input=("\n".join(unique) + "\n").encode())
        blobs: dict[str, bytes] = {}
        pos = 0
        for sha in unique:
            end = out.index(b"\n", pos)
            header = out[pos:end].decode("utf-8", "replace")
            pos = end + 1
            if header.endswith((" missing", " ambiguous")):
                continue  # the name may contain spaces (rev:path); git echoes it back
            parts = header.rsplit(" ", 2)
            size = int(parts[2])
            blobs[sha] = out[pos : pos + size]
            pos += size + 1
        return blobs
