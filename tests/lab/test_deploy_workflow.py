"""Proof 7: the generated deploy workflow's own steps, run against the lab, apply the kit in the order the plan
states (issue 12.8 and 12.10).

The steps of ``.github/workflows/deploy.yml`` from "Render the overlay" to "Apply the Rollouts" run as GitHub
runs them (``bash -e``, the job's environment) with the lab's kubeconfig and kustomize. The overlay creates its
own namespace (restricted Pod Security); the migration Job of payments-api (EF Core migrations the example
applies only in Development) completes before any Rollout exists; a second deploy replaces the Job (its
template is immutable) instead of failing. KWOK completes a Job's pods (its ``pod-complete`` stage, kwok
v0.7.0 kustomize/stage/pod/fast), so what is proven is the order and the objects, not the bundle's run.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from .cluster import BUILD, get
from .kits import generate

STEPS = ("Render the overlay", "Apply the namespace, configuration, Services and policies")
BEFORE = "Run the jobs that go before the rollout"
ROLLOUTS = "Apply the Rollouts"


@pytest.fixture
def deployment(lab: ModuleType, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """The example's kit with the production overlay moved to a fresh namespace (what a user does with a
    kustomize patch); the namespace is deleted afterwards."""
    kit = generate(None, tmp_path / "kit", "kubernetes", "github")
    name = f"deploy-{uuid.uuid4().hex[:6]}"
    overlay = kit / "kubernetes" / "overlays" / "production"
    for file in ("kustomization.yaml", "namespace.yaml"):
        path = overlay / file
        path.write_text(path.read_text().replace("pawmart-production", name))
    yield kit, name
    lab.api("DELETE", f"/api/v1/namespaces/{name}")


def _steps(kit: Path) -> dict[str, str]:
    deploy = yaml.safe_load((kit / ".github" / "workflows" / "deploy.yml").read_text())
    return {step["name"]: step["run"] for step in deploy["jobs"]["deploy"]["steps"] if "run" in step}


def _run(lab: ModuleType, kit: Path, namespace: str, script: str, temp: Path) -> None:
    kustomize = BUILD.COMPONENTS["kustomize"].path("kustomize").parent
    env = {
        **os.environ,
        "PATH": f"{kustomize}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(lab.kubeconfig_path()),
        "ENVIRONMENT": "production",
        "NAMESPACE": namespace,
        "OVERLAY": str(kit / "kubernetes" / "overlays" / "production"),
        "RUNNER_TEMP": str(temp),
    }
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"{script[:80]}...\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


def _items(lab: ModuleType, path: str) -> list[dict[str, Any]]:
    return list(get(lab, path)["items"])


def test_the_deploy_steps_create_the_namespace_and_finish_the_migration_before_any_rollout(
    lab: ModuleType, deployment: tuple[Path, str], tmp_path: Path
) -> None:
    kit, ns = deployment
    steps = _steps(kit)
    for name in STEPS:
        _run(lab, kit, ns, steps[name], tmp_path)
    namespace = get(lab, f"/api/v1/namespaces/{ns}")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert _items(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts") == [], "no Rollout before the jobs"
    assert _items(lab, f"/apis/batch/v1/namespaces/{ns}/jobs") == [], "the jobs wait for their own step"
    assert get(lab, f"/api/v1/namespaces/{ns}/configmaps/payments-api-config")["data"]

    _run(lab, kit, ns, steps[BEFORE], tmp_path)
    (job,) = _items(lab, f"/apis/batch/v1/namespaces/{ns}/jobs")
    assert job["metadata"]["name"] == "payments-api-migrate"
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in job["status"]["conditions"])
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].endswith("/payments-api-migrations:example")
    assert _items(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts") == []

    _run(lab, kit, ns, steps[ROLLOUTS], tmp_path)
    rollouts = _items(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts")
    assert {r["metadata"]["name"] for r in rollouts} == {
        "fulfillment-worker",
        "inventory-api",
        "orders-api",
        "payments-api",
        "storefront-web",
    }
    finished = job["status"]["completionTime"]
    assert all(r["metadata"]["creationTimestamp"] >= finished for r in rollouts), "the migration came first"
    exporter = get(lab, f"/apis/apps/v1/namespaces/{ns}/deployments/critterops-exporter")
    assert exporter["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/critterops-exporter:example")

    # the next deploy replaces the finished Job (a Job's template is immutable) and waits for the new one
    _run(lab, kit, ns, steps[BEFORE], tmp_path)
    (again,) = _items(lab, f"/apis/batch/v1/namespaces/{ns}/jobs")
    assert again["metadata"]["uid"] != job["metadata"]["uid"]
    assert any(c["type"] == "Complete" and c["status"] == "True" for c in again["status"]["conditions"])
