"""The Helm chart: the same objects as the kustomize overlays, linted and rendered by Helm itself.

Helm is helm-python-sdk (Helm v4.2.3 as a library); kustomize is the lab's build (v5.7.1) or
``kubectl kustomize``. Both are real: nothing here is a stand-in for them.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops.cli import main
from critterops.commands._common import example_path
from critterops.generate import helm
from critterops.generate.kit import write_kit
from critterops.generate.kubernetes import kubernetes_files

from .test_kubernetes import CRITTERSUPPLY, context

helm_sdk = pytest.importorskip("helm_python", reason="helm-python-sdk not installed (test extra)")
needs_kustomize = pytest.mark.skipif(helm.kustomize_command() is None, reason="no kustomize (lab build or kubectl)")


def write(tmp: Path, argo: bool = True, root: Path | None = None, **kwargs: Any) -> tuple[Path, Path]:
    """The kit and the chart for the same context, in tmp/kit and tmp/chart."""
    ctx = replace(context(root or example_path(), **kwargs), argo=argo)
    write_kit(kubernetes_files(ctx), tmp / "kit")
    write_kit(helm.helm_files(ctx), tmp / "chart")
    return tmp / "kit", tmp / "chart"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write(tmp_path_factory.mktemp("helm"))


def values(chart: Path, env: str, **changes: Any) -> dict[str, Any]:
    merged = helm.env_values(chart, env)
    merged.update(changes)
    return merged


# ─── equivalence ───────────────────────────────────────────────────────────────────────────────


def assert_equivalent(reports: list[helm.Equivalence], envs: int = 3) -> None:
    assert len(reports) == envs
    for report in reports:
        assert report.ok, (report.environment, report.only_chart, report.only_overlay, report.different[:5])
        assert report.compared >= 30


@needs_kustomize
def test_chart_renders_the_same_objects_as_each_overlay(example: tuple[Path, Path]) -> None:
    kit, chart = example
    assert_equivalent(helm.equivalence(chart, kit, "pawmart"))


@needs_kustomize
def test_rollouts_false_renders_the_no_argo_overlays(tmp_path: Path) -> None:
    kit, chart = write(tmp_path, argo=False)
    assert yaml.safe_load((chart / "values.yaml").read_text())["rollouts"] is False
    assert_equivalent(helm.equivalence(chart, kit, "pawmart"))
    docs = helm.render_chart(chart, values(chart, "production"), "ns")
    assert {d["kind"] for d in docs} >= {"Deployment"} and "Rollout" not in {d["kind"] for d in docs}


@needs_kustomize
def test_judge_kit_chart_equals_its_overlays_role_binding_included(tmp_path: Path) -> None:
    """With --judge critterops the kit has a RoleBinding: kustomize namespaces its ServiceAccount subject."""
    kit, chart = write(tmp_path, judge="critterops")
    assert_equivalent(helm.equivalence(chart, kit, "pawmart"))
    docs = helm.render_chart(chart, values(chart, "staging"), "elsewhere")
    binding = next(d for d in docs if d["kind"] == "RoleBinding")
    assert binding["subjects"][0]["namespace"] == "elsewhere"


@needs_kustomize
@pytest.mark.slow
@pytest.mark.skipif(not (CRITTERSUPPLY / "CritterSupply.slnx").exists(), reason="CritterSupply clone not at /tmp/cs")
def test_crittersupply_chart_equals_its_overlays(tmp_path: Path) -> None:
    kit, chart = write(tmp_path, root=CRITTERSUPPLY)
    assert_equivalent(helm.equivalence(chart, kit, "crittersupply"))


def test_the_comparison_sees_a_changed_object(example: tuple[Path, Path]) -> None:
    """The normalisation removes only the intended differences: a changed field or a missing object shows."""
    _kit, chart = example
    docs = helm.render_chart(chart, values(chart, "production", namespace={"create": True}), "pawmart-production")
    changed = copy.deepcopy(docs)
    rollout = next(d for d in changed if d["kind"] == "Rollout")
    rollout["spec"]["replicas"] += 1
    config = next(d for d in changed if d["kind"] == "ConfigMap")
    report = helm.compare("production", [d for d in changed if d is not config], docs)
    assert not report.ok
    assert any(
        d.startswith(f"Rollout/pawmart-production/{rollout['metadata']['name']} at /spec/replicas")
        for d in report.different
    )
    assert report.only_overlay == [f"ConfigMap/pawmart-production/{config['metadata']['name']}"]
    labelled = copy.deepcopy(docs)
    for doc in labelled:
        doc["metadata"]["labels"].pop(helm.CHART_LABEL, None)
    assert helm.compare("production", docs, labelled).ok  # the chart label is the one intended difference


def test_an_unparameterised_difference_stops_generation() -> None:
    """A difference between overlays where the chart has no value must fail loudly, never drift."""
    base: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "x", "labels": {}},
        "spec": {"type": "A"},
    }
    other = copy.deepcopy(base)
    other["spec"]["type"] = "B"
    with pytest.raises(AssertionError, match="differs between the overlays at /spec/type"):
        helm._template({"production": base, "dev": other}, "production", {}, helm._Values(("dev", "production")))


def test_values_files_hold_only_what_differs(example: tuple[Path, Path]) -> None:
    _kit, chart = example
    default = yaml.safe_load((chart / "values.yaml").read_text())
    assert set(default["services"]["orders-api"]) >= {
        "image",
        "replicas",
        "resources",
        "probes",
        "strategy",
        "analysis",
        "settings",
    }
    assert helm.env_values(chart, "production") == {}  # values.yaml is production, as the kustomize base is
    dev = helm.env_values(chart, "dev")
    assert "image" not in dev["services"]["orders-api"]  # the same in every environment
    assert dev["services"]["orders-api"]["replicas"] == 1
    assert dev["infrastructure"] == {"enabled": True} and dev["managedEgress"] == []
    # Helm merges maps: the dev canary has no steps, so the file deletes production's with null
    merged = helm_sdk.Chart.load(str(chart)).merge_values(dev)
    assert merged["services"]["fulfillment-worker"]["strategy"] == {"canary": {"maxSurge": "25%", "maxUnavailable": 0}}


# ─── Helm: lint, schema, hooks ─────────────────────────────────────────────────────────────────


def test_helm_lint_strict_is_clean_with_every_values_file(example: tuple[Path, Path]) -> None:
    result = helm.lint(example[1])
    assert result.checked == 4 and result.problems == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            {"services": {"orders-api": {"replicas": "two"}}},
            "at '/services/orders-api/replicas': got string, want integer",
        ),
        ({"services": {"orders-api": {"replicas": -1}}}, "at '/services/orders-api/replicas': minimum: got -1, want 0"),
        (
            {"services": {"billing-api": {"replicas": 1}}},
            "at '/services': additional properties 'billing-api' not allowed",
        ),
        ({"services": {"orders-api": {"replica": 2}}}, "additional properties 'replica' not allowed"),
        ({"rollouts": "yes"}, "at '/rollouts': got string, want boolean"),
        ({"jobs": ["Job/nope"]}, "at '/jobs/0'"),
    ],
)
def test_values_violating_the_schema_fail_lint_and_render(
    example: tuple[Path, Path], bad: dict[str, Any], message: str
) -> None:
    chart = example[1]
    report = helm_sdk.lint(str(chart), bad, strict=True, kube_version=helm.KUBE_VERSION)
    assert any(message in m["error"] for m in report["messages"] if m["severity"] == 3), report
    with pytest.raises(Exception, match="values don't meet the specifications|" + message.split("'")[0]):
        helm.render_chart(chart, bad, "ns")


def test_render_with_bad_values_is_a_user_error(example: tuple[Path, Path]) -> None:
    from critterops.errors import UserError

    with pytest.raises(UserError, match="minimum: got -1, want 0"):
        helm.render_chart(example[1], {"services": {"orders-api": {"replicas": -1}}}, "ns")


def test_test_hooks_smoke_each_http_service_under_restricted_pod_security(example: tuple[Path, Path]) -> None:
    _kit, chart = example
    for env in ("dev", "production"):
        docs = helm.render_chart(chart, values(chart, env), f"pawmart-{env}")
        pods = {d["metadata"]["name"]: d for d in docs if helm.is_hook(d) and d["kind"] == "Pod"}
        assert set(pods) == {
            f"{s}-helm-test" for s in ("inventory-api", "orders-api", "payments-api", "storefront-web")
        }
        for pod in pods.values():
            assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
            spec = pod["spec"]
            assert spec["securityContext"]["runAsNonRoot"] is True
            assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            container = spec["containers"][0]
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
            assert spec["automountServiceAccountToken"] is False
        # the readiness path this environment maps; payments-api has none outside dev (TCP probe): "/"
        url = {
            p: next(e["value"] for e in d["spec"]["containers"][0]["env"] if e["name"] == "URL")
            for p, d in pods.items()
        }
        assert url["payments-api-helm-test"] == (
            "http://payments-api/health" if env == "dev" else "http://payments-api/"
        )
        policies = [d for d in docs if helm.is_hook(d) and d["kind"] == "NetworkPolicy"]
        assert len(policies) == 2 * len(pods)  # the test pod's egress and the service's ingress from it


def test_chart_metadata_and_notes(example: tuple[Path, Path]) -> None:
    chart = example[1]
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta["name"] == "pawmart" and meta["appVersion"] == "0123456789ab"
    schema = json.loads((chart / "values.schema.json").read_text())
    assert schema["additionalProperties"] is False
    assert schema["properties"]["services"]["properties"]["orders-api"]["properties"]["replicas"]["minimum"] == 0
    rendered = helm_sdk.Chart.load(str(chart)).render(values(chart, "dev"), name="r", namespace="pawmart-dev")
    notes = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
    assert "pawmart (dev) in namespace pawmart-dev: Argo Rollouts" in notes and "helm test r" in notes


@pytest.mark.slow
def test_kit_validators_pass_on_the_rendered_chart(example: tuple[Path, Path]) -> None:
    results = {r.validator: r for r in helm.chart_checks(example[1], "pawmart")}
    for name, result in results.items():
        assert result.skipped or result.ok, (name, result.problems[:10])
    assert any(name.startswith("kubernetes-validate") and r.checked > 150 for name, r in results.items())
    assert any(name.startswith("Argo Rollouts CRD") and r.checked > 20 for name, r in results.items())


# ─── the command ───────────────────────────────────────────────────────────────────────────────


def test_format_helm_writes_idempotently_and_check_finds_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "chart"
    argv = ["generate", "--example", "--out", str(out), "--format", "helm"]
    assert main(argv) == 0
    assert (out / "Chart.yaml").is_file() and not (out / "kubernetes").exists()
    first = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 written" in capsys.readouterr().out
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == first
    assert main([*argv, "--check"]) == 0
    target = out / "values-dev.yaml"
    target.write_text(target.read_text().replace("replicas: 1", "replicas: 7", 1))
    capsys.readouterr()
    assert main([*argv, "--check"]) == 1
    assert "differs: values-dev.yaml" in capsys.readouterr().out


def test_format_kustomize_and_helm_puts_the_chart_beside_the_kit(tmp_path: Path) -> None:
    assert (
        main(["generate", "--example", "--out", str(tmp_path), "--only", "kubernetes", "--format", "kustomize,helm"])
        == 0
    )
    assert (tmp_path / "kubernetes" / "overlays" / "dev" / "kustomization.yaml").is_file()
    assert (tmp_path / "helm" / "Chart.yaml").is_file()


def test_unknown_format_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--example", "--out", str(tmp_path), "--format", "helm3"]) == 2
    assert "--format: unknown format(s) helm3" in capsys.readouterr().err
