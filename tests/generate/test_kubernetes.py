"""The Kubernetes kit on the bundled example: structure, security, probes, network, and the real validators."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate import validate
from critterops.generate.context import KitContext, dns_label, system_name
from critterops.generate.kit import write_kit
from critterops.generate.kubernetes import kubernetes_files, probes
from critterops.model import HealthEndpoint, Service, System
from critterops.plan.policy import default_policy

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))


def context(root: Path, **kwargs: Any) -> KitContext:
    system = discover(root)
    return KitContext(system, default_policy(), system_name(system), "ghcr.io/acme/pawmart", "0123456789ab", **kwargs)


@pytest.fixture(scope="module")
def example_kit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kit")
    write_kit(kubernetes_files(context(example_path())), out)
    return out


def rendered(kit: Path, overlay: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in validate.render(kit, overlay)}


needs_kubectl = pytest.mark.skipif(not validate.shutil.which("kubectl"), reason="kubectl not installed")


@needs_kubectl
def test_overlays_differ_where_the_environments_do(example_kit: Path) -> None:
    dev, prod = rendered(example_kit, "dev"), rendered(example_kit, "production")
    orders_dev, orders_prod = dev[("Rollout", "orders-api")], prod[("Rollout", "orders-api")]
    assert orders_dev["metadata"]["namespace"] == "pawmart-dev"
    assert orders_dev["spec"]["replicas"] == 1 and orders_prod["spec"]["replicas"] == 3
    assert "steps" not in orders_dev["spec"]["strategy"]["canary"], "dev rolls"
    blue_green = orders_prod["spec"]["strategy"]["blueGreen"]  # the saga host
    assert blue_green["activeService"] == "orders-api" and blue_green["previewService"] == "orders-api-preview"
    assert blue_green["autoPromotionEnabled"] is False, "production approves blue/green by hand"
    assert ("StatefulSet", "postgres") in dev and ("StatefulSet", "postgres") not in prod
    image = orders_prod["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "ghcr.io/acme/pawmart/orders-api:0123456789ab"


@needs_kubectl
def test_pods_meet_restricted_pod_security(example_kit: Path) -> None:
    for (kind, name), doc in rendered(example_kit, "production").items():
        if kind not in ("Rollout", "StatefulSet"):
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] >= 10000
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
        assert not any("secretKeyRef" in str(e) for e in container.get("env", [])), "secrets are files, not env"


@needs_kubectl
def test_network_policies_follow_the_real_callers(example_kit: Path) -> None:
    docs = rendered(example_kit, "production")
    assert docs[("NetworkPolicy", "default-deny")]["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    inventory = docs[("NetworkPolicy", "inventory-api")]["spec"]
    callers = {s["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for s in inventory["ingress"][0]["from"]}
    assert callers == {"storefront-web"}, "only the front end calls inventory over HTTP"
    web = docs[("NetworkPolicy", "storefront-web")]["spec"]
    assert any("namespaceSelector" in s for s in web["ingress"][0]["from"]), "public: ingress controller allowed"
    worker = docs[("NetworkPolicy", "fulfillment-worker")]["spec"]
    assert worker["ingress"] == [], "a worker takes no inbound traffic"
    ports = sorted(p["port"] for rule in worker["egress"] for p in rule["ports"])
    assert ports == [4317, 4318, 5432, 5672]
    managed = [t for rule in worker["egress"] for t in rule["to"] if "ipBlock" in t]
    assert managed, "staging/production reach managed PostgreSQL and RabbitMQ by address"


@needs_kubectl
def test_analysis_templates_query_only_the_new_version(example_kit: Path) -> None:
    template = rendered(example_kit, "production")[("AnalysisTemplate", "inventory-api-analysis")]
    names = [m["name"] for m in template["spec"]["metrics"]]
    assert names == ["http-error-rate", "http-latency-p95-ms", "handler-failure-rate", "dead-letters", "projection-lag"]
    error_rate = template["spec"]["metrics"][0]
    assert 'service_version="{{args.hash}}"' in error_rate["provider"]["prometheus"]["query"]
    assert error_rate["successCondition"].endswith("result[0] <= 0.01")


def test_probes_only_use_endpoints_mapped_in_that_environment() -> None:
    service = Service(
        "orders-api",
        "o.csproj",
        "Orders",
        "api",
        http_port=5000,
        health=(
            HealthEndpoint("/health", "Development", "MapDefaultEndpoints"),
            HealthEndpoint("/api/health", "all", "MapGet"),
        ),
    )
    dev, prod = probes(service, "dev"), probes(service, "production")
    assert dev.readiness is not None and dev.readiness["httpGet"]["path"] == "/health"
    assert prod.readiness is not None and prod.readiness["httpGet"]["path"] == "/api/health"
    only_dev = Service(
        "x", "x.csproj", "X", "api", http_port=5000, health=(HealthEndpoint("/health", "Development", "m"),)
    )
    fallback = probes(only_dev, "production")
    assert fallback.readiness == {
        "tcpSocket": {"port": "http"},
        "periodSeconds": 10,
        "timeoutSeconds": 3,
        "failureThreshold": 3,
    }
    assert fallback.warning is not None and "IsDevelopment()" in fallback.warning


@pytest.mark.parametrize(
    ("raw", "label"),
    [("Customer Identity.Api", "customer-identity-api"), ("My..Service__X", "my-service-x"), ("---", "app")],
)
def test_dns_labels(raw: str, label: str) -> None:
    assert dns_label(raw) == label


def test_no_argo_writes_deployments(tmp_path: Path) -> None:
    files = kubernetes_files(context(example_path(), argo=False))
    text = "\n".join(files.values())
    assert "kind: Rollout" not in text and "kind: AnalysisTemplate" not in text
    assert "kind: Deployment" in text


def test_reruns_are_byte_identical() -> None:
    ctx = context(example_path())
    assert kubernetes_files(ctx) == kubernetes_files(ctx)


def _validators(kit: Path) -> None:
    results = validate.kubernetes_checks(kit)
    skipped = [f"{r.validator}: {r.skipped}" for r in results if r.skipped]
    failed = {r.validator: r.problems[:10] for r in results if r.problems}
    assert not failed, failed
    if skipped:
        pytest.skip("validators missing: " + "; ".join(skipped))


@needs_kubectl
@pytest.mark.slow
def test_real_validators_pass_on_the_example(example_kit: Path) -> None:
    _validators(example_kit)


@needs_kubectl
@pytest.mark.slow
@pytest.mark.skipif(not (CRITTERSUPPLY / "CritterSupply.slnx").exists(), reason="CritterSupply clone not at /tmp/cs")
def test_real_validators_pass_on_crittersupply(tmp_path: Path) -> None:
    write_kit(kubernetes_files(context(CRITTERSUPPLY)), tmp_path)
    _validators(tmp_path)


def test_a_service_without_a_port_or_dockerfile_still_gets_a_workload() -> None:
    worker = Service("billing-worker", "b.csproj", "Billing", "worker")
    ctx = KitContext(System("/r", services=(worker,)), default_policy(), "r", "reg", "t")
    docs = list(yaml.safe_load_all(kubernetes_files(ctx)["kubernetes/base/services/billing-worker.yaml"]))
    rollout = next(d for d in docs if d and d["kind"] == "Rollout")
    container = rollout["spec"]["template"]["spec"]["containers"][0]
    assert "ports" not in container and "readinessProbe" not in container
    assert "checkov.io/skip2" in rollout["metadata"]["annotations"]
    assert not any(d and d["kind"] == "Service" for d in docs)


@pytest.mark.skipif(not validate.shutil.which("promtool"), reason="promtool not installed")
def test_analysis_queries_are_valid_promql(tmp_path: Path) -> None:
    import subprocess

    files = kubernetes_files(context(example_path()))
    rules = []
    for text in files.values():
        for doc in yaml.safe_load_all(text):
            if doc and doc.get("kind") == "AnalysisTemplate":
                for metric in doc["spec"]["metrics"]:
                    if "prometheus" not in metric["provider"]:
                        assert "job" in metric["provider"] and metric["name"] == "smoke-traffic"
                        continue
                    query = metric["provider"]["prometheus"]["query"].replace("{{args.hash}}", "abc123")
                    query = query.replace("{{args.namespace}}", "pawmart-production")
                    rules.append(
                        {"record": f"check:{doc['metadata']['name']}:{metric['name']}".replace("-", "_"), "expr": query}
                    )
    assert len(rules) >= 15
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "analysis", "rules": rules}]}))
    run = subprocess.run(["promtool", "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


GOLDEN = Path(__file__).parent / "golden" / "kubernetes"


def test_golden_files() -> None:
    """The example's Kubernetes kit, byte for byte. CRITTEROPS_UPDATE_GOLDEN=1 rewrites it."""
    import shutil

    expected = {p.removeprefix("kubernetes/"): t for p, t in kubernetes_files(context(example_path())).items()}
    if os.environ.get("CRITTEROPS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in expected.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    actual = {str(p.relative_to(GOLDEN)): p.read_text(encoding="utf-8") for p in sorted(GOLDEN.rglob("*.yaml"))}
    assert actual.keys() == expected.keys(), "run with CRITTEROPS_UPDATE_GOLDEN=1 after an intended change"
    for rel, text in expected.items():
        assert actual[rel] == text, f"{rel} differs from the golden file (CRITTEROPS_UPDATE_GOLDEN=1 to accept)"
