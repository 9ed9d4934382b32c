"""Issue 15 on Kubernetes: the kit's consumer Rollouts under the real Argo controller, judged on handler metrics
that each version's pods send through the kit's collector to Prometheus.

The consumer is the example's fulfillment-worker (no HTTP; it listens on fulfillment-requests). Only its own
objects go into a fresh namespace (the production overlay, with the lab's Prometheus, 3 s pauses and 2 s
analysis intervals: ``kits.for_lab``), and each Ready pod gets a telemetry stand-in emitting Wolverine's
instruments for its version. A pod whose container reads ``CRITTEROPS_ROLE_FILE`` gets the file, written from its
``critterops.dev/role`` label as read through the API (KWOK runs no kubelet): while it reads ``preview`` the
stand-in holds its listeners and records no message.

- canary by replica ratio: at each setWeight the canary and stable pod counts are
  ``critterops.plan.consumers.replica_split``; a good canary is promoted, one failing 30 % of its handlers or
  handling them slowly is aborted by Argo on the handler analysis;
- blue/green of a consumer whose preview holds its listeners (from the plan's ``consumers`` object): the
  preview's pods carry role=preview from their creation and consume nothing, the pre-promotion "consumed nothing"
  analysis passes on that, after promotion the pods are role=active and the new version's handlers report; a
  preview that ignores its role consumes, and Argo aborts it on the same analysis;
- why the kit writes no post-promotion analysis for such a consumer: given one, Argo keeps the preview label on
  the new pods until it has succeeded, so they hold their listeners while judged and it ends Inconclusive.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from critterops.cli import main
from critterops.plan import consumers as contract

from .cluster import dump, get, kubectl, wait_for
from .kits import for_lab, into_namespace, render
from .telemetry import PodStandins, query
from .test_rollouts import analysis_runs, healthy, lab_prometheus, new_image, outcome, promote, rollout

WORKER = "fulfillment-worker"
SUCCEEDED = "wolverine_messages_succeeded_Messages_total"


@pytest.fixture(scope="module")
def canary_kit(observed_kit: Path) -> Path:
    """The example's kit: fulfillment-worker ships as a canary by replica ratio (its Program.cs holds nothing)."""
    return observed_kit


@pytest.fixture(scope="module")
def held_kit(observed_kit: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's kit made with a plan for production that ships fulfillment-worker blue/green with its preview
    held (the plan's ``consumers`` object, critterops.plan/v2). The observability of ``observed_kit`` (same
    system) stays in place."""
    folder = tmp_path_factory.mktemp("held-kit")
    plan = {
        "schema": "critterops.plan/v2",
        "environment": "production",
        "services": [
            {
                "service": WORKER,
                "strategy": "blue-green",
                "traffic": "messages",
                "consumers": {"share": "replica-ratio", "preview": "held", "drain_timeout_s": 60},
                "why": ["lab: a consumer whose preview holds its listeners"],
            }
        ],
    }
    (folder / "plan.json").write_text(json.dumps(plan))
    out = folder / "kit"
    args = ["generate", "--example", "--out", str(out), "--only", "kubernetes", "--plan", str(folder / "plan.json")]
    assert main(args) == 0
    return out


def tag() -> str:
    return uuid.uuid4().hex[:12]  # a fresh pod-template hash per test: no series of another test matches


def worker_docs(lab: ModuleType, kit: Path, ns: str) -> list[dict[str, Any]]:
    """The worker's own objects of the production overlay (the other services would only add stand-ins)."""
    docs = into_namespace(for_lab(render(kit, "production"), lab_prometheus(lab), fast=True), ns)
    docs = [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/name") == WORKER]
    assert {d["kind"] for d in docs} >= {"Rollout", "AnalysisTemplate", "ServiceAccount", "ConfigMap"}
    return docs


def deploy_worker(
    lab: ModuleType, kit: Path, ns: str, docs: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    docs = docs or worker_docs(lab, kit, ns)
    kubectl(lab, "apply", "--server-side", "-f", "-", stdin=dump(docs))
    wait_for(f"{WORKER} Healthy", lambda: healthy(lab, ns, WORKER), timeout=90)
    return docs


def pods(lab: ModuleType, ns: str) -> list[dict[str, Any]]:
    items = get(lab, f"/api/v1/namespaces/{ns}/pods?labelSelector=app.kubernetes.io/name={WORKER}")["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


def by_hash(lab: ModuleType, ns: str) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in pods(lab, ns):
        out.setdefault(pod["metadata"]["labels"].get("rollouts-pod-template-hash", ""), []).append(pod)
    return out


def roles(pod_list: list[dict[str, Any]]) -> set[str]:
    return {p["metadata"]["labels"].get(contract.ROLE_LABEL, "") for p in pod_list}


def metric_phases(lab: ModuleType, ns: str) -> dict[str, set[str]]:
    phases: dict[str, set[str]] = {}
    for run in analysis_runs(lab, ns):
        for result in run.get("status", {}).get("metricResults", []):
            phases.setdefault(result["name"], set()).add(result["phase"])
    return phases


def series(lab: ModuleType, metric: str, ns: str, version: str) -> float:
    """The sum of a version's counter in the namespace (0 when it has no series)."""
    found = query(lab, f'sum({metric}{{job="{WORKER}",k8s_namespace_name="{ns}",service_version="{version}"}})')
    return float(found[0]["value"][1]) if found else 0.0


def run_canary(
    lab: ModuleType, kit: Path, ns: str, flags: list[str], watch: Callable[[], None] | None = None
) -> str | None:
    """Deploy the worker, start a canary whose stand-ins run with ``flags``; its outcome (``watch`` is called
    about twice a second meanwhile)."""
    new = tag()
    with PodStandins(lab, ns, {new: flags}):
        deploy_worker(lab, kit, ns)
        first = rollout(lab, ns, WORKER)["status"]["stableRS"]
        new_image(lab, ns, WORKER, new)

        def done() -> str | None:
            if watch is not None:
                watch()
            return outcome(lab, ns, WORKER, first)

        try:
            return str(wait_for("the canary promoted or aborted", done, timeout=170))
        except AssertionError:
            return None


def test_consumer_canary_follows_argos_replica_ratio_and_is_promoted(
    lab: ModuleType, canary_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("consumer-canary")
    seen: dict[int, tuple[int, int]] = {}  # step index -> (canary, stable) pods seen last at that step

    def watch() -> None:
        status = rollout(lab, ns, WORKER).get("status", {})
        step, canary, stable = status.get("currentStepIndex"), status.get("currentPodHash"), status.get("stableRS")
        if step is None or canary == stable:
            return
        hashes = by_hash(lab, ns)
        seen[int(step)] = (len(hashes.get(canary, [])), len(hashes.get(stable, [])))

    assert run_canary(lab, canary_kit, ns, [], watch) == "promoted"
    spec = rollout(lab, ns, WORKER)["spec"]
    replicas, steps = spec["replicas"], spec["strategy"]["canary"]["steps"]
    surge = math.ceil(replicas * int(spec["strategy"]["canary"]["maxSurge"].rstrip("%")) / 100)  # Argo rounds up
    checked = []
    for index, step in enumerate(steps):
        if "setWeight" not in step:
            continue
        weight = step["setWeight"]
        # the analysis after the pause: Argo moved past setWeight only once the ReplicaSets were at their counts
        analysis = next(i for i in range(index, len(steps)) if "analysis" in steps[i])
        expected = contract.replica_split(weight, replicas, surge)
        assert seen.get(analysis) == expected, (
            f"weight {weight}: pods (canary, stable) {seen.get(analysis)} != {expected}"
        )
        checked.append((weight, expected))
    assert [w for w, _ in checked] == [10, 50], checked
    runs = analysis_runs(lab, ns)
    assert runs and all(r["status"]["phase"] == "Successful" for r in runs), [r["status"]["phase"] for r in runs]
    assert set(metric_phases(lab, ns)) == {"handler-failure-rate", "dead-letters", "handler-latency-p95-ms"}


def test_consumer_canary_failing_30_percent_of_its_handlers_is_aborted(
    lab: ModuleType, canary_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("consumer-failing")
    assert run_canary(lab, canary_kit, ns, ["--handler-failures", "0.3"]) == "aborted"
    assert "Failed" in metric_phases(lab, ns)["handler-failure-rate"]


def test_consumer_canary_handling_slowly_is_aborted(
    lab: ModuleType, canary_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("consumer-slow")
    # a typical 2.5 s handling time: p95 far over the policy's limit, no handler failing
    assert run_canary(lab, canary_kit, ns, ["--handler-latency", "2500"]) == "aborted"
    phases = metric_phases(lab, ns)
    assert "Failed" in phases["handler-latency-p95-ms"] and "Failed" not in phases["handler-failure-rate"]


def start_blue_green(lab: ModuleType, kit: Path, ns: str) -> tuple[str, str]:
    """Deploy the held consumer, check its first pods are active and consume, start a new version: (old, new)."""
    docs = deploy_worker(lab, kit, ns)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Service", f"{WORKER}-preview") in kinds and ("AnalysisTemplate", f"{WORKER}-preview-idle") in kinds
    old = rollout(lab, ns, WORKER)["status"]["stableRS"]
    # the first version is active from its creation (Argo's activeMetadata) and consumes
    assert roles(by_hash(lab, ns)[old]) == {contract.ACTIVE}
    wait_for("the active version consumes", lambda: series(lab, SUCCEEDED, ns, old) > 0, timeout=40)
    new = tag()
    new_image(lab, ns, WORKER, new)
    new_hash = wait_for(
        "the preview ReplicaSet",
        lambda: (h := rollout(lab, ns, WORKER).get("status", {}).get("currentPodHash")) != old and h,
        timeout=30,
    )
    return old, str(new_hash)


def test_consumer_blue_green_preview_consumes_nothing_until_promoted(
    lab: ModuleType, held_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("consumer-bg")
    with PodStandins(lab, ns, {}, default=[]):
        old, new = start_blue_green(lab, held_kit, ns)
        replicas = rollout(lab, ns, WORKER)["spec"]["replicas"]
        preview = wait_for("the preview's pods", lambda: len(p := by_hash(lab, ns).get(new, [])) == replicas and p)
        assert roles(preview) == {contract.PREVIEW}  # labelled preview from their creation
        assert roles(by_hash(lab, ns)[old]) == {contract.ACTIVE}

        def pre_promotion() -> dict[str, Any] | None:
            runs = [r for r in analysis_runs(lab, ns) if r["metadata"]["labels"].get("rollout-type") == "PrePromotion"]
            return next(
                (r for r in runs if r.get("status", {}).get("phase") in ("Successful", "Failed", "Error")), None
            )

        run = wait_for("the pre-promotion analysis", pre_promotion, timeout=90)
        assert run["status"]["phase"] == "Successful", run["status"]
        (result,) = run["status"]["metricResults"]
        assert result["name"] == "preview-consumed-nothing"
        values = {m.get("value") for m in result["measurements"] if m["phase"] == "Successful"}
        assert values == {"[0]"}, result["measurements"]
        # what it judged: the preview sent telemetry (its gauges) but no message instrument
        assert query(lab, f'count({{job="{WORKER}",k8s_namespace_name="{ns}",service_version="{new}"}})')
        for counter in (SUCCEEDED, "wolverine_messages_received_Messages_total"):
            assert not query(lab, f'{counter}{{k8s_namespace_name="{ns}",service_version="{new}"}}'), counter
        # production asks a person for a blue/green (approval high-risk): paused, preview still held
        wait_for("the pause for promotion", lambda: rollout(lab, ns, WORKER)["status"].get("pauseConditions"))
        assert roles(by_hash(lab, ns)[new]) == {contract.PREVIEW}
        promote(lab, ns, WORKER)
        wait_for("promoted", lambda: outcome(lab, ns, WORKER, old) == "promoted", timeout=60)
        # Argo moved activeMetadata to the new pods; the old ones lost the label while they wait to scale down
        wait_for("the new pods active", lambda: roles(by_hash(lab, ns).get(new, [])) == {contract.ACTIVE}, timeout=30)
        started = time.monotonic()
        wait_for("the new version consumes", lambda: series(lab, SUCCEEDED, ns, new) > 0, timeout=40)
        print(f"new version's first handled messages in Prometheus {time.monotonic() - started:.1f} s after the switch")
    assert "postPromotionAnalysis" not in rollout(lab, ns, WORKER)["spec"]["strategy"]["blueGreen"]


def test_consumer_blue_green_preview_that_consumes_is_aborted_by_argo(
    lab: ModuleType, held_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("consumer-bg-leak")
    new_tag = tag()
    # the new image ignores its role: it consumes as a preview (an empty role file reads as "not preview")
    with PodStandins(lab, ns, {new_tag: ["--role-file", ""]}, default=[]):
        deploy_worker(lab, held_kit, ns)
        old = rollout(lab, ns, WORKER)["status"]["stableRS"]
        new_image(lab, ns, WORKER, new_tag)
        assert wait_for("aborted", lambda: outcome(lab, ns, WORKER, old), timeout=90) == "aborted"
    assert metric_phases(lab, ns)["preview-consumed-nothing"] == {"Failed"}
    status = rollout(lab, ns, WORKER)["status"]
    assert status["stableRS"] == old and status["blueGreen"]["activeSelector"] == old


def test_argo_keeps_the_preview_label_through_a_post_promotion_analysis(
    lab: ModuleType, held_kit: Path, namespace: Callable[[str], str]
) -> None:
    """Why the kit writes no post-promotion analysis for a held consumer: with one, Argo switches the active
    Service at promotion but keeps previewMetadata on the new pods until the analysis has succeeded (stableRS moves
    only then: rollout/sync.go:991-1000, ephemeralmetadata.go:41-52 at v1.9.1), so the new version still holds its
    listeners while it is judged; a handler analysis there has no data and cannot succeed."""
    ns = namespace("consumer-bg-post")
    docs = worker_docs(lab, held_kit, ns)
    ro = next(d for d in docs if d["kind"] == "Rollout")
    blue = ro["spec"]["strategy"]["blueGreen"]
    # the worker's handler analysis (the canary's), with the same arguments as the pre-promotion one
    blue["postPromotionAnalysis"] = {
        **blue["prePromotionAnalysis"],
        "templates": [{"templateName": f"{WORKER}-analysis"}],
    }
    with PodStandins(lab, ns, {}, default=[]):
        deploy_worker(lab, held_kit, ns, docs)
        old = rollout(lab, ns, WORKER)["status"]["stableRS"]
        new_image(lab, ns, WORKER, tag())
        wait_for(
            "the pause for promotion", lambda: rollout(lab, ns, WORKER)["status"].get("pauseConditions"), timeout=90
        )
        new = rollout(lab, ns, WORKER)["status"]["currentPodHash"]
        promote(lab, ns, WORKER)

        def post_promotion() -> dict[str, Any] | None:
            runs = [r for r in analysis_runs(lab, ns) if r["metadata"]["labels"].get("rollout-type") == "PostPromotion"]
            return runs[0] if runs else None

        wait_for("the post-promotion analysis", post_promotion, timeout=30)
        status = rollout(lab, ns, WORKER)["status"]
        assert status["blueGreen"]["activeSelector"] == new and status["stableRS"] == old  # switched, not stable
        held_while_judged = []

        def ended() -> str | None:
            held_while_judged.append(roles(by_hash(lab, ns).get(new, [])))
            phase = (post_promotion() or {}).get("status", {}).get("phase")
            return phase if phase in ("Successful", "Failed", "Error", "Inconclusive") else None

        phase = wait_for("the post-promotion analysis to end", ended, timeout=90)
        assert phase == "Inconclusive"  # the new version handled nothing: no measurement had data
        assert held_while_judged and all(r == {contract.PREVIEW} for r in held_while_judged), held_while_judged
        assert series(lab, SUCCEEDED, ns, new) == 0
        assert rollout(lab, ns, WORKER)["status"]["stableRS"] == old
