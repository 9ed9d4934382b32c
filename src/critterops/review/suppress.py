"""Accepted findings: inline comments and a fingerprinted baseline file.

Inline: ``// critterops: ignore CR107 local development only`` (C#, JSON with comments) or
``# critterops: ignore CR115 pinned by Renovate elsewhere`` (YAML, Dockerfiles, compose), on the finding's
line or the line above it. Several ids may be given, comma-separated; the reason is the rest of the line.

Baseline: a JSON file of fingerprints. A fingerprint hashes the rule, the file and the text of the
finding's line (whitespace-normalised) with its occurrence number among equal lines, not the line number:
it survives code moving up or down. It records the repository it was written for (the first commit's
hash, else the folder name); a baseline of another repository is ignored with a warning.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from critterops.errors import UserError
from critterops.review.model import Baseline, Finding, Suppression

BASELINE_SCHEMA = "critterops.review-baseline/v1"
_INLINE = re.compile(r"(?://|#)\s*critterops:\s*ignore\s+(.*)$")
_ID = re.compile(r"^[A-Z]+[0-9]+$|^[a-z0-9]+:[A-Za-z0-9_.\-]+$")


def inline_suppressions(file: str, lines: list[str]) -> list[Suppression]:
    """The suppression comments of a file: leading words that look like rule ids (``CR101``,
    ``hadolint:DL3008``, comma- or space-separated) are the rules, the rest of the line the reason."""
    out = []
    for number, text in enumerate(lines, 1):
        if "critterops:" not in text:
            continue
        match = _INLINE.search(text)
        if not match:
            continue
        words = match.group(1).replace(",", " , ").split()
        ids: list[str] = []
        rest = 0
        for rest, word in enumerate(words):  # noqa: B007 - the index where the reason starts is wanted
            if word == ",":
                continue
            if not _ID.match(word):
                break
            ids.append(word)
        else:
            rest = len(words)
        if ids:
            out.append(Suppression(file, number, tuple(ids), " ".join(w for w in words[rest:]).replace(" , ", ", ")))
    return out


def fingerprint(finding: Finding, line_text: str, occurrence: int, anchor: str = "") -> str:
    text = " ".join((anchor or line_text).split())
    data = "\0".join((finding.tool, finding.rule, finding.file, text, str(occurrence)))
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def with_fingerprints(findings: list[tuple[Finding, str, str]]) -> list[Finding]:
    """``(finding, text of its line, anchor)`` → findings with their fingerprint set."""
    seen: Counter[tuple[str, str, str, str]] = Counter()
    out = []
    for finding, text, anchor in findings:
        key = (finding.tool, finding.rule, finding.file, " ".join((anchor or text).split()))
        seen[key] += 1
        out.append(_replace(finding, fingerprint=fingerprint(finding, text, seen[key], anchor)))
    return out


def _replace(finding: Finding, **changes: Any) -> Finding:
    from dataclasses import replace

    return replace(finding, **changes)


def repository_identity(root: Path) -> str:
    """The hash of the repository's first commit (stable across clones and forks), else its folder name."""
    try:
        run = subprocess.run(
            ["git", "-C", str(root), "rev-list", "--max-parents=0", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        run = None
    roots = sorted(run.stdout.split()) if run is not None and run.returncode == 0 else []
    return f"git:{roots[0]}" if roots else f"folder:{root.resolve().name}"


def read_baseline(path: Path) -> Baseline:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such baseline file; write one with --write-baseline {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: not a critterops baseline ({error}); write one with --write-baseline") from None
    if (
        not isinstance(data, dict)
        or data.get("schema") != BASELINE_SCHEMA
        or not isinstance(data.get("findings"), list)
    ):
        raise UserError(
            f"{path}: not a critterops baseline (expected schema {BASELINE_SCHEMA}); write one with --write-baseline"
        )
    prints = frozenset(str(f.get("fingerprint")) for f in data["findings"] if isinstance(f, dict))
    return Baseline(str(data.get("repository", "")), prints)


def baseline_document(repository: str, findings: list[Finding]) -> dict[str, Any]:
    return {
        "schema": BASELINE_SCHEMA,
        "repository": repository,
        "findings": [
            {"fingerprint": f.fingerprint, "tool": f.tool, "rule": f.rule, "file": f.file, "message": f.message}
            for f in findings
        ],
    }
