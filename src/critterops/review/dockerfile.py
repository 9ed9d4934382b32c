"""Dockerfile instructions with their line numbers (continuations joined), and image references."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIRECTIVE = re.compile(r"^\s*#\s*\w+\s*=")


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str  # upper case
    args: str


def instructions(lines: list[str]) -> list[Instruction]:
    out: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        text = raw.strip()
        if not pending and (not text or text.startswith("#")):
            continue
        if pending and text.startswith("#"):
            continue
        if not pending:
            start = number
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        joined = " ".join(pending).strip()
        pending = []
        keyword, _, args = joined.partition(" ")
        out.append(Instruction(start, keyword.upper(), args.strip()))
    return out


@dataclass(frozen=True, slots=True)
class Stage:
    line: int
    image: str
    name: str


def stages(items: list[Instruction]) -> list[Stage]:
    out: list[Stage] = []
    for item in items:
        if item.keyword != "FROM":
            continue
        words = [w for w in item.args.split() if not w.startswith("--")]
        if not words:
            continue
        name = words[2] if len(words) >= 3 and words[1].lower() == "as" else ""
        out.append(Stage(item.line, words[0], name.lower()))
    return out


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """``(repository, tag, digest)`` of an image reference; a registry port is not a tag."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else None
    repository = image[: len(image) - len(tag) - 1] if tag is not None else image
    return repository, tag, digest


def floating(image: str) -> str | None:
    """Why an image reference is floating (no tag, ``latest``, a tag with no version number), else None.

    A tag such as ``10.0`` or ``16`` moves with patch releases but names a version line deliberately;
    it is not reported. A digest pins the image whatever the tag says."""
    if not image or "$" in image or image == "scratch":
        return None
    _, tag, digest = split_image(image)
    if digest:
        return None
    if tag is None:
        return "no tag (means latest)"
    if tag == "latest":
        return "tag latest"
    if not any(c.isdigit() for c in tag):
        return f"tag '{tag}' names no version"
    return None
