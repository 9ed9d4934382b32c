"""Bad input gets a warning and a partial model, or a clear error with exit code 2; never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from critterops.cli import main
from critterops.discover import discover
from critterops.errors import UserError
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

PROGRAM = 'var b = WebApplication.CreateBuilder(args);\nb.Host.UseWolverine(o => o.ListenToRabbitQueue("in"));\n'


def messages(root: Path) -> list[str]:
    return [f"{w.file}: {w.message}" for w in discover(root).warnings]


def test_missing_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "no such directory" in err and "Traceback" not in err


def test_a_file_is_not_a_repository(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        discover(tmp_path / "f.txt")


def test_empty_folder_warns(tmp_path: Path) -> None:
    system = discover(tmp_path)
    assert system.services == ()
    assert any("no .csproj" in w.message for w in system.warnings)


def test_invalid_csproj_xml_is_partial(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "src/Good/Good.csproj": web_csproj(),
            "src/Good/Program.cs": PROGRAM,
            "src/Bad/Bad.csproj": "<Project Sdk='Microsoft.NET.Sdk.Web'><PropertyGroup>",
        }
    )
    system = discover(root)
    assert [s.name for s in system.services] == ["good"]
    assert any("Bad.csproj" in m and "invalid project XML" in m for m in messages(root))


def test_invalid_json_and_yaml(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "src/A/A.csproj": web_csproj(),
            "src/A/Program.cs": PROGRAM,
            "src/A/Properties/launchSettings.json": '{"profiles": {"a": {"applicationUrl": ',
            "src/A/appsettings.json": "not json",
            "docker-compose.yml": "services:\n  a: [unclosed\n",
        }
    )
    system = discover(root)
    assert system.services[0].http_port is None
    text = "\n".join(messages(root))
    assert "launchSettings.json: invalid JSON" in text
    assert "appsettings.json: invalid JSON" in text
    assert "docker-compose.yml: invalid YAML" in text


def test_binary_and_undecodable_files(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "src/A/A.csproj": web_csproj(),
            "src/A/Program.cs": b"\x00\x01\x02UseWolverine\x00",
            "src/A/Other.cs": b"// \xff\xfe caf\xe9\npublic record X(int A);",
        }
    )
    system = discover(root)
    assert system.services[0].name == "a"
    assert any("binary content" in m for m in messages(root))


def test_csharp_that_does_not_parse(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "src/A/A.csproj": web_csproj(),
            "src/A/Program.cs": PROGRAM + "\nclass Broken { void M( { ListenToRabbitQueue(\n",
        }
    )
    system = discover(root)
    assert system.services[0].listens[0].queue == "in"
    assert any("does not parse cleanly" in m for m in messages(root))


@pytest.mark.skipif(os.name != "posix", reason="symlinks")
def test_symlink_loop_and_escape(write_repo: WriteRepo, tmp_path: Path) -> None:
    root = write_repo({"src/A/A.csproj": web_csproj(), "src/A/Program.cs": PROGRAM})
    (root / "src" / "loop").symlink_to(root / "src")
    outside = tmp_path / "secret.cs"
    outside.write_text("class Secret {}")
    (root / "src" / "A" / "Escape.cs").symlink_to(outside)
    system = discover(root)
    assert [s.name for s in system.services] == ["a"]
    text = "\n".join(messages(root))
    assert "src/loop: symbolic link to a directory: not followed" in text
    assert "Escape.cs: symbolic link that leaves the repository" in text


def test_special_files_are_not_read(write_repo: WriteRepo) -> None:
    """A FIFO named like a source file must not hang the scan (reading it would block forever)."""
    root = write_repo({"src/A/A.csproj": web_csproj(), "src/A/Program.cs": PROGRAM})
    os.mkfifo(root / "src/A/Pipe.cs")
    os.mkfifo(root / "src/A/appsettings.json")
    system = discover(root)
    assert system.services[0].listens[0].queue == "in"


def test_missing_project_reference(write_repo: WriteRepo) -> None:
    root = write_repo(
        {
            "src/A/A.csproj": web_csproj(references=("../Lib/Lib.csproj", "../../../elsewhere/X.csproj")),
            "src/A/Program.cs": PROGRAM,
            "src/Other/Other.csproj": LIB_CSPROJ,
        }
    )
    text = "\n".join(messages(root))
    assert "references src/Lib/Lib.csproj, which does not exist" in text
    assert "outside the repository" in text
