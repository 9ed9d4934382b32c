"""Proof 4: the kit's analyses decide on real data that took the real path from a pod to Prometheus.

Each Ready pod of the namespace gets a stand-in process (``standin.py``) that emits the instruments a
real service emits, as OTLP, to the lab's collector running the kit's ``otel-collector.yaml``; the
lab's Prometheus scrapes it with the kit's scrape job for production. The AnalysisRuns are the Argo
controller's own, created from the kit's templates: a bad canary must be aborted by Argo, a good one
promoted, and a canary that sends nothing must never be promoted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from .cluster import get, wait_for
from .telemetry import PodStandins, query
from .test_rollouts import analysis_runs, deploy, new_image, outcome, rollout

SERVICE = "payments-api"


@pytest.fixture(scope="module")
def kit(observed_kit: Path) -> Path:
    return observed_kit


def _eventually(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(1)
    return False


def tag() -> str:
    return uuid.uuid4().hex[:12]  # a fresh pod-template hash per test: no series of another test matches


def run_canary(
    lab: ModuleType,
    kit: Path,
    ns: str,
    flags: list[str] | None,
    timeout: float = 150,
    then: Callable[[], None] | None = None,
) -> str | None:
    """Deploy, then start a canary whose stand-ins run with ``flags`` (None: no stand-in); its outcome.
    ``then`` runs while the stand-ins still do."""
    new = tag()
    with PodStandins(lab, ns, {new: flags}):
        deploy(lab, kit, ns, (SERVICE,))
        first = rollout(lab, ns, SERVICE)["status"]["stableRS"]
        new_image(lab, ns, SERVICE, new)
        try:
            result = wait_for(
                "the canary promoted or aborted", lambda: outcome(lab, ns, SERVICE, first), timeout=timeout
            )
        except AssertionError:
            return None
        if then is not None:
            then()
        return str(result)


def test_good_canary_is_promoted_on_data_it_sent(lab: ModuleType, kit: Path, namespace: Callable[[str], str]) -> None:
    ns = namespace("good")
    seen_sets: list[tuple[set[str], set[str]]] = []

    def one_series_per_pod() -> bool:
        """Every pod of the new version has a series of its own, named by the pod (issue 12.4)."""
        canary = rollout(lab, ns, SERVICE)["status"]["stableRS"]
        pods = get(lab, f"/api/v1/namespaces/{ns}/pods?labelSelector=app.kubernetes.io/name={SERVICE}")["items"]
        names = {
            p["metadata"]["name"]
            for p in pods
            if not p["metadata"].get("deletionTimestamp")
            and p["metadata"]["labels"].get("rollouts-pod-template-hash") == canary
        }
        selector = f'http_server_request_duration_seconds_count{{job="{SERVICE}",service_version="{canary}"}}'
        instances = {s["metric"].get("instance", "") for s in query(lab, selector)}
        seen_sets.append((instances, names))
        return bool(names) and names <= instances and all(i.startswith(f"{SERVICE}-{canary}-") for i in instances)

    def check() -> None:
        assert _eventually(one_series_per_pod, 60), f"series instances vs pods, last: {seen_sets[-1:]}"

    assert run_canary(lab, kit, ns, [], then=check) == "promoted"
    runs = analysis_runs(lab, ns)
    assert runs and all(r["status"]["phase"] == "Successful" for r in runs), [r["status"]["phase"] for r in runs]


def test_canary_answering_5xx_is_aborted_by_argo(lab: ModuleType, kit: Path, namespace: Callable[[str], str]) -> None:
    ns = namespace("bad-http")
    assert run_canary(lab, kit, ns, ["--errors", "0.3"]) == "aborted"
    failed = [
        m["name"]
        for r in analysis_runs(lab, ns)
        for m in r["status"].get("metricResults", [])
        if m["phase"] == "Failed"
    ]
    assert "http-error-rate" in failed


def test_canary_failing_its_handlers_is_aborted_by_argo(
    lab: ModuleType, kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("bad-handlers")
    assert run_canary(lab, kit, ns, ["--handler-failures", "0.3"]) == "aborted"


def test_canary_sending_nothing_is_never_promoted(lab: ModuleType, kit: Path, namespace: Callable[[str], str]) -> None:
    ns = namespace("silent")
    assert run_canary(lab, kit, ns, None, timeout=60) != "promoted"
