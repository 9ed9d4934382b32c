"""``critterops generate --validate`` runs its lab proof when the lab is up: every overlay through the real API
server's admission (server-side dry run), and it fails on what the API server rejects or warns about."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from critterops.cli import main
from critterops.generate import labcheck

from .kits import generate


@pytest.fixture
def kit(lab: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(labcheck.LAB_DIR_ENV, str(lab.kubeconfig_path().parent))
    return generate(None, tmp_path / "kit", "kubernetes")


def test_validate_lists_the_lab_proof_for_every_overlay(kit: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--example", "--out", str(kit), "--only", "kubernetes", "--validate"]) == 0
    out = capsys.readouterr().out
    for overlay in ("dev", "staging", "production"):
        line = next(x for x in out.splitlines() if f"lab: kubectl apply --dry-run=server ({overlay}" in x)
        assert line.startswith("PASS") and " 0 problem(s)" in line, line


def test_the_lab_proof_fails_on_what_the_api_server_warns_about_or_rejects(kit: Path) -> None:
    exporter = kit / "kubernetes" / "base" / "critterops-exporter.yaml"
    exporter.write_text(exporter.read_text().replace("runAsNonRoot: true", "runAsNonRoot: false"))
    rollout = kit / "kubernetes" / "base" / "services" / "orders-api.yaml"
    rollout.write_text(rollout.read_text().replace("revisionHistoryLimit: 5", "revisionHistoryLimit: 5\n  surge: 1"))
    results = labcheck.server_dry_run(kit)
    assert results and all(r.skipped is None for r in results)
    for result in results:
        problems = "\n".join(result.problems)
        assert "would violate PodSecurity" in problems, result  # restricted: runAsNonRoot != true
        assert "surge" in problems, result  # the Rollout CRD's structural schema, strict field validation
