"""The Kubernetes backend's pure parts: reading a plan, naming jobs, and reading Argo's status.

The status shapes are those Argo Rollouts v1.9.1 writes (pkg/apis/rollouts/v1alpha1/types.go:
``phase``, ``pauseConditions[].reason`` from PauseReason* at types.go:900-906, ``observedGeneration``
as a string at types.go:980); the lab tests see the same fields written by the real controller.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from critterops.errors import UserError
from critterops.rollout.kubernetes.engine import retag, service_state
from critterops.rollout.kubernetes.gates import holds
from critterops.rollout.kubernetes.plan import SCHEMA, parse

DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _plan(**changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "schema": SCHEMA,
        "environment": "staging",
        "head": {"ref": "feature", "commit": "0085df19b3f4d364a84543c4e09801b71f19fadf"},
        "phases": [
            {"number": 2, "name": "publishers", "services": ["fulfillment-worker"]},
            {"number": 1, "name": "consumers first", "services": ["orders-api", "docs-site"]},
        ],
        "services": [
            {
                "service": "orders-api",
                "strategy": "canary",
                "phase": 1,
                "steps": [{"weight": 10, "pause": "1m"}, {"weight": 50, "approval": True}],
                "gates": [{"kind": "drain", "name": "outbox-drained", "query": "q", "condition": "<= 10"}],
                "rollback": {"action": "rollback", "reason": "safe"},
                "jobs": [
                    {
                        "kind": "ef-migrations",
                        "when": "before-rollout",
                        "command": ["/efbundles/OrdersDbContext"],
                        "image": "migrations",
                        "target": "OrdersDbContext",
                        "timeout_s": 600,
                    }
                ],
            },
            {
                "service": "fulfillment-worker",
                "strategy": "blue-green",
                "phase": 2,
                "steps": [],
                "gates": [],
                "rollback": {"action": "roll-forward", "reason": "a destructive migration ran"},
                "jobs": [],
            },
            {"service": "docs-site", "strategy": "no-deploy", "phase": 1, "steps": [], "gates": [], "jobs": []},
        ],
    }
    plan.update(changes)
    return plan


def test_phases_run_in_number_order_and_services_that_need_no_deploy_are_left_out() -> None:
    plan = parse(json.dumps(_plan()))
    assert plan.phases == (("orders-api",), ("fulfillment-worker",))
    assert set(plan.services) == {"orders-api", "fulfillment-worker"}
    orders = plan.services["orders-api"]
    assert orders.approval and orders.rollback_safe and [g["name"] for g in orders.gates] == ["outbox-drained"]
    assert not plan.services["fulfillment-worker"].rollback_safe


def test_a_job_has_one_valid_name_per_deploy_so_a_resumed_deploy_finds_it() -> None:
    plan = parse(json.dumps(_plan()))
    job = plan.services["orders-api"].jobs[0]
    name = job.name(plan.id)
    assert name == job.name(plan.id) and plan.id in name
    assert DNS_1123.match(name) and len(name) <= 63
    other = parse(json.dumps(_plan(environment="production")))
    assert job.name(other.id) != name  # another deploy runs its own migration job
    long = type(job)(
        "a-very-long-service-name-that-goes-on-and-on-and-on",
        "projection-rebuild",
        "after-rollout",
        ("projections", "rebuild"),
        "service",
        "X",
        60,
    )
    assert len(long.name(plan.id)) <= 63 and DNS_1123.match(long.name(plan.id))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "not JSON"),
        ('{"schema": "critterops.system/v1"}', "not a critterops plan"),
        (json.dumps({**_plan(), "schema": "critterops.plan/v1"}), "critterops.plan/v1 is not supported"),
        (json.dumps({**_plan(), "services": [{"service": "x"}]}), "malformed plan"),
    ],
)
def test_a_bad_plan_is_refused_with_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(UserError, match=message):
        parse(text, "plan.json")


def test_the_bundled_example_plan_is_read(tmp_path: Path) -> None:
    from critterops.cli import main

    out = tmp_path / "plan.json"
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["plan", "--example", "--env", "staging", "--format", "json"]) == 0
    out.write_text(buffer.getvalue())
    plan = parse(out.read_text())
    assert plan.phases[0] and plan.phases[-1] == ("fulfillment-worker",)
    assert any(j.kind == "ef-migrations" for j in plan.services["payments-api"].jobs)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/example/pawmart/orders-api:old", "ghcr.io/example/pawmart/orders-api:abc"),
        ("registry:5000/orders-api", "registry:5000/orders-api:abc"),
        ("registry:5000/orders-api:1.2@sha256:" + "0" * 64, "registry:5000/orders-api:abc"),
    ],
)
def test_retag_keeps_the_repository_and_drops_tag_and_digest(image: str, expected: str) -> None:
    assert retag(image, "abc") == expected


def _rollout(status: dict[str, Any], generation: int = 3, strategy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": "orders-api", "generation": generation},
        "spec": {
            "strategy": strategy or {"blueGreen": {"autoPromotionEnabled": False}},
            "template": {"spec": {"containers": [{"name": "orders-api", "image": "r/orders-api:new"}]}},
        },
        "status": {"observedGeneration": str(generation), **status},
    }


def test_a_healthy_rollout_the_controller_has_not_seen_changed_is_still_progressing() -> None:
    healthy = {"phase": "Healthy", "stableRS": "a", "currentPodHash": "a"}
    assert service_state("orders-api", "Rollout", _rollout(healthy)).state == "healthy"
    stale = _rollout(healthy)
    stale["status"]["observedGeneration"] = "2"
    assert service_state("orders-api", "Rollout", stale).state == "progressing"


def test_an_aborted_or_degraded_rollout_has_failed_with_argos_message() -> None:
    aborted = service_state(
        "orders-api",
        "Rollout",
        _rollout({"phase": "Degraded", "abort": True, "message": "RolloutAborted: metric http-error-rate failed"}),
    )
    assert aborted.state == "failed" and "http-error-rate" in aborted.message


@pytest.mark.parametrize(
    ("strategy", "status", "waiting"),
    [
        (
            {"blueGreen": {"autoPromotionEnabled": False}},
            {"pauseConditions": [{"reason": "BlueGreenPause"}]},
            "approval",
        ),
        ({"blueGreen": {}}, {"pauseConditions": [{"reason": "BlueGreenPause"}]}, ""),
        (
            {"canary": {"steps": [{"setWeight": 10}, {"pause": {}}]}},
            {"pauseConditions": [{"reason": "CanaryPauseStep"}], "currentStepIndex": 1},
            "approval",
        ),
        (
            {"canary": {"steps": [{"setWeight": 10}, {"pause": {"duration": "1m"}}]}},
            {"pauseConditions": [{"reason": "CanaryPauseStep"}], "currentStepIndex": 1},
            "",
        ),
        ({"canary": {"steps": []}}, {"pauseConditions": [{"reason": "InconclusiveAnalysisRun"}]}, "inconclusive"),
    ],
)
def test_a_paused_rollout_waits_for_a_person_only_when_argo_does(
    strategy: dict[str, Any], status: dict[str, Any], waiting: str
) -> None:
    state = service_state("orders-api", "Rollout", _rollout({"phase": "Paused", **status}, strategy=strategy))
    if waiting:
        assert (state.state, state.waiting_for) == ("paused", waiting)
    else:
        assert state.state == "progressing"


def test_a_deployment_past_its_progress_deadline_has_failed() -> None:
    deployment = {
        "metadata": {"generation": 2},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "web", "image": "r/web:new"}]}}},
        "status": {
            "observedGeneration": 2,
            "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}],
        },
    }
    assert service_state("web", "Deployment", deployment).state == "failed"
    deployment["status"] = {"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}
    assert service_state("web", "Deployment", deployment).state == "healthy"


@pytest.mark.parametrize(
    ("condition", "value", "expected"), [("<= 100", 100, True), ("<= 100", 101, False), ("> 0", 0, False)]
)
def test_gate_conditions(condition: str, value: float, expected: bool) -> None:
    assert holds(condition, value) is expected
