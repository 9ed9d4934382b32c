"""The kit for services that consume messages (critterops.plan.consumers): canary by replica ratio judged on the
new version's handlers, blue/green with a held preview, drain-aware grace periods, the plan's consumers object."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.errors import UserError
from critterops.generate import validate
from critterops.generate.context import KitContext, system_name
from critterops.generate.kit import write_kit
from critterops.generate.kubernetes import DRAIN_MARGIN_S, ROLE_FILE, ROLE_REFRESH_S, kubernetes_files
from critterops.model import System
from critterops.plan import consumers as contract
from critterops.plan.policy import ServicePolicy, default_policy

WORKER = "fulfillment-worker"  # the example's consumer: no HTTP, listens on fulfillment-requests


def example_system(held: bool) -> System:
    system = discover(example_path())
    services = tuple(
        dataclasses.replace(s, wolverine=dataclasses.replace(s.wolverine, listeners_held=held))
        if s.name == WORKER and s.wolverine
        else s
        for s in system.services
    )
    return dataclasses.replace(system, services=services)


def context(held: bool, strategy: str | None = "blue-green", plan: dict[str, Any] | None = None) -> KitContext:
    system = example_system(held)
    policy = default_policy()
    if strategy:
        policy = dataclasses.replace(policy, services=(ServicePolicy(WORKER, strategy=strategy),))
    return KitContext(system, policy, system_name(system), "ghcr.io/acme/pawmart", "0123456789ab", plan=plan)


def docs(ctx: KitContext, name: str = WORKER) -> dict[tuple[str, str], dict[str, Any]]:
    text = kubernetes_files(ctx)[f"kubernetes/base/services/{name}.yaml"]
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


def test_the_example_worker_is_a_consumer() -> None:
    worker = example_system(False).service(WORKER)
    assert contract.traffic(worker) == "messages" and not contract.holds_listeners(worker)


def test_a_held_consumer_goes_blue_green_with_the_role_label_variable_and_file() -> None:
    ctx = context(held=True)
    kit = docs(ctx)
    rollout = kit[("Rollout", WORKER)]
    blue = rollout["spec"]["strategy"]["blueGreen"]
    assert blue["previewMetadata"] == {"labels": {contract.ROLE_LABEL: contract.PREVIEW}}
    assert blue["activeMetadata"] == {"labels": {contract.ROLE_LABEL: contract.ACTIVE}}
    assert (blue["activeService"], blue["previewService"]) == (WORKER, f"{WORKER}-preview")
    # the new pods turn active only at full promotion: no post-promotion analysis (it would judge a held preview)
    assert "postPromotionAnalysis" not in blue
    assert blue["prePromotionAnalysis"]["templates"] == [{"templateName": f"{WORKER}-preview-idle"}]
    hash_arg = next(a for a in blue["prePromotionAnalysis"]["args"] if a["name"] == "hash")
    assert hash_arg["valueFrom"] == {"podTemplateHashValue": "Latest"}  # the preview's hash
    assert blue["scaleDownDelaySeconds"] >= ROLE_REFRESH_S
    pod = rollout["spec"]["template"]["spec"]
    env = {v["name"]: v for v in pod["containers"][0]["env"]}
    label_path = f"metadata.labels['{contract.ROLE_LABEL}']"
    assert env[contract.ROLE_ENV]["valueFrom"]["fieldRef"]["fieldPath"] == label_path
    role_file = env[contract.ROLE_FILE_ENV]["value"]
    assert role_file == ROLE_FILE
    volume = next(v for v in pod["volumes"] if "downwardAPI" in v)
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"])
    item = volume["downwardAPI"]["items"][0]
    assert f"{mount['mountPath']}/{item['path']}" == role_file and item["fieldRef"]["fieldPath"] == label_path
    assert mount["readOnly"] is True
    # the Services Argo switches: headless, no ports (nobody calls a consumer)
    for name in (WORKER, f"{WORKER}-preview"):
        spec = kit[("Service", name)]["spec"]
        assert (
            spec["clusterIP"] == "None"
            and "ports" not in spec
            and spec["selector"] == {"app.kubernetes.io/name": WORKER}
        )
    assert pod["terminationGracePeriodSeconds"] >= contract.DRAIN_TIMEOUT_S + DRAIN_MARGIN_S
    assert ("AnalysisTemplate", f"{WORKER}-smoke") not in kit  # no HTTP: no smoke traffic
    assert not any("preview would consume" in w for w in ctx.warnings)


def test_the_preview_idle_analysis_counts_what_the_preview_consumed_and_needs_its_telemetry() -> None:
    template = docs(context(held=True))[("AnalysisTemplate", f"{WORKER}-preview-idle")]
    (metric,) = template["spec"]["metrics"]
    query = metric["provider"]["prometheus"]["query"]
    for counter in ("wolverine_messages_received", "wolverine_messages_succeeded", "wolverine_execution_failure"):
        assert counter in query
    # every selector names the preview's version: the active version's consumption never counts
    assert query.count('service_version="{{args.hash}}"') == query.count(f'job="{WORKER}"') == 4
    # absent counters count as zero, but only while the preview reports some series at all
    assert query.count("or on() vector(0)") == 3 and "and on() (\n  count({\n" in query
    assert metric["successCondition"].endswith("result[0] == 0") and "len(result) > 0" in metric["successCondition"]
    assert metric["failureCondition"].endswith("result[0] > 0") and metric["failureLimit"] == 0
    promql_parser = pytest.importorskip("promql_parser")
    promql_parser.parse(query.replace("{{args.hash}}", "abc").replace("{{args.namespace}}", "ns"))


def test_a_consumer_that_does_not_hold_its_listeners_gets_a_canary_and_the_way_to_blue_green() -> None:
    ctx = context(held=False)
    rollout = docs(ctx)[("Rollout", WORKER)]
    canary = rollout["spec"]["strategy"]["canary"]
    assert "stableService" not in canary and "trafficRouting" not in canary  # replica ratio
    assert [s["setWeight"] for s in canary["steps"] if "setWeight" in s] == [10, 50]
    warning = next(w for w in ctx.warnings if WORKER in w)
    assert "its preview would consume live messages" in warning
    assert f'DisableAllExternalListeners = Environment.GetEnvironmentVariable("{contract.ROLE_ENV}")' in warning
    assert contract.ROLE_FILE_ENV in warning and "StartListenerAsync" in warning
    env = {v["name"] for v in rollout["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert contract.ROLE_ENV not in env  # no role plumbing for a service that would not read it


def test_the_consumer_canary_is_judged_on_the_new_versions_handlers() -> None:
    ctx = context(held=False, strategy=None)
    kit = docs(ctx)
    steps = kit[("Rollout", WORKER)]["spec"]["strategy"]["canary"]["steps"]
    args = next(s["analysis"]["args"] for s in steps if "analysis" in s)
    assert next(a for a in args if a["name"] == "hash")["valueFrom"] == {"podTemplateHashValue": "Latest"}
    metrics = {m["name"]: m for m in kit[("AnalysisTemplate", f"{WORKER}-analysis")]["spec"]["metrics"]}
    assert set(metrics) == {"handler-failure-rate", "dead-letters", "handler-latency-p95-ms"}
    thresholds = ctx.policy.thresholds_for(WORKER)
    assert metrics["handler-failure-rate"]["failureCondition"].endswith(f"> {thresholds.handler_failure_rate:g}")
    assert metrics["dead-letters"]["failureCondition"].endswith(f"> {thresholds.dead_letters:g}")
    assert (
        "wolverine_execution_time_Milliseconds_bucket"
        in metrics["handler-latency-p95-ms"]["provider"]["prometheus"]["query"]
    )
    for metric in metrics.values():
        query = metric["provider"]["prometheus"]["query"]
        # every selector is the canary's version alone (Argo issue #3802: stable and canary never mixed) ...
        assert query.count("{\n") == query.count('service_version="{{args.hash}}"') > 0
        # ... and a result without enough handled messages is empty, which satisfies neither condition
        assert "and on() (" in query and ">= 10" in query
        assert metric["successCondition"].startswith("len(result) > 0 && !isNaN(result[0])")


def test_a_policy_with_other_thresholds_moves_the_limits() -> None:
    ctx = context(held=False, strategy=None)
    strict = dataclasses.replace(ctx.policy.thresholds, handler_failure_rate=0.005)
    policy = dataclasses.replace(ctx.policy, services=(ServicePolicy(WORKER, thresholds=strict),))
    ctx = dataclasses.replace(ctx, policy=policy, warnings=[])
    metrics = {m["name"]: m for m in docs(ctx)[("AnalysisTemplate", f"{WORKER}-analysis")]["spec"]["metrics"]}
    assert metrics["handler-failure-rate"]["failureCondition"].endswith("> 0.005")


def plan(consumers: Any, strategy: str = "blue-green") -> dict[str, Any]:
    entry: dict[str, Any] = {"service": WORKER, "strategy": strategy, "traffic": "messages", "why": ["test"]}
    if consumers is not None:
        entry["consumers"] = consumers
    return {"schema": "critterops.plan/v2", "environment": "production", "services": [entry]}


def test_the_plans_consumers_object_decides_the_preview_and_the_drain() -> None:
    # the plan says the preview is held (the model does not know it): blue/green, grace from the plan's drain
    ctx = context(
        held=False, strategy=None, plan=plan({"share": "replica-ratio", "preview": "held", "drain_timeout_s": 200})
    )
    rollout = docs(ctx)[("Rollout", WORKER)]
    assert "blueGreen" in rollout["spec"]["strategy"]
    assert rollout["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 200 + DRAIN_MARGIN_S
    consumers = ctx.deploy(ctx.system.service(WORKER), ctx.policy.environment("production")).consumers
    assert consumers is not None and consumers.source == "plan" and consumers.drain_timeout_s == 200
    # the plan says none although the model holds: canary
    ctx = context(
        held=True, strategy=None, plan=plan({"share": "replica-ratio", "preview": "none", "drain_timeout_s": 60})
    )
    assert "canary" in docs(ctx)[("Rollout", WORKER)]["spec"]["strategy"]
    # no consumers object: the model decides
    ctx = context(held=True, strategy=None, plan=plan(None))
    assert "blueGreen" in docs(ctx)[("Rollout", WORKER)]["spec"]["strategy"]


@pytest.mark.parametrize(
    ("consumers", "message"),
    [
        ({"share": "prefetch"}, "share 'prefetch'"),
        ({"preview": "paused"}, "preview 'paused'"),
        ({"drain_timeout_s": -1}, "drain_timeout_s -1"),
        ({"drain_timeout_s": "60"}, "drain_timeout_s '60'"),
        ("held", "expected an object"),
    ],
)
def test_a_bad_consumers_object_is_a_user_error(consumers: Any, message: str) -> None:
    ctx = context(held=True, strategy=None, plan=plan(consumers))
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        kubernetes_files(ctx)


def test_http_services_keep_their_grace_and_no_role() -> None:
    ctx = context(held=True)
    kit = docs(ctx, "storefront-web")
    pod = kit[("Rollout", "storefront-web")]["spec"]["template"]["spec"]
    assert contract.ROLE_ENV not in {v["name"] for v in pod["containers"][0].get("env", [])}


@pytest.mark.slow
@pytest.mark.skipif(not validate.shutil.which("kubectl"), reason="kubectl not installed")
def test_real_validators_pass_on_the_held_consumer_kit(tmp_path: Path) -> None:
    write_kit(kubernetes_files(context(held=True)), tmp_path)
    results = validate.kubernetes_checks(tmp_path)
    failed = {r.validator: r.problems[:10] for r in results if r.problems}
    assert not failed, json.dumps(failed, indent=1)
    assert any(not r.skipped for r in results)


def test_an_http_consumer_drains_for_the_plans_timeout_and_keeps_its_strategy() -> None:
    entry = {"service": "payments-api", "strategy": "canary", "traffic": "http+messages", "why": ["test"]}
    entry["consumers"] = {
        "queues": ["payments-requests"],
        "share": "replica-ratio",
        "preview": "none",
        "drain_timeout_s": 100,
    }
    ctx = context(
        held=False,
        strategy=None,
        plan={"schema": "critterops.plan/v2", "environment": "production", "services": [entry]},
    )
    rollout = docs(ctx, "payments-api")[("Rollout", "payments-api")]
    assert rollout["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 100 + DRAIN_MARGIN_S
    assert rollout["spec"]["strategy"]["canary"]["stableService"] == "payments-api-stable"  # HTTP canary as before
    assert ctx.deploy(ctx.system.service("payments-api"), ctx.policy.environment("production")).consumers is None
