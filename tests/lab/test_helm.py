"""The Helm chart installed for real: helm-python-sdk (Helm v4.2.3) against the lab's apiserver.

A fresh namespace enforcing Pod Security ``restricted``; the release must create every object the
chart renders, the Rollouts' pods must be admitted and become Ready, and values that break the
schema must be refused before anything reaches the cluster. ``helm test`` cannot pass here: KWOK runs no
containers, so its hook Pods are proven admitted, not run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from critterops.cli import main
from critterops.generate import helm

from .cluster import events, get, wait_for

helm_sdk = pytest.importorskip("helm_python", reason="helm-python-sdk not installed (test extra)")

# kind -> list path in the API (namespaced)
API = {
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts",
    "ConfigMap": "/api/v1/namespaces/{ns}/configmaps",
    "Service": "/api/v1/namespaces/{ns}/services",
    "Rollout": "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts",
    "AnalysisTemplate": "/apis/argoproj.io/v1alpha1/namespaces/{ns}/analysistemplates",
    "PodDisruptionBudget": "/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses",
}


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chart")
    assert main(["generate", "--example", "--out", str(out), "--format", "helm"]) == 0
    return out


def _config(lab: ModuleType, ns: str) -> Any:
    return helm_sdk.Config(kubeconfig_path=str(lab.kubeconfig_path()), namespace=ns)


def test_chart_installs_into_a_restricted_namespace_and_its_pods_run(
    lab: ModuleType, chart: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("helm")
    values = helm.env_values(chart, "production")
    expected = [d for d in helm.render_chart(chart, values, ns) if not helm.is_hook(d)]
    config = _config(lab, ns)
    try:
        release = config.install(str(chart), "pawmart", values, namespace=ns, timeout=120)
        assert release["status"] == "deployed" and release["chart_name"] == "pawmart", release
        for kind in sorted({d["kind"] for d in expected}):
            names = {i["metadata"]["name"] for i in get(lab, API[kind].format(ns=ns))["items"]}
            want = {d["metadata"]["name"] for d in expected if d["kind"] == kind}
            assert want <= names, (kind, want - names)
        replicas = sum(int(d["spec"]["replicas"]) for d in expected if d["kind"] in ("Rollout", "Deployment"))

        def pods_ready() -> bool:
            failed = [e["message"] for e in events(lab, ns) if e.get("reason") == "FailedCreate"]
            assert not failed, f"pods rejected: {failed}"
            pods = get(lab, f"/api/v1/namespaces/{ns}/pods")["items"]
            ready = [
                p
                for p in pods
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", [])
                )
            ]
            return len(ready) >= replicas

        wait_for(f"{replicas} pods Ready in {ns}", pods_ready, timeout=120)
        assert [(r["name"], r["status"]) for r in config.list()] == [("pawmart", "deployed")]
        # helm test: KWOK's fake kubelet never runs a container, so the hook pods are admitted (Pod Security
        # restricted) and scheduled but never finish; what the lab proves is that they are created as written
        with pytest.raises(helm_sdk.HelmError, match="helm-test not ready"):
            config.test("pawmart", timeout=15)
        created = get(lab, f"/api/v1/namespaces/{ns}/pods?labelSelector=app.kubernetes.io%2Fcomponent%3Dtest")
        assert len(created["items"]) == 1  # Helm runs the hooks one by one and stopped at the first
        for pod in (d for d in helm.render_chart(chart, values, ns) if helm.is_hook(d) and d["kind"] == "Pod"):
            pod["metadata"]["name"] += "-dry"  # the first exists already (the hook helm test created)
            code, body = lab.api("POST", f"/api/v1/namespaces/{ns}/pods?dryRun=All", pod)
            assert code == 201, body  # admitted by Pod Security restricted
        assert not [e for e in events(lab, ns) if e.get("reason") == "FailedCreate"]
    finally:
        config.uninstall("pawmart")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"services": {"orders-api": {"replicas": -1}}}, "at '/services/orders-api/replicas': minimum: got -1, want 0"),
        (
            {"services": {"billing-api": {"replicas": 1}}},
            "at '/services': additional properties 'billing-api' not allowed",
        ),
        (
            {"services": {"orders-api": {"replicas": "two"}}},
            "at '/services/orders-api/replicas': got string, want integer",
        ),
    ],
)
def test_install_with_values_breaking_the_schema_fails_with_its_message(
    lab: ModuleType, chart: Path, namespace: Callable[[str], str], bad: dict[str, Any], message: str
) -> None:
    ns = namespace("helm-bad")
    config = _config(lab, ns)
    with pytest.raises(helm_sdk.HelmError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.install(str(chart), "pawmart", bad, namespace=ns, timeout=60)
    assert get(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts")["items"] == []
