"""``critterops demo --backend kubernetes``: the bundled example's plan run on the lab's cluster.

The example's pull request is planned for staging and its kit generated from that plan, exactly as
a user does (``critterops plan``, ``critterops generate --plan``). The staging overlay goes into a
fresh namespace of the lab (``scripts/lab.py``: a real API server, KWOK nodes, the real Argo
Rollouts controller, the real OpenTelemetry Collector and Prometheus), with the lab's fast clock
(critterops.lab.kits.for_lab). KWOK pods run no container, so each Ready pod gets a telemetry
stand-in (critterops.lab.telemetry.PodStandins) and the critterops exporter reports the system's
stores at rest (critterops.lab.exporter). Then two deploys through ``deploy --backend kubernetes``:

1. the pull request with a faulty fulfillment-worker (30 % of its handlers fail): Argo's analysis
   fails it in phase 2, and critterops rolls phase 1 back where the plan says rollback is safe and
   keeps payments-api, whose destructive migration ran, at the new version (roll-forward);
2. the fix: every service promoted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

import yaml

from critterops.errors import EXIT_FINDINGS, UserError

ENV = "staging"
FAULTY_SERVICE = "fulfillment-worker"
PSA_RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.30",
}


def load_lab() -> ModuleType:
    """``scripts/lab.py`` of this checkout (or ``$CRITTEROPS_LAB_SCRIPT``)."""
    default = Path(__file__).resolve().parents[3] / "scripts" / "lab.py"
    path = Path(os.environ.get("CRITTEROPS_LAB_SCRIPT", default))
    if not path.is_file():
        raise UserError(
            "the Kubernetes demo runs in the lab, which is built from a checkout of critterops: "
            "git clone the repository, then `python scripts/lab.py build` and `python scripts/lab.py start` "
            f"(no {path})"
        )
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("critterops_lab_script", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _cli(*args: str) -> str:
    from critterops.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    if code != 0:
        raise UserError(f"critterops {' '.join(args)} exited {code}: {err.getvalue().strip()[-400:]}")
    return out.getvalue()


def _require(lab: ModuleType) -> None:
    down = [name for name, pid in lab.status().items() if pid is None]
    if down:
        raise UserError(f"the lab is not running ({', '.join(down)} down): python scripts/lab.py start")
    try:
        import opentelemetry.sdk  # noqa: F401
    except ImportError:
        raise UserError(
            "the lab's telemetry stand-ins need the OpenTelemetry SDK: pip install 'critterops[lab]'"
        ) from None


@contextlib.contextmanager
def _namespace(lab: ModuleType, keep: bool) -> Iterator[str]:
    name = f"critterops-demo-{uuid.uuid4().hex[:5]}"
    code, body = lab.api(
        "POST",
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": PSA_RESTRICTED}},
    )
    if code != 201:
        raise UserError(f"cannot create namespace {name} in the lab: {body.get('message')}")
    try:
        yield name
    finally:
        if not keep:
            lab.api("DELETE", f"/api/v1/namespaces/{name}")


def _apply(lab: ModuleType, docs: list[dict[str, Any]], namespace: str) -> None:
    """Server-side apply of every object through the API (as ``kubectl apply --server-side``)."""
    from lightkube import Client, KubeConfig, codecs
    from lightkube.generic_resource import load_in_cluster_generic_resources

    config = KubeConfig.from_file(str(lab.kubeconfig_path()))
    client = Client(config, namespace=namespace, field_manager="critterops-demo", trust_env=False)
    load_in_cluster_generic_resources(client)
    for doc in docs:
        client.apply(codecs.from_dict(doc), force=True)  # the objects carry their namespace (into_namespace)


def _healthy(lab: ModuleType, namespace: str, names: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code, body = lab.api("GET", f"/apis/argoproj.io/v1alpha1/namespaces/{namespace}/rollouts")
        items = {r["metadata"]["name"]: r for r in body.get("items", [])} if code == 200 else {}
        if all(
            items.get(n, {}).get("status", {}).get("phase") == "Healthy"
            and items[n]["status"].get("observedGeneration") == str(items[n]["metadata"]["generation"])
            for n in names
        ):
            return
        time.sleep(1)
    raise UserError(f"the first version did not become healthy in the lab within {timeout:.0f} s")


@dataclass(frozen=True)
class Example:
    """The example's pull request planned for ``ENV``, its kit generated from that plan and rendered."""

    repo: Path
    plan: Path
    kit: Path
    docs: list[dict[str, Any]]


def prepare(lab: ModuleType, root: Path) -> Example:
    from critterops.commands._example import build_example_repo

    repo = build_example_repo(root / "pawmart")
    plan = root / "plan.json"
    plan.write_text(_cli("plan", str(repo), "--env", ENV, "--base", "main", "--format", "json"))
    kit = root / "kit"
    _cli("generate", str(repo), "--out", str(kit), "--only", "kubernetes,observability", "--plan", str(plan))
    binary = lab.labbuild.COMPONENTS["kustomize"].path("kustomize")
    rendered = subprocess.run(
        [str(binary), "build", str(kit / "kubernetes" / "overlays" / ENV)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return Example(repo, plan, kit, [d for d in yaml.safe_load_all(rendered) if d])


def place(lab: ModuleType, example: Example, namespace: str) -> list[str]:
    """The overlay in ``namespace`` on the lab's fast clock (its Jobs are the deploy's to run); the Rollouts'
    names once all are healthy on the first version."""
    from critterops.lab.kits import for_lab, into_namespace

    prometheus = f"http://{lab.HOST}:{lab.PORTS['prometheus']}"
    placed = [d for d in into_namespace(for_lab(example.docs, prometheus, fast=True), namespace) if d["kind"] != "Job"]
    _apply(lab, placed, namespace)
    services = sorted(d["metadata"]["name"] for d in placed if d["kind"] == "Rollout")
    _healthy(lab, namespace, services)
    return services


def image_repository(example: Example, service: str) -> str:
    return next(
        str(c["image"]).rsplit(":", 1)[0]
        for d in example.docs
        if d["kind"] == "Rollout" and d["metadata"]["name"] == service
        for c in d["spec"]["template"]["spec"]["containers"]
    )


@contextlib.contextmanager
def running(
    lab: ModuleType, example: Example, behaviour: dict[str, list[str] | None], keep: bool = False
) -> Iterator[str]:
    """A namespace with the example's first version healthy and observed: the kit's collector and scrape
    jobs, the exporter at rest, a stand-in per Ready pod behaving as ``behaviour[image tag]`` says."""
    from critterops.discover import discover
    from critterops.lab import exporter as lab_exporter
    from critterops.lab.telemetry import PodStandins, restore_lab_observability, use_kit_observability

    server = lab_exporter.serve(discover(example.repo))
    try:
        use_kit_observability(example.kit, lab, ENV, {"critterops-exporter": f"{lab.HOST}:{server.server_address[1]}"})
        with _namespace(lab, keep) as ns, PodStandins(lab, ns, behaviour):
            place(lab, example, ns)
            yield ns
    finally:
        restore_lab_observability(lab)
        server.shutdown()


def run(out: TextIO = sys.stdout, keep: bool = False) -> tuple[int, dict[str, Any]]:
    """The two deploys; the exit code (0 when the story went as told) and a summary."""
    from critterops.rollout.kubernetes.cluster import Cluster, Target
    from critterops.rollout.kubernetes.engine import KubernetesDeploy
    from critterops.rollout.kubernetes.plan import load

    lab = load_lab()
    _require(lab)
    started = time.monotonic()
    summary: dict[str, Any] = {"environment": ENV, "deploys": []}
    with tempfile.TemporaryDirectory(prefix="critterops-k8s-demo-") as tmp:
        example = prepare(lab, Path(tmp))
        print(f"planned the example's pull request for {ENV} and generated its kit from that plan", file=out)
        with running(lab, example, {"v2-faulty": ["--handler-failures", "0.3"]}, keep) as ns:
            print(f"namespace {ns}: the first version of every service is healthy\n", file=out)
            cluster = Cluster(Target(lab.kubeconfig_path(), None, ns))
            plan = load(example.plan)
            faulty = {FAULTY_SERVICE: f"{image_repository(example, FAULTY_SERVICE)}:v2-faulty"}
            deploys: tuple[tuple[str, dict[str, str], int, str], ...] = (
                ("v2", faulty, 1, "the pull request, with a faulty fulfillment-worker"),
                ("v3", {}, 0, "the fix"),
            )
            for tag, images, expected, title in deploys:
                print(f"== deploy {tag}: {title}", file=out)
                t0 = time.monotonic()
                code = KubernetesDeploy(cluster, out, timeout_s=300).start(plan, tag, images)
                record = KubernetesDeploy(cluster, io.StringIO()).status()
                summary["deploys"].append(
                    {"tag": tag, "exit": code, "seconds": round(time.monotonic() - t0, 1), **record}
                )
                print(file=out)
                if code != expected:
                    summary["seconds"] = round(time.monotonic() - started, 1)
                    return EXIT_FINDINGS, summary
    summary["seconds"] = round(time.monotonic() - started, 1)
    print(f"the story took {summary['seconds']:.0f} s in the lab", file=out)
    return 0, summary
