"""A :class:`SourceTree` read from a git commit instead of the working tree.

``risk`` and ``plan`` compare two versions of a repository; both are read straight from git's
object store (``ls-tree`` + one ``cat-file --batch``), so the user's checkout is never touched
and uncommitted edits never leak into either side.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from critterops.discover.files import (
    EXAMPLE_MARKER,
    KIT_MARKER,
    MAX_FILE_BYTES,
    SKIP_DIRS,
    SourceTree,
    example_skipped,
)
from critterops.gitrepo import GitRepo

# Files discovery reads eagerly; everything else is fetched one by one when asked for.
_SOURCE_SUFFIXES = (
    ".cs",
    ".csproj",
    ".sln",
    ".slnx",
    ".props",
    ".targets",
    ".json",
    ".yml",
    ".yaml",
    ".razor",
)
_SYMLINK = "120000"


class GitTree(SourceTree):
    """The files of one commit. ``root`` stays the repository folder, for display."""

    repo: GitRepo
    commit: str
    _blob_of: dict[str, str]
    _size_of: dict[str, int]

    @classmethod
    def at(cls, repo: GitRepo, commit: str) -> GitTree:
        tree = cls(repo.root)
        tree.repo = repo
        tree.commit = commit
        tree._blob_of = {}
        tree._size_of = {}
        listed = repo.list_files(commit)
        examples = sorted(
            str(PurePosixPath(path).parent) + "/"
            for _, _, path in listed
            if PurePosixPath(path).name == EXAMPLE_MARKER and "/" in path
        )
        tree.warnings.extend(example_skipped(folder.rstrip("/")) for folder in examples)
        examples += sorted(
            str(PurePosixPath(path).parent) + "/"
            for _, _, path in listed
            if PurePosixPath(path).name == KIT_MARKER and "/" in path
        )
        for mode, sha, path in listed:
            parts = PurePosixPath(path).parts
            if any(part in SKIP_DIRS for part in parts[:-1]) or any(path.startswith(e) for e in examples):
                continue
            if mode == _SYMLINK:
                tree.warn(path, "symbolic link: not followed when reading from git")
                continue
            tree.files.append(path)
            tree._blob_of[path] = sha
        tree.files.sort()
        tree._file_set = set(tree.files)
        tree._preload()
        return tree

    def _preload(self) -> None:
        wanted = [p for p in self.files if p.lower().endswith(_SOURCE_SUFFIXES) or _is_build_file(p)]
        blobs = self.repo.read_blobs([self._blob_of[p] for p in wanted])
        for path in wanted:
            data = blobs.get(self._blob_of[path])
            self._bytes[path] = self._check(path, data)

    def _check(self, rel: str, data: bytes | None) -> bytes | None:
        if data is None:
            self.warn(rel, "missing from the git object store (partial clone?): skipped")
            return None
        if len(data) > MAX_FILE_BYTES:
            self.warn(rel, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: skipped")
            return None
        if b"\0" in data[:8192]:
            self.warn(rel, "binary content where text was expected: skipped")
            return None
        return data

    def read_bytes(self, rel: str) -> bytes | None:
        if rel in self._bytes:
            return self._bytes[rel]
        sha = self._blob_of.get(rel)
        data = self.repo.read_blobs([sha]).get(sha) if sha else None
        self._bytes[rel] = self._check(rel, data)
        return self._bytes[rel]


def _is_build_file(path: str) -> bool:
    name = PurePosixPath(path).name.lower()
    return name == "dockerfile" or name.endswith(".dockerfile") or name.startswith("dockerfile.")
