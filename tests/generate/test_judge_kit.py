"""``generate --judge critterops``: the judge's objects and the analyses that ask it.

Opt-in: the default kit (and its golden files) is unchanged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate.context import KitContext, system_name
from critterops.generate.kubernetes import kubernetes_files
from critterops.plan.policy import default_policy, parse_policy


def _kit(**kwargs: Any) -> dict[str, list[dict[str, Any]]]:
    system = discover(example_path())
    ctx = KitContext(system, default_policy(), system_name(system), "ghcr.io/acme/pawmart", "0123456789ab", **kwargs)
    return {path: [d for d in yaml.safe_load_all(text) if d] for path, text in kubernetes_files(ctx).items()}


@pytest.fixture(scope="module")
def judged() -> dict[str, list[dict[str, Any]]]:
    return _kit(judge="critterops")


def _steps_templates(docs: list[dict[str, Any]]) -> list[tuple[list[str], list[dict[str, Any]]]]:
    rollout = next(d for d in docs if d["kind"] == "Rollout")
    strategy = rollout["spec"]["strategy"]
    out: list[tuple[list[str], list[dict[str, Any]]]] = []
    for step in strategy.get("canary", {}).get("steps", []):
        if "analysis" in step:
            out.append(([t["templateName"] for t in step["analysis"]["templates"]], step["analysis"]["args"]))
    blue = strategy.get("blueGreen")
    if blue:
        for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
            out.append(([t["templateName"] for t in blue[key]["templates"]], blue[key]["args"]))
    return out


def test_the_default_kit_has_no_judge() -> None:
    kit = _kit()
    assert "kubernetes/base/critterops-judge.yaml" not in kit
    orders = kit["kubernetes/base/services/orders-api.yaml"]
    assert not any(d["metadata"]["name"].endswith("-judge") for d in orders)
    assert all("orders-api-analysis" in names for names, _ in _steps_templates(orders))


def test_rollouts_ask_the_judge_with_both_versions_hashes(judged: dict[str, list[dict[str, Any]]]) -> None:
    for path, docs in judged.items():
        if not path.startswith("kubernetes/base/services/") or not any(d["kind"] == "Rollout" for d in docs):
            continue
        steps = _steps_templates(docs)
        if not steps:
            continue  # static files and rolling updates have no analysis
        service = next(d for d in docs if d["kind"] == "Rollout")["metadata"]["name"]
        for names, args in steps:
            assert f"{service}-judge" in names and f"{service}-analysis" not in names, path
            by_name = {a["name"]: a.get("valueFrom") for a in args}
            # utils/analysis/factory.go (v1.9.1): podTemplateHashValue Latest = new RS, Stable = stable RS
            assert by_name["canary-hash"] == {"podTemplateHashValue": "Latest"}
            assert by_name["stable-hash"] == {"podTemplateHashValue": "Stable"}
            assert by_name["namespace"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
        kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
        assert ("AnalysisTemplate", f"{service}-analysis") in kinds  # the threshold template stays available


def test_the_judge_template_maps_verdicts_to_argo_phases(judged: dict[str, list[dict[str, Any]]]) -> None:
    orders = judged["kubernetes/base/services/orders-api.yaml"]
    template = next(d for d in orders if d["metadata"]["name"] == "orders-api-judge")
    metric = template["spec"]["metrics"][0]
    web = metric["provider"]["web"]
    assert web["method"] == "POST" and web["jsonPath"] == "{$.verdict}"
    assert web["url"] == "http://critterops-judge.{{args.namespace}}.svc:8080/v1/argo"
    assert web["jsonBody"] == {
        "namespace": "{{args.namespace}}",
        "canary": "{{args.canary-hash}}",
        "stable": "{{args.stable-hash}}",
        "service": "orders-api",
        "rollout": "orders-api",
    }
    assert metric["successCondition"] == 'result == "pass"' and metric["failureCondition"] == 'result == "fail"'
    # still gathering never exceeds inconclusiveLimit; a pass needs one success; one fail fails
    assert metric["inconclusiveLimit"] == metric["count"] and metric["consecutiveSuccessLimit"] == 1
    assert metric["failureLimit"] == 0 and metric["consecutiveErrorLimit"] == 4
    production = default_policy().environment("production").analysis
    assert (metric["count"] - 1) * production.interval_seconds() >= 1200  # the judge's longest analysis
    assert [a["name"] for a in template["spec"]["args"]] == ["canary-hash", "stable-hash", "namespace"]


def test_the_judge_deployment_is_restricted_and_reachable_only_by_argo(judged: dict[str, list[dict[str, Any]]]) -> None:
    docs = {d["kind"]: d for d in judged["kubernetes/base/critterops-judge.yaml"]}
    assert set(docs) == {"ServiceAccount", "Role", "RoleBinding", "Deployment", "Service"}
    # the only API right: list the namespace's AnalysisRuns (for the asking run's start)
    rule = {"apiGroups": ["argoproj.io"], "resources": ["analysisruns"], "verbs": ["get", "list"]}
    assert docs["Role"]["rules"] == [rule]
    assert docs["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "critterops-judge"}]
    assert docs["RoleBinding"]["roleRef"]["name"] == "critterops-judge"
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "critterops-judge" and pod["automountServiceAccountToken"] is True
    assert docs["ServiceAccount"]["automountServiceAccountToken"] is False  # only the judge's pods mount it
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/acme/pawmart/critterops-exporter:0123456789ab"
    assert container["args"][:2] == ["judge", "serve"]
    assert "--prometheus" in container["args"] and container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"]
    policies = {d["metadata"]["name"]: d for d in judged["kubernetes/base/network-policies.yaml"]}
    spec = policies["critterops-judge"]["spec"]
    source = spec["ingress"][0]["from"][0]
    assert source["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "argo-rollouts"}
    assert source["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "argo-rollouts"}
    assert spec["egress"][0]["ports"] == [{"protocol": "TCP", "port": 9090}]
    assert (
        "critterops-judge.yaml"
        in yaml.safe_load(kubernetes_files_text(judged)["kubernetes/base/kustomization.yaml"])["resources"]
    )


def kubernetes_files_text(kit: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    return {path: yaml.safe_dump_all(docs) for path, docs in kit.items()}


def test_the_policy_makes_the_judge_the_default_and_the_option_overrides_it(tmp_path: Path) -> None:
    policy = parse_policy("version: 1\ndefaults: {judge: critterops}\n", "critterops.yaml")
    assert policy.judge == "critterops" and default_policy().judge == "threshold"

    def generate(*extra: str) -> set[str]:
        out = tmp_path / "-".join(extra or ("policy",))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "critterops",
                "generate",
                str(repo),
                "--out",
                str(out),
                "--only",
                "kubernetes",
                "--tag",
                "abc123",
                "--registry",
                "ghcr.io/acme/shop",
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return {p.name for p in (out / "kubernetes" / "base").iterdir()}

    repo = tmp_path / "repo"
    shutil.copytree(example_path(), repo)
    (repo / "critterops.yaml").write_text("version: 1\ndefaults: {judge: critterops}\n")
    assert "critterops-judge.yaml" in generate()
    assert "critterops-judge.yaml" not in generate("--judge", "threshold")
    (repo / "critterops.yaml").write_text("version: 1\ndefaults: {judge: kayenta}\n")
    bad = subprocess.run(
        [sys.executable, "-m", "critterops", "generate", str(repo), "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert bad.returncode == 2 and "defaults.judge" in bad.stderr and "threshold, critterops" in bad.stderr
