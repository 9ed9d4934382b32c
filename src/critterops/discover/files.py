"""Walk a repository safely and read its text files.

Never follows a directory symlink (no loops, nothing outside the root), skips build output and
tool folders, and turns unreadable, binary or oversized files into warnings instead of errors.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from critterops.errors import UserError
from critterops.model import ScanWarning

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".vs",
        ".idea",
        ".vscode",
        "bin",
        "obj",
        "node_modules",
        "packages",
        "TestResults",
        "artifacts",
        ".terraform",
        "__pycache__",
        ".venv",
    }
)
MAX_FILE_BYTES = 4 * 1024 * 1024
# The bundled example (src/critterops/examples/pawmart) holds this file. A folder below the scanned
# root that holds it is the example, not part of the user's system: a checkout of critterops, or a
# copy of the example next to the user's code, would otherwise add its five services to the model.
EXAMPLE_MARKER = ".critterops-example"
# A deployment kit critterops generated holds its manifest (critterops.generate.kit.MANIFEST). Its files are
# critterops' output, not the system: its Dockerfiles would otherwise be read as the services' own, and the
# next `generate --check` would see the kit's own Dockerfiles as a change (found through the pre-commit hook).
KIT_MARKER = ".critterops-kit.json"


def example_skipped(rel_dir: str) -> ScanWarning:
    return ScanWarning(
        rel_dir,
        "the example system bundled with critterops (it holds .critterops-example): skipped so that it does not "
        "mix into this system; scan it alone with `critterops scan --example`",
    )


@dataclass
class SourceTree:
    """The files of one repository, relative POSIX paths, read at most once each."""

    root: Path
    files: list[str] = field(default_factory=list)
    warnings: list[ScanWarning] = field(default_factory=list)
    _bytes: dict[str, bytes | None] = field(default_factory=dict)
    _file_set: set[str] = field(default_factory=set)

    @classmethod
    def open(cls, root: str | Path) -> SourceTree:
        path = Path(root)
        if not path.exists():
            raise UserError(f"{root}: no such directory. Pass the path of a .NET repository.")
        if not path.is_dir():
            raise UserError(f"{root}: not a directory. Pass the folder that holds the solution.")
        tree = cls(path.resolve())
        tree._walk()
        return tree

    def _walk(self) -> None:
        root = str(self.root)
        stack = [""]
        while stack:
            rel_dir = stack.pop()
            full_dir = os.path.join(root, rel_dir) if rel_dir else root
            try:
                with os.scandir(full_dir) as entries:
                    items = sorted(entries, key=lambda e: e.name)
            except OSError as error:
                self.warn(rel_dir or ".", f"cannot be read: {error.strerror or error}")
                continue
            subdirs: list[str] = []
            for entry in items:
                rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
                try:
                    if entry.is_symlink():
                        target = os.path.realpath(entry.path)
                        if os.path.isdir(target):
                            self.warn(rel, "symbolic link to a directory: not followed")
                        elif not target.startswith(root + os.sep) or not os.path.isfile(target):
                            self.warn(rel, "symbolic link that leaves the repository or is broken: skipped")
                        else:
                            self.files.append(rel)
                    elif entry.is_dir(follow_symlinks=False):
                        if os.path.isfile(os.path.join(entry.path, EXAMPLE_MARKER)):
                            self.warnings.append(example_skipped(rel))
                        elif os.path.isfile(os.path.join(entry.path, KIT_MARKER)):
                            pass  # a generated kit: critterops' own output
                        elif entry.name not in SKIP_DIRS:
                            subdirs.append(rel)
                    elif entry.is_file(follow_symlinks=False):
                        self.files.append(rel)
                except OSError as error:
                    self.warn(rel, f"cannot be read: {error.strerror or error}")
            stack.extend(reversed(subdirs))
        self.files.sort()
        self._file_set = set(self.files)

    def exists(self, rel: str) -> bool:
        return rel in self._file_set

    def warn(self, file: str, message: str, line: int = 0) -> None:
        self.warnings.append(ScanWarning(file, message, line))

    def read_bytes(self, rel: str) -> bytes | None:
        if rel in self._bytes:
            return self._bytes[rel]
        data: bytes | None = None
        full = self.root / rel
        try:
            size = full.stat().st_size
            if size > MAX_FILE_BYTES:
                self.warn(rel, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: skipped")
            else:
                data = full.read_bytes()
                if b"\0" in data[:8192]:
                    self.warn(rel, "binary content where text was expected: skipped")
                    data = None
        except OSError as error:
            self.warn(rel, f"cannot be read: {error.strerror or error}")
        self._bytes[rel] = data
        return data

    def read_text(self, rel: str) -> str | None:
        data = self.read_bytes(rel)
        if data is None:
            return None
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                return data.decode("utf-16")
            except UnicodeDecodeError:
                self.warn(rel, "not valid UTF-16 text: skipped")
                return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.warn(rel, "not valid UTF-8: read as Latin-1, names may be garbled")
            return data.decode("latin-1")

    def with_suffix(self, *suffixes: str) -> list[str]:
        lowered = tuple(s.lower() for s in suffixes)
        return [f for f in self.files if f.lower().endswith(lowered)]
