"""Thin helpers over the tree-sitter C# grammar.

Discovery reads C# as syntax trees, never as raw text with regular expressions: a string inside
a comment is not a queue, and a call split over five lines is still one call. Node type and field
names are those of tree-sitter-c-sharp 0.23 (see reference/validators.md §10 for its gotchas).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import tree_sitter_c_sharp
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

TYPE_DECLARATIONS = frozenset(
    {
        "class_declaration",
        "record_declaration",
        "struct_declaration",
        "interface_declaration",
        "enum_declaration",
    }
)


@cache
def language() -> Language:
    return Language(tree_sitter_c_sharp.language())


@cache
def _parser() -> Parser:
    return Parser(language())


@cache
def query(source: str) -> Query:
    return Query(language(), source)


def parse(source: bytes) -> Tree:
    return _parser().parse(source)


def captures(source: str, node: Node, name: str) -> list[Node]:
    """All nodes captured as ``@name`` by the query ``source`` under ``node``, in order."""
    found = QueryCursor(query(source)).captures(node).get(name, [])
    # source order; in a fluent chain every call starts at the same byte, the inner call first
    return sorted(found, key=lambda n: (n.start_byte, n.end_byte))


def text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def line(node: Node) -> int:
    return node.start_point.row + 1


def argument_nodes(invocation: Node) -> list[Node]:
    """The ``argument`` nodes of an invocation, named arguments included."""
    args = invocation.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type == "argument"] if args is not None else []


def invocations(node: Node) -> list[Node]:
    return captures("(invocation_expression) @i", node, "i")


def method_name(invocation: Node) -> tuple[str, tuple[str, ...]]:
    """Name and generic type arguments of the method an invocation calls.

    ``opts.PublishMessage<Foo>()`` gives ``("PublishMessage", ("Foo",))``.
    """
    fn = invocation.child_by_field_name("function")
    if fn is None:
        return "", ()
    if fn.type == "member_access_expression":
        fn = fn.child_by_field_name("name")
    elif fn.type in ("conditional_access_expression",):
        return "", ()
    if fn is None:
        return "", ()
    if fn.type == "generic_name":
        name = ""
        args: list[str] = []
        for child in fn.named_children:
            if child.type == "identifier":
                name = text(child)
            elif child.type == "type_argument_list":
                args = [text(a) for a in child.named_children]
        return name, tuple(args)
    if fn.type == "identifier":
        return text(fn), ()
    return "", ()


def receiver(invocation: Node) -> Node | None:
    """The expression an invocation is called on: ``a.b()`` gives the node ``a``."""
    fn = invocation.child_by_field_name("function")
    if fn is not None and fn.type == "member_access_expression":
        return fn.child_by_field_name("expression")
    return None


def arguments(invocation: Node) -> list[Node]:
    """The argument expressions of an invocation (without names or ``ref``/``out``)."""
    args = invocation.child_by_field_name("arguments")
    if args is None:
        return []
    out: list[Node] = []
    for arg in args.named_children:
        if arg.type == "argument" and arg.named_children:
            # a named argument is "name: expr": the expression is the last named child
            out.append(arg.named_children[-1])
    return out


def chain(invocation: Node) -> Iterator[Node]:
    """Walk down a fluent chain: ``a.B().C().D()`` from D yields D, C, B."""
    node: Node | None = invocation
    while node is not None and node.type == "invocation_expression":
        yield node
        node = receiver(node)
        while node is not None and node.type in ("parenthesized_expression",):
            node = node.named_children[0] if node.named_children else None


def chain_up(invocation: Node) -> Iterator[Node]:
    """Walk up a fluent chain: from B in ``a.B().C().D()`` yields C, D."""
    node = invocation
    while True:
        parent = node.parent
        if parent is None or parent.type != "member_access_expression":
            return
        if parent.child_by_field_name("expression") != node:
            return
        call = parent.parent
        if call is None or call.type != "invocation_expression":
            return
        yield call
        node = call


def short_type(name: str) -> str:
    """``Messages.Contracts.Orders.OrderPlaced`` → ``OrderPlaced``; ``List<Foo>`` kept whole."""
    base = name.split("<", 1)[0]
    short = base.rsplit(".", 1)[-1]
    return short + name[len(base) :] if "<" in name else short


def namespace_of(node: Node) -> str:
    """The namespace a node sits in (file-scoped or block namespace)."""
    parts: list[str] = []
    cur: Node | None = node
    while cur is not None:
        if cur.type == "namespace_declaration":
            name = cur.child_by_field_name("name")
            parts.append(text(name))
        cur = cur.parent
    root = node
    while root.parent is not None:
        root = root.parent
    for child in root.named_children:
        if child.type == "file_scoped_namespace_declaration":
            name = child.child_by_field_name("name")
            parts.append(text(name))
            break
    return ".".join(reversed([p for p in parts if p]))


def enclosing_type_names(node: Node) -> list[str]:
    names: list[str] = []
    cur = node.parent
    while cur is not None:
        if cur.type in TYPE_DECLARATIONS:
            names.append(text(cur.child_by_field_name("name")))
        cur = cur.parent
    return list(reversed(names))


def modifiers(node: Node) -> set[str]:
    return {text(c) for c in node.named_children if c.type == "modifier"}


def attributes(node: Node) -> list[tuple[str, list[str]]]:
    """Attributes on a declaration: ``[ProjectionVersion(2)]`` gives ``[("ProjectionVersion", ["2"])]``."""
    out: list[tuple[str, list[str]]] = []
    for attr_list in node.named_children:
        if attr_list.type != "attribute_list":
            continue
        for attr in attr_list.named_children:
            if attr.type != "attribute":
                continue
            name = text(attr.child_by_field_name("name"))
            args: list[str] = []
            for sub in attr.named_children:
                if sub.type == "attribute_argument_list":
                    args = [text(a) for a in sub.named_children if a.type == "attribute_argument"]
            out.append((name.rsplit(".", 1)[-1].removesuffix("Attribute"), args))
    return out


def base_types(node: Node) -> list[str]:
    for child in node.named_children:
        if child.type == "base_list":
            return [text(c) for c in child.named_children if c.type != "argument_list"]
    return []


_ENV_METHODS = {
    "IsDevelopment": "Development",
    "IsProduction": "Production",
    "IsStaging": "Staging",
}


def _condition_environment(condition: Node) -> str | None:
    """The environment named in an ``if`` condition, with ``!`` for a negation, or None."""
    negated = False
    node = condition
    while node.type in ("prefix_unary_expression", "parenthesized_expression"):
        if node.type == "prefix_unary_expression" and text(node).lstrip().startswith("!"):
            negated = not negated
        if not node.named_children:
            break
        node = node.named_children[-1]
    env: str | None = None
    for call in [node, *invocations(node)]:
        if call.type != "invocation_expression":
            continue
        name, _ = method_name(call)
        if name in _ENV_METHODS:
            inner_negated = negated
            parent = call.parent
            while parent is not None and parent != condition.parent:
                if parent.type == "prefix_unary_expression" and text(parent).lstrip().startswith("!"):
                    inner_negated = True
                    break
                parent = parent.parent
            env = ("!" if inner_negated else "") + _ENV_METHODS[name]
            break
        if name == "IsEnvironment":
            args = arguments(call)
            if args and args[0].type == "string_literal":
                env = ("!" if negated else "") + text(args[0]).strip('"')
                break
    return env


def environment_condition(node: Node) -> str:
    """In which ASP.NET Core environments a statement runs: ``all``, ``Development``, ``!Development``...

    Looks at every enclosing ``if``/``else`` and ``?:`` between the node and its method or file.
    """
    conditions: list[str] = []
    child = node
    cur = node.parent
    while cur is not None and cur.type not in ("method_declaration", "compilation_unit", "local_function_statement"):
        if cur.type == "if_statement":
            cond = cur.child_by_field_name("condition")
            env = _condition_environment(cond) if cond is not None else None
            if env is not None and cond is not None and child != cond:
                if cur.child_by_field_name("alternative") == child:
                    env = env[1:] if env.startswith("!") else "!" + env
                conditions.append(env)
        elif cur.type == "conditional_expression":
            cond = cur.child_by_field_name("condition")
            env = _condition_environment(cond) if cond is not None else None
            if env is not None and child != cond:
                if cur.child_by_field_name("alternative") == child:
                    env = env[1:] if env.startswith("!") else "!" + env
                conditions.append(env)
        child = cur
        cur = cur.parent
    if not conditions:
        return "all"
    return " & ".join(sorted(set(conditions)))
