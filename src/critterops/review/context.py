"""What the rules read: the discovered system, the repository's files, its Kubernetes manifests, and
(with ``--base``) the change rules' findings between two commits.

Files are read through discovery's :class:`SourceTree`, once each. Manifests are parsed here, once,
with line numbers; a YAML file that does not parse becomes a warning, never an exception.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from critterops.discover.files import SourceTree
from critterops.model import Finding as ChangeFinding
from critterops.model import Service, System

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Rollout"})
_COMMENT = re.compile(r"^\s*(//|/\*|\*)")


@dataclass(frozen=True, slots=True)
class Manifest:
    """One Kubernetes object from a YAML file of the repository."""

    file: str
    line: int  # where the document starts
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", ""))

    @property
    def name(self) -> str:
        meta = self.doc.get("metadata")
        return str(meta.get("name", "")) if isinstance(meta, dict) else ""

    @property
    def namespace(self) -> str:
        meta = self.doc.get("metadata")
        return str(meta.get("namespace", "") or "") if isinstance(meta, dict) else ""


@dataclass
class ReviewContext:
    tree: SourceTree
    system: System
    changes: list[ChangeFinding] | None = None  # None: no --base, the rules that compare do not run
    warnings: list[str] = field(default_factory=list)
    _lines: dict[str, list[str]] = field(default_factory=dict)
    _manifests: list[Manifest] | None = None

    # ─── files ───────────────────────────────────────────────────────────────────────────────

    def lines(self, rel: str) -> list[str]:
        """The file's lines (``[]`` when it cannot be read); index 0 is line 1."""
        if rel not in self._lines:
            text = self.tree.read_text(rel) if self.tree.exists(rel) else None
            self._lines[rel] = text.splitlines() if text is not None else []
        return self._lines[rel]

    def find_line(self, rel: str, needle: str, start: int = 1, default: int = 0) -> int:
        """The first line at or after ``start`` containing ``needle`` (``default`` when none does)."""
        for number, text in enumerate(self.lines(rel)[max(start, 1) - 1 :], max(start, 1)):
            if needle in text:
                return number
        return default

    def code_files(self) -> list[str]:
        """C# files of the deployable services and the libraries they own (not tests)."""
        dirs = sorted(
            {posixpath.dirname(p) + "/" for s in self.system.services for p in (s.project, *s.source_projects)}
            | {posixpath.dirname(p.path) + "/" for p in self.system.projects if p.role in ("servicedefaults",)}
        )
        return [f for f in self.tree.with_suffix(".cs") if f.startswith(tuple(dirs))]

    @staticmethod
    def is_comment(text: str) -> bool:
        return bool(_COMMENT.match(text))

    def service_of(self, rel: str) -> Service | None:
        for s in self.system.services:
            for project in (s.project, *s.source_projects):
                if rel.startswith(posixpath.dirname(project) + "/"):
                    return s
        return None

    # ─── Kubernetes manifests ────────────────────────────────────────────────────────────────

    def manifests(self) -> list[Manifest]:
        """Every object with ``apiVersion`` and ``kind`` in the repository's YAML files, workflows and
        compose files excluded; Helm templates are skipped (they are not YAML until rendered)."""
        if self._manifests is not None:
            return self._manifests
        out: list[Manifest] = []
        for rel in self.tree.with_suffix(".yaml", ".yml"):
            name = posixpath.basename(rel).lower()
            if rel.startswith(".github/") or "compose" in name or name.startswith(("appsettings", ".")):
                continue
            text = self.tree.read_text(rel)
            if text is None or "kind:" not in text or "apiVersion:" not in text:
                continue
            if "{{" in text:
                self.warnings.append(f"{rel}: a template (holds '{{{{'): not reviewed as a manifest; render it first")
                continue
            try:
                nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
                docs = list(yaml.safe_load_all(text))
            except yaml.YAMLError as error:
                mark = getattr(error, "problem_mark", None)
                where = f":{mark.line + 1}" if mark is not None else ""
                self.warnings.append(f"{rel}{where}: not valid YAML ({getattr(error, 'problem', error)}): not reviewed")
                continue
            for node, doc in zip(nodes, docs, strict=False):
                if isinstance(doc, dict) and "kind" in doc and "apiVersion" in doc and node is not None:
                    out.append(Manifest(rel, node.start_mark.line + 1, doc))
        self._manifests = out
        return out

    def workloads(self) -> list[Manifest]:
        return [m for m in self.manifests() if m.kind in WORKLOAD_KINDS]

    def manifest_line(self, manifest: Manifest, key: str) -> int:
        """The line of ``key:`` inside the manifest's document (the document's start when absent)."""
        lines = self.lines(manifest.file)
        for number in range(manifest.line, len(lines) + 1):
            text = lines[number - 1]
            if number > manifest.line and text.startswith("---"):
                break
            if text.strip().startswith(f"{key}:") or text.strip().startswith(f"- {key}:"):
                return number
        return manifest.line


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return {}
    template = spec.get("template")
    if not isinstance(template, dict):
        return {}
    pod = template.get("spec")
    return pod if isinstance(pod, dict) else {}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = pod_spec(doc).get("containers")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def template_labels(doc: dict[str, Any]) -> dict[str, str]:
    spec = doc.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    meta = template.get("metadata") if isinstance(template, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}
