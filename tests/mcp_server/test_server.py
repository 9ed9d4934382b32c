"""``critterops mcp`` through the SDK's real client: the server is a subprocess on stdio.

The client side is ``mcp`` 2.3.0's ``stdio_client`` + ``ClientSession`` (``initialize``, ``list_tools``,
``call_tool``); cancelling the caller's scope makes the client send ``notifications/cancelled``
(mcp 2.3.0 ``client/session.py``: ``cancel_on_abandon`` stays at the dispatcher default, True).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

mcp = pytest.importorskip("mcp")
anyio = pytest.importorskip("anyio")
jsonschema = pytest.importorskip("jsonschema")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402
from mcp.types import TextContent  # noqa: E402

from critterops.commands._common import example_path  # noqa: E402
from critterops.commands._example import BASE_BRANCH, build_example_repo  # noqa: E402

READ_ONLY_TOOLS = {"scan", "risk", "plan", "affected", "review", "generate", "deploy_status"}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled example as a git repository, on its pull-request branch."""
    return build_example_repo(tmp_path_factory.mktemp("mcp") / "pawmart")


@asynccontextmanager
async def session(root: Path, *extra: str) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "critterops", "mcp", "--repo", str(root), *extra], cwd=str(root)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as client:
        await client.initialize()
        yield client


def run(root: Path, body: Callable[[ClientSession], Awaitable[Any]], *extra: str) -> Any:
    async def main() -> Any:
        async with session(root, *extra) as client:
            return await body(client)

    return anyio.run(main)


def text(result: Any) -> str:
    """The text block every critterops tool answers with (the JSON, or the error message)."""
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def cli_json(*argv: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "critterops", *argv], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode in (0, 1), done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def cli_error(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "critterops", *argv], capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 2, done.stdout
    return done.stderr.strip().removeprefix("critterops: error: ")


def test_lists_the_read_only_tools_with_schemas(repo: Path) -> None:
    listed = run(repo, lambda c: c.list_tools()).tools
    tools = {t.name: t for t in listed}
    assert set(tools) == READ_ONLY_TOOLS  # no status without --exporter
    assert tools["plan"].output_schema["properties"]["schema"] == {"const": "critterops.plan/v2"}
    assert tools["risk"].output_schema["properties"]["schema"] == {"const": "critterops.risk/v1"}
    assert tools["scan"].output_schema["properties"]["schema"] == {"const": "critterops.system/v1"}
    assert {"path", "base", "head", "example", "no_model", "policy", "env"} <= set(
        tools["plan"].input_schema["properties"]
    )
    assert tools["scan"].annotations.read_only_hint is True
    assert tools["generate"].annotations.read_only_hint is False


def test_status_tool_only_with_an_exporter(repo: Path) -> None:
    listed = run(repo, lambda c: c.list_tools(), "--exporter", "http://127.0.0.1:9")
    assert "status" in {t.name for t in listed.tools}


def test_each_read_only_tool_answers_what_the_cli_prints(repo: Path) -> None:
    async def body(client: ClientSession) -> dict[str, Any]:
        calls: dict[str, dict[str, Any]] = {
            "scan": {},
            "risk": {"base": BASE_BRANCH},
            "plan": {"base": BASE_BRANCH},
            "affected": {"base": BASE_BRANCH},
            "review": {"no_tools": True},
            "deploy_status": {},
        }
        tools = {t.name: t for t in (await client.list_tools()).tools}
        results = {}
        for name, arguments in calls.items():
            result = await client.call_tool(name, arguments)
            assert not result.is_error, result.content
            if tools[name].output_schema:
                jsonschema.validate(result.structured_content, tools[name].output_schema)
            assert json.loads(text(result)) == result.structured_content
            results[name] = result.structured_content
        return results

    results = run(repo, body)
    assert results["scan"] == cli_json("scan", str(repo), "--format", "json")
    assert results["risk"] == cli_json("risk", str(repo), "--base", BASE_BRANCH, "--format", "json")
    assert results["plan"] == cli_json("plan", str(repo), "--base", BASE_BRANCH, "--format", "json")
    assert results["affected"] == cli_json("affected", str(repo), "--base", BASE_BRANCH)
    review = cli_json("review", str(repo), "--no-tools", "--format", "json")
    assert {**results["review"], "seconds": 0} == {**review, "seconds": 0}  # the one field that differs per run
    assert results["plan"]["services"], "the example's pull request affects services"
    assert results["deploy_status"] == {"rollout": None, "message": f"no rollouts in {repo / '.critterops/deploy'}"}


def test_example_argument_uses_the_bundled_example(repo: Path) -> None:
    result = run(repo, lambda c: c.call_tool("risk", {"example": True, "no_model": True}))
    assert not result.is_error
    assert result.structured_content["schema"] == "critterops.risk/v1"
    assert {s["service"] for s in result.structured_content["services"]} >= {"orders-api"}


def test_errors_carry_the_cli_message(repo: Path) -> None:
    async def body(client: ClientSession) -> list[Any]:
        return [
            await client.call_tool("risk", {"base": "no-such-branch"}),
            await client.call_tool("plan", {"base": BASE_BRANCH, "env": "moon"}),
            await client.call_tool("risk", {"example": True, "base": BASE_BRANCH}),
        ]

    bad_base, bad_env, example_and_base = run(repo, body)
    assert bad_base.is_error and bad_env.is_error and example_and_base.is_error
    expected = cli_error("risk", str(repo), "--base", "no-such-branch")
    assert expected in text(bad_base)
    assert cli_error("plan", str(repo), "--base", BASE_BRANCH, "--env", "moon") in text(bad_env)
    assert "--example compares the example's main" in text(example_and_base)


def test_bad_arguments_are_tool_errors(repo: Path) -> None:
    async def body(client: ClientSession) -> list[Any]:
        return [
            await client.call_tool("scan", {"example": [1]}),
            await client.call_tool("plan", {"head": 42}),
            await client.call_tool("no_such_tool", {}),
        ]

    wrong_type, wrong_head, unknown = run(repo, body)
    assert wrong_type.is_error and wrong_head.is_error and unknown.is_error
    assert "example" in text(wrong_type)
    assert "head" in text(wrong_head)
    assert "no_such_tool" in text(unknown)


def test_paths_outside_the_repository_are_refused(repo: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    shutil.copytree(example_path(), outside)
    link = repo / "escape"
    link.symlink_to(outside, target_is_directory=True)
    try:

        async def body(client: ClientSession) -> list[Any]:
            return [
                await client.call_tool("scan", {"path": str(outside)}),
                await client.call_tool("scan", {"path": "../"}),
                await client.call_tool("scan", {"path": "escape"}),  # a symlink out of the repository
                await client.call_tool("risk", {"base": BASE_BRANCH, "policy": "escape/critterops.yaml"}),
                await client.call_tool("generate", {"out": "escape/deploy"}),
                await client.call_tool("deploy_status", {"state_dir": "/tmp"}),
            ]

        results = run(repo, body, "--allow-writes")
    finally:
        link.unlink()
    for result in results:
        assert result.is_error
        assert "is outside the repository this server was started on" in text(result)
    assert not (outside / "deploy").exists()


def test_generate_checks_by_default_and_writes_only_when_allowed(repo: Path) -> None:
    checked = run(repo, lambda c: c.call_tool("generate", {"only": "github"}))
    assert not checked.is_error, checked.content
    assert checked.structured_content["up_to_date"] is False
    assert checked.structured_content["differences"]
    refused = run(repo, lambda c: c.call_tool("generate", {"check": False, "only": "github"}))
    assert refused.is_error and "--allow-writes" in text(refused)
    assert not (repo / "deploy").exists()

    async def write_then_check(client: ClientSession) -> list[Any]:
        return [
            await client.call_tool("generate", {"check": False, "only": "github", "out": "kit"}),
            await client.call_tool("generate", {"only": "github", "out": "kit"}),
        ]

    try:
        written, again = run(repo, write_then_check, "--allow-writes")
        assert not written.is_error, written.content
        assert "written" in written.structured_content["summary"]
        assert any((repo / "kit").rglob("*.yml"))
        assert again.structured_content["up_to_date"] is True
    finally:
        shutil.rmtree(repo / "kit", ignore_errors=True)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _server_pid(root: Path) -> int:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"mcp" in argv and str(root).encode() in argv:
                return int(entry.name)
    raise AssertionError("the server process was not found")


@pytest.mark.slow
def test_a_cancelled_scan_stops_and_the_server_stays_healthy(tmp_path: Path) -> None:
    """A scan of ~2,500 C# files runs for about eight seconds; cancelling it after one kills its worker at once."""
    big = tmp_path / "big"
    shutil.copytree(example_path(), big)
    for i in range(250):
        shutil.copytree(big / "src" / "Orders", big / "src" / f"Copy{i}" / "Orders")

    async def body(client: ClientSession) -> tuple[float, list[int], list[int], Any, float]:
        server = _server_pid(big)
        during: list[int] = []

        async def watch() -> None:
            await anyio.sleep(0.7)
            during.extend(_children(server))

        started = time.perf_counter()
        with anyio.move_on_after(1.0) as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(watch)
                await client.call_tool("scan", {})
        assert scope.cancelled_caught, "the scan finished within a second: the test repository is too small"
        cancelled_after = time.perf_counter() - started
        assert during, "the scan ran in no worker process"
        for _ in range(10):  # the kill is asynchronous to the client; a live worker would run for seconds more
            if not _children(server):
                break
            await anyio.sleep(0.1)
        after = _children(server)
        started = time.perf_counter()
        result = await client.call_tool("scan", {"example": True})
        return cancelled_after, during, after, result, time.perf_counter() - started

    cancelled_after, during, after, result, elapsed = run(big, body)
    assert cancelled_after < 2.0
    assert after == [], f"the cancelled scan's worker is still running: {after} (was {during})"
    assert not result.is_error and result.structured_content["schema"] == "critterops.system/v1"
    assert elapsed < 30


def test_the_cli_works_without_the_sdk() -> None:
    """``mcp`` is an optional extra: without it every other command runs and ``mcp`` says what to install."""
    code = (
        "import sys; sys.modules['mcp'] = None\n"
        "from critterops.cli import main\n"
        "assert main(['scan', '--example', '--format', 'json']) == 0\n"
        "sys.exit(main(['mcp']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, env={**os.environ}, timeout=120
    )
    assert done.returncode == 2, done.stderr
    assert "pip install 'critterops[mcp]'" in done.stderr
    assert json.loads(done.stdout)["schema"] == "critterops.system/v1"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_status_reads_a_running_exporter_like_the_cli(repo: Path) -> None:
    """A real ``critterops exporter`` (its RabbitMQ source unreachable, so it reports a problem)."""
    url = f"http://127.0.0.1:{_free_port()}"
    exporter = subprocess.Popen(
        [sys.executable, "-m", "critterops", "exporter", "--repo", str(repo), "--listen", url.removeprefix("http://"),
         "--rabbitmq-management", f"http://127.0.0.1:{_free_port()}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            done = subprocess.run(
                [sys.executable, "-m", "critterops", "status", "--from", url, "--format", "json"],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 2:
                break
            time.sleep(0.1)
        cli = json.loads(done.stdout)
        result = run(repo, lambda c: c.call_tool("status", {}), "--exporter", url)
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    assert not result.is_error, text(result)
    data = result.structured_content
    assert data["schema"] == "critterops.status/v1" and data["origin"] == url
    assert data["problems"] == cli["problems"] and data["worst"] == cli["worst"] == "critical"
    assert [s["target"] for s in data["sources"]] == [s["target"] for s in cli["sources"]] == ["rabbitmq"]
    down = run(repo, lambda c: c.call_tool("status", {}), "--exporter", url)
    assert down.is_error
    assert cli_error("status", "--from", url, "--format", "json") in text(down)


def test_a_missing_repository_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "critterops", "mcp", "--repo", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr == f"critterops: error: --repo {tmp_path / 'nowhere'}: not a folder\n"


def _group(pgid: int) -> list[int]:
    """The live processes in process group ``pgid`` (fields 3 and 5 of /proc/PID/stat: state, group)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, _, group = stat.rsplit(")", 1)[1].split()[:3]
            if int(group) == pgid and state != "Z":  # a zombie has ended; its reaping is up to init
                members.append(int(entry.name))
    return members


@pytest.mark.slow
def test_a_cancelled_risk_ends_its_pool_too(tmp_path: Path) -> None:
    """``risk`` reads base and head in a process pool (change/versions.py); a cancel ends the pool as well."""
    big = tmp_path / "big"
    shutil.copytree(example_path(), big)
    for i in range(250):
        shutil.copytree(big / "src" / "Orders", big / "src" / f"Copy{i}" / "Orders")
    git = ["git", "-C", str(big), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    with (big / "src" / "Orders" / "Orders" / "Checkouts" / "Checkout.cs").open("a") as handle:
        handle.write("\n// changed\n")
    subprocess.run([*git, "commit", "-qam", "head"], check=True)

    async def body(client: ClientSession) -> tuple[list[int], list[int], list[int]]:
        server = _server_pid(big)
        workers: list[int] = []
        pool: list[int] = []

        async def watch() -> None:
            await anyio.sleep(1.5)
            workers.extend(_children(server))
            for worker in workers:
                pool.extend(_group(worker))

        with anyio.move_on_after(2.0) as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(watch)
                await client.call_tool("risk", {"base": "HEAD~1", "no_model": True})
        assert scope.cancelled_caught, "risk finished within two seconds: the test repository is too small"
        left: list[int] = []
        for _ in range(10):
            left = [pid for worker in workers for pid in _group(worker)]
            if not left:
                break
            await anyio.sleep(0.1)
        return workers, pool, left

    workers, pool, left = run(big, body)
    assert len(workers) == 1
    assert len(pool) >= 2, f"no pool processes seen in the worker's group: {pool}"
    assert left == [], f"processes of the cancelled risk still run: {left}"
