"""The shape of every type in one C# file, for comparing two versions of it.

A shape is the declaration (members, attributes, projection version) plus a digest of its code
with comments and layout removed, so that ``risk`` can tell a reformatted projection from one
whose logic changed, and a moved record from a retyped one.
"""

from __future__ import annotations

import hashlib
import re
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


_SPACE = re.compile(rb"\s+")


def code_digest(node: Node, comments: list[tuple[int, int]] | None = None) -> str:
    """sha1 of the node's source with comments and all whitespace removed.

    ``comments`` are the byte ranges of every comment in the file (found once per file by a
    query, which is much faster than walking the tree in Python).
    """
    source = node.text or b""
    start, end = node.start_byte, node.end_byte
    pieces: list[bytes] = []
    cursor = start
    for c_start, c_end in comments or ():
        if c_end <= start or c_start >= end:
            continue
        pieces.append(source[cursor - start : max(c_start, cursor) - start])
        cursor = max(cursor, c_end)
    pieces.append(source[cursor - start :])
    return hashlib.sha1(_SPACE.sub(b"", b"".join(pieces))).hexdigest()


def type_shapes(source: bytes, file: str) -> tuple[list[TypeShape], bool]:
    """The shapes in a file, and whether the parser had to recover from syntax errors."""
    tree = parse(source)
    root = tree.root_node
    decls = declarations(root, file, Scope(collect_constants(root)))
    query = " ".join(f"({kind}) @t" for kind in sorted(TYPE_DECLARATIONS))
    nodes = captures(f"[{query}]", root, "t")
    comments = [(c.start_byte, c.end_byte) for c in captures("(comment) @c", root, "c")]
    shapes = [
        TypeShape(decl, node.end_point[0] + 1, code_digest(node, comments))
        for decl, node in zip(decls, nodes, strict=True)
    ]
    return shapes, root.has_error


__all__ = ["TypeShape", "code_digest", "type_shapes"]
