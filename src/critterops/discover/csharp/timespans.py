"""``TimeSpan`` expressions evaluated like constants, for the delays of scheduled messages.

``TimeSpan.FromDays(30)`` (and ``FromHours``, ``FromMinutes``, ``FromSeconds``, ``FromMilliseconds``),
``new TimeSpan(h, m, s)`` / ``(d, h, m, s)`` / ``(d, h, m, s, ms)``, JasperFx's ``15.Minutes()`` (``Days``,
``Hours``, ``Seconds``, ``Milliseconds``: JasperFx/jasperfx ``src/JasperFx/Core/TimeSpanExtensions.cs``),
sums and products of those, and a ``const``, ``static readonly`` field or expression-bodied property that
holds one (``Constants.PaymentTimeout``), looked up in the service's code. Anything else (a value read from
configuration, ``DateTimeOffset`` arithmetic) is None: not a constant.
"""

from __future__ import annotations

from tree_sitter import Node

from critterops.discover.csharp.codeindex import CodeIndex, single_expression
from critterops.discover.csharp.syntax import arguments, method_name, receiver, short_type, text

_SECONDS = {"Days": 86400.0, "Hours": 3600.0, "Minutes": 60.0, "Seconds": 1.0, "Milliseconds": 0.001}
_CONSTRUCTOR = {3: (3600.0, 60.0, 1.0), 4: (86400.0, 3600.0, 60.0, 1.0), 5: (86400.0, 3600.0, 60.0, 1.0, 0.001)}
_MAX_DEPTH = 6  # names followed: Policies.ReturnWindow -> TimeSpan.FromDays(Days) -> const int Days


class TimeSpans:
    """Evaluates ``TimeSpan`` and number expressions; names resolve in ``index``, an unqualified one in the
    type the expression is written in."""

    def __init__(self, index: CodeIndex) -> None:
        self.index = index

    def seconds(self, node: Node, type_name: str, depth: int = 0) -> float | None:
        """Seconds of a ``TimeSpan`` expression written in ``type_name``, or None when it is not a constant."""
        if depth > _MAX_DEPTH:
            return None
        kind = node.type
        if kind == "parenthesized_expression" and node.named_children:
            return self.seconds(node.named_children[0], type_name, depth)
        if kind == "invocation_expression":
            name, _ = method_name(node)
            on = receiver(node)
            args = arguments(node)
            if on is not None and text(on) == "TimeSpan" and name.startswith("From") and len(args) == 1:
                unit = _SECONDS.get(name.removeprefix("From"))
                number = self.number(args[0], type_name, depth)
                return number * unit if unit is not None and number is not None else None
            if on is not None and name in _SECONDS and not args:  # JasperFx: 15.Minutes()
                number = self.number(on, type_name, depth)
                return number * _SECONDS[name] if number is not None else None
            return None
        if kind == "object_creation_expression" and _short(node.child_by_field_name("type")) == "TimeSpan":
            numbers = [self.number(a, type_name, depth) for a in arguments(node)]
            scale = _CONSTRUCTOR.get(len(numbers))
            if scale is None or any(n is None for n in numbers):
                return None
            return sum((n or 0.0) * s for n, s in zip(numbers, scale, strict=True))
        if kind == "binary_expression":
            return self._arithmetic(node, type_name, depth)
        named = self._named_value(node, type_name)
        return self.seconds(named[0], named[1], depth + 1) if named is not None else None

    def number(self, node: Node, type_name: str, depth: int = 0) -> float | None:
        """A numeric literal, a sum, difference or product of them, or a constant naming one."""
        kind = node.type
        if kind in ("integer_literal", "real_literal"):
            digits = text(node).replace("_", "").rstrip("dDfFmMlLuU")
            try:
                return float(int(digits, 0)) if kind == "integer_literal" else float(digits)
            except ValueError:
                return None
        if depth > _MAX_DEPTH:
            return None
        if kind == "parenthesized_expression" and node.named_children:
            return self.number(node.named_children[0], type_name, depth)
        if kind == "binary_expression":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            a = self.number(left, type_name, depth + 1) if left is not None else None
            b = self.number(right, type_name, depth + 1) if right is not None else None
            if a is None or b is None:
                return None
            return {"*": a * b, "+": a + b, "-": a - b}.get(text(node.child_by_field_name("operator")))
        named = self._named_value(node, type_name)
        return self.number(named[0], named[1], depth + 1) if named is not None else None

    def _arithmetic(self, node: Node, type_name: str, depth: int) -> float | None:
        """``span + span`` and ``span * number`` (either way round)."""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        operator = text(node.child_by_field_name("operator"))
        if left is None or right is None:
            return None
        if operator == "+":
            a, b = self.seconds(left, type_name, depth + 1), self.seconds(right, type_name, depth + 1)
            return a + b if a is not None and b is not None else None
        if operator == "*":
            for span, factor in ((left, right), (right, left)):
                seconds = self.seconds(span, type_name, depth + 1)
                number = self.number(factor, type_name, depth + 1)
                if seconds is not None and number is not None:
                    return seconds * number
        return None

    def _named_value(self, node: Node, type_name: str) -> tuple[Node, str] | None:
        """What the constant, static field or expression-bodied property ``node`` names is set to, and the type
        that declares it (where the names in the value resolve)."""
        if node.type == "identifier":
            owner, name = type_name, text(node)
        elif node.type == "member_access_expression":
            owner, name = _short(node.child_by_field_name("expression")), text(node.child_by_field_name("name"))
        else:
            return None
        for _, member in self.index.members(owner, name):
            if member.type == "variable_declarator" and len(member.named_children) > 1:
                return member.named_children[-1], owner
            if member.type == "property_declaration":
                value = single_expression(member) or member.child_by_field_name("value")
                if value is not None:
                    return value, owner
        return None


def _short(node: Node | None) -> str:
    """``Orders.Policies`` → ``Policies`` (a generic's arguments dropped)."""
    return short_type(text(node)).split("<", 1)[0]
