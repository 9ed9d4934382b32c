"""Assemble the kit, write it safely, or compare it with what is on disk.

Safety rules: every path is relative and normalised; nothing is written through a symbolic link
that leaves the output folder; the output folder may not sit inside a .NET project (its files
would be compiled or packed); files are replaced atomically and only when their content changed,
so reruns are byte-identical and leave timestamps alone. A manifest (``.critterops-kit.json``)
records what critterops wrote, so files it no longer generates are removed, and files it never
wrote (your patches) are never touched.
"""

from __future__ import annotations

import difflib
import importlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from critterops.errors import UserError
from critterops.generate.context import KitContext
from critterops.generate.yamlio import YAMLLINT_CONFIG

GROUPS = ("kubernetes", "github", "observability", "runbooks", "docker")
MANIFEST = ".critterops-kit.json"


# part -> (module, function); imported only when the part is generated
_GENERATORS = {
    "kubernetes": ("critterops.generate.kubernetes", "kubernetes_files"),
    "github": ("critterops.generate.github", "github_files"),
    "observability": ("critterops.generate.observability", "observability_files"),
    "runbooks": ("critterops.generate.runbooks", "runbook_files"),
    "docker": ("critterops.generate.dockerfiles", "dockerfile_files"),
}


def _generate(group: str, ctx: KitContext, out_prefix: str) -> dict[str, str]:
    module_name, function = _GENERATORS[group]
    generator: Callable[..., dict[str, str]] = getattr(importlib.import_module(module_name), function)
    return generator(ctx, out_prefix) if group == "github" else generator(ctx)


def build_kit(ctx: KitContext, groups: tuple[str, ...], out_prefix: str) -> dict[str, str]:
    """Every file of the selected groups, plus the kit's README and yamllint config."""
    from critterops.generate.readme import kit_readme

    files: dict[str, str] = {}
    for group in groups:
        for path, text in _generate(group, ctx, out_prefix).items():
            if path in files:
                raise AssertionError(f"two generators wrote {path}")
            files[path] = text
    files[".yamllint.yaml"] = YAMLLINT_CONFIG
    files["README.md"] = kit_readme(ctx, groups, out_prefix, sorted(files))
    return dict(sorted(files.items()))


def parse_groups(only: str | None) -> tuple[str, ...]:
    if not only:
        return GROUPS
    chosen = [g.strip() for g in only.split(",") if g.strip()]
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        raise UserError(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    return tuple(g for g in GROUPS if g in chosen)


def check_out_dir(out: Path, repo: Path) -> None:
    """Refuse output folders that would mix generated files into the sources."""
    resolved = out.resolve()
    if resolved.exists() and not resolved.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    repo_root = repo.resolve()
    folder = resolved
    while True:
        if folder.is_dir() and any(folder.glob("*.csproj")):
            raise UserError(
                f"--out {out} is inside the .NET project {folder}: generated files would be compiled or packed "
                "with it. Choose a folder outside src/, e.g. --out deploy"
            )
        if folder in (repo_root, folder.parent):
            break
        folder = folder.parent


def _safe_target(out: Path, rel: str) -> Path:
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        raise UserError(f"refusing to write {rel!r}: not a plain relative path")
    root = out.resolve()
    current = out
    for part in pure.parts:
        current = current / part
        if current.is_symlink():
            target = current.resolve()
            if target != root and root not in target.parents:
                raise UserError(f"refusing to write {rel}: {current} is a symbolic link that leaves {out}")
            if current.name == pure.name:
                raise UserError(f"refusing to write {rel}: it is a symbolic link; remove it first")
    return out / Path(*pure.parts)


@dataclass
class WriteReport:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _manifest(out: Path) -> list[str]:
    path = out / MANIFEST
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    files = data.get("files", []) if isinstance(data, dict) else []
    return [f for f in files if isinstance(f, str)]


def _atomic_write(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".critterops-", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_kit(files: dict[str, str], out: Path) -> WriteReport:
    report = WriteReport()
    out.mkdir(parents=True, exist_ok=True)
    targets = {rel: _safe_target(out, rel) for rel in files}
    for rel, text in files.items():
        target = targets[rel]
        if target.is_file() and target.read_text(encoding="utf-8", errors="replace") == text:
            report.unchanged.append(rel)
            continue
        _atomic_write(target, text)
        report.written.append(rel)
    for rel in _manifest(out):
        if rel in files:
            continue
        target = _safe_target(out, rel)
        if target.is_file():
            target.unlink()
            report.removed.append(rel)
    manifest = json.dumps({"generator": "critterops", "files": sorted(files)}, indent=2) + "\n"
    manifest_target = _safe_target(out, MANIFEST)
    if not manifest_target.is_file() or manifest_target.read_text(encoding="utf-8") != manifest:
        _atomic_write(manifest_target, manifest)
    return report


def check_kit(files: dict[str, str], out: Path, max_lines: int = 40) -> list[str]:
    """Human-readable differences between the kit and the folder; empty when they match."""
    problems: list[str] = []
    for rel, text in files.items():
        target = out / rel
        if not target.is_file():
            problems.append(f"missing: {rel}")
            continue
        current = target.read_text(encoding="utf-8", errors="replace")
        if current != text:
            diff = list(
                difflib.unified_diff(
                    current.splitlines(), text.splitlines(), f"{rel} (on disk)", f"{rel} (generated)", lineterm=""
                )
            )
            shown = diff[:max_lines] + ([f"... {len(diff) - max_lines} more lines"] if len(diff) > max_lines else [])
            problems.append("differs: " + rel + "\n" + "\n".join(shown))
    for rel in _manifest(out):
        if rel not in files and (out / rel).is_file():
            problems.append(f"stale: {rel} (no longer generated)")
    return problems
