"""``.http`` files (Visual Studio, Rider, VS Code REST Client) as a request mix for synthetic load.

.NET projects keep one next to the API (``dotnet new webapi`` writes ``<Project>.http``)::

    @host = http://localhost:5114
    @customer = 42

    ### Create an order
    POST {{host}}/api/orders
    Content-Type: application/json

    {"customerId": {{customer}}, "sku": "KIBBLE-5KG"}

    ###
    GET {{host}}/api/orders/{{$randomInt 1 1000}}

Supported: ``###`` separators (text after them names the request), ``# @name x`` / ``// @name x``,
``#`` and ``//`` comment lines, ``@var = value`` (usable from the next line on; values may use earlier
variables), ``{{var}}``, ``METHOD URL [HTTP/1.1]`` or a bare URL (GET), query lines continued with
``?`` / ``&``, headers, a blank line, then the body (or ``< ./file.json``). Dynamic values
``{{$guid}}``, ``{{$randomInt min max}}``, ``{{$timestamp}}``, ``{{$datetime iso8601|rfc1123}}`` are
drawn afresh for every request sent; ``{{$processEnv NAME}}`` is read once. Request chaining
(``{{login.response.body.$.token}}``) and environment files (``http-client.env.json``) are not
read: pass such values as ``variables``.

Only the path and query of each URL are kept: replay sends them to the HAProxy frontend.
"""

from __future__ import annotations

import os
import random
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from urllib.parse import urlsplit

from critterops.errors import UserError

METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT"})
_VAR_DEF = re.compile(r"^@([A-Za-z_][\w.-]*)\s*=\s*(.*?)\s*$")
_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_HEADER = re.compile(r"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*:\s*(.*?)\s*$")
_REQUEST_LINE = re.compile(r"^(?:([A-Za-z]+)\s+)?(\S+)(?:\s+(HTTP/\d(?:\.\d)?))?\s*$")
_LOOKS_LIKE_REQUEST = re.compile(r"^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(https?://|/|\{\{)\S*(\s+HTTP/\S+)?\s*$")
_NAME_COMMENT = re.compile(r"^(?:#|//)\s*@name\s+(\S+)")
_DYNAMIC = frozenset({"$guid", "$randomInt", "$timestamp", "$datetime"})


@dataclass(frozen=True, slots=True)
class Request:
    """One request of the mix. ``path`` is path and query only; ``source`` is ``file:line``."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    source: str = ""
    name: str | None = None

    @property
    def dynamic(self) -> bool:
        """True if it holds ``{{$...}}`` values to draw for each send."""
        parts = [self.path, self.body or "", *(v for _, v in self.headers)]
        return any("{{" in part for part in parts)

    def render(self, rng: random.Random | None = None) -> Request:
        """This request with every dynamic value drawn (itself when there are none)."""
        if not self.dynamic:
            return self
        draw = rng or random.Random()

        def fill(text: str) -> str:
            return _PLACEHOLDER.sub(lambda m: _dynamic_value(m.group(1), draw), text)

        return Request(
            method=self.method,
            path=fill(self.path),
            headers=tuple((k, fill(v)) for k, v in self.headers),
            body=fill(self.body) if self.body is not None else None,
            source=self.source,
            name=self.name,
        )


def _dynamic_value(expr: str, rng: random.Random) -> str:
    name, *args = expr.split()
    if name == "$guid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if name == "$randomInt":
        low, high = (int(args[0]), int(args[1])) if len(args) == 2 else (0, 1000)
        return str(rng.randrange(low, high)) if high > low else str(low)
    if name == "$timestamp":
        return str(int(time.time()))
    if name == "$datetime":
        if args and args[0] == "rfc1123":
            return formatdate(usegmt=True)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return "{{" + expr + "}}"


def _check_dynamic(expr: str, where: str) -> str | None:
    """Validate a ``$name args`` placeholder; returns the value of ``$processEnv`` (drawn once)."""
    name, *args = expr.split() or [""]
    if name == "$processEnv":
        if len(args) != 1:
            raise UserError(f"{where}: {{{{$processEnv NAME}}}} takes one environment variable name")
        value = os.environ.get(args[0].lstrip("%"))
        if value is None:
            raise UserError(f"{where}: environment variable {args[0]} (from {{{{$processEnv}}}}) is not set")
        return value
    if name not in _DYNAMIC:
        raise UserError(
            f"{where}: unsupported dynamic variable {{{{{expr}}}}} "
            "(supported: $guid, $randomInt min max, $timestamp, $datetime, $processEnv NAME)"
        )
    if name == "$randomInt":
        if len(args) not in (0, 2) or not all(re.fullmatch(r"-?\d+", a) for a in args):
            raise UserError(f"{where}: {{{{$randomInt}}}} takes two integers, min and max: {{{{{expr}}}}}")
    elif name == "$datetime" and args and args[0] not in ("iso8601", "rfc1123"):
        raise UserError(f"{where}: {{{{$datetime}}}} supports iso8601 and rfc1123 only, not {args[0]!r}")
    elif name in ("$guid", "$timestamp") and args:
        raise UserError(f"{where}: {{{{{name}}}}} takes no arguments (offsets are not supported)")
    return None


def substitute(text: str, variables: Mapping[str, str], where: str) -> str:
    """Replace ``{{var}}``; keep valid ``{{$dynamic}}`` for :meth:`Request.render`; UserError otherwise."""
    if "{{" in _PLACEHOLDER.sub("", text):
        raise UserError(f"{where}: '{{{{' without a closing '}}}}' in {text.strip()!r}")

    def replace(match: re.Match[str]) -> str:
        expr = match.group(1)
        if not expr:
            raise UserError(f"{where}: empty {{{{}}}} placeholder")
        if expr.startswith("$"):
            fixed = _check_dynamic(expr, where)
            return fixed if fixed is not None else "{{" + expr + "}}"
        if expr in variables:
            return variables[expr]
        if re.match(r"^[\w-]+\.(request|response)\.", expr):
            raise UserError(
                f"{where}: request variables ({{{{{expr}}}}}) are not supported in synthetic load; "
                "define the value with @name = value"
            )
        raise UserError(
            f"{where}: undefined variable {{{{{expr}}}}}: define it above with `@{expr} = value` "
            "(values from http-client.env.json are not read)"
        )

    return _PLACEHOLDER.sub(replace, text)


@dataclass
class _Draft:
    method: str
    url: str
    line: int
    name: str | None
    headers: list[tuple[str, str]]
    body: list[tuple[int, str]]
    in_body: bool = False


def parse_http_text(
    text: str, source: str = "<.http>", variables: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> list[Request]:
    """Parse ``.http`` text into requests; UserError naming ``source:line`` on malformed input.

    ``variables`` override the file's own ``@var`` definitions (for values kept in an env file).
    """
    overrides = dict(variables or {})
    defined: dict[str, str] = dict(overrides)
    requests: list[Request] = []
    draft: _Draft | None = None
    pending_name: str | None = None

    def finish() -> None:
        nonlocal draft
        if draft is not None:
            requests.append(_build(draft, source, defined, base_dir))
        draft = None

    for number, raw in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stripped.startswith("###"):
            finish()
            pending_name = stripped.lstrip("#").strip() or None
            continue
        if draft is None:
            if not stripped:
                continue
            if stripped.startswith(("#", "//")):
                named = _NAME_COMMENT.match(stripped)
                if named:
                    pending_name = named.group(1)
                continue
            if stripped.startswith("@"):
                match = _VAR_DEF.match(stripped)
                if match is None:
                    raise UserError(f"{where}: malformed variable definition {stripped!r}: write `@name = value`")
                if match.group(1) not in overrides:
                    defined[match.group(1)] = substitute(match.group(2), defined, where)
                continue
            # Spaces inside {{$randomInt 1 9}} are not separators: hide them while splitting the line.
            request_line = _PLACEHOLDER.sub(
                lambda m: m.group(0).replace(" ", "\0"), substitute(stripped, defined, where)
            )
            match = _REQUEST_LINE.match(request_line)
            if match is None:
                raise UserError(f"{where}: expected a request line `METHOD URL [HTTP/1.1]`, got {stripped!r}")
            method = (match.group(1) or "GET").upper()
            if match.group(1) is not None and match.group(1) != match.group(1).upper():
                raise UserError(f"{where}: HTTP methods are upper case: {match.group(1)!r}")
            if method not in METHODS:
                raise UserError(
                    f"{where}: unknown HTTP method {method!r} (expected one of {', '.join(sorted(METHODS))})"
                )
            draft = _Draft(method, match.group(2).replace("\0", " "), number, pending_name, [], [])
            pending_name = None
            continue
        if draft.in_body:
            draft.body.append((number, line))
            continue
        if not stripped:
            draft.in_body = True
            continue
        if stripped.startswith(("#", "//")):
            continue
        if stripped.startswith(("?", "&")) and not draft.headers:
            draft.url += substitute(stripped, defined, where)
            continue
        header = _HEADER.match(stripped)
        if header is None:
            raise UserError(
                f"{where}: expected a header `Name: value` or a blank line before the body, got {stripped!r}"
            )
        draft.headers.append((header.group(1), substitute(header.group(2), defined, where)))
    finish()
    if not requests:
        raise UserError(f"{source}: no requests found (expected `METHOD URL` lines separated by ###)")
    return requests


def _build(draft: _Draft, source: str, variables: Mapping[str, str], base_dir: Path | None) -> Request:
    where = f"{source}:{draft.line}"
    url = draft.url
    if url.startswith(("http://", "https://")):
        parts = urlsplit(url)
        if not parts.netloc:
            raise UserError(f"{where}: URL {url!r} has no host")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    elif url.startswith("/"):
        path = url
    else:
        raise UserError(f"{where}: URL {url!r} must be absolute (http://host/path) or start with '/'")
    lines = list(draft.body)
    while lines and not lines[-1][1].strip():
        lines.pop()
    body: str | None = None
    if lines:
        for number, text in lines:
            if _LOOKS_LIKE_REQUEST.match(text.strip()):
                raise UserError(
                    f"{source}:{number}: {text.strip()!r} looks like a new request inside the body of the one "
                    f"on line {draft.line}: separate requests with ###"
                )
        first = lines[0][1].strip()
        if len(lines) == 1 and first.startswith("<") and not first.startswith("<?"):
            body = _body_file(first[1:].strip(), f"{source}:{lines[0][0]}", base_dir)
        else:
            body = "\n".join(substitute(text, variables, f"{source}:{number}") for number, text in lines)
    return Request(draft.method, path, tuple(draft.headers), body, where, draft.name)


def _body_file(name: str, where: str, base_dir: Path | None) -> str:
    if name.startswith("@"):
        raise UserError(f"{where}: `<@ file` (variables in a body file) is not supported; inline the body")
    path = Path(name) if Path(name).is_absolute() else (base_dir or Path.cwd()) / name
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{where}: cannot read the request body file {path}: {exc.strerror or exc}") from exc


def parse_http_file(path: Path, variables: Mapping[str, str] | None = None) -> list[Request]:
    """Parse a ``.http`` file; errors name ``path:line``."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise UserError(f"no such .http file: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
    return parse_http_text(text, str(path), variables, base_dir=path.parent)
