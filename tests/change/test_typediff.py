"""Type differences between two versions, case by case: base and head sources side by side."""

from __future__ import annotations

import pytest

from critterops.change.typediff import diff_types
from critterops.discover.csharp.shapes import type_shapes

NS = "namespace Messages.Contracts.Orders;\n"


def changes(base: str, head: str) -> set[tuple[str, str | None, bool]]:
    old, _ = type_shapes(base.encode(), "a.cs")
    new, _ = type_shapes(head.encode(), "a.cs")
    return {(c.change, c.member, c.breaking) for d in diff_types(old, new) for c in d.changes}


CASES = [
    pytest.param(
        "public record OrderPlaced(Guid OrderId, decimal Total);",
        "public record OrderPlaced(Guid OrderId);",
        {("member-removed", "Total", True)},
        id="positional-member-removed",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId, decimal Total);",
        "public record OrderPlaced(Guid OrderId, decimal Amount);",
        {("member-renamed", "Total", True)},
        id="positional-member-renamed",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId, decimal Total);",
        "public record OrderPlaced(Guid OrderId, double Total);",
        {("member-retyped", "Total", True)},
        id="member-retyped",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId, string Note);",
        "public record OrderPlaced(Guid OrderId, string? Note);",
        {("member-retyped", "Note", True)},
        id="nullability-changed",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId);",
        "public record OrderPlaced(Guid OrderId, string Channel);",
        {("required-member-added", "Channel", True)},
        id="required-positional-appended",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId, decimal Total);",
        "public record OrderPlaced(Guid OrderId, string Channel, decimal Total);",
        {("required-member-added", "Channel", True)},
        id="required-positional-inserted",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId);",
        "public record OrderPlaced(Guid OrderId, string? Channel);",
        {("required-member-added", "Channel", True)},
        id="nullable-positional-without-default-is-required",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId);",
        'public record OrderPlaced(Guid OrderId, string Channel = "web");',
        {("optional-member-added", "Channel", False)},
        id="positional-with-default-is-optional",
    ),
    pytest.param(
        "public class OrderPlaced { public Guid OrderId { get; init; } }",
        "public class OrderPlaced { public Guid OrderId { get; init; } public string? Channel { get; init; } }",
        {("optional-member-added", "Channel", False)},
        id="nullable-property-is-optional",
    ),
    pytest.param(
        "public class OrderPlaced { public Guid OrderId { get; init; } }",
        "public class OrderPlaced { public Guid OrderId { get; init; } public required string Channel { get; init; } }",
        {("required-member-added", "Channel", True)},
        id="required-keyword-property",
    ),
    pytest.param(
        "public class OrderPlaced { public string? Channel { get; init; } }",
        "public class OrderPlaced { public required string? Channel { get; init; } }",
        {("member-made-required", "Channel", True)},
        id="member-made-required",
    ),
    pytest.param(
        "public enum Priority { Low, High }",
        "public enum Priority { Low, High, Urgent }",
        {("enum-changed", "Urgent", False)},
        id="enum-member-appended",
    ),
    pytest.param(
        "public enum Priority { Low, High }",
        "public enum Priority { Low, Normal, High }",
        {("enum-changed", "Normal", True)},
        id="enum-member-inserted",
    ),
    pytest.param(
        "public enum Priority { Low, Normal, High }",
        "public enum Priority { Low, High }",
        {("member-removed", "Normal", True)},
        id="enum-member-removed",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId);\npublic record OrderShipped(Guid OrderId);",
        "public record OrderPlaced(Guid OrderId);",
        {("type-removed", None, True)},
        id="type-removed",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId);",
        "public record OrderPlaced(Guid OrderId);\npublic record OrderShipped(Guid OrderId, string Carrier);",
        {("type-added", None, False)},
        id="type-added",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId, decimal Total);",
        "public record OrderSubmitted(Guid OrderId, decimal Total);",
        {("type-renamed", None, True)},
        id="type-renamed",
    ),
    pytest.param(
        "public record OrderPlaced(Guid OrderId, decimal Total);",
        "public record OrderPlaced(\n    Guid OrderId,   // the order\n    decimal Total);",
        set(),
        id="reformatted-and-commented-is-no-change",
    ),
]


@pytest.mark.parametrize(("base", "head", "expected"), CASES)
def test_type_changes(base: str, head: str, expected: set[tuple[str, str | None, bool]]) -> None:
    assert changes(NS + base, NS + head) == expected


def test_namespace_move_breaks_routing_unless_message_identity_is_kept() -> None:
    base = "namespace Orders.Messages;\npublic record OrderPlaced(Guid OrderId);"
    head = "namespace Messages.Contracts.Orders;\npublic record OrderPlaced(Guid OrderId);"
    assert changes(base, head) == {("type-moved-namespace", None, True)}
    attr = '[MessageIdentity("order-placed")]\n'
    kept = changes(base.replace("public", attr + "public"), head.replace("public", attr + "public"))
    assert kept == {("type-moved-namespace", None, False)}


def test_code_digest_separates_logic_from_layout() -> None:
    base = "namespace A;\npublic class View { public int Apply(int x) => x + 1; }"
    moved = "namespace A;\n// a comment\npublic class View\n{\n    public int Apply(int x) => x + 1;\n}"
    changed = "namespace A;\npublic class View { public int Apply(int x) => x + 2; }"
    (b,), _ = type_shapes(base.encode(), "a.cs")
    (m,), _ = type_shapes(moved.encode(), "a.cs")
    (c,), _ = type_shapes(changed.encode(), "a.cs")
    assert b.digest == m.digest
    assert b.digest != c.digest
