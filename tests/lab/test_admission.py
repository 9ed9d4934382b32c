"""Proof 1, admission: every overlay of the kit is accepted by a real apiserver with PodSecurity ``restricted``.

Server-side apply, dry run first and then for real, into a namespace that enforces the ``restricted``
Pod Security Standard. Rollouts are custom resources, so PodSecurity sees their pods only when the
ReplicaSet controller creates them: the test waits for every pod and fails on any ``FailedCreate``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from .cluster import dump, events, get, kubectl, wait_for
from .kits import generate, into_namespace, render
from .repos import critter_conventions_repo

ENVIRONMENTS = ("dev", "staging", "production")


@pytest.fixture(scope="module")
def example_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(None, tmp_path_factory.mktemp("example-kit"), "kubernetes")


@pytest.fixture(scope="module")
def fixture_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = critter_conventions_repo(tmp_path_factory.mktemp("repo"))
    return generate(repo, tmp_path_factory.mktemp("fixture-kit"), "kubernetes")


def _workload_replicas(docs: list[dict[str, object]]) -> int:
    total = 0
    for doc in docs:
        if doc["kind"] in ("Rollout", "Deployment", "StatefulSet"):
            total += int(doc["spec"].get("replicas", 1))  # type: ignore[index, union-attr]
    return total


def _apply_and_run(lab: ModuleType, kit: Path, env: str, ns: str) -> None:
    docs = into_namespace(render(kit, env), ns)
    claims = sum(
        len(d["spec"].get("volumeClaimTemplates", [])) * int(d["spec"].get("replicas", 1))
        for d in docs
        if d["kind"] == "StatefulSet"
    )
    lab.ensure_volumes(claims)
    text = dump(docs)
    dry = kubectl(lab, "apply", "--server-side", "--dry-run=server", "-f", "-", stdin=text, check=False)
    assert dry.returncode == 0, f"[{env}] dry run rejected:\n{dry.stderr}"
    assert "would violate PodSecurity" not in dry.stderr, dry.stderr
    real = kubectl(lab, "apply", "--server-side", "-f", "-", stdin=text, check=False)
    assert real.returncode == 0, f"[{env}] apply rejected:\n{real.stderr}"
    assert "would violate PodSecurity" not in real.stderr, real.stderr
    expected = _workload_replicas(docs)

    def pods_ready() -> bool:
        failed = [e["message"] for e in events(lab, ns) if e.get("reason") == "FailedCreate"]
        assert not failed, f"[{env}] pods rejected: {failed}"
        pods = get(lab, f"/api/v1/namespaces/{ns}/pods")["items"]
        ready = [
            p
            for p in pods
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))
        ]
        return len(ready) >= expected

    wait_for(f"{expected} pods Ready in {ns}", pods_ready, timeout=90)
    rollouts = get(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts")["items"]
    invalid = [
        (r["metadata"]["name"], c.get("message"))
        for r in rollouts
        for c in r.get("status", {}).get("conditions", [])
        if c.get("reason") == "InvalidSpec"
    ]
    assert not invalid, invalid


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_example_overlay_is_admitted_and_its_pods_run(
    lab: ModuleType, example_kit: Path, env: str, namespace: Callable[[str], str]
) -> None:
    _apply_and_run(lab, example_kit, env, namespace(f"pawmart-{env}"))


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_fixture_overlay_is_admitted_and_its_pods_run(
    lab: ModuleType, fixture_kit: Path, env: str, namespace: Callable[[str], str]
) -> None:
    _apply_and_run(lab, fixture_kit, env, namespace(f"critters-{env}"))


def test_a_pod_without_the_restricted_settings_is_rejected_by_pod_security(
    lab: ModuleType, namespace: Callable[[str], str]
) -> None:
    ns = namespace("broken")
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "loose", "namespace": ns},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    done = kubectl(lab, "apply", "--server-side", "-f", "-", stdin=dump([pod]), check=False)
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:v1.30"' in done.stderr, done.stderr
    assert "allowPrivilegeEscalation != false" in done.stderr and "runAsNonRoot != true" in done.stderr


def test_an_invalid_rollout_is_rejected_by_the_crd_schema(lab: ModuleType, namespace: Callable[[str], str]) -> None:
    ns = namespace("broken")
    rollout = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "x", "namespace": ns},
        "spec": {"replicas": "three", "strategy": {"canary": {"steps": [{"setWeight": "ten"}]}}},
    }
    done = kubectl(lab, "apply", "--server-side", "-f", "-", stdin=dump([rollout]), check=False)
    assert done.returncode != 0
    assert ".spec.replicas: expected numeric" in done.stderr, done.stderr
    assert ".spec.strategy.canary.steps[0].setWeight: expected numeric" in done.stderr, done.stderr
