"""JSON with comments and trailing commas, as .NET reads ``launchSettings.json`` and ``appsettings.json``."""

from __future__ import annotations

import json
from typing import Any


def strip(source: str) -> str:
    """Remove ``//`` and ``/* */`` comments and trailing commas outside of strings."""
    out: list[str] = []
    i, n = 0, len(source)
    in_string = False
    while i < n:
        ch = source[i]
        if in_string:
            out.append(ch)
            if ch == "\\" and i + 1 < n:
                out.append(source[i + 1])
                i += 2
                continue
            if ch == '"':
                in_string = False
            i += 1
            continue
        if ch == '"':
            in_string = True
            out.append(ch)
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(ch)
            i += 1
    text = "".join(out)
    # trailing commas: a comma followed only by whitespace and a closing bracket
    result: list[str] = []
    in_string = False
    j = 0
    while j < len(text):
        ch = text[j]
        if in_string:
            result.append(ch)
            if ch == "\\" and j + 1 < len(text):
                result.append(text[j + 1])
                j += 2
                continue
            if ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            result.append(ch)
        elif ch == ",":
            k = j + 1
            while k < len(text) and text[k] in " \t\r\n":
                k += 1
            if k < len(text) and text[k] in "}]":
                j += 1
                continue
            result.append(ch)
        else:
            result.append(ch)
        j += 1
    return "".join(result)


def loads(source: str) -> Any:
    """Parse JSONC; raises ``ValueError`` (``json.JSONDecodeError``) on invalid input."""
    return json.loads(strip(source))
