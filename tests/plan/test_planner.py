"""Strategy, gates, rollback and phases for labelled situations, per environment."""

from __future__ import annotations

from dataclasses import replace

import pytest

from critterops.model import (
    EfCoreConfig,
    Finding,
    Flow,
    Location,
    MartenConfig,
    Migration,
    Plan,
    Projection,
    RiskReport,
    Saga,
    Service,
    ServiceRisk,
    System,
    WolverineConfig,
)
from critterops.plan.planner import build_plan
from critterops.plan.policy import MIN_MESSAGES, MIN_REQUESTS, default_policy, parse_policy

API = Service("orders-api", "src/Orders.Api/Orders.Api.csproj", "Orders", "api", http_port=5001)
WORKER = Service(
    "shipping-worker",
    "src/Shipping/Shipping.Worker.csproj",
    "Shipping",
    "worker",
    wolverine=WolverineConfig(handlers=3, handled_messages=("OrderPlaced",), message_storage="marten"),
)
WEB = Service("storefront-web", "src/Web/Web.csproj", "Storefront", "web", http_port=5005)
SAGA_HOST = Service(
    "orders-api",
    "src/Orders.Api/Orders.Api.csproj",
    "Orders",
    "api",
    http_port=5001,
    sagas=(Saga("Order", "Orders.Order", "Order.cs", 1, "Status"),),
)
SOLO = Service(
    "inventory-api",
    "src/Inventory.Api/Inventory.Api.csproj",
    "Inventory",
    "api",
    http_port=5003,
    marten=MartenConfig(event_sourcing=True, daemon_mode="Solo", projections=(Projection("StockView", "Async"),)),
)


def risk(name: str, score: float, *rules: str) -> ServiceRisk:
    level = "high" if score >= 0.6 else "medium" if score >= 0.3 else "low"
    return ServiceRisk(name, score, level, ("direct",), (), rules)


def report(services: list[ServiceRisk], findings: list[Finding]) -> RiskReport:
    return RiskReport(
        "/repo", "main", "HEAD", "a" * 40, "b" * 40, (), 3, tuple(findings), tuple(services), (), True, None
    )


def plan_for(
    services: list[Service], risks: list[ServiceRisk], findings: list[Finding], env: str = "production"
) -> Plan:
    system = System("/repo", services=tuple(services))
    return build_plan(report(risks, findings), system, system, default_policy(), env)


def code(name: str, files: int = 1) -> Finding:
    return Finding("code-changed", (name,), f"{files} files", (Location("x.cs"),), facts=(("files", str(files)),))


@pytest.mark.parametrize(
    ("service", "score", "finding", "strategy"),
    [
        pytest.param(API, 0.1, code("orders-api"), "rolling", id="low-risk-rolls"),
        pytest.param(API, 0.45, code("orders-api"), "canary", id="medium-risk-canary"),
        pytest.param(API, 0.8, code("orders-api"), "canary", id="high-risk-canary"),
        pytest.param(API, 0.1, code("orders-api", files=40), "canary", id="large-change-canary"),
        pytest.param(API, 0.3, Finding("service-added", ("orders-api",), "new"), "canary", id="new-service-canary"),
        pytest.param(WEB, 0.1, code("storefront-web"), "canary", id="customer-facing-canary"),
        pytest.param(SAGA_HOST, 0.1, code("orders-api"), "blue-green", id="saga-host-blue-green"),
        pytest.param(SOLO, 0.1, code("inventory-api"), "blue-green", id="solo-daemon-blue-green"),
        pytest.param(
            API,
            0.7,
            Finding(
                "migration-destructive", ("orders-api",), "drop", (Location("m.cs"),), facts=(("migration", "M1"),)
            ),
            "blue-green",
            id="destructive-migration",
        ),
        pytest.param(
            API,
            0.5,
            Finding("event-breaking", ("orders-api",), "rename", (), ("E",), facts=(("mitigated", "false"),)),
            "blue-green",
            id="event-breaking",
        ),
    ],
)
def test_production_strategy(service: Service, score: float, finding: Finding, strategy: str) -> None:
    plan = plan_for([service], [risk(service.name, score, finding.rule)], [finding])
    (decided,) = plan.services
    assert decided.strategy == strategy, decided.why
    assert decided.why


def test_dev_collapses_to_rolling_and_staging_runs_production_strategy_without_approval() -> None:
    finding = Finding("migration-destructive", ("orders-api",), "drop", (), facts=(("migration", "M1"),))
    args = ([API], [risk("orders-api", 0.8, finding.rule)], [finding])
    dev, staging, prod = (plan_for(*args, env=env).services[0] for env in ("dev", "staging", "production"))
    assert dev.strategy == "rolling"
    assert staging.strategy == prod.strategy == "blue-green"
    assert any(g.kind == "approval" for g in prod.gates)
    assert not any(g.kind == "approval" for g in staging.gates)


def test_destructive_migration_rollback_is_unsafe_and_split_into_expand_contract() -> None:
    finding = Finding("migration-destructive", ("orders-api",), "DropColumn(x)", (), facts=(("migration", "M1"),))
    plan = plan_for([API], [risk("orders-api", 0.7, finding.rule)], [finding])
    rollback = plan.services[0].rollback
    assert rollback is not None and not rollback.safe and rollback.action == "roll-forward"
    assert [e.rule for e in plan.expand_contract] == ["migration-destructive"]
    assert not plan.services[0].jobs, "no EF Core migrations in the model: nothing for a Job to apply"


@pytest.mark.parametrize(
    ("applied_at_startup", "job_expected"),
    [("Development", True), (None, True), ("all", False), ("!Development", False)],
)
def test_ef_core_migrations_the_app_applies_only_in_development_get_a_job_before_the_rollout(
    applied_at_startup: str | None, job_expected: bool
) -> None:
    migrations = (Migration("20260101_M1", "M1", "src/Orders.Api/Migrations/M1.cs", "OrdersDbContext"),)
    service = replace(API, ef_core=EfCoreConfig(("OrdersDbContext",), "npgsql", migrations, applied_at_startup))
    finding = Finding("migration-additive", ("orders-api",), "AddColumn(x)", (), facts=(("migration", "M1"),))
    plan = plan_for([service], [risk("orders-api", 0.4, finding.rule)], [finding])
    jobs = plan.services[0].jobs
    if not job_expected:
        assert not jobs, "the app applies its migrations itself in production"
        return
    (job,) = jobs
    assert (job.kind, job.when, job.image) == ("ef-migrations", "before-rollout", "migrations")
    assert job.command == ("/efbundles/OrdersDbContext",) and "M1" in job.description
    assert "waits until it completes" in job.order


@pytest.mark.parametrize("command_line", ["jasperfx", None])
def test_an_inline_projection_rebuild_runs_the_jasperfx_verb_after_the_rollout_or_warns(
    command_line: str | None,
) -> None:
    service = replace(API, command_line=command_line)
    finding = Finding(
        "projection-changed",
        ("orders-api",),
        "OrderSummary: projection code changed",
        facts=(("projection", "OrderSummary"), ("lifecycle", "Inline"), ("rebuild", "true")),
    )
    plan = plan_for([service], [risk("orders-api", 0.5, finding.rule)], [finding])
    (job,) = plan.services[0].jobs
    assert (job.kind, job.when) == ("projection-rebuild", "after-rollout")
    if command_line:
        # JasperFx.Events ProjectionsCommand: action positional, ProjectionFlag → --projection (V2.54.0)
        assert job.command == ("projections", "rebuild", "--projection", "OrderSummary")
        assert job.warning is None
    else:
        assert job.command == () and "RunJasperFxCommands" in (job.warning or "")
        assert any("RunJasperFxCommands" in w for w in plan.services[0].warnings)


def test_unmitigated_event_break_freezes_but_an_upcaster_allows_rollback() -> None:
    broken = Finding("event-breaking", ("orders-api",), "x", (), ("E",), facts=(("mitigated", "false"),))
    mitigated = Finding("event-breaking", ("orders-api",), "x", (), ("E",), facts=(("mitigated", "true"),))
    frozen = plan_for([API], [risk("orders-api", 0.9, "event-breaking")], [broken]).services[0].rollback
    fine = plan_for([API], [risk("orders-api", 0.5, "event-breaking")], [mitigated]).services[0].rollback
    assert frozen is not None and frozen.action == "freeze"
    assert fine is not None and fine.safe


def test_consumers_of_a_new_message_deploy_before_its_publisher() -> None:
    publisher = Service("orders-api", "o.csproj", "Orders", "api", http_port=1)
    system = System(
        "/repo",
        services=(publisher, WORKER),
        flows=(Flow("orders-api", "shipping-worker", "OrderPlaced", "shipping"),),
    )
    finding = Finding(
        "contract-additive",
        ("orders-api", "shipping-worker"),
        "added",
        (),
        ("Contracts.OrderPlaced",),
    )
    rep = report([risk("orders-api", 0.2, finding.rule), risk("shipping-worker", 0.2, finding.rule)], [finding])
    plan = build_plan(rep, system, system, default_policy(), "production")
    assert plan.service("shipping-worker").phase == 1
    assert plan.service("orders-api").phase == 2
    assert [p.services for p in plan.phases] == [("shipping-worker",), ("orders-api",)]


def test_gates_follow_what_the_service_serves() -> None:
    plan = plan_for([WORKER, SOLO], [risk("shipping-worker", 0.7), risk("inventory-api", 0.2)], [code("x")])
    worker = {g.name for g in plan.service("shipping-worker").gates}
    solo = {g.name for g in plan.service("inventory-api").gates}
    assert {"handler-failure-rate", "dead-letters", "outbox-drained"} <= worker
    assert not {"http-error-rate", "http-latency-p95"} & worker
    assert {"http-error-rate", "projection-lag"} <= solo
    assert any("DaemonMode.Solo" in w for w in plan.service("inventory-api").warnings)


def test_canary_steps_and_thresholds_come_from_the_policy() -> None:
    policy = parse_policy(
        "environments:\n  production: {canary: {steps: [5, 25, 100], pause: 2m}, approval: always}\n"
        "thresholds: {http_error_rate: 0.002}\nservices:\n  orders-api: {strategy: canary}\n",
        "critterops.yaml",
    )
    system = System("/repo", services=(API,))
    plan = build_plan(report([risk("orders-api", 0.1)], [code("orders-api")]), system, system, policy, "production")
    (svc,) = plan.services
    assert svc.strategy == "canary"
    assert [(s.weight, s.pause) for s in svc.steps] == [(5, "2m"), (25, "2m"), (100, None)]
    assert svc.steps[1].approval
    error_gate = next(g for g in svc.gates if g.name == "http-error-rate")
    assert error_gate.threshold == 0.002 and error_gate.condition == "<= 0.002"


def test_policy_override_against_a_forcing_rule_is_warned() -> None:
    policy = parse_policy("services:\n  orders-api: {strategy: rolling}\n", "critterops.yaml")
    finding = Finding("migration-destructive", ("orders-api",), "drop", (), facts=(("migration", "M1"),))
    system = System("/repo", services=(API,))
    plan = build_plan(report([risk("orders-api", 0.7)], [finding]), system, system, policy, "production")
    assert plan.services[0].strategy == "rolling"
    assert any("asks for blue/green" in w for w in plan.services[0].warnings)


def test_removed_service_is_not_deployed() -> None:
    finding = Finding("service-removed", ("old-api",), "gone")
    system = System("/repo", services=(API,))
    plan = build_plan(report([risk("old-api", 0.5)], [finding]), system, system, default_policy(), "production")
    assert plan.services[0].strategy == "no-deploy"
    assert not plan.deploy


def test_every_analysis_gate_is_scoped_to_its_environment_and_needs_samples_of_the_new_version() -> None:
    """No data is never a pass (issue 12.2): each analysis query is empty until the version has enough
    requests or messages, and it only sees the environment it gates."""
    service = replace(API, wolverine=WolverineConfig(handlers=2, handled_messages=("OrderPlaced",)))
    plan = plan_for([service], [risk("orders-api", 0.5, "code-changed")], [])
    gates = [g for g in plan.services[0].gates if g.kind == "analysis"]
    assert {g.name for g in gates} >= {"http-error-rate", "http-latency-p95", "handler-failure-rate", "dead-letters"}
    for gate in gates:
        assert gate.query is not None
        assert f'environment="{plan.environment}"' in gate.query, gate.name
        assert f">= {MIN_REQUESTS})" in gate.query or f">= {MIN_MESSAGES})" in gate.query, gate.name
