"""Reports read as sentences: no Python ``None``, no "1 sagas" (issue 13, item 9)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from critterops.cli import main
from critterops.discover import discover
from critterops.model import System
from critterops.report.markdown import system_markdown
from critterops.report.text import print_system
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

NONE = re.compile(r"\bNone\b")
# "1 sagas", "1 files": a count of one followed by a plural noun (words that end in s when singular aside)
ONE_PLURAL = re.compile(r"(?<![\d.,])\b1 (?!(?:class|status|address|process|pass|bus|alias)\b)([a-z]+s)\b")


def _text(system: System) -> str:
    console = Console(record=True, width=300, file=io.StringIO())
    print_system(system, console, verbose=True)
    return console.export_text()


def _problems(text: str) -> list[str]:
    return [m.group(0) for m in NONE.finditer(text)] + [m.group(0) for m in ONE_PLURAL.finditer(text)]


def test_the_patterns_catch_what_they_are_for() -> None:
    assert _problems("1 sagas, 2 flows, default None") == ["None", "1 sagas"]
    assert _problems("1 saga, 11 sagas, 0.1 files, 1 class") == []


def _one_of_each(write_repo: WriteRepo) -> System:
    """Two services, one flow, one contract, one saga: every count that is 1 shows its noun's singular."""
    return discover(
        write_repo(
            {
                "Contracts/Contracts.csproj": LIB_CSPROJ,
                "Contracts/Messages.cs": "namespace Contracts;\npublic record Ping(Guid Id);\n",
                "A/A.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
                "A/Program.cs": """builder.Host.UseWolverine(opts => {
                opts.UseRabbitMq();
                opts.PublishMessage<Ping>().ToRabbitQueue("pings");
            });""",
                "B/B.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
                "B/Program.cs": 'builder.Host.UseWolverine(o => { o.UseRabbitMq(); o.ListenToRabbitQueue("pings"); });',
                "B/PingSaga.cs": "public class PingSaga : Saga { public Guid Id { get; set; } "
                "public void Handle(Ping p) {} }",
            }
        )
    )


def test_system_reports_of_the_example(pawmart: Path) -> None:
    system = discover(pawmart)
    for report in (_text(system), system_markdown(system)):
        assert "1 saga," in report
        assert _problems(report) == []


def test_system_reports_of_a_fixture_with_counts_of_one(write_repo: WriteRepo) -> None:
    system = _one_of_each(write_repo)
    assert len(system.flows) == 1
    for report in (_text(system), system_markdown(system)):
        assert "1 message flow," in report
        assert _problems(report) == []


@pytest.mark.parametrize("command", ["risk", "plan"])
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_change_reports_of_the_example(capsys: pytest.CaptureFixture[str], command: str, fmt: str) -> None:
    assert main([command, "--example", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out.strip()
    assert _problems(out) == []
