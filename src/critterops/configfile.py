"""Reading critterops.yaml sections: YAML to plain data that remembers the line of every key and list
item, and checks of values that fail with ``file:line: key.path: problem. Allowed: ...`` messages.

Shared by the policy (:mod:`critterops.plan.policy`) and the exporter settings
(:mod:`critterops.watch.config`), which live in the same file."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from critterops.errors import ConfigError

CONFIG_FILE_NAMES = ("critterops.yaml", ".critterops.yaml")


def find_config_file(root: Path, explicit: Path | None, flag: str) -> Path | None:
    """``explicit`` (given with ``flag``; it must be a file), else ``critterops.yaml`` or
    ``.critterops.yaml`` in ``root`` (both at once is an error), else None."""
    if explicit is not None:
        if not explicit.is_file():
            what = "is a folder, not a file" if explicit.is_dir() else "does not exist"
            raise ConfigError(f"the file {explicit} (given with {flag}) {what}; pass the path of a YAML file")
        return explicit
    found = [root / name for name in CONFIG_FILE_NAMES if (root / name).exists()]
    if len(found) > 1:
        raise ConfigError(
            f"both {found[0]} and {found[1]} exist; critterops reads one configuration file, "
            "so merge them into critterops.yaml and delete the other"
        )
    return found[0] if found else None


def read_config_text(path: Path) -> str:
    """The file's text (UTF-8, a byte-order mark allowed); ConfigError when it cannot be read."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not UTF-8 text (byte {error.start}); save the file as UTF-8") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror}); check that it is a readable file") from None


DURATION = re.compile(r"([0-9]+)(ms|s|m|h)")
LONG_DURATION = re.compile(r"([0-9]+)(ms|s|m|h|d|w)")
"""Prometheus' units: saga and alert limits are counted in days and weeks."""
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def seconds(duration: str, pattern: re.Pattern[str] = DURATION) -> float:
    """``"5m"`` → 300.0; with ``pattern=LONG_DURATION`` also ``"31d"``. Raises ValueError for anything
    else (TypeError for a value that is not text)."""
    match = pattern.fullmatch(duration)
    if match is None:
        raise ValueError(f"not a duration: {duration!r} (expected e.g. 500ms, 30s, 5m, 1h)")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


# ---------------------------------------------------------------------------------------------
# YAML → plain data, remembering the line of every key and list item

KeyPath = tuple[str | int, ...]
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_MAX_NODES = 20_000  # aliases are expanded: this bounds "billion laughs" documents
_MAX_DEPTH = 40


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "top level"


class Doc:
    """The document being read: its name for messages and the line of every key and list item."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: dict[KeyPath, int] = {}

    def error(self, path: KeyPath, problem: str, allowed: str | None = None, line: int | None = None) -> ConfigError:
        if line is None:  # a missing key or a default: the nearest enclosing key that was written
            line = next((self.lines[path[:end]] for end in range(len(path), 0, -1) if path[:end] in self.lines), None)
        where = f"{self.source}:{line}" if line is not None else self.source
        message = f"{where}: {_dotted(path)}: {problem}"
        return ConfigError(f"{message}. Allowed: {allowed}." if allowed else f"{message}.")


class _Reader:
    def __init__(self, doc: Doc) -> None:
        self.doc = doc
        self.left = _MAX_NODES
        self.scalars = SafeConstructor()

    def read(self, node: Node, path: KeyPath) -> Any:
        self.left -= 1
        if self.left < 0 or len(path) > _MAX_DEPTH:
            problem = "the document is too large or nested too deeply (aliases count)"
            raise self.doc.error(path[:3], problem, "a policy of ordinary size")
        if isinstance(node, MappingNode):
            self._expect_tag(node, _MAP_TAG, path)
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            self._expect_tag(node, _SEQ_TAG, path)
            items = []
            for index, item in enumerate(node.value):
                self.doc.lines[(*path, index)] = item.start_mark.line + 1
                items.append(self.read(item, (*path, index)))
            return items
        try:  # unknown tags raise ConstructorError, which carries its line
            return self.scalars.construct_object(node)
        except (ValueError, TypeError, OverflowError):  # e.g. `!!int abc`
            problem = f"{node.value!r} is not a valid {node.tag.rsplit(':', 1)[-1]}"
            raise self.doc.error(path, problem, "plain values without YAML tags", node.start_mark.line + 1) from None

    def _expect_tag(self, node: Node, tag: str, path: KeyPath) -> None:
        if node.tag != tag:
            line = node.start_mark.line + 1
            raise self.doc.error(path, f"unsupported YAML tag {node.tag}", "plain mappings, lists and values", line)

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[str, Any]:
        merged: dict[str, Any] = {}  # from `<<: *anchor`; keys written here win
        own: dict[str, Any] = {}
        own_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                for source in sources:
                    if not isinstance(source, MappingNode):
                        line = source.start_mark.line + 1
                        raise self.doc.error(path, "a merge key (<<) must refer to a mapping", "<<: *anchor", line)
                    for merged_key, merged_value in self._mapping(source, path).items():
                        merged.setdefault(merged_key, merged_value)
                continue
            line = key_node.start_mark.line + 1
            key = self.read(key_node, path) if isinstance(key_node, ScalarNode) else None
            if not isinstance(key, str):
                shown = "a mapping or list" if key is None and not isinstance(key_node, ScalarNode) else describe(key)
                raise self.doc.error(path, f"a key is {shown}, not text", "text keys (quote yes, no, on, off)", line)
            if key in own:
                raise self.doc.error(
                    (*path, key), f"duplicate key (first on line {own_lines[key]})", "each key once per mapping", line
                )
            own_lines[key] = line
            self.doc.lines[(*path, key)] = line
            own[key] = self.read(value_node, (*path, key))
        return {**merged, **own}


def _where(doc: Doc, error: yaml.MarkedYAMLError) -> str:
    mark = error.problem_mark or error.context_mark
    return f"{doc.source}:{mark.line + 1}:{mark.column + 1}" if mark is not None else doc.source


def compose(text: str, doc: Doc) -> Any:
    try:
        node = yaml.compose(text, Loader=_LOADER)
        return None if node is None else _Reader(doc).read(node, ())
    except yaml.constructor.ConstructorError as error:  # a tag such as !foo or a malformed !!int
        raise ConfigError(f"{_where(doc, error)}: {error.problem}; write plain values without YAML tags") from None
    except yaml.MarkedYAMLError as error:
        problem = ", ".join(part for part in (error.context, error.problem) if part)
        raise ConfigError(
            f"{_where(doc, error)}: invalid YAML: {problem}. Fix the syntax there "
            "(indentation, a missing ':' or an unclosed quote or bracket are the usual causes)"
        ) from None
    except yaml.reader.ReaderError as error:  # a control character: no mark, only a position
        line = text.count("\n", 0, error.position) + 1
        char = f"U+{error.character:04X}" if isinstance(error.character, int) else repr(error.character)
        raise ConfigError(
            f"{doc.source}:{line}: invalid YAML: character {char} is not allowed ({error.reason}); "
            "remove it or write it as an escape inside double quotes"
        ) from None
    except yaml.YAMLError as error:  # not expected from a str source; kept so no traceback can escape
        raise ConfigError(f"{doc.source}: invalid YAML: {error}; fix the file") from None


# ---------------------------------------------------------------------------------------------
# Checking values


def describe(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__} ({value})"


def suggest(word: object, choices: Iterable[str]) -> str:
    if not isinstance(word, str):
        return ""
    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and len(word) >= 3:  # abbreviations such as prod → production
        close = [option for option in options if option.startswith(word)][:1]
    return f" (did you mean {close[0]!r}?)" if close else ""


def section(doc: Doc, value: Any, path: KeyPath, keys: Sequence[str]) -> dict[str, Any]:
    """A mapping with only ``keys`` (null counts as empty)."""
    allowed = "keys " + ", ".join(keys)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"expected a mapping, got {describe(value)}", f"a mapping with {allowed}")
    for key in value:
        if key not in keys:
            raise doc.error((*path, key), f"unknown key{suggest(key, keys)}", allowed)
    return value


def check_number(
    doc: Doc,
    value: Any,
    path: KeyPath,
    allowed: str,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise doc.error(path, f"expected {'a whole number' if integer else 'a number'}, got {describe(value)}", allowed)
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if not math.isfinite(value) or too_low or too_high:
        raise doc.error(path, f"{value} is out of range", allowed)
    return value if integer else float(value)


def check_choice(doc: Doc, value: Any, path: KeyPath, choices: Sequence[str], nullable: bool = False) -> Any:
    if value is None and nullable:
        return None
    if isinstance(value, str) and value in choices:
        return value
    allowed = ", ".join(choices) + (", or null" if nullable else "")
    raise doc.error(path, f"{describe(value)} is not one of the choices{suggest(value, choices)}", allowed)


def check_bool(doc: Doc, value: Any, path: KeyPath, nullable: bool = False) -> Any:
    if isinstance(value, bool) or (value is None and nullable):
        return value
    raise doc.error(
        path, f"expected true or false, got {describe(value)}", "true, false" + (", null" if nullable else "")
    )


def check_duration(doc: Doc, value: Any, path: KeyPath, positive: bool = False) -> str:
    allowed = "a whole number followed by ms, s, m or h, e.g. 30s, 5m, 1h" + (", longer than 0" if positive else "")
    if not isinstance(value, str) or DURATION.fullmatch(value) is None:
        raise doc.error(path, f"{describe(value)} is not a duration", allowed)
    if positive and seconds(value) == 0:
        raise doc.error(path, f"{value} is zero", allowed)
    return value
