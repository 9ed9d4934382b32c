"""Build real temporary git repositories with controlled authors and dates."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from critterops.gitrepo import GitRepo

T0 = 1_700_000_000  # 2023-11-14
DAY = 86_400
ALICE = ("Alice Adams", "alice@example.com")
BOB = ("Bob Brown", "bob@example.com")


class Git:
    """Builds a repository commit by commit; every commit's author, email and date are given."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str, env: Mapping[str, str] | None = None, input: bytes | None = None) -> str:
        result = subprocess.run(
            ["git", "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args],
            cwd=self.root,
            env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.root), **(env or {})},
            input=input,
            capture_output=True,
            check=True,
        )
        return result.stdout.decode("utf-8", "replace").strip()

    def write(self, files: Mapping[str, str | bytes | None]) -> None:
        """Write (str/bytes) or delete (None) files in the working tree and stage them."""
        for rel, content in files.items():
            path = self.root / rel
            if content is None:
                self.git("rm", "-q", "--", rel)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            self.git("add", "--", rel)

    def move(self, old: str, new: str) -> None:
        (self.root / new).parent.mkdir(parents=True, exist_ok=True)
        self.git("mv", old, new)

    def commit(
        self,
        message: str | bytes,
        files: Mapping[str, str | bytes | None] | None = None,
        *,
        author: tuple[str, str] = ALICE,
        at: int = T0,
        extra: tuple[str, ...] = (),
    ) -> str:
        if files:
            self.write(files)
        raw = message.encode() if isinstance(message, str) else message
        self.git("commit", "-q", "--allow-empty", *extra, "-F", "-", env=identity(author, at), input=raw)
        return self.git("rev-parse", "HEAD")

    def merge(self, branch: str, message: str, *, author: tuple[str, str] = ALICE, at: int = T0) -> str:
        self.git("merge", "-q", "--no-ff", "-m", message, branch, env=identity(author, at))
        return self.git("rev-parse", "HEAD")

    def repo(self) -> GitRepo:
        return GitRepo.open(self.root)


def identity(author: tuple[str, str], at: int) -> dict[str, str]:
    name, email = author
    date = f"@{at} +0000"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": name,
        "GIT_COMMITTER_EMAIL": email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_DATE": date,
    }


def lines(n: int, prefix: str = "line") -> str:
    return "".join(f"{prefix} {i}\n" for i in range(n))
