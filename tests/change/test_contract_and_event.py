"""A type that is both a message contract and a Marten event gets both rules; ``AddEventType<T>()`` is a
registration and never mitigates a breaking event change.

Ground truth of the fixture: ``Acme.Wire.OrderPlaced`` is published by orders-api (and appended to its
event store), handled by billing-api. Removing ``Total`` breaks the wire (billing reads it) and the
stream (events already stored carry it).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from critterops.change.rules import findings_for
from critterops.change.versions import load_change
from critterops.model import Finding
from tests.change.conftest import git
from tests.conftest import LIB_CSPROJ, web_csproj

WIRE = "../Acme.Wire/Acme.Wire.csproj"
EVENT = "namespace Acme.Wire;\npublic record OrderPlaced(Guid OrderId, decimal Total);\n"
ORDERS_PROGRAM = """var builder = WebApplication.CreateBuilder(args);
builder.Services.AddMarten(opts =>
{
    opts.Connection(builder.Configuration.GetConnectionString("orders")!);
    // MARTEN
});
builder.UseWolverine(opts => opts.UseRabbitMq());
"""
FILES = {
    "Acme.Wire/Acme.Wire.csproj": LIB_CSPROJ,
    "Acme.Wire/OrderPlaced.cs": EVENT,
    "Orders.Api/Orders.Api.csproj": web_csproj(("WolverineFx", "Marten"), (WIRE,)),
    "Orders.Api/Program.cs": ORDERS_PROGRAM,
    "Orders.Api/PlaceOrder.cs": """public static class PlaceOrderEndpoint
{
    public static async Task Post(IDocumentSession session, IMessageBus bus)
    {
        var placed = new OrderPlaced(Guid.NewGuid(), 10m);
        session.Events.StartStream<Order>(placed.OrderId, new OrderPlaced(placed.OrderId, 10m));
        await bus.PublishAsync(new OrderPlaced(placed.OrderId, 10m));
    }
}
""",
    "Billing.Api/Billing.Api.csproj": web_csproj(("WolverineFx",), (WIRE,)),
    "Billing.Api/Program.cs": "builder.UseWolverine(opts => opts.UseRabbitMq());\n",
    "Billing.Api/OrderPlacedHandler.cs": """public static class OrderPlacedHandler
{
    public static void Handle(OrderPlaced placed) => Console.WriteLine(placed.Total);
}
""",
}


def _repo(tmp_path: Path, head: dict[str, str], base: dict[str, str] | None = None) -> Path:
    root = tmp_path / "repo"
    for rel, content in (FILES | (base or {})).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(content, encoding="utf-8")
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "checkout", "-q", "-b", "change")
    for rel, content in head.items():
        (root / rel).write_text(content, encoding="utf-8")
    git(root, "commit", "-q", "-am", "head")
    return root


def _findings(tmp_path: Path, head: dict[str, str], base: dict[str, str] | None = None) -> list[Finding]:
    findings, *_ = findings_for(load_change(_repo(tmp_path, head, base), "main", "HEAD"))
    return findings


def _one(findings: list[Finding], rule: str) -> Finding:
    hits = [f for f in findings if f.rule == rule]
    assert len(hits) == 1, f"{rule}: {[(f.rule, f.detail) for f in findings]}"
    return hits[0]


BREAK = {"Acme.Wire/OrderPlaced.cs": EVENT.replace(", decimal Total", "")}


def test_a_breaking_change_to_a_contract_that_is_also_an_event_gets_both_rules(tmp_path: Path) -> None:
    findings = _findings(tmp_path, BREAK)
    contract = _one(findings, "contract-breaking")
    assert contract.fact("consumers") == "billing-api"
    event = _one(findings, "event-breaking")
    assert event.services == ("orders-api",)
    assert event.message_types == ("Acme.Wire.OrderPlaced",)
    assert event.fact("mitigated") == "false"


@pytest.mark.parametrize(
    ("registration", "mitigated"),
    [
        pytest.param("opts.Events.AddEventType<OrderPlaced>();", "false", id="AddEventType-registers-only"),
        pytest.param(
            'opts.Events.Upcast<OrderPlacedV1, OrderPlaced>("order_placed", v1 => new OrderPlaced(v1.OrderId));',
            "true",
            id="Upcast-mitigates",
        ),
    ],
)
def test_only_an_upcaster_mitigates_a_breaking_event_change(tmp_path: Path, registration: str, mitigated: str) -> None:
    head = dict(BREAK)
    head["Orders.Api/Program.cs"] = ORDERS_PROGRAM.replace("// MARTEN", registration)
    assert _one(_findings(tmp_path, head), "event-breaking").fact("mitigated") == mitigated


def test_a_live_projection_change_needs_no_rebuild(tmp_path: Path) -> None:
    # ground truth: OrderHistory is registered ProjectionLifecycle.Live: nothing is stored, so a change
    # to its code needs no rebuild; the same change to an Inline registration does
    projection = (
        "public class OrderHistoryProjection : SingleStreamProjection<OrderHistory, Guid>\n"
        "{\n    public void Apply(OrderHistory view, OrderPlaced e) => view.Total = e.Total;\n}\n"
        "public class OrderHistory { public Guid Id { get; set; } public decimal Total { get; set; } }\n"
    )
    for lifecycle, rebuild in (("Live", "false"), ("Inline", "true")):
        register = f"opts.Projections.Add<OrderHistoryProjection>(ProjectionLifecycle.{lifecycle});"
        base = {
            "Orders.Api/OrderHistoryProjection.cs": projection,
            "Orders.Api/Program.cs": ORDERS_PROGRAM.replace("// MARTEN", register),
        }
        head = {"Orders.Api/OrderHistoryProjection.cs": projection.replace("e.Total;", "2 * e.Total;")}
        findings = _findings(tmp_path / lifecycle, head, base)
        finding = _one(findings, "projection-changed")
        assert (finding.fact("lifecycle"), finding.fact("rebuild")) == (lifecycle, rebuild)
