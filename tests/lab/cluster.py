"""Helpers for the lab tests: the ``scripts/lab.py`` module, kubectl, the apiserver, kustomize, polling."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(f"critterops_{name}", ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


LAB = _load("lab")
BUILD = LAB.labbuild


def kubectl(
    lab: ModuleType, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(lab.kubeconfig_path()), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return done


def get(lab: ModuleType, path: str) -> dict[str, Any]:
    code, body = lab.api("GET", path)
    assert code == 200, f"GET {path}: {code} {body.get('message')}"
    return body


def kustomize(overlay: Path) -> str:
    """Render an overlay with the kustomize the lab built (the same engine `kubectl apply -k` embeds)."""
    binary = BUILD.COMPONENTS["kustomize"].path("kustomize")
    done = subprocess.run([str(binary), "build", str(overlay)], capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, f"kustomize build {overlay}: {done.stderr}"
    return done.stdout


def docs_of(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60, every: float = 0.5) -> Any:
    """Poll until ``check()`` returns something truthy; fail with the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {last!r}")


PSA_RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "v1.30",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/audit": "restricted",
}


def events(lab: ModuleType, namespace: str) -> list[dict[str, Any]]:
    return get(lab, f"/api/v1/namespaces/{namespace}/events")["items"]


def as_json(obj: object) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)


def require_built() -> None:
    """Skip when the lab's engines are not built, on a developer's machine; fail in CI (``CI`` set),
    where a skipped proof would be a proof not run."""
    missing = [c.name for c in BUILD.COMPONENTS.values() if not c.built()]
    if missing:
        message = f"lab engines not built ({', '.join(missing)}): run `python scripts/lab.py build`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
