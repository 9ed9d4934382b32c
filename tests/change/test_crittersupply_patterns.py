"""Regression fixtures for the contract changes found in CritterSupply's history.

Each case reproduces the *pattern* of a hand-labelled commit (tests/fixtures/crittersupply_contract_truth.md)
with our own small contract, and checks the label and the message types critterops reports.
"""

from __future__ import annotations

import pytest

from critterops.change.typediff import diff_types
from critterops.discover.csharp.shapes import type_shapes
from tests.change.conftest import MakeChange


def diff(base: str, head: str, base_file: str = "a.cs", head_file: str = "a.cs") -> tuple[str, set[str]]:
    old, _ = type_shapes(base.encode(), base_file)
    new, _ = type_shapes(head.encode(), head_file)
    diffs = diff_types(old, new)
    breaking = {d.base.full_name if d.base else d.name for d in diffs if d.breaking}
    additive = any(d.changes for d in diffs if not d.breaking)
    return ("breaking" if breaking else "additive" if additive else "none"), breaking


NS = "namespace Contracts.Stock;\n"
SHOP = "namespace Contracts.Shop;\n"

PATTERNS = [
    pytest.param(
        NS + "public sealed record StockHeld(string Sku, int Quantity);\npublic sealed record StockFreed(string Sku);",
        NS + "public sealed record StockHeld(Guid OrderId, string Sku, int Quantity);\n"
        "public sealed record StockFreed(Guid OrderId, string Sku);",
        "breaking",
        {"Contracts.Stock.StockHeld", "Contracts.Stock.StockFreed"},
        id="6a7c562-required-member-prepended",
    ),
    pytest.param(
        NS + "public sealed record StockHeld(string SKU, int Quantity);",
        NS + "public sealed record StockHeld(string Sku, int Quantity);",
        "breaking",
        {"Contracts.Stock.StockHeld"},
        id="4d2a205-case-only-rename",
    ),
    pytest.param(
        SHOP + "using Contracts.Shop;\npublic sealed record CheckedOut(Guid CartId, Address ShipTo);",
        SHOP + "using Contracts.Customers;\npublic sealed record CheckedOut(Guid CartId, AddressSnapshot ShipTo);",
        "breaking",
        {"Contracts.Shop.CheckedOut"},
        id="c0e0bb6-retyped-to-look-alike",
    ),
    pytest.param(
        SHOP
        + "public sealed record Address(string Street, string City);\npublic sealed record CheckedOut(Guid CartId);",
        SHOP + "public sealed record CheckedOut(Guid CartId);",
        "breaking",
        {"Contracts.Shop.Address"},
        id="7fc6d64-type-removed",
    ),
    pytest.param(
        NS + "public sealed record ReturnDenied(Guid ReturnId, string Reason);",
        NS + "public sealed record ReturnDenied(Guid ReturnId, Guid CustomerId, string Reason, string? Message);",
        "breaking",
        {"Contracts.Stock.ReturnDenied"},
        id="227bc57-required-and-nullable-without-default-inserted",
    ),
    pytest.param(
        NS + "public sealed record Backordered(Guid OrderId, DateTimeOffset At);",
        NS
        + "public sealed record Backordered(Guid OrderId, IReadOnlyList<BackorderedLine> Lines, DateTimeOffset At);\n"
        "public sealed record BackorderedLine(string Sku, int Quantity);",
        "breaking",
        {"Contracts.Stock.Backordered"},
        id="14fa960-generic-member-inserted-with-new-nested-type",
    ),
    pytest.param(
        NS + "public sealed record Associated(Guid ProductId, Guid VendorId);",
        NS + "public sealed record Associated(Guid ProductId, Guid VendorId, Guid? PreviousVendorId = null, "
        'string? Note = null, bool IsRecall = false, string Channel = "web");',
        "additive",
        set(),
        id="b22d5f4-add104f-optional-members-appended",
    ),
    pytest.param(
        NS + "public sealed record A(Guid Id);\npublic sealed record C(Guid Id);",
        NS + "public sealed record A(Guid Id);\npublic sealed record B(Guid Id, string Name);\n"
        "public sealed record C(Guid Id);",
        "additive",
        set(),
        id="7a92d48-record-inserted-mid-file",
    ),
    pytest.param(
        NS + "public sealed record A(Guid Id);",
        NS + "public enum VendorRole { Admin, Editor }\npublic sealed record A(Guid Id);",
        "additive",
        set(),
        id="8ad4082-new-enum",
    ),
    pytest.param(
        NS + "/// <summary>Old words.</summary>\npublic sealed record A(Guid Id);",
        NS + '/// <summary>New, better words.</summary>\n[Obsolete("use B")]\npublic sealed record A(Guid Id);',
        "none",
        set(),
        id="d128ed5-add104f-docs-and-attribute-only",
    ),
]


@pytest.mark.parametrize(("base", "head", "label", "types"), PATTERNS)
def test_pattern(base: str, head: str, label: str, types: set[str]) -> None:
    assert diff(base, head) == (label, types)


def test_2ba25be_type_and_file_renamed(make_change: MakeChange) -> None:
    from critterops.change.rules import findings_for
    from critterops.change.versions import load_change

    old = "src/Shared/Messages.Contracts/Inventory/LowStockDetected.cs"
    new = "src/Shared/Messages.Contracts/Inventory/StockRunningLow.cs"
    repo = make_change(
        [
            {"path": old, "delete": True},
            {"path": new, "write": _renamed_low_stock(make_change)},
        ]
    )
    findings, *_ = findings_for(load_change(repo, "main", "HEAD"))
    breaking = [f for f in findings if f.rule == "contract-breaking"]
    assert [f.message_types for f in breaking] == [("Messages.Contracts.Inventory.LowStockDetected",)]
    assert "renamed to Messages.Contracts.Inventory.StockRunningLow" in breaking[0].detail


def _renamed_low_stock(make_change: MakeChange) -> str:
    from critterops.commands._common import example_path

    text = (example_path() / "src/Shared/Messages.Contracts/Inventory/LowStockDetected.cs").read_text()
    return text.replace("record LowStockDetected(", "record StockRunningLow(")


def test_70e0ce0_project_moved_with_namespaces_kept_is_no_contract_change(make_change: MakeChange) -> None:
    """Every contract file renamed (100 % similarity), project moved, namespaces unchanged: nothing to report."""
    from critterops.change.rules import findings_for
    from critterops.change.versions import load_change
    from tests.change.conftest import git

    repo = make_change()
    git(repo, "mv", "src/Shared/Messages.Contracts", "src/Messages.Contracts")
    for csproj in repo.rglob("*.csproj"):
        text = csproj.read_text()
        csproj.write_text(
            text.replace("Shared\\Messages.Contracts", "Messages.Contracts").replace(
                "Shared/Messages.Contracts", "Messages.Contracts"
            )
        )
    slnx = repo / "PawMart.slnx"
    slnx.write_text(slnx.read_text().replace("src/Shared/Messages.Contracts", "src/Messages.Contracts"))
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "move contracts")
    findings, *_ = findings_for(load_change(repo, "main", "HEAD"))
    assert not [f for f in findings if f.rule.startswith("contract")], [(f.rule, f.detail) for f in findings]
