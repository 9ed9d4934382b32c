"""Type declarations: contracts, sagas, projections, migrations, handlers."""

from __future__ import annotations

import pytest

from critterops.discover.csharp import syntax
from critterops.discover.csharp.types import TypeDecl, applied_events, declarations, handled_messages
from critterops.discover.csharp.values import Scope


def decls(code: str) -> dict[str, TypeDecl]:
    tree = syntax.parse(code.encode())
    return {d.info.name: d for d in declarations(tree.root_node, "X.cs", Scope())}


@pytest.mark.parametrize(
    ("code", "members"),
    [
        pytest.param(
            "public sealed record OrderPlaced(Guid OrderId, string? Note, decimal Total = 0m);",
            [("OrderId", "Guid", False), ("Note", "string?", True), ("Total", "decimal", True)],
            id="positional-record",
        ),
        pytest.param(
            "public record Tagged(Guid Id, params string[] Tags);",
            [("Id", "Guid", False), ("Tags", "string[]", True)],
            id="params-array",
        ),
        pytest.param(
            "public class Shipped { public required Guid Id { get; init; } public string? Carrier { get; init; }"
            " public int Count { get; init; } = 1; private int Hidden { get; set; } public static int S { get; } }",
            [("Id", "Guid", False), ("Carrier", "string?", True), ("Count", "int", True)],
            id="class-properties",
        ),
        pytest.param(
            "public enum Reason { OutOfStock, Fraud = 2 }",
            [("OutOfStock", "enum", False), ("Fraud", "enum", False)],
            id="enum",
        ),
    ],
)
def test_members(code: str, members: list[tuple[str, str, bool]]) -> None:
    (decl,) = decls("namespace Messages.Contracts.Orders;\n" + code).values()
    assert [(m.name, m.type, m.optional) for m in decl.info.members] == members
    assert decl.info.namespace == "Messages.Contracts.Orders"


def test_saga_handlers_and_state() -> None:
    found = decls(
        """
        namespace Orders.Placement;
        public sealed class Order : Saga {
            public Guid Id { get; set; }
            public OrderStatus Status { get; set; }
            public static Order Start(OrderPlaced placed) => new();
            public void Handle(PaymentAuthorized e) { }
            public void Handle(Messages.Contracts.StockReserved e) { }
            public void Helper(int x) { }
        }
        public static class PlaceOrderHandler { public static void Handle(PlaceOrder cmd) { } }
        public static class Utilities { public static void Handle(Nothing cmd) { } }
        """
    )
    assert handled_messages(found["Order"], is_saga=True) == ["OrderPlaced", "PaymentAuthorized", "StockReserved"]
    assert handled_messages(found["PlaceOrderHandler"]) == ["PlaceOrder"]
    assert handled_messages(found["Utilities"]) == []
    assert found["Order"].info.bases == ("Saga",)


@pytest.mark.parametrize(
    ("code", "version"),
    [
        pytest.param("[ProjectionVersion(3)] public class P : SingleStreamProjection<V> {}", 3, id="attribute"),
        pytest.param(
            "public class P : MultiStreamProjection<V, Guid> { public P() { ProjectionVersion = 2; } }",
            2,
            id="constructor",
        ),
        pytest.param("public class P : EventProjection {}", None, id="default"),
    ],
)
def test_projection_version(code: str, version: int | None) -> None:
    assert decls(code)["P"].projection_version == version


def test_aggregate_events() -> None:
    found = decls(
        "public class Inventory { public static Inventory Create(StockInitialized e) => new();"
        " public void Apply(StockReserved e) {} public void Apply(IEvent<StockReleased> e) {} }"
    )
    assert applied_events(found["Inventory"]) == ["StockInitialized", "StockReserved", "StockReleased"]


def test_migration_operations() -> None:
    found = decls(
        """
        [DbContext(typeof(PaymentsDbContext))]
        [Migration("20260301090000_AddRefunds")]
        public partial class AddRefunds : Migration {
            protected override void Up(MigrationBuilder migrationBuilder) {
                migrationBuilder.AddColumn<decimal>(name: "RefundedAmount", table: "Payments", nullable: true);
                migrationBuilder.DropColumn(name: "Legacy", table: "Payments");
                migrationBuilder.CreateTable(name: "Refunds", columns: t => new { Id = t.Column<Guid>() });
            }
            protected override void Down(MigrationBuilder migrationBuilder) {
                migrationBuilder.DropTable(name: "Refunds");
            }
        }
        """
    )
    decl = found["AddRefunds"]
    assert decl.migration_id == "20260301090000_AddRefunds"
    assert decl.migration_context == "PaymentsDbContext"
    assert [(o.operation, o.table, o.column) for o in decl.migration_ops] == [
        ("AddColumn", "Payments", "RefundedAmount"),
        ("DropColumn", "Payments", "Legacy"),
        ("CreateTable", "Refunds", None),
    ]
