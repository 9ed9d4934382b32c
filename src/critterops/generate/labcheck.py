"""Lab proofs for ``critterops generate --validate``: the kit against a real Kubernetes API server.

When the lab (``python scripts/lab.py start``: Kubernetes 1.30 with KWOK nodes and the Argo Rollouts CRDs
and controller) is running, each overlay is applied with ``kubectl apply --dry-run=server`` into a scratch
namespace carrying the overlay's own Namespace labels (restricted Pod Security). The API server runs the
whole admission chain without persisting anything: schema validation of every built-in kind, the Argo
CRDs' structural schemas for Rollouts and AnalysisTemplates, and Pod Security, which warns for workload
templates that would be rejected (``would violate PodSecurity``): each warning counts as a problem.

The proofs that need a running system (rollouts walking their steps under the Argo controller, analyses on
real telemetry, NetworkPolicy verdicts, the deploy workflow's order) are the lab tests in ``tests/lab``.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml

from critterops.generate.validate import Result, overlays, render
from critterops.generate.yamlio import dump_all

LAB_DIR_ENV = "CRITTEROPS_LAB_DIR"
DEFAULT_LAB_DIR = "/tmp/critterops-lab"
_CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PriorityClass"})


def lab_kubeconfig() -> Path:
    return Path(os.environ.get(LAB_DIR_ENV, DEFAULT_LAB_DIR)) / "kubeconfig"


def _kubectl(kubeconfig: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "--request-timeout=20s", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lab_ready(kubeconfig: Path) -> str | None:
    """None when the lab answers, else why it is skipped."""
    if not kubeconfig.is_file():
        return f"no lab running (no {kubeconfig}): python scripts/lab.py start, or set {LAB_DIR_ENV}"
    try:
        ready = _kubectl(kubeconfig, "get", "--raw", "/readyz")
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"kubectl cannot reach the lab: {error}"
    if ready.returncode != 0:
        return f"the lab's API server does not answer: {ready.stderr.strip()[-200:]}"
    crd = _kubectl(kubeconfig, "get", "crd", "rollouts.argoproj.io", "-o", "name")
    if crd.returncode != 0:
        return "the lab has no Argo Rollouts CRDs: python scripts/lab.py start installs them"
    return None


def _namespace_doc(docs: list[dict[str, Any]], name: str) -> dict[str, Any]:
    own = next((d for d in docs if d["kind"] == "Namespace"), None)
    labels = dict((own or {}).get("metadata", {}).get("labels", {}))
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def server_dry_run(kit: Path) -> list[Result]:
    """One result per overlay: every object admitted by the lab's API server (nothing is persisted)."""
    kubeconfig = lab_kubeconfig()
    skipped = _lab_ready(kubeconfig)
    if skipped:
        return [Result("lab: kubectl apply --dry-run=server", skipped=skipped)]
    results = []
    for overlay in overlays(kit):
        result = Result(f"lab: kubectl apply --dry-run=server ({overlay}, restricted Pod Security, Argo CRDs)")
        try:
            docs = render(kit, overlay)
        except RuntimeError as error:
            result.problems.append(str(error))
            results.append(result)
            continue
        scratch = f"critterops-validate-{uuid.uuid4().hex[:8]}"
        created = _kubectl(kubeconfig, "create", "-f", "-", stdin=yaml.safe_dump(_namespace_doc(docs, scratch)))
        if created.returncode != 0:
            result.problems.append(f"cannot create a scratch namespace: {created.stderr.strip()}")
            results.append(result)
            continue
        try:
            placed = [
                {**d, "metadata": {**d["metadata"], "namespace": scratch}}
                for d in docs
                if d["kind"] not in _CLUSTER_SCOPED
            ]
            result.checked = len(placed)
            run = _kubectl(kubeconfig, "apply", "--dry-run=server", "-f", "-", stdin=dump_all(placed))
            lines = [line.strip() for line in run.stderr.splitlines() if line.strip()]
            result.problems += [line for line in lines if line.startswith(("Warning:", "Error", "error"))]
            if run.returncode != 0 and not result.problems:
                result.problems.append(run.stderr.strip()[-400:] or "kubectl apply failed")
        finally:
            _kubectl(kubeconfig, "delete", "namespace", scratch, "--wait=false")
        results.append(result)
    return results
