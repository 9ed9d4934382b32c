"""A small, forgiving parser for the Prometheus text exposition format (version 0.0.4).

Enough to read what an exporter such as ``rabbitmq_prometheus`` serves: ``# HELP`` / ``# TYPE`` and other
comments are skipped, label values may hold the escapes ``\\\\``, ``\\"`` and ``\\n``, values may be
``NaN``, ``+Inf`` or ``-Inf``, and an optional timestamp after the value is ignored. A malformed line is
skipped and counted, never fatal: one odd series must not cost the whole scrape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_SPECIAL = {"nan": math.nan, "+inf": math.inf, "inf": math.inf, "-inf": -math.inf}
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


@dataclass(frozen=True, slots=True)
class PromSample:
    """One series line: metric name, labels, value."""

    name: str
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True, slots=True)
class Parsed:
    """What :func:`parse` read: the samples, and how many non-comment lines it could not read."""

    samples: tuple[PromSample, ...]
    malformed: int = 0

    def named(self, *names: str) -> Iterator[PromSample]:
        wanted = set(names)
        return (item for item in self.samples if item.name in wanted)


def parse(text: str | Iterable[str]) -> Parsed:
    """Parse exposition text (a string or its lines)."""
    lines = text.splitlines() if isinstance(text, str) else text
    samples: list[PromSample] = []
    malformed = 0
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        item = parse_line(line)
        if item is None:
            malformed += 1
        else:
            samples.append(item)
    return Parsed(tuple(samples), malformed)


def parse_line(line: str) -> PromSample | None:
    """One series line, or None when it is not one."""
    match = _NAME.match(line)
    if match is None:
        return None
    name = match.group(0)
    pos = match.end()
    labels: dict[str, str] = {}
    if pos < len(line) and line[pos] == "{":
        end = _parse_labels(line, pos + 1, labels)
        if end is None:
            return None
        pos = end
    rest = line[pos:]
    if not rest or not rest[0].isspace():
        return None
    fields = rest.split()
    if not fields or len(fields) > 2:
        return None
    value = parse_value(fields[0])
    if value is None:
        return None
    if len(fields) == 2 and not _is_int(fields[1]):
        return None
    return PromSample(name, labels, value)


def parse_value(text: str) -> float | None:
    special = _SPECIAL.get(text.lower())
    if special is not None:
        return special
    try:
        return float(text)
    except ValueError:
        return None


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


def _parse_labels(line: str, pos: int, into: dict[str, str]) -> int | None:
    """Read ``name="value",...}`` from ``pos`` (just after ``{``); the index after ``}``, or None."""
    size = len(line)
    while True:
        while pos < size and line[pos] in " \t":
            pos += 1
        if pos < size and line[pos] == "}":
            return pos + 1
        match = _LABEL_NAME.match(line, pos)
        if match is None:
            return None
        key = match.group(0)
        pos = match.end()
        while pos < size and line[pos] in " \t":
            pos += 1
        if pos >= size or line[pos] != "=":
            return None
        pos += 1
        while pos < size and line[pos] in " \t":
            pos += 1
        if pos >= size or line[pos] != '"':
            return None
        pos += 1
        chars: list[str] = []
        while True:
            if pos >= size:
                return None
            char = line[pos]
            if char == "\\":
                if pos + 1 >= size:
                    return None
                following = line[pos + 1]
                chars.append(_ESCAPES.get(following, "\\" + following))
                pos += 2
            elif char == '"':
                pos += 1
                break
            else:
                chars.append(char)
                pos += 1
        into[key] = "".join(chars)
        while pos < size and line[pos] in " \t":
            pos += 1
        if pos < size and line[pos] == ",":
            pos += 1
        elif pos < size and line[pos] == "}":
            return pos + 1
        else:
            return None
