"""The shape of every type in one C# file, for comparing two versions of it.

A shape is the declaration (members, attributes, projection version) plus a digest of its code
with comments and layout removed, so that ``risk`` can tell a reformatted projection from one
whose logic changed, and a moved record from a retyped one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tree_sitter import Node

from critterops.discover.csharp.syntax import TYPE_DECLARATIONS, captures, parse
from critterops.discover.csharp.types import TypeDecl, declarations
from critterops.discover.csharp.values import Scope, collect_constants


@dataclass(frozen=True, slots=True)
class TypeShape:
    decl: TypeDecl
    end_line: int
    digest: str  # code without comments or whitespace

    @property
    def full_name(self) -> str:
        return self.decl.info.full_name


def _tokens(node: Node, out: list[bytes]) -> None:
    if node.type == "comment":
        return
    if node.child_count == 0:
        if node.text:
            out.append(node.text)
        return
    for child in node.children:
        _tokens(child, out)


def code_digest(node: Node) -> str:
    tokens: list[bytes] = []
    _tokens(node, tokens)
    return hashlib.sha1(b" ".join(tokens)).hexdigest()


def type_shapes(source: bytes, file: str) -> tuple[list[TypeShape], bool]:
    """The shapes in a file, and whether the parser had to recover from syntax errors."""
    tree = parse(source)
    root = tree.root_node
    decls = declarations(root, file, Scope(collect_constants(root)))
    query = " ".join(f"({kind}) @t" for kind in sorted(TYPE_DECLARATIONS))
    nodes = captures(f"[{query}]", root, "t")
    shapes = [
        TypeShape(decl, node.end_point[0] + 1, code_digest(node)) for decl, node in zip(decls, nodes, strict=True)
    ]
    return shapes, root.has_error


def text_contains_any(source: bytes, needles: tuple[bytes, ...]) -> bool:
    return any(n in source for n in needles)


__all__ = ["TypeShape", "code_digest", "type_shapes"]
