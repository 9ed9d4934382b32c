"""The critterops judge decides Argo's analyses: the kit with ``--judge critterops`` under the real controller.

``critterops judge serve`` runs as a real process on loopback, reading the lab's Prometheus, which scrapes
the kit's collector, which receives the stand-ins' OTLP (the real path from a pod to Prometheus). The
production overlay goes into a fresh namespace; the only changes are the lab's (``kits.for_lab``: 3 s
pauses, analyses every 2 s after 20 s) and the judge's address in the ``web`` metrics (the controller runs
on this machine, so it reaches 127.0.0.1). The decisions are Argo's: an aborted Rollout, a promoted one, a
paused one, and AnalysisRun phases.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from critterops.cli import main
from critterops.rollout.local.processes import free_port

from .cluster import dump, get, kubectl, wait_for
from .kits import for_lab, into_namespace, render
from .telemetry import PodStandins, restore_lab_observability, use_kit_observability
from .test_rollouts import healthy, lab_prometheus, new_image, rollout

SERVICE = "payments-api"
STEP_S = 2.0  # the judge's look: the lab's scrape interval
SETTLE_S = 4.0  # the collector's export and Prometheus' scrape behind a look
# the lab's clock runs 30 times faster (kits.for_lab: analyses every 2 s where the kit says 1m): the judge's
# own durations are scaled alike, nothing else (its error-rate and latency limits are its defaults)
FAST_JUDGE = '{"latency_block_s": 2, "max_duration_s": 40}'


@dataclass
class Judge:
    port: int
    prometheus: str
    proc: subprocess.Popen[bytes] | None = None
    kube: list[str] | None = None  # --kube-api ... flags: the asking AnalysisRun's start from the API
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Judge:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "critterops",
                "judge",
                "serve",
                "--prometheus",
                self.prometheus,
                "--port",
                str(self.port),
                "--step",
                str(STEP_S),
                "--settle",
                str(SETTLE_S),
                "--judge-settings",
                FAST_JUDGE,
                *(self.kube or ["--kube-api", "none"]),
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab") if self.log else subprocess.DEVNULL,
        )
        wait_for("the judge answers /healthz", lambda: self.ask("/healthz")[0] == 200, timeout=20)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def ask(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())
        except OSError:
            return 0, {}


@pytest.fixture(scope="module")
def judged_kit(lab: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example's kit with ``--judge critterops``, its collector and production scrape jobs in the lab."""
    out = tmp_path_factory.mktemp("judged-kit")
    args = ["generate", "--example", "--out", str(out), "--only", "kubernetes,observability", "--judge", "critterops"]
    assert main(args) == 0
    use_kit_observability(out, lab, "production")
    yield out
    restore_lab_observability(lab)


@pytest.fixture
def judge(lab: ModuleType, tmp_path: Path) -> Iterator[Judge]:
    """A judge on a port of its own; ``canary`` starts it once the kit (and its ServiceAccount) is applied."""
    served = Judge(free_port(), lab_prometheus(lab))
    served.kube = [str(tmp_path / "token")]  # filled in by with_kit_token
    served.log = tmp_path / "judge.log"
    yield served
    served.stop()


def with_kit_token(lab: ModuleType, ns: str, judge: Judge) -> None:
    """Start ``judge`` with a token of the kit's ``critterops-judge`` ServiceAccount (TokenRequest): its Role
    is all it may use, exactly as in a cluster."""
    assert judge.kube is not None
    token_file = Path(judge.kube[0])
    code, body = lab.api(
        "POST",
        f"/api/v1/namespaces/{ns}/serviceaccounts/critterops-judge/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    assert code == 201, body
    token_file.write_text(str(body["status"]["token"]))
    judge.kube = [
        "--kube-api",
        f"https://{lab.HOST}:{lab.PORTS['apiserver']}",
        "--kube-token-file",
        str(token_file),
        "--kube-ca-file",
        str(lab.STATE / "pki" / "ca.crt"),
    ]
    judge.start()


def pointed_at(docs: list[dict[str, Any]], judge_url: str) -> list[dict[str, Any]]:
    """The ``web`` metrics ask the judge on loopback instead of ``critterops-judge.<ns>.svc``."""
    out = []
    for doc in docs:
        doc = copy.deepcopy(doc)
        if doc["kind"] == "AnalysisTemplate":
            for metric in doc["spec"]["metrics"]:
                web = metric.get("provider", {}).get("web")
                if web:
                    assert web["url"].endswith("/v1/argo"), web
                    web["url"] = f"{judge_url}/v1/argo"
        out.append(doc)
    return out


def subjects_in(docs: list[dict[str, Any]], ns: str) -> list[dict[str, Any]]:
    """RoleBinding subjects follow the objects into the test's namespace, as kustomize's ``namespace:`` does."""
    for doc in docs:
        for subject in doc.get("subjects", []) if doc["kind"] == "RoleBinding" else []:
            if subject.get("kind") == "ServiceAccount":
                subject["namespace"] = ns
    return docs


def deploy(lab: ModuleType, kit: Path, ns: str, judge_url: str) -> None:
    docs = subjects_in(
        into_namespace(pointed_at(for_lab(render(kit, "production"), lab_prometheus(lab), fast=True), judge_url), ns),
        ns,
    )
    assert any(d["kind"] == "Deployment" and d["metadata"]["name"] == "critterops-judge" for d in docs)
    kubectl(lab, "apply", "--server-side", "-f", "-", stdin=dump(docs))
    wait_for(f"{SERVICE} Healthy", lambda: healthy(lab, ns, SERVICE), timeout=90)


def outcome(lab: ModuleType, ns: str, first_stable: str) -> str | None:
    status = rollout(lab, ns, SERVICE).get("status", {})
    if status.get("abort"):
        return "aborted"
    if status.get("phase") == "Healthy" and status.get("stableRS") not in (None, first_stable):
        return "promoted"
    if status.get("phase") == "Paused" and any(
        c.get("reason") == "InconclusiveAnalysisRun" for c in status.get("pauseConditions") or []
    ):
        return "paused-inconclusive"
    return None


def runs(lab: ModuleType, ns: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/analysisruns")["items"]
    return sorted(items, key=lambda r: r["metadata"]["creationTimestamp"])


def story(lab: ModuleType, ns: str) -> str:
    return json.dumps(
        [
            {
                "run": r["metadata"]["name"],
                "phase": r.get("status", {}).get("phase"),
                "metrics": [
                    (
                        m["name"],
                        m["phase"],
                        [(x["phase"], x.get("value"), x.get("message")) for x in m.get("measurements", [])][-3:],
                    )
                    for m in r.get("status", {}).get("metricResults", [])
                ],
            }
            for r in runs(lab, ns)
        ],
        indent=1,
    )


def canary(
    lab: ModuleType,
    kit: Path,
    ns: str,
    judge: Judge,
    flags: list[str] | None,
    timeout: float,
    then: Callable[[str, str], None] | None = None,
) -> str:
    """Deploy, start a canary whose stand-ins run with ``flags`` (None: silent); Argo's outcome.
    ``then(stable hash, canary hash)`` runs once decided, while the stand-ins still run."""
    tag = uuid.uuid4().hex[:12]
    with PodStandins(lab, ns, {tag: flags}):
        deploy(lab, kit, ns, judge.url)
        if judge.proc is None:
            with_kit_token(lab, ns, judge)
        first = rollout(lab, ns, SERVICE)["status"]["stableRS"]
        new_image(lab, ns, SERVICE, tag)
        try:
            result = wait_for("Argo's outcome", lambda: outcome(lab, ns, first), timeout=timeout, every=1)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{story(lab, ns)}") from error
        if then is not None:
            status = rollout(lab, ns, SERVICE)["status"]
            then(first, status.get("currentPodHash") or "")
        return str(result)


def verdict(measurement: dict[str, Any]) -> str:
    """The measured verdict: the web provider stores the jsonPath match JSON-encoded (webmetric.go:147-153)."""
    return str(json.loads(measurement["value"]))


def judge_metric(run: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in run["status"].get("metricResults", []) if m["name"] == "critterops-judge")


def test_a_bad_canary_is_aborted_on_the_judge_fail(
    lab: ModuleType, judged_kit: Path, judge: Judge, namespace: Callable[[str], str]
) -> None:
    ns = namespace("judge-bad")
    assert canary(lab, judged_kit, ns, judge, ["--errors", "0.3"], timeout=150) == "aborted", story(lab, ns)
    failed = [r for r in runs(lab, ns) if r["status"]["phase"] == "Failed"]
    assert failed, story(lab, ns)
    last = judge_metric(failed[0])["measurements"][-1]
    assert last["phase"] == "Failed" and verdict(last) == "fail"


def test_a_good_canary_is_promoted_on_the_judge_proof_and_a_restarted_judge_answers_the_same(
    lab: ModuleType, judged_kit: Path, judge: Judge, namespace: Callable[[str], str]
) -> None:
    ns = namespace("judge-good")
    answers: list[tuple[int, dict[str, Any]]] = []

    def restart_and_ask(stable: str, canary_hash: str) -> None:
        # "at": the same moment for both asks, after Argo's last measurement (the verdict it promoted on)
        call = {
            "namespace": ns,
            "canary": canary_hash,
            "stable": stable,
            "service": SERVICE,
            "at": str(time.time()),
        }
        answers.append(judge.ask("/v1/argo", call))
        judge.stop()
        judge.start()
        answers.append(judge.ask("/v1/argo", call))

    assert canary(lab, judged_kit, ns, judge, ["--rps", "100"], timeout=300, then=restart_and_ask) == "promoted", story(
        lab, ns
    )
    steps = runs(lab, ns)
    assert len(steps) == 2 and all(r["status"]["phase"] == "Successful" for r in steps), story(lab, ns)
    for run in steps:  # each step judged on the data since its own run started: gathering first, then the proof
        measured = [verdict(m) for m in judge_metric(run)["measurements"]]
        assert measured[0] == "continue" and measured[-1] == "pass" and set(measured) == {"continue", "pass"}
    assert answers[0][0] == 200 and answers[0] == answers[1], answers
    assert answers[0][1]["verdict"] == "pass" and answers[0][1]["looks"] > 0, (answers[0], story(lab, ns))
    assert answers[0][1]["start_from"] == f"analysis run {steps[-1]['metadata']['name']}"


def test_an_undecided_canary_pauses_inconclusive(
    lab: ModuleType, judged_kit: Path, judge: Judge, namespace: Callable[[str], str]
) -> None:
    ns = namespace("judge-silent")
    assert canary(lab, judged_kit, ns, judge, None, timeout=150) == "paused-inconclusive", story(lab, ns)
    run = runs(lab, ns)[0]
    assert run["status"]["phase"] == "Inconclusive"
    values = {verdict(m) for m in judge_metric(run)["measurements"]}
    # still gathering, then (after max_duration_s) the judge's own inconclusive: neither promoted nor aborted
    assert values <= {"continue", "inconclusive"} and "continue" in values


def test_without_prometheus_the_judge_errors_and_nothing_is_promoted(
    lab: ModuleType, judged_kit: Path, namespace: Callable[[str], str]
) -> None:
    ns = namespace("judge-noprom")
    blind = Judge(free_port(), f"http://127.0.0.1:{free_port()}").start()  # its Prometheus is not there
    try:
        result = canary(lab, judged_kit, ns, blind, [], timeout=150)
    finally:
        blind.stop()
    assert result == "aborted", story(lab, ns)
    run = runs(lab, ns)[0]
    assert run["status"]["phase"] == "Error", story(lab, ns)
    measurements = judge_metric(run)["measurements"]
    assert len(measurements) == 5 and all(m["phase"] == "Error" for m in measurements)  # consecutiveErrorLimit 4
    assert "503" in measurements[-1]["message"]
