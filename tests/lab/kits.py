"""Kits rendered for the lab: generate, render an overlay with kustomize, and place it in a test namespace.

The only changes made to the kit are the ones a user makes in a cluster of their own, each named:
the namespace (each test gets a fresh one), the address of Prometheus in the AnalysisTemplates (the
lab's, instead of ``prometheus.monitoring.svc``) and, where a test says so, shorter pauses and analysis
intervals so that a rollout walks in seconds what it walks in minutes in production.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from critterops.cli import main
from critterops.lab.kits import CLUSTER_SCOPED, for_lab, into_namespace

from .cluster import docs_of, kustomize

__all__ = ["CLUSTER_SCOPED", "for_lab", "generate", "into_namespace", "render"]


def generate(repo: Path | None, out: Path, *only: str) -> Path:
    """``critterops generate`` as a user runs it (``repo`` None: the bundled example); returns ``out``."""
    source = ["--example"] if repo is None else [str(repo)]
    groups = ["--only", ",".join(only)] if only else []
    assert main(["generate", *source, "--out", str(out), *groups]) == 0
    return out


def render(kit: Path, env: str) -> list[dict[str, Any]]:
    """One overlay of a generated kit (``kit`` is the folder given to ``--out``) as objects."""
    return docs_of(kustomize(kit / "kubernetes" / "overlays" / env))
