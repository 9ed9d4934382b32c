"""Where a service's code creates message objects, and which type each one is, by full name.

A service produces a message under Wolverine's conventional routing wherever its code builds one:
``new OrderPlaced(...)``, ``new Contracts.OrderPlaced(...)``, ``new global::Contracts.OrderPlaced(...)``, a
target-typed ``new(...)`` whose type the context gives (a method's return type, an element of a returned
tuple, ``IEnumerable<T>`` with ``yield return``, a typed local, ``bus.PublishAsync<T>(new(...))``). The type
written in the code is resolved to its full name the way the C# compiler does it, for the cases that matter
here: ``global::`` names, using aliases, the enclosing namespaces (which win over using directives, so a local
``OrderPlaced`` is not the contract ``Contracts.OrderPlaced``), then the using directives (global ones of the
project included). A target-typed ``new(...)`` passed to a method whose parameter is ``object``
(``OutgoingMessages.Add(new(...))``: OutgoingMessages is a ``List<object>``, Wolverine
src/Wolverine/OutgoingMessages.cs, V6.29.2) creates an ``object``, not a message, and is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from critterops.discover.csharp.syntax import captures, line, method_name, namespace_of, text

# Wrappers whose first type argument is what a method really returns (async handlers, iterators).
_WRAPPERS = frozenset({"Task", "ValueTask", "IEnumerable", "IAsyncEnumerable", "IList", "List", "IReadOnlyList"})
_CREATIONS = "[(object_creation_expression) @c (implicit_object_creation_expression) @c]"


@dataclass
class Usings:
    """Using directives in scope for a file: imported namespaces and aliases (``using A = X.Y;``)."""

    namespaces: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    def merged(self, other: Usings) -> Usings:
        return Usings([*self.namespaces, *other.namespaces], {**other.aliases, **self.aliases})


@dataclass(frozen=True, slots=True)
class Creation:
    written: str  # the type as the code spells it (or as the context gives it, for ``new(...)``)
    namespace: str  # the namespace the creation sits in
    line: int


def _clean(name: str) -> str:
    return "".join(name.split()).removesuffix("?")


def usings(root: Node) -> tuple[Usings, Usings]:
    """The file's own using directives, and its ``global using`` ones (which apply to the whole project)."""
    local, shared = Usings(), Usings()
    for node in captures("(using_directive) @u", root, "u"):
        body = text(node)
        target = shared if body.lstrip().startswith("global") else local
        if " static " in f" {body} ":
            continue  # using static imports members, not types
        alias = node.child_by_field_name("name")
        named = [c for c in node.named_children if c.type in ("identifier", "qualified_name", "alias_qualified_name")]
        if alias is not None:
            rest = [c for c in named if c != alias]
            if rest:
                target.aliases[text(alias)] = _clean(text(rest[-1])).removeprefix("global::")
        elif named:
            target.namespaces.append(_clean(text(named[-1])).removeprefix("global::"))
    return local, shared


def _unwrap(type_text: str) -> str:
    """``Task<OrderPlaced>`` → ``OrderPlaced``; ``ValueTask<(A a, B b)>`` → ``(A a, B b)``."""
    current = " ".join(type_text.split()).replace("< ", "<").replace(" >", ">").removesuffix("?")
    while "<" in current and current.endswith(">"):
        outer, inner = current.split("<", 1)
        if outer.rsplit(".", 1)[-1] not in _WRAPPERS:
            break
        current = inner[:-1]
    return current


def _tuple_elements(type_text: str) -> list[str] | None:
    """``(A, B)`` or ``(A a, B b)`` → ``[A, B]``; None when not a tuple."""
    if not (type_text.startswith("(") and type_text.endswith(")")):
        return None
    parts: list[str] = []
    depth, start = 0, 1
    body = type_text
    for i, ch in enumerate(body[1:-1], start=1):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:-1])
    return [p.strip().split(" ")[0] for p in parts]


def _returns(node: Node) -> str | None:
    """The declared return type of the method, local function or lambda a node sits in."""
    cur = node.parent
    while cur is not None:
        if cur.type in ("method_declaration", "local_function_statement"):
            returns = cur.child_by_field_name("returns") or cur.child_by_field_name("type")
            return text(returns) if returns is not None else None
        if cur.type in ("lambda_expression", "anonymous_method_expression", "class_declaration"):
            return None
        cur = cur.parent
    return None


def _implicit_target(node: Node) -> str | None:
    """The type a target-typed ``new(...)`` creates, where the surrounding code says it."""
    parent = node.parent
    if parent is None:
        return None
    if parent.type == "argument" and parent.parent is not None:
        holder = parent.parent
        if holder.type == "tuple_expression" and holder.parent is not None:
            position = [c for c in holder.named_children if c.type == "argument"].index(parent)
            if holder.parent.type in ("return_statement", "arrow_expression_clause"):
                returned = _returns(holder)
                elements = _tuple_elements(_unwrap(returned)) if returned else None
                if elements and position < len(elements):
                    return elements[position]
            return None
        call = holder.parent
        if holder.type == "argument_list" and call is not None and call.type == "invocation_expression":
            first = next((c for c in holder.named_children if c.type == "argument"), None)
            _, generics = method_name(call)
            if first == parent and generics:
                return generics[0]  # bus.PublishAsync<OrderPlaced>(new(...)), outgoing.Delay<T>(new(...), t)
        return None
    if parent.type in ("return_statement", "arrow_expression_clause", "yield_statement"):
        returned = _returns(node)
        if returned is None:
            return None
        target = _unwrap(returned)
        return None if target.startswith("(") else target
    if parent.type == "variable_declarator" and parent.parent is not None:
        declared = parent.parent.child_by_field_name("type")
        if declared is not None and declared.type != "implicit_type":
            return text(declared)
    return None


def creations(root: Node) -> Iterator[Creation]:
    """Every object creation under ``root`` whose type can be told, with the type as written."""
    for node in captures(_CREATIONS, root, "c"):
        if node.type == "object_creation_expression":
            written: str | None = text(node.child_by_field_name("type"))
        else:
            written = _implicit_target(node)
        if written:
            yield Creation(_clean(written), namespace_of(node), line(node))


def resolve(written: str, namespace: str, scope: Usings, known: set[str]) -> str | None:
    """The full name of the type ``written`` denotes, among the ``known`` full names, or None.

    Order as in C# name lookup (ECMA-334 §7.6.2): the enclosing namespaces from the innermost out, then the
    aliases and namespaces of the using directives. A ``global::`` name is already full.
    """
    name = written.split("<", 1)[0]
    if name.startswith("global::"):
        full = name.removeprefix("global::")
        return full if full in known else None
    head, _, tail = name.partition(".")
    parts = namespace.split(".") if namespace else []
    for i in range(len(parts), -1, -1):
        candidate = ".".join([*parts[:i], name])
        if candidate in known:
            return candidate
    if head in scope.aliases:
        candidate = scope.aliases[head] + ("." + tail if tail else "")
        return candidate if candidate in known else None
    for imported in scope.namespaces:
        candidate = f"{imported}.{name}"
        if candidate in known:
            return candidate
    return None


def declared(roots: Iterable[tuple[Node, str]]) -> set[str]:
    """Full names of the types declared under each root (with its namespace from the syntax)."""
    out: set[str] = set()
    query = "[(class_declaration) @t (record_declaration) @t (struct_declaration) @t (interface_declaration) @t]"
    for root, _ in roots:
        for decl in captures(query, root, "t"):
            ns = namespace_of(decl)
            name = text(decl.child_by_field_name("name"))
            out.add(f"{ns}.{name}" if ns else name)
    return out
