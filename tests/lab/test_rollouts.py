"""Proofs 2 and 3: the kit's Rollouts run under the real Argo controller, and callers' traffic reaches the canary.

The production overlay of the bundled example goes into a fresh namespace; pauses are 3 s and analyses
run every 2 s against the lab's Prometheus (``kits.for_lab``), everything else is the kit's own. A new
image then starts a canary (payments-api) and a blue/green (orders-api); everything is observed through
the API: ``status.phase``, ``status.currentStepIndex``, ReplicaSets, Service selectors and Endpoints.

Traffic: the pods a caller reaches are the ready addresses of the Endpoints of the Service that the
callers' configuration names (``http://payments-api``). A canary whose pods no caller can reach at a
weight above zero is a failing proof.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from .cluster import dump, get, kubectl, wait_for
from .kits import for_lab, into_namespace, render
from .telemetry import PodStandins

ROLLOUTS = "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts"


@pytest.fixture(scope="module")
def example_kit(observed_kit: Path) -> Path:
    return observed_kit


def rollout(lab: ModuleType, ns: str, name: str) -> dict[str, Any]:
    return get(lab, f"{ROLLOUTS.format(ns=ns)}/{name}")


def outcome(lab: ModuleType, ns: str, service: str, first_stable: str) -> str | None:
    """``aborted``, ``promoted`` (healthy on a stable ReplicaSet other than ``first_stable``), or None yet."""
    status = rollout(lab, ns, service).get("status", {})
    if status.get("abort"):
        return "aborted"
    if status.get("phase") == "Healthy" and status.get("stableRS") not in (None, first_stable):
        return "promoted"
    return None


def analysis_runs(lab: ModuleType, ns: str) -> list[dict[str, Any]]:
    return get(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/analysisruns")["items"]


def healthy(lab: ModuleType, ns: str, name: str) -> bool:
    ro = rollout(lab, ns, name)
    status = ro.get("status", {})
    return bool(
        status.get("phase") == "Healthy" and status.get("observedGeneration") == str(ro["metadata"]["generation"])
    )


def deploy(lab: ModuleType, kit: Path, ns: str, names: tuple[str, ...]) -> list[dict[str, Any]]:
    docs = into_namespace(for_lab(render(kit, "production"), lab_prometheus(lab), fast=True), ns)
    kubectl(lab, "apply", "--server-side", "-f", "-", stdin=dump(docs))
    for name in names:
        wait_for(f"{name} Healthy", lambda n=name: healthy(lab, ns, n), timeout=90)  # type: ignore[misc]
    return docs


def lab_prometheus(lab: ModuleType) -> str:
    return f"http://{lab.HOST}:{lab.PORTS['prometheus']}"


def new_image(lab: ModuleType, ns: str, name: str, tag: str) -> None:
    """A new version: the image tag changes (a JSON patch: a merge patch would replace the whole container list,
    custom resources have no strategic merge)."""
    ro = rollout(lab, ns, name)
    image = ro["spec"]["template"]["spec"]["containers"][0]["image"].rsplit(":", 1)[0] + ":" + tag
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": image}]
    kubectl(lab, "-n", ns, "patch", "rollout", name, "--type=json", "-p", json.dumps(patch))


def promote(lab: ModuleType, ns: str, name: str) -> None:
    """What `kubectl argo rollouts promote` does (pkg/kubectl-argo-rollouts/cmd/promote/promote.go:35-36, 118-130
    at v1.9.1): clear the pause conditions through the status subresource, then unpause the spec."""
    kubectl(
        lab,
        "-n",
        ns,
        "patch",
        "rollout",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"pauseConditions":null}}',
    )
    kubectl(lab, "-n", ns, "patch", "rollout", name, "--type=merge", "-p", '{"spec":{"paused":false}}')


def caller_pods(lab: ModuleType, ns: str, service: str) -> list[str]:
    """Names of the pods behind the ready addresses of a Service's Endpoints."""
    code, endpoints = lab.api("GET", f"/api/v1/namespaces/{ns}/endpoints/{service}")
    if code != 200:
        return []
    return sorted(a["targetRef"]["name"] for s in endpoints.get("subsets") or [] for a in s.get("addresses") or [])


def pods_by_hash(lab: ModuleType, ns: str, name: str) -> dict[str, str]:
    pods = get(lab, f"/api/v1/namespaces/{ns}/pods?labelSelector=app.kubernetes.io/name={name}")["items"]
    return {
        p["metadata"]["name"]: p["metadata"]["labels"].get("rollouts-pod-template-hash", "")
        for p in pods
        if not p["metadata"].get("deletionTimestamp")
    }


def observe(lab: ModuleType, ns: str, name: str, services: list[str]) -> dict[str, Any]:
    ro = rollout(lab, ns, name)
    status = ro.get("status", {})
    hashes = pods_by_hash(lab, ns, name)
    return {
        "step": status.get("currentStepIndex"),
        "phase": status.get("phase"),
        "stable": status.get("stableRS"),
        "canary": status.get("currentPodHash"),
        "selectors": {
            s: get(lab, f"/api/v1/namespaces/{ns}/services/{s}")["spec"]["selector"].get("rollouts-pod-template-hash")
            for s in services
        },
        "reached": {s: sorted(hashes.get(p, "?") for p in caller_pods(lab, ns, s)) for s in services},
    }


def test_canary_walks_its_steps_and_is_promoted(
    lab: ModuleType, example_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("canary")
    with PodStandins(lab, ns, {}):
        _walk(lab, example_kit, ns)


def _walk(lab: ModuleType, example_kit: Path, ns: str) -> None:
    docs = deploy(lab, example_kit, ns, ("payments-api",))
    spec = next(d for d in docs if d["kind"] == "Rollout" and d["metadata"]["name"] == "payments-api")
    steps = spec["spec"]["strategy"]["canary"]["steps"]
    first = rollout(lab, ns, "payments-api")["status"]["stableRS"]
    new_image(lab, ns, "payments-api", "feedfacecafe")
    seen_steps: set[int] = set()

    def finished() -> bool:
        status = rollout(lab, ns, "payments-api").get("status", {})
        if status.get("currentStepIndex") is not None:
            seen_steps.add(int(status["currentStepIndex"]))
        return bool(status.get("phase") == "Healthy" and status.get("stableRS") not in (None, first))

    wait_for("payments-api promoted to the new version", finished, timeout=180, every=0.3)
    assert seen_steps >= {1, len(steps)}, f"steps seen {sorted(seen_steps)} of {len(steps)}"
    runs = analysis_runs(lab, ns)
    assert runs, "the analysis steps created no AnalysisRun"


def test_callers_reach_the_canary_in_proportion_to_its_weight(
    lab: ModuleType, example_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("traffic")
    with PodStandins(lab, ns, {}):
        _traffic(lab, example_kit, ns)


def _traffic(lab: ModuleType, example_kit: Path, ns: str) -> None:
    docs = deploy(lab, example_kit, ns, ("payments-api",))
    spec = next(d for d in docs if d["kind"] == "Rollout" and d["metadata"]["name"] == "payments-api")
    services = sorted(
        d["metadata"]["name"]
        for d in docs
        if d["kind"] == "Service" and d["spec"]["selector"].get("app.kubernetes.io/name") == "payments-api"
    )
    new_image(lab, ns, "payments-api", "0ddba11c0ffe")
    # the first pause after a setWeight step: the canary's pods exist and are Ready by then
    wait_for(
        "the first pause",
        lambda: rollout(lab, ns, "payments-api").get("status", {}).get("currentStepIndex") == 1,
        timeout=60,
        every=0.2,
    )
    kubectl(lab, "-n", ns, "patch", "rollout", "payments-api", "--type=merge", "-p", '{"spec":{"paused":true}}')
    canary_hash = rollout(lab, ns, "payments-api")["status"]["currentPodHash"]

    def canary_ready() -> dict[str, Any] | None:
        seen = observe(lab, ns, "payments-api", services)
        return seen if any(canary_hash in pods for pods in seen["reached"].values()) else None

    wait_for("canary pods behind some Service", canary_ready, timeout=30)
    seen = observe(lab, ns, "payments-api", services)
    weight = spec["spec"]["strategy"]["canary"]["steps"][0]["setWeight"]
    callers = seen["reached"]["payments-api"]  # the name in every caller's configuration
    share = callers.count(canary_hash) / max(len(callers), 1)
    assert share > 0, f"at setWeight {weight} no caller of payments-api reaches the canary: {seen}"


def _analysis_story(lab: ModuleType, ns: str, name: str) -> str:
    """What Argo said: the Rollout's phase and message, each AnalysisRun's phase and metric results, the Jobs."""
    status = rollout(lab, ns, name).get("status", {})
    lines = [f"rollout: {status.get('phase')} {status.get('message', '')} pause={status.get('pauseConditions')}"]
    for run in analysis_runs(lab, ns):
        st = run.get("status", {})
        lines.append(f"run {run['metadata']['name']}: {st.get('phase')} {st.get('message', '')}")
        for m in st.get("metricResults", []):
            last = (m.get("measurements") or [{}])[-1]
            lines.append(
                f"  {m['name']}: {m.get('phase')} count={m.get('count')} last={last.get('phase')} "
                f"{last.get('value', '')} {m.get('message', '')}"
            )
    for job in get(lab, f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]:
        lines.append(f"job {job['metadata']['name']}: {job.get('status')}")
    return "\n".join(lines)


def test_blue_green_goes_preview_then_promote(
    lab: ModuleType, example_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("bluegreen")
    with PodStandins(lab, ns, {}):
        _blue_green(lab, example_kit, ns)


def _blue_green(lab: ModuleType, example_kit: Path, ns: str) -> None:
    deploy(lab, example_kit, ns, ("orders-api",))
    before = rollout(lab, ns, "orders-api")["status"]["stableRS"]
    new_image(lab, ns, "orders-api", "b1uegreen001")

    def previewing() -> dict[str, Any] | None:
        seen = observe(lab, ns, "orders-api", ["orders-api", "orders-api-preview"])
        new = seen["canary"]
        ok = (
            new != before
            and seen["selectors"] == {"orders-api": before, "orders-api-preview": new}
            and seen["phase"] == "Paused"
            and seen["reached"]["orders-api-preview"]
            and set(seen["reached"]["orders-api-preview"]) == {new}
            and set(seen["reached"]["orders-api"]) == {before}
        )
        return seen if ok else None

    preview = wait_for(
        "the preview Service on the new version, the active one on the old", previewing, timeout=120, every=0.3
    )
    promote(lab, ns, "orders-api")

    def promoted() -> dict[str, Any] | None:
        seen = observe(lab, ns, "orders-api", ["orders-api", "orders-api-preview"])
        return (
            seen
            if (
                seen["phase"] == "Healthy"
                and seen["stable"] == preview["canary"]
                and set(seen["reached"]["orders-api"]) == {preview["canary"]}
            )
            else None
        )

    try:
        wait_for("the active Service on the new version", promoted, timeout=180, every=0.3)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{_analysis_story(lab, ns, 'orders-api')}") from None

    # who exercised the preview: the pre-promotion analysis ran the smoke-traffic job against it, admitted
    # under restricted Pod Security, next to the Prometheus metrics of the new version
    runs = analysis_runs(lab, ns)
    pre = [r for r in runs if r["metadata"].get("labels", {}).get("rollout-type") == "PrePromotion"]
    assert pre, [r["metadata"]["name"] for r in runs]
    results = {m["name"]: m for m in pre[-1]["status"]["metricResults"]}
    assert results["smoke-traffic"]["phase"] == "Successful", results["smoke-traffic"]
    assert {"http-error-rate", "smoke-traffic"} <= set(results)
    jobs = get(lab, f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]
    smoke = [j for j in jobs if j["metadata"]["labels"].get("app.kubernetes.io/name") == "orders-api-smoke"]
    assert smoke and smoke[0]["status"].get("succeeded") == 1
    container = smoke[0]["spec"]["template"]["spec"]["containers"][0]
    assert "http://orders-api-preview/" in next(e["value"] for e in container["env"] if e["name"] == "URLS")
