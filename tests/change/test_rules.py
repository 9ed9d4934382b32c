"""Each change rule on a real git repository: the bundled example plus one labelled edit."""

from __future__ import annotations

from typing import Any

import pytest

from critterops.change.rules import findings_for
from critterops.change.versions import load_change
from critterops.model import Finding
from tests.change.conftest import MakeChange

CONTRACTS = "src/Shared/Messages.Contracts"
INVENTORY_EVENTS = "src/Inventory/Inventory/Stock/InventoryEvents.cs"
ORDER_SAGA = "src/Orders/Orders/Placement/Order.cs"
INVENTORY_PROGRAM = "src/Inventory/Inventory.Api/Program.cs"


def rep(path: str, old: str, new: str) -> dict[str, Any]:
    return {"path": path, "replace": old, "with": new}


def run_rules(make_change: MakeChange, edits: list[dict[str, Any]]) -> list[Finding]:
    repo = make_change(edits)
    findings, *_ = findings_for(load_change(repo, "main", "HEAD"))
    return findings


def only(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


# (edits, rule expected, services that must be named, message types, rules that must NOT fire)
CASES = [
    pytest.param(
        [rep(f"{CONTRACTS}/Orders/OrderPlaced.cs", "    decimal Total,\n", "")],
        "contract-breaking",
        {"inventory-api", "storefront-web", "orders-api"},
        {"Messages.Contracts.Orders.OrderPlaced"},
        {"contract-additive"},
        id="contract-member-removed",
    ),
    pytest.param(
        [
            rep(
                f"{CONTRACTS}/Payments/PaymentRequested.cs",
                "namespace Messages.Contracts.Payments;",
                "namespace Messages.Contracts.Billing;",
            )
        ],
        "contract-breaking",
        {"payments-api"},
        {"Messages.Contracts.Payments.PaymentRequested"},
        set(),
        id="contract-moved-namespace",
    ),
    pytest.param(
        [
            rep(
                f"{CONTRACTS}/Fulfillment/ShipmentEvents.cs",
                "    string? SignedBy = null);",
                "    string? SignedBy = null,\n    string? Photo = null);",
            )
        ],
        "contract-additive",
        {"orders-api"},
        {"Messages.Contracts.Fulfillment.ShipmentDelivered"},
        {"contract-breaking"},
        id="contract-optional-member",
    ),
    pytest.param(
        [
            rep(
                INVENTORY_EVENTS,
                "public sealed record StockReceived(string Sku, int Quantity,",
                "public sealed record StockReceived(string Sku, int Units,",
            ),
            rep(
                "src/Inventory/Inventory/Stock/StockLevelViewProjection.cs",
                "view.OnHand += e.Quantity;",
                "view.OnHand += e.Units;",
            ),
        ],
        "event-breaking",
        {"inventory-api"},
        {"Inventory.Stock.StockReceived"},
        set(),
        id="event-member-renamed",
    ),
    pytest.param(
        [
            rep(
                INVENTORY_EVENTS,
                "DateTimeOffset RestoredAt);",
                "DateTimeOffset RestoredAt, string? RestoredBy = null);",
            )
        ],
        "event-additive",
        {"inventory-api"},
        {"Inventory.Stock.ReorderPointRestored"},
        {"event-breaking"},
        id="event-optional-member",
    ),
    pytest.param(
        [rep(ORDER_SAGA, "    public Guid? ReservationId { get; set; }\n", "")],
        "saga-state-changed",
        {"orders-api"},
        {"Orders.Placement.Order"},
        set(),
        id="saga-member-removed",
    ),
    pytest.param(
        [
            rep(
                "src/Inventory/Inventory/Stock/StockLevelViewProjection.cs",
                "view.OnHand += e.Quantity;",
                "view.OnHand += e.Quantity * 1;",
            )
        ],
        "projection-changed",
        {"inventory-api"},
        set(),
        {"event-breaking", "contract-breaking"},
        id="projection-logic-without-version-bump",
    ),
    pytest.param(
        [rep(INVENTORY_PROGRAM, ".AddAsyncDaemon(DaemonMode.HotCold)", ".AddAsyncDaemon(DaemonMode.Solo)")],
        "wiring-changed",
        {"inventory-api"},
        set(),
        set(),
        id="daemon-mode",
    ),
    pytest.param(
        [rep("src/Orders/Orders.Api/appsettings.json", '"Npgsql": "Warning"', '"Npgsql": "Information"')],
        "config-changed",
        {"orders-api"},
        set(),
        {"code-changed"},
        id="appsettings",
    ),
    pytest.param(
        [
            rep(
                "src/Inventory/Inventory.Api/Dockerfile",
                "COPY Directory.Build.props .",
                "COPY Directory.Build.props ./",
            )
        ],
        "infra-changed",
        {"inventory-api"},
        set(),
        set(),
        id="dockerfile",
    ),
    pytest.param(
        [rep("docker-compose.yml", '      - "5303:8080"', '      - "5313:8080"')],
        "infra-changed",
        {"inventory-api"},
        set(),
        set(),
        id="compose-service-entry",
    ),
    pytest.param(
        [
            {"path": "README.md", "append": "\nMore words.\n"},
            rep("tests/Orders/Orders.UnitTests/CheckoutTests.cs", "namespace", "// touched\nnamespace"),
        ],
        "no-deploy",
        set(),
        set(),
        {"code-changed", "config-changed"},
        id="docs-and-tests-only",
    ),
]


@pytest.mark.parametrize(("edits", "rule", "services", "types", "absent"), CASES)
def test_rule(
    make_change: MakeChange,
    edits: list[dict[str, Any]],
    rule: str,
    services: set[str],
    types: set[str],
    absent: set[str],
) -> None:
    findings = run_rules(make_change, edits)
    hits = only(findings, rule)
    assert hits, f"{rule} did not fire; got {[(f.rule, f.detail) for f in findings]}"
    named = {s for f in hits for s in f.services}
    assert services <= named
    assert types <= {t for f in hits for t in f.message_types}
    assert all(f.files or rule == "no-deploy" for f in hits), "every finding points at a file"
    assert not {f.rule for f in findings} & absent


def test_breaking_contract_lists_consumers_as_blast_radius(make_change: MakeChange) -> None:
    findings = run_rules(make_change, [rep(f"{CONTRACTS}/Orders/OrderPlaced.cs", "    decimal Total,\n", "")])
    (finding,) = only(findings, "contract-breaking")
    assert finding.fact("consumers") == "inventory-api,storefront-web"
    assert finding.fact("publishers") == "orders-api"
    assert finding.files[0].file == f"{CONTRACTS}/Orders/OrderPlaced.cs"


def test_event_breaking_is_mitigated_by_an_upcaster_in_the_same_range(make_change: MakeChange) -> None:
    edits = [
        rep(INVENTORY_EVENTS, "int Quantity, string? PurchaseOrderNumber", "int Units, string? PurchaseOrderNumber"),
        rep(
            "src/Inventory/Inventory/Stock/StockLevelViewProjection.cs",
            "view.OnHand += e.Quantity;",
            "view.OnHand += e.Units;",
        ),
        rep(
            INVENTORY_PROGRAM,
            "opts.Projections.Add<StockLevelViewProjection>",
            "opts.Events.Upcast<StockReceivedV1, StockReceived>(v1 => new StockReceived(v1.Sku, v1.Quantity, "
            "v1.PurchaseOrderNumber, v1.ReceivedAt));\n        opts.Projections.Add<StockLevelViewProjection>",
        ),
    ]
    (finding,) = only(run_rules(make_change, edits), "event-breaking")
    assert finding.fact("mitigated") == "true"


def test_saga_member_added_is_not_breaking(make_change: MakeChange) -> None:
    edits = [
        rep(
            ORDER_SAGA,
            "    public Guid? ShipmentId { get; set; }\n",
            "    public Guid? ShipmentId { get; set; }\n    public int Priority { get; set; }\n",
        )
    ]
    (finding,) = only(run_rules(make_change, edits), "saga-state-changed")
    assert finding.fact("breaking") == "false"


def test_projection_version_bump_is_recorded(make_change: MakeChange) -> None:
    path = "src/Inventory/Inventory/Stock/LowStockAlertProjection.cs"
    edits = [
        rep(path, "ProjectionVersion = 2;", "ProjectionVersion = 3;"),
        rep(path, "Available = e.Data.Available,", "Available = e.Data.Available + 0,"),
    ]
    (finding,) = only(run_rules(make_change, edits), "projection-changed")
    assert (finding.fact("version_base"), finding.fact("version_head"), finding.fact("bumped")) == ("2", "3", "true")
    assert finding.fact("lifecycle") == "Async"


def test_unversioned_projection_change_needs_rebuild(make_change: MakeChange) -> None:
    edits = [
        rep(
            "src/Inventory/Inventory/Stock/StockLevelViewProjection.cs",
            "view.OnHand += e.Quantity;",
            "view.OnHand += 2 * e.Quantity;",
        )
    ]
    (finding,) = only(run_rules(make_change, edits), "projection-changed")
    assert finding.fact("rebuild") == "true" and finding.fact("bumped") == "false"
    assert "no ProjectionVersion bump" in finding.detail


MIGRATION = """using Microsoft.EntityFrameworkCore.Migrations;
namespace Payments.Migrations
{{
    public partial class {name} : Migration
    {{
        protected override void Up(MigrationBuilder migrationBuilder)
        {{
            {body}
        }}
    }}
}}
"""


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ('migrationBuilder.DropColumn(name: "Reason", schema: "payments", table: "Refunds");', "migration-destructive"),
        (
            'migrationBuilder.RenameColumn(name: "Reason", schema: "payments", table: "Refunds", newName: "Why");',
            "migration-destructive",
        ),
        (
            'migrationBuilder.AddColumn<string>(name: "Channel", table: "Refunds", nullable: true);',
            "migration-additive",
        ),
    ],
)
def test_migrations(make_change: MakeChange, body: str, rule: str) -> None:
    path = "src/Payments/Payments/Migrations/20260501000000_Change.cs"
    edits = [{"path": path, "write": MIGRATION.format(name="Change", body=body)}]
    findings = run_rules(make_change, edits)
    (finding,) = only(findings, rule)
    assert finding.services == ("payments-api",)
    other = {"migration-destructive", "migration-additive"} - {rule}
    assert not only(findings, other.pop())


def test_removed_listener_is_wiring_change(make_change: MakeChange) -> None:
    edits = [rep(INVENTORY_PROGRAM, '    opts.ListenToRabbitQueue("inventory-reservations").UseDurableInbox();\n', "")]
    (finding,) = only(run_rules(make_change, edits), "wiring-changed")
    assert "no longer listens to rabbitmq queue inventory-reservations" in finding.detail


def test_shared_contract_change_does_not_drag_in_services_that_do_not_use_it(make_change: MakeChange) -> None:
    findings = run_rules(
        make_change,
        [
            rep(
                f"{CONTRACTS}/Fulfillment/ShipmentEvents.cs",
                "    string? SignedBy = null);",
                "    string? SignedBy = null,\n    string? Photo = null);",
            )
        ],
    )
    named = {s for f in findings for s in f.services}
    assert "payments-api" not in named and "inventory-api" not in named
