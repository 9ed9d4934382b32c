"""Writing the kit: reruns, drift detection, and never writing outside --out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from critterops.cli import main
from critterops.errors import UserError
from critterops.generate.kit import check_kit, check_out_dir, parse_groups, write_kit


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_rerun_is_byte_identical_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kit"
    argv = ["generate", "--example", "--out", str(out), "--only", "kubernetes"]
    assert main(argv) == 0
    first = snapshot(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(argv) == 0
    assert "0 written" in capsys.readouterr().out
    assert snapshot(out) == first
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes


def test_check_reports_drift_and_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "kit"
    argv = ["generate", "--example", "--out", str(out), "--only", "kubernetes"]
    assert main(argv) == 0
    assert main([*argv, "--check"]) == 0
    target = out / "kubernetes" / "base" / "services" / "orders-api.yaml"
    target.write_text(target.read_text().replace("replicas: 3", "replicas: 4"))
    capsys.readouterr()
    assert main([*argv, "--check"]) == 1
    report = capsys.readouterr().out
    assert "differs: kubernetes/base/services/orders-api.yaml" in report and "-  replicas: 4" in report


def test_files_no_longer_generated_are_removed_but_user_files_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "kit"
    write_kit({"a/one.yaml": "x: 1\n", "a/two.yaml": "x: 2\n"}, out)
    (out / "a" / "mine.yaml").write_text("custom: true\n")
    report = write_kit({"a/one.yaml": "x: 1\n"}, out)
    assert report.removed == ["a/two.yaml"]
    assert (out / "a" / "mine.yaml").read_text() == "custom: true\n"
    assert json.loads((out / ".critterops-kit.json").read_text())["files"] == ["a/one.yaml"]
    assert check_kit({"a/one.yaml": "x: 1\n"}, out) == []


def test_symlink_escaping_out_is_refused(tmp_path: Path) -> None:
    out, outside = tmp_path / "kit", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    os.symlink(outside, out / "kubernetes")
    with pytest.raises(UserError, match="symbolic link that leaves"):
        write_kit({"kubernetes/base/x.yaml": "a: 1\n"}, out)
    assert list(outside.iterdir()) == [], "nothing written outside --out"


@pytest.mark.parametrize("path", ["../escape.yaml", "/etc/passwd", "a/../../b.yaml"])
def test_paths_that_leave_out_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(UserError, match="not a plain relative path"):
        write_kit({path: "x\n"}, tmp_path / "kit")


def test_out_inside_a_project_folder_is_refused(tmp_path: Path) -> None:
    project = tmp_path / "src" / "Orders.Api"
    project.mkdir(parents=True)
    (project / "Orders.Api.csproj").write_text("<Project />")
    with pytest.raises(UserError, match=r"inside the \.NET project"):
        check_out_dir(project / "deploy", tmp_path)
    check_out_dir(tmp_path / "deploy", tmp_path)


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--example", "--out", str(tmp_path / "k"), "--only", "kubernetes,helm"]) == 2
    assert "unknown part(s) helm" in capsys.readouterr().err
    bad_plan = tmp_path / "plan.json"
    bad_plan.write_text('{"schema": "something-else"}')
    assert main(["generate", "--example", "--out", str(tmp_path / "k"), "--plan", str(bad_plan)]) == 2
    assert "not a critterops plan" in capsys.readouterr().err
    assert main(["generate", "--example"]) == 2
    assert main(["generate", str(tmp_path / "nothing-here")]) == 2


def test_parse_groups() -> None:
    assert parse_groups(None)[0] == "kubernetes"
    assert parse_groups("runbooks, kubernetes") == ("kubernetes", "runbooks")


def test_plan_drives_the_strategy_and_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plan = tmp_path / "plan.json"
    assert main(["plan", "--example", "--no-model", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    plan.write_text(json.dumps(data))
    out = tmp_path / "kit"
    assert main(["generate", "--example", "--out", str(out), "--only", "kubernetes", "--plan", str(plan)]) == 0
    jobs = (out / "kubernetes" / "overlays" / "production" / "jobs.yaml").read_text()
    docs = [d for d in yaml.safe_load_all(jobs) if d and d["kind"] == "Job"]
    migrate = next(d for d in docs if d["metadata"]["name"] == "payments-api-migrate")
    container = migrate["spec"]["template"]["spec"]["containers"][0]
    # payments-api applies its EF Core migrations only in Development: the bundle image runs them
    assert container["image"].endswith("/payments-api-migrations:example")
    assert container["command"] == ["/efbundles/PaymentsDbContext"]
    assert migrate["metadata"]["labels"]["critterops.dev/stage"] == "before-rollout"
    base = (out / "kubernetes" / "base" / "services" / "fulfillment-worker.yaml").read_text()
    # the breaking publisher is a consumer whose Program.cs does not hold its listeners: the plan already chose a
    # canary by replica ratio (its consumers block says preview none), which the kit follows without a warning
    worker = next(e for e in data["services"] if e["service"] == "fulfillment-worker")
    assert worker["strategy"] == "canary" and worker["consumers"]["preview"] == "none"
    assert "blueGreen:" not in base and "activeService" not in base and "canary:" in base
    assert "its preview would consume live messages" not in capsys.readouterr().err


def test_a_kit_kept_in_the_repository_is_not_read_as_part_of_the_system(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The kit's Dockerfiles under deploy/docker/ are critterops' output: a second run must not take them for
    the services' own (it then dropped them as stale and `generate --check` failed right after `generate`)."""
    import shutil
    import subprocess

    from critterops.commands._common import example_path
    from critterops.discover import discover
    from critterops.discover.files import KIT_MARKER
    from critterops.generate.kit import MANIFEST

    assert KIT_MARKER == MANIFEST
    repo = tmp_path / "pawmart"
    shutil.copytree(example_path(), repo)
    (repo / ".critterops-example").unlink()  # a user's system, not the bundled example
    out = repo / "deploy"
    args = ["generate", str(repo), "--out", str(out), "--tag", "v1", "--only", "kubernetes,docker"]
    assert main(args) == 0
    assert any((out / "docker").rglob("Dockerfile"))
    before = {s.name: s.dockerfile for s in discover(repo).services}
    assert main([*args, "--check"]) == 0, capsys.readouterr().out
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "kit"], check=True)
    assert {s.name: s.dockerfile for s in discover(repo).services} == before
    assert not any("deploy/" in (s.dockerfile or "") for s in discover(repo).services)
