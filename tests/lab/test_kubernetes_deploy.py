"""``critterops deploy --backend kubernetes``: the plan executed on the lab's cluster by the real Argo controller.

The bundled example's pull request is planned for staging and its kit generated from the plan
(critterops.lab.demo.prepare); the overlay runs in a fresh namespace on the lab's fast clock, with a
telemetry stand-in per Ready pod, so Argo's analyses decide on data that took the real path. The deploy
runs as users run it: ``python -m critterops deploy --backend kubernetes ...`` in a subprocess.
"""

from __future__ import annotations

import base64
import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from critterops.lab import demo
from critterops.rollout.kubernetes import cluster as cluster_module
from critterops.rollout.kubernetes.engine import RECORD

from .cluster import get, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def example(lab: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> demo.Example:
    return demo.prepare(lab, tmp_path_factory.mktemp("k8s-example"))


def command(kubeconfig: Path, ns: str | None, *args: str) -> list[str]:
    """``critterops deploy --backend kubernetes`` as a user types it (the action may come among ``args``)."""
    where = ["--namespace", ns] if ns else []
    return [
        sys.executable,
        "-m",
        "critterops",
        "deploy",
        "--backend",
        "kubernetes",
        "--kubeconfig",
        str(kubeconfig),
        *where,
        *args,
    ]


def deploy(lab: ModuleType, ns: str, *args: str, kubeconfig: Path | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(kubeconfig or lab.kubeconfig_path(), ns, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(kubeconfig: Path, ns: str | None, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(kubeconfig, ns, *args), capture_output=True, text=True, timeout=timeout)


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def rollouts(lab: ModuleType, ns: str) -> dict[str, dict[str, Any]]:
    items = get(lab, f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts")["items"]
    return {r["metadata"]["name"]: r for r in items}


def images(lab: ModuleType, ns: str) -> dict[str, str]:
    return {n: r["spec"]["template"]["spec"]["containers"][0]["image"] for n, r in rollouts(lab, ns).items()}


def record(lab: ModuleType, ns: str) -> dict[str, Any] | None:
    code, body = lab.api("GET", f"/api/v1/namespaces/{ns}/configmaps/{RECORD}")
    return body if code == 200 else None


def jobs(lab: ModuleType, ns: str) -> list[dict[str, Any]]:
    """The deploy's Jobs (not the smoke Jobs of Argo's analyses)."""
    items = get(lab, f"/apis/batch/v1/namespaces/{ns}/jobs?labelSelector=critterops.dev/deploy")["items"]
    return list(items)


# --- the story ---------------------------------------------------------------------------------------------


def test_a_faulty_publisher_is_aborted_the_safe_phase_rolled_back_and_the_fix_promoted(lab: ModuleType) -> None:
    """The demo's story, checked: Argo aborts fulfillment-worker on its handler failures (phase 2); critterops
    rolls phase 1 back where the plan says it is safe and keeps payments-api, whose destructive migration ran;
    the fix then goes through both phases. One migration Job per deploy."""
    out = io.StringIO()
    code, summary = demo.run(out)
    assert code == 0, out.getvalue()[-3000:]
    first, second = summary["deploys"]
    assert first["exit"] == 1 and first["state"] == "failed"
    assert "fulfillment-worker" in first["reason"] and "handler-failure-rate" in first["reason"], first["reason"]
    running = {row["service"]: row["running"] for row in first["services"]}
    assert running == {
        "orders-api": "previous",
        "storefront-web": "previous",
        "inventory-api": "previous",
        "fulfillment-worker": "previous",
        "payments-api": "new",  # roll-forward: the old version cannot run on the migrated schema
    }
    assert "kept at" in out.getvalue() and "roll-forward" in out.getvalue()
    assert second["exit"] == 0 and second["state"] == "succeeded"
    assert {row["running"] for row in second["services"]} == {"new"}
    for run in (first, second):
        assert [j["state"] for j in run["jobs"]] == ["complete"], run["jobs"]


# --- the cluster is the source of truth ----------------------------------------------------------------------


def _kill_when(proc: subprocess.Popen[str], what: str, check: Callable[[], bool], timeout: float = 180) -> None:
    wait_for(what, lambda: check() or proc.poll() is not None, timeout=timeout, every=0.2)
    assert proc.poll() is None, f"the deploy ended before {what}: {finish(proc)[1][-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def test_resume_after_sigkill_repeats_no_step_and_no_job(lab: ModuleType, example: demo.Example) -> None:
    with demo.running(lab, example, {}) as ns:
        plan = ["--plan", str(example.plan), "--tag", "v2"]

        def job_exists() -> bool:
            return bool(jobs(lab, ns))

        def phase_one_moving() -> bool:
            now = images(lab, ns)
            return now["orders-api"].endswith(":v2") and not now["fulfillment-worker"].endswith(":v2")

        def phase_two_moving() -> bool:
            return images(lab, ns)["fulfillment-worker"].endswith(":v2")

        _kill_when(deploy(lab, ns, *plan), "the migration Job created", job_exists)
        created = [(j["metadata"]["name"], j["metadata"]["uid"]) for j in jobs(lab, ns)]
        _kill_when(deploy(lab, ns, "resume"), "phase 1 rolling out", phase_one_moving)
        _kill_when(deploy(lab, ns, "resume"), "phase 2 rolling out", phase_two_moving)
        code, output = finish(deploy(lab, ns, "resume"))
        assert code == 0, output[-3000:]
        assert "succeeded" in output
        # the Job is the one created before the first kill: never created again
        assert [(j["metadata"]["name"], j["metadata"]["uid"]) for j in jobs(lab, ns)] == created
        # one new revision per Rollout: no image set twice, no step repeated
        revisions = {
            n: r["metadata"]["annotations"]["rollout.argoproj.io/revision"] for n, r in rollouts(lab, ns).items()
        }
        assert set(revisions.values()) == {"2"}, revisions
        assert all(image.endswith(":v2") for image in images(lab, ns).values())
        status = run(lab.kubeconfig_path(), ns, "status", "--format", "json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["state"] == "succeeded"


def test_an_image_that_never_becomes_ready_fails_the_deploy_and_the_phase_goes_back(
    lab: ModuleType, example: demo.Example
) -> None:
    """Admission rejects the new inventory-api pods (a ValidatingAdmissionPolicy standing in for an image
    policy or a pull that never succeeds): its new version never becomes Ready, the deploy's time limit
    fails it, and every service of the phase runs its previous version again."""
    with demo.running(lab, example, {}) as ns:
        _reject_images(lab, ns, ":never-ready")
        before = images(lab, ns)
        repository = demo.image_repository(example, "inventory-api")
        proc = deploy(
            lab,
            ns,
            "--plan",
            str(example.plan),
            "--tag",
            "v2",
            "--image",
            f"inventory-api={repository}:never-ready",
            "--timeout",
            "100s",
        )
        code, output = finish(proc)
        assert code == 1, output[-3000:]
        assert "inventory-api: not healthy within the deploy's timeout" in output
        rows = {line.split()[0]: line for line in output.split("what runs where:")[1].splitlines()[1:] if line.strip()}
        for name in ("orders-api", "storefront-web", "inventory-api", "fulfillment-worker"):
            assert " previous " in rows[name], rows[name]
        after = images(lab, ns)
        for name in ("orders-api", "storefront-web", "inventory-api", "fulfillment-worker"):
            assert after[name] == before[name]


def _reject_images(lab: ModuleType, ns: str, suffix: str) -> None:
    name = f"critterops-test-reject-{ns}"
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["pods"]}
                ]
            },
            "validations": [
                {
                    "expression": f"object.spec.containers.all(c, !c.image.endsWith('{suffix}'))",
                    "message": "this image never becomes ready",
                }
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name},
        "spec": {
            "policyName": name,
            "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}},
        },
    }
    for path, body in (
        ("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies", policy),
        ("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicybindings", binding),
    ):
        code, answer = lab.api("POST", path, body)
        assert code == 201, answer
    time.sleep(2)  # the policy reaches the admission plugin's informer


# --- bad input: a clear message, exit 2, nothing changed -----------------------------------------------------


@pytest.fixture
def quiet_system(lab: ModuleType, example: demo.Example, namespace: Callable[[str], str]) -> Iterator[str]:
    """The example's first version, healthy, without telemetry (nothing here gets as far as an analysis)."""
    ns = namespace("k8s-bad")
    demo.place(lab, example, ns)
    yield ns


def _unchanged(lab: ModuleType, ns: str, before: dict[str, str]) -> None:
    assert images(lab, ns) == before
    assert record(lab, ns) is None
    assert not jobs(lab, ns)


def test_no_cluster_reachable(tmp_path: Path, example: demo.Example) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gone", "cluster": {"server": "https://127.0.0.1:9", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "x"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u", "namespace": "default"}}],
        "current-context": "gone",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    done = run(path, None, "--plan", str(example.plan))
    assert done.returncode == 2, done.stderr
    assert "cannot reach the Kubernetes API at https://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_context_that_is_not_in_the_kubeconfig(lab: ModuleType, example: demo.Example) -> None:
    done = run(lab.kubeconfig_path(), None, "--context", "prod-eu", "--plan", str(example.plan))
    assert done.returncode == 2 and "--context prod-eu: not in" in done.stderr, done.stderr


def test_argo_rollouts_not_installed(lab: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API server answers 404 for a resource whose CRD is not there; here the group the engine asks for
    is one no CRD serves (the lab's own Argo must stay installed for the other tests)."""
    monkeypatch.setattr(
        cluster_module, "ROLLOUT_API", ("rollouts-missing.example.com", "v1alpha1", "Rollout", "rollouts")
    )
    cluster = cluster_module.Cluster(cluster_module.Target(lab.kubeconfig_path(), None, "default"))
    with pytest.raises(cluster_module.ClusterError, match="Argo Rollouts is not installed"):
        cluster.check()


def test_credentials_without_the_rights_change_nothing(
    lab: ModuleType, example: demo.Example, quiet_system: str, tmp_path: Path
) -> None:
    ns = quiet_system
    before = images(lab, ns)
    kubeconfig = _service_account_kubeconfig(lab, ns, tmp_path)
    code, output = finish(deploy(lab, ns, "--plan", str(example.plan), "--tag", "v2", kubeconfig=kubeconfig), 60)
    assert code == 2, output
    assert "may not" in output and "patch rollouts" in output and "create jobs" in output, output
    _unchanged(lab, ns, before)


def _service_account_kubeconfig(lab: ModuleType, ns: str, tmp_path: Path) -> Path:
    """A ServiceAccount that may read Rollouts but not change them, and a kubeconfig with its token."""
    for path, body in (
        (f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "reader"}}),
        (
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
            {
                "metadata": {"name": "reader"},
                "rules": [{"apiGroups": ["argoproj.io"], "resources": ["rollouts"], "verbs": ["get", "list", "watch"]}],
            },
        ),
        (
            f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
            {
                "metadata": {"name": "reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
            },
        ),
    ):
        code, answer = lab.api("POST", path, body)
        assert code == 201, answer
    code, answer = lab.api(
        "POST", f"/api/v1/namespaces/{ns}/serviceaccounts/reader/token", {"spec": {"expirationSeconds": 600}}
    )
    assert code == 201, answer
    admin = yaml.safe_load(Path(lab.kubeconfig_path()).read_text())
    cluster = admin["clusters"][0]["cluster"]
    if "certificate-authority" in cluster:
        cluster = {
            "server": cluster["server"],
            "certificate-authority-data": base64.b64encode(
                Path(cluster["certificate-authority"]).read_bytes()
            ).decode(),
        }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "lab", "cluster": cluster}],
        "users": [{"name": "reader", "user": {"token": answer["status"]["token"]}}],
        "contexts": [{"name": "reader", "context": {"cluster": "lab", "user": "reader", "namespace": ns}}],
        "current-context": "reader",
    }
    path = tmp_path / "reader.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_plan_for_another_system_changes_nothing(
    lab: ModuleType, example: demo.Example, quiet_system: str, tmp_path: Path
) -> None:
    ns = quiet_system
    before = images(lab, ns)
    plan = json.loads(example.plan.read_text())
    for entry in plan["services"]:
        entry["service"] = entry["service"].replace("-api", "-svc")
    for phase in plan["phases"]:
        phase["services"] = [s.replace("-api", "-svc") for s in phase["services"]]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(plan))
    code, output = finish(deploy(lab, ns, "--plan", str(other), "--tag", "v2"), 60)
    assert code == 2, output
    assert "orders-svc" in output and "is this the plan of another system" in output and "Nothing was changed" in output
    _unchanged(lab, ns, before)


def test_a_rollout_already_progressing_from_someone_else_is_left_alone(
    lab: ModuleType, example: demo.Example, quiet_system: str
) -> None:
    ns = quiet_system
    repository = demo.image_repository(example, "orders-api")
    patch = [{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": f"{repository}:hotfix"}]
    from .cluster import kubectl

    kubectl(lab, "-n", ns, "patch", "rollout", "orders-api", "--type=json", "-p", json.dumps(patch))
    wait_for(
        "the hotfix rolling out",
        lambda: (
            rollouts(lab, ns)["orders-api"].get("status", {}).get("currentPodHash")
            != rollouts(lab, ns)["orders-api"].get("status", {}).get("stableRS")
        ),
    )
    before = images(lab, ns)
    code, output = finish(deploy(lab, ns, "--plan", str(example.plan), "--tag", "v2"), 60)
    assert code == 2, output
    assert "already rolling out from someone else: orders-api" in output and "Nothing was changed" in output
    _unchanged(lab, ns, before)


# --- promote and abort from another terminal ----------------------------------------------------------------


def test_an_inconclusive_service_waits_for_promote_from_another_terminal(
    lab: ModuleType, example: demo.Example
) -> None:
    """storefront-web's new version sends no telemetry: Argo's pre-promotion analysis is Inconclusive and pauses
    it; the deploy waits (it neither promotes nor fails on its own) until a person decides. A plain promote of a
    blue/green would run the same analysis again (rollout/analysis.go needsNewAnalysisRun), still without data,
    so the person promotes it fully (status.promoteFull): the new version becomes the active one. Its
    post-promotion analysis, still without data, then pauses it again — the deploy keeps waiting, as it should."""
    with demo.running(lab, example, {"v2-silent": None}) as ns:
        repository = demo.image_repository(example, "storefront-web")
        proc = deploy(
            lab, ns, "--plan", str(example.plan), "--tag", "v2", "--image", f"storefront-web={repository}:v2-silent"
        )
        try:

            def paused() -> bool:
                status = rollouts(lab, ns)["storefront-web"].get("status", {})
                return status.get("phase") == "Paused" and any(
                    c.get("reason") == "InconclusiveAnalysisRun" for c in status.get("pauseConditions") or []
                )

            wait_for("storefront-web paused on its analysis", lambda: paused() or proc.poll() is not None, 180)
            assert proc.poll() is None, finish(proc)[1][-2000:]
            first = rollouts(lab, ns)["storefront-web"]["status"]
            assert first["currentPodHash"] != first["stableRS"]
            promote = run(lab.kubeconfig_path(), ns, "promote", "--service", "storefront-web", "--full")
            assert promote.returncode == 0, promote.stderr
            wait_for(
                "the new version active",
                lambda: rollouts(lab, ns)["storefront-web"]["status"].get("stableRS") == first["currentPodHash"],
                timeout=60,
            )
            time.sleep(5)
            assert proc.poll() is None  # the post-promotion analysis has no data either: still a person's call
        finally:
            proc.kill()
        output = proc.communicate()[0]
        assert "storefront-web: paused, the analysis was inconclusive" in output


def test_abort_from_another_terminal_stops_the_phase_and_puts_it_back(lab: ModuleType, example: demo.Example) -> None:
    with demo.running(lab, example, {}) as ns:
        before = images(lab, ns)
        proc = deploy(lab, ns, "--plan", str(example.plan), "--tag", "v2")
        wait_for(
            "phase 1 rolling out",
            lambda: images(lab, ns)["orders-api"].endswith(":v2") or proc.poll() is not None,
            timeout=120,
            every=0.2,
        )
        abort = run(lab.kubeconfig_path(), ns, "abort", timeout=300)
        assert abort.returncode == 1, abort.stdout + abort.stderr
        assert "aborted by a user" in abort.stdout
        code, output = finish(proc)
        assert code == 1, output[-3000:]
        after = images(lab, ns)
        for name in ("orders-api", "storefront-web", "inventory-api", "fulfillment-worker"):
            assert after[name] == before[name], name
        assert json.loads(record(lab, ns)["data"]["state"].join('""')) == "aborted"
