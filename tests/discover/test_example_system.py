"""Discovery of the bundled PawMart system, checked against the hand-written ground truth
(tests/fixtures/pawmart_truth.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from critterops.discover import discover
from critterops.model import System


@pytest.fixture(scope="module")
def system(pawmart: Path) -> System:
    return discover(pawmart)


def test_deployable_services(system: System) -> None:
    found = {(s.name, s.kind, s.http_port, s.bounded_context) for s in system.services}
    assert found == {
        ("orders-api", "api", 5301, "Orders"),
        ("payments-api", "api", 5302, "Payments"),
        ("inventory-api", "api", 5303, "Inventory"),
        ("fulfillment-worker", "worker", None, "Fulfillment"),
        ("storefront-web", "web", 5305, "Customer Experience"),
    }
    roles = {p.name: p.role for p in system.projects}
    assert roles["PawMart.AppHost"] == "apphost"
    assert roles["PawMart.ServiceDefaults"] == "servicedefaults"
    assert roles["Messages.Contracts"] == "contracts"
    assert roles["Orders.UnitTests"] == "test"


@pytest.mark.parametrize(
    ("service", "database", "schema", "uses", "dockerfile"),
    [
        ("orders-api", "orders", "orders", ("postgres", "rabbitmq"), "src/Orders/Orders.Api/Dockerfile"),
        ("payments-api", "payments", "payments", ("postgres", "rabbitmq"), "src/Payments/Payments.Api/Dockerfile"),
        ("inventory-api", "inventory", "inventory", ("postgres", "rabbitmq"), "src/Inventory/Inventory.Api/Dockerfile"),
        ("fulfillment-worker", "fulfillment", "fulfillment", ("postgres", "rabbitmq"), None),
        ("storefront-web", None, None, ("rabbitmq",), "src/Customer Experience/Storefront.Web/Dockerfile"),
    ],
)
def test_storage_and_images(
    system: System,
    service: str,
    database: str | None,
    schema: str | None,
    uses: tuple[str, ...],
    dockerfile: str | None,
) -> None:
    s = system.service(service)
    assert s is not None
    assert (s.database, s.schema, s.uses, s.dockerfile) == (database, schema, uses, dockerfile)


def test_marten(system: System) -> None:
    orders, inventory, fulfillment = (system.service(n) for n in ("orders-api", "inventory-api", "fulfillment-worker"))
    assert orders and orders.marten and inventory and inventory.marten and fulfillment and fulfillment.marten
    assert (orders.marten.event_sourcing, orders.marten.daemon_mode, orders.marten.auto_create) == (True, "Solo", "All")
    assert [(p.name, p.lifecycle, p.version) for p in inventory.marten.projections] == [
        ("ProductInventory", "Inline", 1),
        ("StockLevelViewProjection", "Async", 1),
        ("LowStockAlertProjection", "Async", 2),
    ]
    assert inventory.marten.daemon_mode == "HotCold"
    assert dict(inventory.marten.auto_create_by_environment) == {"Development": "All", "!Development": "None"}
    assert set(inventory.marten.event_types) == {
        "InventoryInitialized",
        "StockReceived",
        "StockAllocated",
        "DemandRecorded",
        "ReorderPointBreached",
        "ReorderPointRestored",
    }
    assert (fulfillment.marten.event_sourcing, fulfillment.marten.auto_create) == (False, "CreateOrUpdate")


def test_saga(system: System) -> None:
    orders = system.service("orders-api")
    assert orders is not None
    (saga,) = orders.sagas
    assert (saga.full_name, saga.state_member) == ("Orders.Placement.Order", "Status")
    assert saga.states[:2] == ("Placed", "PaymentAuthorized") and "Cancelled" in saga.states, "the OrderStatus enum"
    assert {"Id", "CustomerId", "LineItems", "Total", "Status"} <= {m.name for m in saga.members}
    assert {
        "PlaceOrder",
        "PaymentAuthorized",
        "PaymentFailed",
        "StockReserved",
        "ShipmentDelivered",
        "OrderPaymentTimeout",
    } <= set(saga.handled_messages)


def test_messaging(system: System) -> None:
    inventory = system.service("inventory-api")
    orders = system.service("orders-api")
    assert inventory and orders
    assert {(x.queue, x.bindings) for x in inventory.listens} == {
        ("inventory-reservations", ()),
        ("inventory-order-placed", ("orders-order-placed",)),
    }
    assert {(p.message, p.to, p.kind) for p in orders.publishes} == {
        ("PaymentRequested", "payments-requests", "queue"),
        ("ReservationRequested", "inventory-reservations", "queue"),
        ("FulfillmentRequested", "fulfillment-requests", "queue"),
        ("OrderPlaced", "orders-order-placed", "exchange"),
        ("PlaceOrder", "order-placement", "local"),
    }
    flows = {(f.source, f.target, f.message) for f in system.flows}
    # the 13 flows between services in the ground truth (the local ones, #1, #6 and #16, are not flows)
    assert flows == {
        ("orders-api", "payments-api", "PaymentRequested"),
        ("orders-api", "inventory-api", "ReservationRequested"),
        ("orders-api", "inventory-api", "OrderPlaced"),
        ("orders-api", "storefront-web", "OrderPlaced"),
        ("payments-api", "orders-api", "PaymentAuthorized"),
        ("payments-api", "orders-api", "PaymentFailed"),
        ("inventory-api", "orders-api", "StockReserved"),
        ("inventory-api", "orders-api", "StockReservationFailed"),
        ("inventory-api", "storefront-web", "LowStockDetected"),
        ("orders-api", "fulfillment-worker", "FulfillmentRequested"),
        ("fulfillment-worker", "orders-api", "ShipmentDispatched"),
        ("fulfillment-worker", "storefront-web", "ShipmentDispatched"),
        ("fulfillment-worker", "orders-api", "ShipmentDelivered"),
    }


def test_health_endpoints_and_their_environments(system: System) -> None:
    health = {s.name: {(h.path, h.environments) for h in s.health} for s in system.services}
    assert health["orders-api"] == {("/api/health", "all"), ("/health", "Development"), ("/alive", "Development")}
    assert health["inventory-api"] == {("/health/ready", "all"), ("/health", "Development"), ("/alive", "Development")}
    assert health["payments-api"] == {("/health", "Development"), ("/alive", "Development")}
    assert health["fulfillment-worker"] == set()


def test_ef_core_migrations(system: System) -> None:
    payments = system.service("payments-api")
    assert payments and payments.ef_core
    assert payments.ef_core.contexts == ("PaymentsDbContext",)
    assert [(m.id, [o.operation for o in m.operations]) for m in payments.ef_core.migrations] == [
        ("20260101120000_InitialCreate", ["EnsureSchema", "CreateTable", "CreateIndex"]),
        ("20260301090000_AddRefunds", ["AddColumn", "CreateTable", "CreateIndex"]),
    ]


def test_http_calls_and_tests(system: System) -> None:
    web = system.service("storefront-web")
    assert web is not None
    assert {(c.client, c.target) for c in web.http_calls} == {
        ("OrdersApi", "orders-api"),
        ("InventoryApi", "inventory-api"),
    }
    assert web.aspire_references == ("inventory-api", "orders-api")
    orders = system.service("orders-api")
    assert orders is not None
    assert {(t.project.rsplit("/", 1)[-1], t.kind) for t in orders.tests} == {
        ("Orders.UnitTests.csproj", "unit"),
        ("Orders.Api.IntegrationTests.csproj", "integration"),
    }


def test_contracts(system: System) -> None:
    contracts = {c.name: c for c in system.contracts}
    placed = contracts["OrderPlaced"]
    assert placed.namespace == "Messages.Contracts.Orders"
    assert [(m.name, m.optional) for m in placed.members][-2:] == [("Currency", True), ("PromoCode", True)]
    assert placed.members[0].name == "OrderId" and not placed.members[0].optional


def test_planted_quirks_are_reported(system: System) -> None:
    text = "\n".join(f"{w.file}: {w.message}" for w in system.warnings)
    assert "Fulfillment.Worker/Dockerfile, which does not exist" in text
    assert 'Extensions.cs: AddMeter("Wolverine") captures no Wolverine metrics' in text
