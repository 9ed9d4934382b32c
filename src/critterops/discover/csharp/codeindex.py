"""Type declarations of one service's code, found by name: what a method calls, a constant is set to.

Used where discovery follows code across files (a saga's handlers into a static decider, a delay into the
constant it names): :class:`CodeIndex` parses a file only when its bytes contain the name looked up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from tree_sitter import Node

from critterops.discover.csharp.syntax import TYPE_DECLARATIONS, captures, line, text

Files = Sequence[str]
Root = Callable[[str], Node | None]
Read = Callable[[str], bytes | None]


class CodeIndex:
    """The type declarations of one service's files, looked up by name on demand: a file is parsed only
    when its bytes contain the name."""

    def __init__(self, files: Files, read: Read, root: Root) -> None:
        self._files = files
        self._read = read
        self._root = root
        self._types: dict[str, list[tuple[str, Node]]] = {}

    def types(self, name: str) -> list[tuple[str, Node]]:
        """``(file, declaration)`` of every class, record, struct or interface called ``name``."""
        if name not in self._types:
            found: list[tuple[str, Node]] = []
            needle = name.encode()
            for rel in self._files:
                data = self._read(rel)
                root = self._root(rel) if data is not None and needle in data else None
                if root is None:
                    continue
                query = " ".join(f"({kind}) @t" for kind in sorted(TYPE_DECLARATIONS))
                found += [(rel, d) for d in captures(f"[{query}]", root, "t") if declaration_name(d) == name]
            self._types[name] = found
        return self._types[name]

    def members(self, type_name: str, member: str) -> list[tuple[str, Node]]:
        """Methods, properties and fields named ``member`` of the types called ``type_name``."""
        out: list[tuple[str, Node]] = []
        for rel, decl in self.types(type_name):
            out += [(rel, node) for node in type_members(decl) if declaration_name(node) == member]
        return out

    def files_with(self, needle: bytes) -> list[str]:
        return [rel for rel in self._files if (data := self._read(rel)) is not None and needle in data]

    def root(self, rel: str) -> Node | None:
        return self._root(rel)


def declaration_name(node: Node) -> str:
    """The name of a type, method, property or field declarator ("" for anything else)."""
    if node.type == "variable_declarator" or node.type in TYPE_DECLARATIONS or node.type in _MEMBER_KINDS:
        return text(node.child_by_field_name("name"))
    return ""


_MEMBER_KINDS = frozenset({"method_declaration", "property_declaration"})


def type_members(decl: Node) -> list[Node]:
    """A type's methods, properties and field declarators (one per name in ``int a, b;``)."""
    body = decl.child_by_field_name("body")
    out: list[Node] = []
    for child in body.named_children if body is not None else ():
        if child.type in _MEMBER_KINDS:
            out.append(child)
        elif child.type == "field_declaration":
            out += captures("(variable_declarator) @v", child, "v")
    return out


def single_expression(member: Node) -> Node | None:
    """The expression an expression-bodied member (or one whose body is a single ``return``) returns."""
    for child in member.named_children:
        if child.type == "arrow_expression_clause" and child.named_children:
            return child.named_children[0]
    body = member.child_by_field_name("body")
    if body is not None and body.type == "arrow_expression_clause" and body.named_children:
        return body.named_children[0]
    if body is not None and body.type == "block":
        statements = [s for s in body.named_children if s.type != "comment"]
        if len(statements) == 1 and statements[0].type == "return_statement" and statements[0].named_children:
            return statements[0].named_children[0]
    accessors = member.child_by_field_name("accessors")
    if accessors is not None:
        for accessor in accessors.named_children:
            inner = single_expression(accessor)
            if inner is not None:
                return inner
    return None


def find_declaration(root: Node, name: str, at_line: int) -> Node | None:
    """The class declaration ``name`` that starts on ``at_line`` (1-based) in a parsed file."""
    for decl in captures("(class_declaration) @c", root, "c"):
        if declaration_name(decl) == name and line(decl) == at_line:
            return decl
    return None
