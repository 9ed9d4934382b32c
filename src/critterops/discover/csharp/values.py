"""Evaluate the C# expressions that name things (queues, schemas, paths) without running code.

Queue names are often not literals: ``Constants.Orders.ToLowerInvariant()``, ``$"{prefix}-orders"``,
``builder.Configuration["Queues:Orders"] ?? "orders"``. :class:`Scope` resolves what can be
resolved statically (string constants anywhere in the service's code, local string variables,
appsettings values) and returns ``None`` for the rest, so the caller can warn instead of guess.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tree_sitter import Node

from critterops.discover.csharp.syntax import arguments, captures, method_name, receiver, text

_CONSTANT_FIELDS = "(field_declaration) @field"


def _unescape(raw: str) -> str:
    return raw.replace('\\"', '"').replace("\\\\", "\\").replace("\\n", "\n").replace("\\t", "\t")


def literal(node: Node) -> str | None:
    """The value of a string literal node, or None when the node is not one."""
    kind = node.type
    if kind == "string_literal":
        return _unescape("".join(text(c) for c in node.named_children))
    if kind == "verbatim_string_literal":
        raw = text(node)
        return raw[2:-1].replace('""', '"') if raw.startswith('@"') else None
    if kind == "raw_string_literal":
        raw = text(node).strip('"')
        return raw.strip()
    return None


def collect_constants(root: Node) -> dict[str, str]:
    """``const string`` and ``static readonly string`` fields with literal values.

    Keys are both ``Field`` and ``Type.Field`` so that ``Constants.Orders`` and a bare
    ``Orders`` used inside the declaring class both resolve.
    """
    out: dict[str, str] = {}
    if b"const" not in (root.text or b"") and b"readonly" not in (root.text or b""):
        return out
    for field_node in captures(_CONSTANT_FIELDS, root, "field"):
        mods = {text(c) for c in field_node.named_children if c.type == "modifier"}
        if "const" not in mods and not {"static", "readonly"} <= mods:
            continue
        for var in captures("(variable_declarator) @d", field_node, "d"):
            name_node = var.child_by_field_name("name")
            value_nodes = [c for c in var.named_children if c != name_node]
            if name_node is None or not value_nodes:
                continue
            value = literal(value_nodes[-1])
            if value is None:
                continue
            name = text(name_node)
            out.setdefault(name, value)
            owner = field_node.parent.parent if field_node.parent is not None else None
            if owner is not None:
                owner_name = owner.child_by_field_name("name")
                if owner_name is not None:
                    out[f"{text(owner_name)}.{name}"] = value
    return out


def collect_locals(root: Node) -> dict[str, list[Node]]:
    """Local variables with an initializer: name → every initializer expression, in source order.

    One name is often declared in several blocks (``var url = ...`` in each ``AddHttpClient``
    lambda of a ``Program.cs``): :func:`visible_initializer` picks the one a use sees.
    """
    out: dict[str, list[Node]] = {}
    for decl in captures("(variable_declarator) @d", root, "d"):
        if decl.parent is None or decl.parent.parent is None:
            continue
        if decl.parent.parent.type != "local_declaration_statement":
            continue
        name_node = decl.child_by_field_name("name")
        values = [c for c in decl.named_children if c != name_node]
        if name_node is not None and values:
            out.setdefault(text(name_node), []).append(values[-1])
    return out


def declaring_block(initializer: Node) -> Node | None:
    """The block a local variable is visible in: its statement's block (top-level statements: the file)."""
    statement = initializer.parent.parent.parent if initializer.parent and initializer.parent.parent else None
    block = statement.parent if statement is not None else None
    if block is not None and block.type == "global_statement":
        block = block.parent
    return block


def visible_initializer(initializers: list[Node], use: Node) -> Node | None:
    """The initializer of the declaration ``use`` sees: the nearest earlier one whose block holds it."""
    for init in reversed(initializers):
        if init.start_byte >= use.start_byte:
            continue
        block = declaring_block(init)
        if block is not None and block.start_byte <= use.start_byte < block.end_byte:
            return init
    return None


def interpolated_prefix(node: Node, evaluate: Callable[[Node], str | None]) -> tuple[str, bool]:
    """An interpolated string's text up to its first interpolation ``evaluate`` cannot know (escapes
    unescaped), and whether that is the whole string: ``$"Vault:{path}"`` gives ``("Vault:", False)``."""
    parts: list[str] = []
    for child in node.named_children:
        if child.type == "string_content":
            parts.append(text(child))
        elif child.type == "interpolation":
            inner = [c for c in child.named_children if c.type != "interpolation_brace"]
            value = evaluate(inner[0]) if inner else None
            if value is None:
                return "".join(parts), False
            parts.append(value)
        elif child.type == "escape_sequence":
            parts.append(_unescape(text(child)))
    return "".join(parts), True


@dataclass
class Scope:
    """What names resolve to while evaluating expressions in one service."""

    constants: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)
    locals: dict[str, list[Node]] = field(default_factory=dict)
    config_keys: list[str] = field(default_factory=list)
    locals_root: Node | None = None  # locals not collected yet: collect them under this node on first use

    def with_locals(self, root: Node) -> Scope:
        """This scope with the local variables under ``root``, collected when a name is first looked up
        (most handler files never evaluate one)."""
        return Scope(self.constants, self.config, {}, [], root)

    def local_initializer(self, use: Node) -> Node | None:
        """The initializer of the local variable an identifier refers to, if it is one."""
        if self.locals_root is not None:
            self.locals, self.locals_root = collect_locals(self.locals_root), None
        initializers = self.locals.get(text(use))
        return visible_initializer(initializers, use) if initializers else None

    def evaluate(self, node: Node | None, depth: int = 0) -> str | None:
        """The string value of ``node``, or None when it cannot be known statically."""
        if node is None or depth > 12:
            return None
        kind = node.type
        value = literal(node)
        if value is not None:
            return value
        if kind == "parenthesized_expression" and node.named_children:
            return self.evaluate(node.named_children[0], depth + 1)
        if kind == "postfix_unary_expression" and text(node).endswith("!") and node.named_children:
            return self.evaluate(node.named_children[0], depth + 1)  # url! (null-forgiving)
        if kind == "interpolated_string_expression":
            value, complete = interpolated_prefix(node, lambda inner: self.evaluate(inner, depth + 1))
            return value if complete else None
        if kind == "binary_expression":
            op = node.child_by_field_name("operator")
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if op is not None and text(op) == "+":
                lv, rv = self.evaluate(left, depth + 1), self.evaluate(right, depth + 1)
                return lv + rv if lv is not None and rv is not None else None
            if op is not None and text(op) == "??":
                return self.evaluate(left, depth + 1) or self.evaluate(right, depth + 1)
            return None
        if kind == "identifier":
            name = text(node)
            init = self.local_initializer(node)
            if init is not None:
                return self.evaluate(init, depth + 1)
            return self.constants.get(name)
        if kind == "member_access_expression":
            full = text(node)
            if full in self.constants:
                return self.constants[full]
            parts2 = full.split(".")
            return self.constants.get(".".join(parts2[-2:]))
        if kind == "element_access_expression":
            # builder.Configuration["Section:Key"]
            target = text(node.child_by_field_name("expression"))
            if target.endswith("Configuration") or target.endswith("config"):
                sub = node.child_by_field_name("subscript")
                items = [
                    c.named_children[-1] if c.type == "argument" and c.named_children else c
                    for c in (sub.named_children if sub else [])
                ]
                keys = [self.evaluate(c, depth + 1) for c in items]
                known = [k for k in keys if k]
                if known:
                    self.config_keys.append(known[0])
                    return self._config_value(known[0])
            return None
        if kind == "invocation_expression":
            name, _generics = method_name(node)
            call_args = arguments(node)
            if name in ("ToLowerInvariant", "ToLower"):
                base = self.evaluate(receiver(node), depth + 1)
                return base.lower() if base is not None else None
            if name in ("ToUpperInvariant", "ToUpper"):
                base = self.evaluate(receiver(node), depth + 1)
                return base.upper() if base is not None else None
            if name == "nameof" and call_args:
                return text(call_args[0]).rsplit(".", 1)[-1]
            if name == "ToString" and receiver(node) is not None:
                return self.evaluate(receiver(node), depth + 1)
            if name in ("GetValue", "GetConnectionString") and call_args:
                key = self.evaluate(call_args[0], depth + 1)
                if key is None:
                    return None
                if name == "GetConnectionString":
                    key = f"ConnectionStrings:{key}"
                self.config_keys.append(key)
                return self._config_value(key)
            if name == "Combine" and call_args:  # Path.Combine / UriHelper: join the parts we know
                vals = [self.evaluate(a, depth + 1) for a in call_args]
                return "/".join(v for v in vals if v is not None) if all(vals) else None
            return None
        if kind in ("object_creation_expression", "implicit_object_creation_expression"):
            # new Uri("http://..."), new("http://...") (whose argument list is not a named field)
            lists = [c for c in node.named_children if c.type == "argument_list"]
            ctor_args = arguments(node) or [
                a.named_children[-1] for a in (lists[0].named_children if lists else []) if a.named_children
            ]
            return self.evaluate(ctor_args[0], depth + 1) if ctor_args else None
        return None

    def _config_value(self, key: str) -> str | None:
        lowered = {k.lower(): v for k, v in self.config.items()}
        return lowered.get(key.lower())
