"""Observability kit: alert rules (promtool), their unit tests, dashboards, collector and scrape configs."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops import metrics
from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate import validate
from critterops.generate.alerts import CONCERNS, RECORDS, Alert, AlertRecord, alerts, record
from critterops.generate.alerts.record import Case, Rule, Runbook, Sample
from critterops.generate.context import KitContext, system_name
from critterops.generate.dashboards import dashboard_exprs
from critterops.generate.kit import write_kit
from critterops.generate.observability import observability_files
from critterops.generate.rules import expand, fold_series, humanize, humanize_duration, humanize_percentage
from critterops.generate.runbooks import runbook_files
from critterops.model import Member, Service, System, TypeInfo
from critterops.model.sagas import duration_seconds, saga_limits
from critterops.plan.policy import default_policy, parse_policy

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))
GOLDEN = Path(__file__).parent / "golden"
PROMTOOL = shutil.which("promtool")

needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (apt-get install prometheus)")
needs_crittersupply = pytest.mark.skipif(
    not CRITTERSUPPLY.is_dir(), reason=f"CritterSupply clone missing at {CRITTERSUPPLY} (CRITTEROPS_CRITTERSUPPLY)"
)


@cache
def _system(root: str) -> System:
    return discover(Path(root))


def context(root: Path, system: System | None = None, **kwargs: Any) -> KitContext:
    system = system or _system(str(root))
    return KitContext(
        system, default_policy(), name=system_name(system), registry="ghcr.io/acme/x", tag="abc", **kwargs
    )


def example() -> KitContext:
    return context(example_path())


def crittersupply() -> KitContext:
    return context(CRITTERSUPPLY)


SYSTEMS = [
    pytest.param(example, id="example"),
    pytest.param(crittersupply, id="crittersupply", marks=needs_crittersupply),
]


def write(ctx: KitContext, out: Path) -> Path:
    write_kit(observability_files(ctx), out)
    return out / "observability" / "prometheus"


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=cwd, check=False)


def load(files: dict[str, str], path: str) -> Any:
    return yaml.safe_load(files[path])


# ─── the files ───────────────────────────────────────────────────────────────────────────────────


def test_files_are_deterministic_and_stay_in_observability() -> None:
    ctx = example()
    first, second = observability_files(ctx), observability_files(example())
    assert first == second
    assert all(path.startswith("observability/") for path in first)
    assert all(text.endswith("\n") and not text.endswith("\n\n") for text in first.values())
    services = {s.name for s in ctx.deployable()}
    dashboards = {p.removeprefix("observability/grafana/").removesuffix(".json") for p in first if "/grafana/" in p}
    assert dashboards == services | {"overview"}


@pytest.mark.parametrize("build", SYSTEMS)
def test_prometheus_rule_has_the_plain_files_groups(build: Any) -> None:
    files = observability_files(build())
    plain = load(files, "observability/prometheus/alerts.yaml")
    operator = load(files, "observability/prometheus/prometheus-rule.yaml")
    assert operator["apiVersion"] == "monitoring.coreos.com/v1" and operator["kind"] == "PrometheusRule"
    assert operator["spec"]["groups"] == plain["groups"]
    assert set(plain) == {"groups"}


@pytest.mark.parametrize("build", SYSTEMS)
def test_rules_have_the_required_labels_and_annotations(build: Any) -> None:
    ctx = build()
    groups = load(observability_files(ctx), "observability/prometheus/alerts.yaml")["groups"]
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names)) and all(n.startswith(f"{ctx.name}-") for n in names)
    for group in groups:
        for rule in group["rules"]:
            assert {"severity", "service"} <= set(rule["labels"]), rule["alert"]
            assert rule["labels"]["severity"] in ("critical", "warning")
            assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}
            assert rule["annotations"]["runbook_url"] == f"{ctx.runbook_base_url}/{rule['alert']}.md"
            assert re.fullmatch(r"[A-Z][A-Za-z]+", rule["alert"])


# ─── promtool ──────────────────────────────────────────────────────────────────────────────────


@needs_promtool
@pytest.mark.parametrize("build", SYSTEMS)
def test_promtool_checks_the_rules_and_passes_their_unit_tests(build: Any, tmp_path: Path) -> None:
    ctx = build()
    folder = write(ctx, tmp_path)
    check, test = validate.promtool(tmp_path)
    assert check.ok, check.problems
    assert check.checked == len(alerts(ctx)), "promtool counts every generated rule"
    assert test.ok, test.problems
    config = promtool("check", "config", "scrape-config.yaml", cwd=folder)
    assert config.returncode == 0, config.stdout + config.stderr


@needs_promtool
@pytest.mark.parametrize(
    ("alert", "field", "old", "new"),
    [
        ("MartenProjectionLagHigh", "expr", "> 100", "> 1000"),  # threshold drifts from the policy
        ("SagaStuckInState", "expr", 'state!~"Delivered|', 'state!~"NotAState|'),  # a terminal state would alert
        ("WolverineOutboxBacklogGrowing", "expr", "\n) > 0", "\n) > -1000"),  # shrinking backlog would alert
        ("RabbitMqQueueWithoutConsumers", "for", "5m", "1m"),  # the pending check notices a shorter for:
        ("HttpErrorRateHigh", "annotations", "(limit 1%)", "(limit 2%)"),  # annotations are compared too
    ],
)
def test_the_unit_tests_fail_when_a_rule_is_wrong(alert: str, field: str, old: str, new: str, tmp_path: Path) -> None:
    folder = write(example(), tmp_path)
    rules = folder / "alerts.yaml"
    doc = yaml.safe_load(rules.read_text())
    changed = 0
    for group in doc["groups"]:
        for rule in group["rules"]:
            if rule["alert"] != alert:
                continue
            if field == "annotations":
                description = rule["annotations"]["description"]
                rule["annotations"]["description"] = description.replace(old, new)
                changed += old in description
            elif old in rule[field]:
                rule[field] = rule[field].replace(old, new, 1)
                changed += 1
    assert changed, f"the mutation {old!r} did not apply to {alert}"

    rules.write_text(yaml.safe_dump(doc, sort_keys=False, width=4096))
    run = promtool("test", "rules", "alerts.test.yaml", cwd=folder)
    assert run.returncode != 0, f"promtool test rules still passes with {alert}: {old} -> {new}"
    assert alert in run.stdout + run.stderr


@pytest.mark.parametrize("build", SYSTEMS)
def test_every_rule_has_a_firing_and_a_quiet_test(build: Any) -> None:
    ctx = build()
    files = observability_files(ctx)
    tests = load(files, "observability/prometheus/alerts.test.yaml")
    assert tests["rule_files"] == ["alerts.yaml"]
    fired: list[dict[str, str]] = []
    quiet: set[str] = set()
    for test in tests["tests"]:
        for check in test["alert_rule_test"]:
            if check["exp_alerts"]:
                fired += [alert["exp_labels"] | {"alertname": check["alertname"]} for alert in check["exp_alerts"]]
            elif "quiet" in test["name"]:
                quiet.add(check["alertname"])
    for alert in alerts(ctx):
        wanted = alert.rule_labels() | {"alertname": alert.name}
        assert any(wanted.items() <= labels.items() for labels in fired), f"no firing test for {wanted}"
        assert alert.name in quiet, f"no quiet test for {alert.name}"
        assert alert.pending_at is not None, f"{alert.name} has no check of its for: duration"


def test_long_test_series_are_folded_without_changing_them() -> None:
    value = 'm{service="a-very-long-service-name-for-folding",schema="s",message_type="X",exception_type="Y"}'
    folded = fold_series(f"- series: {value}\n  values: 1x5\n", limit=60)
    assert len(folded.splitlines()) == 3 and all(len(line) <= 60 for line in folded.splitlines())
    parsed = yaml.safe_load(folded)[0]["series"]
    assert parsed != value and parsed.replace('", ', '",') == value, "YAML folds each break into one space"
    assert fold_series("- series: short{}\n") == "- series: short{}\n"


def test_annotation_templates_expand_like_prometheus() -> None:
    assert humanize(3250) == "3.25k" and humanize(150) == "150" and humanize(0) == "0" and humanize(875.0) == "875"
    assert humanize_duration(900) == "15m 0s" and humanize_duration(2679000) == "31d 0h 10m 0s"
    assert humanize_duration(4200) == "1h 10m 0s" and humanize_duration(42) == "42s"
    assert humanize_percentage(0.06000000000000001) == "6%"
    text = "{{ $labels.queue }} holds {{ $value | humanize }} ({{ $value | humanizePercentage }})"
    assert expand(text, {"queue": "q"}, 0.5) == "q holds 0.5 (50%)"
    assert duration_seconds("31d") == 31 * 86400 and duration_seconds("5m") == 300


# ─── alert records ───────────────────────────────────────────────────────────────────────────────


def test_each_alert_is_one_record_listed_once_in_rule_group_order() -> None:
    names = [r.name for r in RECORDS]
    assert len(names) == len(set(names))
    assert [r.concern for r in RECORDS] == sorted((r.concern for r in RECORDS), key=CONCERNS.index)
    ctx = example()
    for alert in alerts(ctx):
        made = record(alert.name)
        assert (alert.concern, alert.severity, alert.pending_at) == (made.concern, made.severity, made.pending_at)
        assert alert.runbook_url == f"{ctx.runbook_base_url}/{made.name}.md"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"concern": "queues"}, "not one of", id="unknown-concern"),
        pytest.param({"per_system": lambda ctx: []}, "exactly one", id="two-builders"),
        pytest.param({"per_service": None}, "exactly one", id="no-builder"),
    ],
)
def test_a_record_is_checked_when_declared(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(record("HttpLatencyHigh"), **changes)


def _down_rule(ctx: KitContext, service: Service) -> list[Rule]:
    """A new alert for the test below: a service's own series have stopped (HTTP services only)."""
    if service.name != "orders-api":
        return []
    up = {"environment": "production", "job": service.name}
    return [
        Rule(
            service.name,
            f'max by (environment, job) (up{{job="{service.name}"}}) == 0',
            f"{service.name} is not scraped",
            "Prometheus has no target of {{ $labels.job }} that answers.",
            Case(
                (Sample(f'up{{environment="production",job="{service.name}"}}', "0x30"),), "10m", tuple(up.items()), 0
            ),
            Case((Sample(f'up{{environment="production",job="{service.name}"}}', "1x30"),), "10m"),
        )
    ]


SERVICE_DOWN = AlertRecord(
    name="ServiceTargetDown",
    concern="http",
    severity="critical",
    for_="3m",
    pending_at="2m",
    per_service=_down_rule,
    runbook=Runbook(
        meaning="No pod of the service answers Prometheus' scrape.",
        symptoms=("- The service's dashboards are empty.",),
        impact=("- Requests to it fail.",),
        diagnosis=lambda c: [f"- `kubectl -n $NS get pods -l app.kubernetes.io/name={s.name}`" for s in c.services],
        remediation=("- Restart it.",),
        rollback=("- Roll back if it began with a deploy.",),
        escalation=lambda c: [f"- {c.owners}."],
    ),
)


def test_one_record_reaches_every_file(tmp_path: Path) -> None:
    """Adding an alert is writing one record: its rule, tests, runbook page and table rows follow."""
    ctx, records = example(), (*RECORDS, SERVICE_DOWN)
    files = observability_files(ctx, records)
    groups = load(files, "observability/prometheus/alerts.yaml")["groups"]
    http = next(g for g in groups if g["name"] == "pawmart-http")
    rule = next(r for r in http["rules"] if r["alert"] == "ServiceTargetDown")
    assert rule["for"] == "3m" and rule["labels"] == {"severity": "critical", "service": "orders-api"}
    assert rule["annotations"]["runbook_url"] == f"{ctx.runbook_base_url}/ServiceTargetDown.md"
    assert load(files, "observability/prometheus/prometheus-rule.yaml")["spec"]["groups"] == groups
    tests = {t["name"]: t for t in load(files, "observability/prometheus/alerts.test.yaml")["tests"]}
    fires = tests["ServiceTargetDown fires (orders-api)"]["alert_rule_test"]
    assert fires[0] == {"eval_time": "2m", "alertname": "ServiceTargetDown", "exp_alerts": []}, "pending first"
    assert (
        fires[1]["exp_alerts"][0]["exp_annotations"]["description"]
        == "Prometheus has no target of orders-api that answers."
    )
    assert "ServiceTargetDown stays quiet (orders-api)" in tests
    assert "| `ServiceTargetDown` | critical | `orders-api` |" in files["observability/README.md"]

    pages = runbook_files(ctx, records)
    page = pages["runbooks/ServiceTargetDown.md"]
    assert page.startswith("# ServiceTargetDown\n\n**Severity** critical · **Rule group** `pawmart-http`")
    assert "- `kubectl -n $NS get pods -l app.kubernetes.io/name=orders-api`" in page
    assert (
        "| [ServiceTargetDown](ServiceTargetDown.md) | critical | `orders-api` | No pod" in pages["runbooks/README.md"]
    )
    assert "ServiceTargetDown" not in observability_files(ctx)["observability/prometheus/alerts.yaml"]

    if PROMTOOL is not None:
        write_kit(files, tmp_path)
        check, test = validate.promtool(tmp_path)
        assert check.ok and test.ok, (check.problems, test.problems)
        assert check.checked == len(alerts(ctx)) + 1


# ─── what applies to which service ───────────────────────────────────────────────────────────────


def by_name(found: list[Alert], name: str) -> list[Alert]:
    return [a for a in found if a.name == name]


def test_projection_alerts_only_for_services_with_async_projections() -> None:
    ctx = example()
    found = alerts(ctx)
    for name in ("MartenProjectionLagHigh", "MartenProjectionStalled", "MartenHighWaterMarkStale"):
        assert {a.service for a in by_name(found, name)} == {"inventory-api"}, name
    orders = ctx.system.service("orders-api")
    assert orders is not None and orders.marten is not None and orders.marten.projections, "inline projections only"
    lag = by_name(found, "MartenProjectionLagHigh")[0]
    assert 'service="inventory-api"' in lag.expr and "> 100" in lag.expr  # policy thresholds.projection_lag_events

    # the same system with inventory's projections made inline: no projection alert at all
    inventory = ctx.system.service("inventory-api")
    assert inventory is not None and inventory.marten is not None
    inline = tuple(dataclasses.replace(p, lifecycle="Inline") for p in inventory.marten.projections)
    changed = dataclasses.replace(inventory, marten=dataclasses.replace(inventory.marten, projections=inline))
    system = dataclasses.replace(
        ctx.system, services=tuple(changed if s.name == "inventory-api" else s for s in ctx.system.services)
    )
    assert not [a for a in alerts(context(example_path(), system)) if a.name.startswith("Marten")]


def test_each_kind_of_service_gets_what_applies() -> None:
    found = alerts(example())
    services = {name: {a.service for a in by_name(found, name)} for name in {a.name for a in found}}
    durable = {"fulfillment-worker", "inventory-api", "orders-api", "payments-api"}
    assert services["WolverineDeadLettersHigh"] == durable  # storefront-web keeps no envelopes
    assert services["WolverineOutboxBacklogGrowing"] == durable
    assert services["WolverineNodeHeartbeatStale"] == durable
    assert "fulfillment-worker" not in services["HttpErrorRateHigh"]  # a worker without HTTP
    assert (
        services["HttpErrorRateHigh"]
        == services["HttpLatencyHigh"]
        == {
            "inventory-api",
            "orders-api",
            "payments-api",
            "storefront-web",
        }
    )
    assert services["SagaStuckInState"] == {"orders-api"}
    assert services["RabbitMqDown"] == services["RabbitMqDeadLetterQueueHigh"] == {"rabbitmq"}


def test_queue_alerts_name_exactly_the_queues_the_service_consumes() -> None:
    ctx = example()
    for alert in by_name(alerts(ctx), "RabbitMqQueueWithoutConsumers"):
        service = ctx.system.service(alert.service)
        assert service is not None
        queues = {listen.queue for listen in service.listens if listen.transport == "rabbitmq"}
        named = set(re.findall(r'queue=~?"([^"]+)"', alert.expr))
        assert {q for pattern in named for q in pattern.split("|")} == queues


@needs_crittersupply
def test_long_queue_lists_are_split_across_selectors() -> None:
    vendor = next(
        a for a in by_name(alerts(crittersupply()), "RabbitMqQueueWithoutConsumers") if "vendorportal" in a.service
    )
    assert vendor.expr.count(" or ") >= 2, "21 queues do not fit one line"
    assert max(len(line) for line in vendor.expr.splitlines()) < 120


def test_policy_thresholds_reach_the_rules() -> None:
    policy = parse_policy(
        "version: 1\nthresholds: {http_error_rate: 0.05}\n"
        "services:\n  inventory-api: {thresholds: {projection_lag_events: 500, outbox_backlog: 20}}\n",
        "critterops.yaml",
    )
    system = _system(str(example_path()))
    ctx = KitContext(system, policy, name="pawmart", registry="r", tag="t")
    found = alerts(ctx)
    lag = by_name(found, "MartenProjectionLagHigh")[0]
    assert lag.expr.endswith("> 500") and "limit 500" in lag.description
    outbox = {a.service: a.expr for a in by_name(found, "WolverineOutboxBacklogGrowing")}
    assert "> 20\n" in outbox["inventory-api"] and "> 1000\n" in outbox["orders-api"]
    assert all(a.expr.endswith("> 0.05") for a in by_name(found, "HttpErrorRateHigh"))


@needs_promtool
def test_unit_tests_follow_other_limits(tmp_path: Path) -> None:
    """Test data is built from the limits, so a policy with other limits still gets passing, meaningful tests."""
    policy = parse_policy(
        "version: 1\nthresholds: {http_error_rate: 0.1, http_latency_p95_ms: 2000, handler_failure_rate: 0.25,\n"
        "  projection_lag_events: 40, outbox_backlog: 7}\n",
        "critterops.yaml",
    )
    write(KitContext(_system(str(example_path())), policy, name="pawmart", registry="r", tag="t"), tmp_path)
    check, test = validate.promtool(tmp_path)
    assert check.ok and test.ok, (check.problems, test.problems)


# ─── sagas: per-state limits ─────────────────────────────────────────────────────────────────────


def saga_rules(ctx: KitContext) -> dict[str, Alert]:
    return {dict(a.labels)["state_limit"]: a for a in by_name(alerts(ctx), "SagaStuckInState")}


def test_saga_states_get_their_own_limits() -> None:
    rules = saga_rules(example())
    default = rules["5m"]
    assert "> 300" in default.expr and default.for_ == "2m"
    # the example's Order saga calls MarkCompleted() after each of these (src/Orders/Orders/Placement/Order.cs)
    for terminal in ("Delivered", "Cancelled", "PaymentFailed", "OutOfStock"):
        assert terminal in default.expr and f'state="{terminal}"' not in "".join(r.expr for r in rules.values())
    # Placed is left only by the OrderPaymentTimeout it schedules 15 minutes ahead: the delay plus 5 min slack
    assert 'state="Placed"' in rules["20m"].expr and "> 1200" in rules["20m"].expr
    assert "Shipped" in rules["15d"].expr and rules["15d"].for_ == "15m"  # the carrier takes days
    assert "Placed" in default.expr and "Shipped" in default.expr, "states with their own limit are not under 5m"
    readme = observability_files(example())["observability/README.md"]
    assert "## Saga state limits" in readme and "- 20m: `Placed`" in readme and "patches:" in readme
    assert "- 5m: `PaymentAuthorized`, `StockReserved`, `ReadyForFulfillment`" in readme
    assert "states from the members of the enum behind `Status`" in readme, "discovery gives the saga's states"


def with_state_enum(ctx: KitContext, states: tuple[str, ...]) -> KitContext:
    """The example as if discovery gave the saga's OrderStatus enum."""
    enum = TypeInfo(
        "OrderStatus",
        "Orders.Placement",
        "src/Orders/Orders/Placement/Order.cs",
        10,
        "enum",
        tuple(Member(state, "enum", False) for state in states),
    )
    return context(example_path(), dataclasses.replace(ctx.system, contracts=(*ctx.system.contracts, enum)))


def test_saga_rules_follow_the_state_enum_when_discovery_gives_it() -> None:
    order_status = (
        "Placed",
        "PaymentAuthorized",
        "StockReserved",
        "ReadyForFulfillment",
        "Shipped",
        "Delivered",
        "PaymentFailed",
        "OutOfStock",
        "Cancelled",
    )  # src/Orders/Orders/Placement/Order.cs
    ctx = with_state_enum(example(), order_status)
    orders = ctx.system.service("orders-api")
    assert orders is not None
    limits, terminal, known = saga_limits(ctx.system, orders.sagas[0])
    # the saga's code decides (MarkCompleted after Delivered, the payment timeout leaving Placed), the enum
    # names the states; the name lists only fill in what the code does not say
    assert known and terminal == ("Delivered", "PaymentFailed", "OutOfStock", "Cancelled")
    assert [(rule.limit, rule.states) for rule in limits] == [
        ("5m", ("PaymentAuthorized", "StockReserved", "ReadyForFulfillment")),
        ("20m", ("Placed",)),
        ("15d", ("Shipped",)),
    ]
    rules = saga_rules(ctx)
    assert set(rules) == {"5m", "20m", "15d"}, "no rules for states the enum does not have"
    assert 'state!~"Delivered|PaymentFailed|OutOfStock|Cancelled|Placed|Shipped"' in rules["5m"].expr
    assert "Backordered" not in "".join(r.expr for r in rules.values())


@needs_promtool
def test_enum_based_saga_rules_pass_promtool(tmp_path: Path) -> None:
    write(with_state_enum(example(), ("Placed", "Shipped", "Delivered", "Cancelled")), tmp_path)
    check, test = validate.promtool(tmp_path)
    assert check.ok and test.ok, (check.problems, test.problems)


# ─── dashboards ──────────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("build", SYSTEMS)
def test_dashboards_are_valid_and_query_only_catalogued_metrics(build: Any) -> None:
    ctx = build()
    files = observability_files(ctx)
    uids = set()
    for path, text in files.items():
        if not path.endswith(".json"):
            continue
        board = json.loads(text)
        assert text == json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert board["schemaVersion"] >= 38 and board["uid"] not in uids and len(board["uid"]) <= 40
        uids.add(board["uid"])
        variables = {v["name"]: v for v in board["templating"]["list"]}
        assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
        assert variables["environment"]["definition"] == "label_values(up, environment)" and "up" in metrics.SERIES
        ids = [panel["id"] for panel in board["panels"]]
        assert ids == list(range(1, len(ids) + 1)), "deterministic, unique panel ids"
        for panel in board["panels"]:
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"]
                assert not metrics.uncatalogued(target["expr"]), (path, target["expr"])
                assert metrics.metric_names(target["expr"]), target["expr"]
                assert 'environment=~"$environment"' in target["expr"]


def test_service_dashboards_show_what_the_service_has() -> None:
    files = observability_files(example())

    def titles(service: str) -> set[str]:
        return {p["title"] for p in json.loads(files[f"observability/grafana/{service}.json"])["panels"]}

    assert {"Lag per projection (events)", "Outbox by destination"} <= titles("inventory-api")
    assert "Order sagas by state" in titles("orders-api")
    assert "Lag per projection (events)" not in titles("orders-api")
    worker = titles("fulfillment-worker")
    assert "HTTP" not in worker and "Message handling (Wolverine)" in worker
    storefront = titles("storefront-web")
    assert "Outbox by destination" not in storefront and "Consumers" in storefront


@needs_promtool
@pytest.mark.parametrize("build", SYSTEMS)
def test_dashboard_queries_parse(build: Any, tmp_path: Path) -> None:
    """promtool parses every panel query (as recording rules, Grafana variables substituted)."""
    files = observability_files(build())
    exprs = sorted({e for p, t in files.items() if p.endswith(".json") for e in dashboard_exprs(json.loads(t))})
    rules = [
        {"record": f"dashboard:query_{i}", "expr": e.replace("$__rate_interval", "5m").replace("$environment", ".*")}
        for i, e in enumerate(exprs)
    ]
    (tmp_path / "queries.yaml").write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    run = promtool("check", "rules", "queries.yaml", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr


# ─── collector, scrape config, .NET, yamllint ────────────────────────────────────────────────────


def test_collector_config() -> None:
    config = load(observability_files(example()), "observability/otel-collector.yaml")
    assert set(config["receivers"]["otlp"]["protocols"]) == {"grpc", "http"}
    assert {"memory_limiter", "batch", "resource"} <= set(config["processors"])
    prometheus = config["exporters"]["prometheus"]
    assert prometheus["endpoint"].endswith(":8889") and prometheus["resource_to_telemetry_conversion"]["enabled"]
    assert config["exporters"]["otlp/traces"]["endpoint"] == "jaeger:4317", "the example's own trace backend"
    pipelines = config["service"]["pipelines"]
    assert pipelines["metrics"]["exporters"] == ["prometheus"] and pipelines["traces"]["exporters"] == ["otlp/traces"]
    for pipeline in pipelines.values():
        assert pipeline["processors"][0] == "memory_limiter" and pipeline["processors"][-1] == "batch"
    assert "telemetry" in config["service"]


def test_scrape_config() -> None:
    ctx = example()
    config = load(observability_files(ctx), "observability/prometheus/scrape-config.yaml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["otel-collector"]["honor_labels"] is True, "keeps job=<service> from the collector"
    rabbit = jobs["rabbitmq"]
    assert rabbit["metrics_path"] == "/metrics/detailed"
    assert rabbit["params"]["family"] == ["queue_coarse_metrics", "queue_consumer_count"]
    for job in jobs.values():
        environments = [c["labels"]["environment"] for c in job["static_configs"]]
        assert environments == [env.name for env in ctx.environments]
    assert jobs["critterops-exporter"]["static_configs"][-1]["targets"] == [
        "critterops-exporter.pawmart-production.svc:9180"
    ]
    assert "rabbitmq.pawmart-dev.svc:15692" in rabbit["static_configs"][0]["targets"]


def test_dotnet_snippet() -> None:
    text = observability_files(example())["observability/dotnet/OpenTelemetryExtensions.cs"]
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))
    for call in ('.AddMeter("Wolverine*")', '.AddMeter("Marten")', '.AddSource("Wolverine")', '.AddSource("Marten")'):
        assert call in code
    assert '.AddMeter("Wolverine")' not in code
    assert "AddAspNetCoreInstrumentation()" in code and "AddHttpClientInstrumentation()" in code
    assert "UseOtlpExporter()" in code
    assert "Where it goes: src/PawMart.ServiceDefaults/" in text
    for service in ("fulfillment-worker", "inventory-api", "orders-api", "payments-api", "storefront-web"):
        assert f"//   {service} (src/PawMart.ServiceDefaults/Extensions.cs:50)" in text


def test_no_wolverine_meter_note_without_the_warning() -> None:
    ctx = example()
    clean = dataclasses.replace(
        ctx.system, warnings=tuple(w for w in ctx.system.warnings if "AddMeter" not in w.message)
    )
    files = observability_files(context(example_path(), clean))
    assert "call AddMeter" not in files["observability/dotnet/OpenTelemetryExtensions.cs"]
    assert "## Fix first" not in files["observability/README.md"]


@pytest.mark.parametrize("build", SYSTEMS)
def test_yamllint(build: Any, tmp_path: Path) -> None:
    write(build(), tmp_path)
    result = validate.yamllint(tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert result.checked == 6 and result.ok, result.problems


# ─── golden files ────────────────────────────────────────────────────────────────────────────────


def test_golden_files() -> None:
    """The example's observability kit, byte for byte. CRITTEROPS_UPDATE_GOLDEN=1 rewrites it."""
    expected = observability_files(example())
    folder = GOLDEN / "observability"
    if os.environ.get("CRITTEROPS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(folder, ignore_errors=True)
        for rel, text in expected.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    actual = {
        str(p.relative_to(GOLDEN)): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*")) if p.is_file()
    }
    assert actual.keys() == expected.keys(), "run with CRITTEROPS_UPDATE_GOLDEN=1 after an intended change"
    for rel, text in expected.items():
        assert actual[rel] == text, f"{rel} differs from the golden file (CRITTEROPS_UPDATE_GOLDEN=1 to accept)"
