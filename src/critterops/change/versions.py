"""The two versions a change compares, read from git objects, never from the working tree.

Discovery of base and head runs in two processes at once (each is CPU-bound tree-sitter work),
which keeps ``risk`` on a pull request well under the two-second budget on a repository the size
of CritterSupply.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from critterops.discover.assemble import discover_tree
from critterops.discover.csharp.shapes import TypeShape, type_shapes
from critterops.discover.gittree import GitTree
from critterops.errors import UserError
from critterops.gitrepo import FileChange, GitRepo
from critterops.model import ScanWarning, System

DEFAULT_BASES = ("origin/HEAD", "origin/main", "origin/master", "main", "master")


@dataclass
class ChangeSet:
    repo: GitRepo
    base_ref: str
    head_ref: str
    base: str  # merge base of base_ref and head_ref
    head: str
    commits: list[str]
    files: list[FileChange]
    base_system: System
    head_system: System
    base_source: dict[str, bytes] = field(default_factory=dict)  # changed text files, by path at base
    head_source: dict[str, bytes] = field(default_factory=dict)
    warnings: list[ScanWarning] = field(default_factory=list)
    base_shapes: list[TypeShape] = field(default_factory=list)  # types of the changed C# files
    head_shapes: list[TypeShape] = field(default_factory=list)
    extra: object = None  # what ``during`` returned

    def warn(self, message: str, file: str = ".") -> None:
        self.warnings.append(ScanWarning(file, message))


def default_base(repo: GitRepo, head: str) -> str:
    for candidate in DEFAULT_BASES:
        out = repo.run("rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False).strip()
        if out and out != repo.resolve(head):
            return candidate
    raise UserError("no --base given and none of origin/HEAD, origin/main, main, master exists: pass --base REF")


def _discover(args: tuple[str, str]) -> System:
    root, commit = args
    return discover_tree(GitTree.at(GitRepo(Path(root)), commit))


def discover_both(
    repo: GitRepo, base: str, head: str, meanwhile: Callable[[], None] | None = None
) -> tuple[System, System]:
    """Discover both commits in two processes; ``meanwhile`` runs in this process while they work."""
    if base == head:
        if meanwhile:
            meanwhile()
        system = _discover((str(repo.root), head))
        return system, system
    try:
        context = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        if meanwhile:
            meanwhile()
        return _discover((str(repo.root), base)), _discover((str(repo.root), head))
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        base_job = pool.submit(_discover, (str(repo.root), base))
        head_job = pool.submit(_discover, (str(repo.root), head))
        if meanwhile:
            meanwhile()
        return base_job.result(), head_job.result()


_TEXT_SUFFIXES = (".cs", ".csproj", ".json", ".yml", ".yaml", ".props", ".targets", ".razor", ".sln", ".slnx")


def _wants_source(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(_TEXT_SUFFIXES) or "dockerfile" in name


def _changed_sources(
    repo: GitRepo, base: str, head: str, files: list[FileChange]
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Both versions of every changed text file, in one ``cat-file --batch``."""
    wanted = [f for f in files if not f.binary and _wants_source(f.path)]
    specs = [f"{base}:{f.old_path or f.path}" for f in wanted if f.status != "A"]
    specs += [f"{head}:{f.path}" for f in wanted if f.status != "D"]
    blobs = repo.read_blobs(specs)
    base_source: dict[str, bytes] = {}
    head_source: dict[str, bytes] = {}
    for f in wanted:
        old = blobs.get(f"{base}:{f.old_path or f.path}")
        new = blobs.get(f"{head}:{f.path}")
        if old is not None and f.status != "A":
            base_source[f.old_path or f.path] = old
        if new is not None and f.status != "D":
            head_source[f.path] = new
    return base_source, head_source


def _shapes_of(
    base_source: dict[str, bytes], head_source: dict[str, bytes]
) -> tuple[list[TypeShape], list[TypeShape], list[str]]:
    errors: list[str] = []
    out: list[list[TypeShape]] = []
    for sources in (base_source, head_source):
        shapes: list[TypeShape] = []
        for path, data in sorted(sources.items()):
            if path.endswith(".cs"):
                found, had_errors = type_shapes(data, path)
                shapes += found
                if had_errors and path not in errors:
                    errors.append(path)
        out.append(shapes)
    return out[0], out[1], errors


def load_change(
    root: str | Path,
    base_ref: str | None,
    head_ref: str = "HEAD",
    during: Callable[[GitRepo, str, str], object] | None = None,
) -> ChangeSet:
    """Resolve the refs, read both versions and the changed files.

    ``during(repo, base, head)`` runs while the two versions are being discovered (the statistical
    model's features); its result lands in :attr:`ChangeSet.extra`.
    """
    repo = GitRepo.open(root)
    head = repo.resolve(head_ref)
    base_ref = base_ref or default_base(repo, head_ref)
    base_tip = repo.resolve(base_ref)
    base = repo.merge_base(base_tip, head)
    warnings: list[ScanWarning] = []
    if head_ref == "HEAD" and repo.is_dirty():
        warnings.append(
            ScanWarning(
                ".", "the working tree has uncommitted changes; they are not part of this comparison (commit them)"
            )
        )
    if base != base_tip:
        warnings.append(
            ScanWarning(
                ".", f"{base_ref} moved on since the branch point; comparing against the merge base {base[:12]}"
            )
        )
    commits = repo.commits(base, head)
    files = repo.diff(base, head)
    base_source, head_source = _changed_sources(repo, base, head, files)
    shapes: dict[str, tuple[list[TypeShape], list[TypeShape], list[str]]] = {}
    extra: list[object] = []

    def meanwhile() -> None:
        shapes["all"] = _shapes_of(base_source, head_source)
        if during is not None:
            extra.append(during(repo, base, head))

    base_system, head_system = discover_both(repo, base, head, meanwhile)
    change = ChangeSet(repo, base_ref, head_ref, base, head, commits, files, base_system, head_system)
    change.warnings.extend(warnings)
    change.base_source, change.head_source = base_source, head_source
    change.base_shapes, change.head_shapes, errors = shapes["all"]
    change.extra = extra[0] if extra else None
    for path in errors:
        change.warn("C# parsed with syntax errors: type findings may be incomplete", path)
    for f in files:
        if f.binary:
            change.warn("binary file changed: counted, not compared", f.path)
    return change
