"""PromQL and annotation text for the generated rules and dashboards: layout, matchers, numbers.

Everything here keeps the generated YAML within yamllint's line length (long matchers are split,
annotations wrapped) and writes numbers as people write them.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable


def agg(aggregation: str, inner: str, op: str = "") -> str:
    """``aggregation (inner)`` laid out on three lines; ``op`` prefixes a bare ``by (...)``."""
    body = inner.replace("\n", "\n  ")
    return f"{op + ' ' if op else ''}{aggregation} (\n  {body}\n)"


def indent(text: str, by: str = "  ") -> str:
    """Every line of ``text`` indented by ``by``."""
    return by + text.replace("\n", "\n" + by)


def escape(value: str) -> str:
    """A label value for a PromQL double-quoted string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


_RE2_SPECIAL = re.compile(r"([\\.^$*+?()\[\]{}|])")


def alternation(names: Iterable[str]) -> str:
    """A RE2 alternation matching exactly these names, escaped for a PromQL double-quoted string."""
    return escape("|".join(_RE2_SPECIAL.sub(r"\\\1", n) for n in names))


def chunks(names: Iterable[str], width: int = 70) -> list[list[str]]:
    """Names split into groups whose alternation stays around ``width`` characters (long matchers
    would break yamllint's line length, and PromQL strings cannot span lines)."""
    groups: list[list[str]] = [[]]
    for name in names:
        if groups[-1] and len(alternation([*groups[-1], name])) > width:
            groups.append([])
        groups[-1].append(name)
    return [group for group in groups if group]


def any_of(metric: str, label: str, names: list[str], indent: str = "  ") -> str:
    """``metric{label=~"a|b"}``, or several such selectors joined with ``or`` when the list is long."""
    if len(names) == 1:
        return f'{metric}{{{label}="{escape(names[0])}"}}'
    parts = [f'{metric}{{{label}=~"{alternation(chunk)}"}}' for chunk in chunks(names)]
    return f"\n{indent}or ".join(parts)


def none_of(label: str, names: Iterable[str], indent: str) -> str:
    """Negative matchers (``,label!~"a|b"``), one per line when long; they all apply."""
    return "".join(f',\n{indent}{label}!~"{alternation(chunk)}"' for chunk in chunks(names))


def wrap(text: str) -> str:
    """Annotation text, wrapped so the YAML stays under yamllint's line length; template actions
    (``{{ $value | humanize }}``) are never split."""
    protected = re.sub(r"\{\{.*?\}\}", lambda match: match.group(0).replace(" ", "\x00"), text)
    lines = textwrap.wrap(protected, 100, break_on_hyphens=False, break_long_words=False)
    return "\n".join(lines).replace("\x00", " ")


def num(value: float) -> str:
    """A PromQL number as people write it: 2678400, not 2.6784e+06."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def percent(share: float) -> str:
    """A share (0..1) as a percentage for annotations: 0.01 -> 1%."""
    return f"{share * 100:g}%"
