"""The lab for the ``lab`` tests: a real apiserver with KWOK nodes, Argo Rollouts, the collector and Prometheus.

``scripts/lab.py`` builds and runs it. If the lab is already up (``.ci/run`` starts it), it is reused and
left running; otherwise the session starts it and stops it at the end. When the engines are not built
the tests skip on a developer's machine (``python scripts/lab.py build`` takes about 15 minutes once)
and fail in CI (``CI`` set), where a skipped proof would be a proof not run.

Each test works in namespaces of its own, so tests never see each other's objects.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from .cluster import LAB, PSA_RESTRICTED, require_built
from .kits import generate
from .telemetry import restore_lab_observability, use_kit_observability


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/lab/" in str(item.fspath):
            item.add_marker(pytest.mark.lab)


@pytest.fixture(scope="session")
def lab() -> Iterator[ModuleType]:
    """The running lab (the ``scripts/lab.py`` module: ``LAB.api``, ``LAB.PORTS``, ``LAB.kubeconfig_path()``)."""
    require_built()
    was_up = all(pid is not None for pid in LAB.status().values())
    if not was_up:
        try:
            LAB.start()
        except LAB.LabError as error:
            pytest.fail(f"the lab could not be started: {error}")
    yield LAB
    if not was_up and not os.environ.get("CRITTEROPS_KEEP_LAB"):
        LAB.stop()


@pytest.fixture
def namespace(lab: ModuleType) -> Iterator[Callable[[str], str]]:
    """Make namespaces with PodSecurity ``restricted`` enforced; deleted after the test."""
    made: list[str] = []

    def make(prefix: str) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:6]}"[:63]
        code, body = lab.api(
            "POST",
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": dict(PSA_RESTRICTED)}},
        )
        assert code == 201, body
        made.append(name)
        return name

    yield make
    for name in made:
        lab.api("DELETE", f"/api/v1/namespaces/{name}")


@pytest.fixture(scope="module")
def observed_kit(lab: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The example's kit (Kubernetes and observability), with its collector config and production scrape jobs
    running in the lab: analyses need data. The lab's own collector and scrape config come back afterwards."""
    out = generate(None, tmp_path_factory.mktemp("example-kit"), "kubernetes", "observability")
    use_kit_observability(out, lab, "production")
    yield out
    restore_lab_observability(lab)
