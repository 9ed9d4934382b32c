"""Inline suppressions and the fingerprinted baseline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from critterops.errors import UserError
from critterops.review import review
from critterops.review.suppress import baseline_document, inline_suppressions, read_baseline

PROGRAM = "src/Boarding/Boarding.Api/Program.cs"


@pytest.mark.parametrize(
    ("line", "rules", "reason"),
    [
        pytest.param(
            "// critterops: ignore CR101 schema applied by db-apply",
            ("CR101",),
            "schema applied by db-apply",
            id="csharp",
        ),
        pytest.param(
            "    image: x # critterops: ignore CR115 pinned upstream", ("CR115",), "pinned upstream", id="yaml-trailing"
        ),
        pytest.param("# critterops: ignore CR114,CR115 base image", ("CR114", "CR115"), "base image", id="several"),
        pytest.param("// critterops: ignore CR101", ("CR101",), "", id="no-reason"),
        pytest.param("# critterops: ignore hadolint:DL3008 apt pins", ("hadolint:DL3008",), "apt pins", id="tool-rule"),
    ],
)
def test_inline_syntax(line: str, rules: tuple[str, ...], reason: str) -> None:
    (found,) = inline_suppressions("f", [line])
    assert (found.rules, found.reason) == (rules, reason)


def test_inline_on_the_line_above(kennel: Path) -> None:
    path = kennel / PROGRAM
    text = path.read_text().replace(
        "    opts.AutoCreateSchemaObjects = AutoCreate.All;",
        "    // critterops: ignore CR101 the schema is applied by db-apply before each deploy\n"
        "    opts.AutoCreateSchemaObjects = AutoCreate.All;",
    )
    path.write_text(text)
    report = review(kennel, tools={})
    (cr101,) = [f for f in report.findings if f.rule == "CR101"]
    assert cr101.suppressed == "inline: the schema is applied by db-apply before each deploy"


def test_unknown_rule_in_a_suppression_is_a_warning_and_suppresses_nothing(kennel: Path) -> None:
    path = kennel / PROGRAM
    path.write_text(
        path.read_text().replace(
            "    opts.AutoCreateSchemaObjects = AutoCreate.All;",
            "    opts.AutoCreateSchemaObjects = AutoCreate.All; // critterops: ignore CR999 typo",
        )
    )
    report = review(kennel, tools={})
    assert any("unknown rule CR999" in w for w in report.warnings)
    assert any(f.rule == "CR101" and f.suppressed is None for f in report.findings)


def _baseline(kennel: Path, tmp_path: Path) -> Path:
    report = review(kennel, tools={})
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(baseline_document(report.repository, list(report.active))))
    return path


def test_baseline_survives_line_moves(kennel: Path, tmp_path: Path) -> None:
    baseline = read_baseline(_baseline(kennel, tmp_path))
    path = kennel / PROGRAM
    path.write_text("// a new header comment\n// and another\n" + path.read_text())
    report = review(kennel, tools={}, baseline=baseline)
    assert not report.active
    moved = next(f for f in report.findings if f.rule == "CR101")
    assert (moved.line, moved.suppressed) == (18, "baseline")


def test_baseline_does_not_hide_a_new_finding(kennel: Path, tmp_path: Path) -> None:
    baseline = read_baseline(_baseline(kennel, tmp_path))
    path = kennel / "docker-compose.yml"
    path.write_text(path.read_text() + "  jaeger:\n    image: jaegertracing/all-in-one:latest\n")
    report = review(kennel, tools={}, baseline=baseline)
    assert [(f.rule, f.file) for f in report.active] == [("CR115", "docker-compose.yml")]


def test_baseline_of_another_repository_is_ignored_with_a_warning(kennel: Path, tmp_path: Path) -> None:
    path = _baseline(kennel, tmp_path)
    other = tmp_path / "other"
    subprocess.run(["cp", "-r", str(kennel), str(other)], check=True)
    subprocess.run(["rm", "-rf", str(other / ".git")], check=True)
    subprocess.run(["git", "-C", str(other), "init", "-q"], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(other),
            "-c",
            "user.name=o",
            "-c",
            "user.email=o@example.com",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "another history",
        ],
        check=True,
    )
    report = review(other, tools={}, baseline=read_baseline(path))
    assert any("written for another repository" in w for w in report.warnings)
    assert report.active  # nothing hidden


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "not a critterops baseline", id="not-json"),
        pytest.param('{"schema": "other/v1", "findings": []}', "expected schema", id="wrong-schema"),
    ],
)
def test_bad_baseline_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "b.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message):
        read_baseline(path)


def test_missing_baseline_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such baseline file"):
        read_baseline(tmp_path / "absent.json")
