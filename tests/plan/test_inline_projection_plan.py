"""The plan treats an inline projection as what it is: no catch-up gate (that is for Async projections,
which the daemon runs), a rebuild job after the rollout, and a rollback note without progression rows."""

from __future__ import annotations

from critterops.model import Finding, MartenConfig, Projection, RiskReport, Service, ServiceRisk, System
from critterops.plan.planner import build_plan
from critterops.plan.policy import default_policy


def _service(*projections: Projection) -> Service:
    return Service(
        "orders-api",
        "src/Orders.Api/Orders.Api.csproj",
        "Orders",
        "api",
        http_port=5001,
        command_line="jasperfx",
        marten=MartenConfig(event_sourcing=True, daemon_mode="HotCold", projections=projections),
    )


INLINE_CHANGED = Finding(
    "projection-changed",
    ("orders-api",),
    "OrderSummary: projection code changed",
    facts=(("projection", "OrderSummary"), ("lifecycle", "Inline"), ("rebuild", "true"), ("bumped", "false")),
)


def _plan(service: Service, finding: Finding = INLINE_CHANGED) -> tuple[list[str], str, list[str]]:
    report = RiskReport(
        "/repo",
        "main",
        "HEAD",
        "a" * 40,
        "b" * 40,
        (),
        1,
        (finding,),
        (ServiceRisk("orders-api", 0.5, "medium", ("direct",), (), (finding.rule,)),),
        (),
        True,
        None,
    )
    system = System("/repo", services=(service,))
    plan = build_plan(report, system, system, default_policy(), "production").services[0]
    gates = [f"{g.kind}: {g.description}" for g in plan.gates]
    assert plan.rollback is not None
    return gates, plan.rollback.reason, [j.kind for j in plan.jobs]


def test_a_service_with_only_inline_projections_gets_no_catch_up_gate() -> None:
    gates, rollback, jobs = _plan(_service(Projection("OrderSummary", "Inline")))
    assert not [g for g in gates if g.startswith("projection-catch-up")]
    assert jobs == ["projection-rebuild"]
    assert "inline projection OrderSummary has no progression row and no daemon" in rollback
    assert "`projections rebuild --projection OrderSummary`" in rollback
    assert "or their stream gets a new event" in rollback
    assert "no version bump" not in rollback


def test_the_catch_up_gate_names_only_the_async_projections() -> None:
    gates, _, _ = _plan(_service(Projection("OrderSummary", "Inline"), Projection("StockView", "Async")))
    (gate,) = [g for g in gates if g.startswith("projection-catch-up")]
    assert "StockView" in gate and "OrderSummary" not in gate


def test_an_async_projection_rollback_keeps_its_note() -> None:
    finding = Finding(
        "projection-changed",
        ("orders-api",),
        "StockView: projection code changed",
        facts=(("projection", "StockView"), ("lifecycle", "Async"), ("rebuild", "true"), ("bumped", "false")),
    )
    _, rollback, jobs = _plan(_service(Projection("StockView", "Async")), finding)
    assert "after rollback rebuild projection StockView again (no version bump)" in rollback
    assert jobs == []
