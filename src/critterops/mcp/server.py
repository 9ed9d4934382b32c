"""The MCP server behind ``critterops mcp``: the read-only commands as typed tools over stdio.

Built on the official SDK (``mcp`` 2.3.0: ``mcp.server.mcpserver.MCPServer``, the 2.x name of
FastMCP). Four rules shape it:

* **Same output as the CLI.** Each tool builds its ``argparse.Namespace`` with the CLI's own
  parser and calls the function the command calls (``risk_report``, ``plan.build``,
  ``affected_data``, ``discover`` + ``system_dict``, ``review`` + ``as_dict``), so the structured
  content is the document ``--format json`` prints (``critterops.system/v1``, ``critterops.risk/v1``,
  ``critterops.plan/v2``, ...), and a :class:`CritteropsError` comes back as a tool error carrying
  the CLI's message.
* **One repository.** The server is started on one repository. Every path a tool is given is
  resolved (symlinks followed) and refused when it lands outside it.
* **Read-only unless asked.** ``generate`` writes only when the server was started with
  ``--allow-writes``; its check mode is always allowed.
* **Cancellable.** A scan of a large repository runs for seconds and cannot be interrupted inside
  a thread. Each call therefore runs in a forked child process; a client's
  ``notifications/cancelled`` kills the child and the server carries on with the next request.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import multiprocessing
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import anyio
import anyio.to_thread
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from critterops import __version__
from critterops.errors import CritteropsError, UserError

# The top-level keys of each document, checked against the CLI's JSON in tests/mcp.
DOCUMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "scan": (
        "critterops.system/v1",
        ("root", "solution", "services", "infrastructure", "contracts", "flows", "exchanges", "projects", "warnings"),
    ),
    "risk": (
        "critterops.risk/v1",
        (
            "repository", "base", "head", "files_changed", "deploy", "range_risk", "model", "services",
            "findings", "commits", "tests", "warnings",
        ),
    ),
    "plan": (
        "critterops.plan/v2",
        ("environment", "base", "head", "deploy", "phases", "services", "expand_contract", "warnings", "policy"),
    ),
    "review": ("critterops.review/v1", ()),
    "status": ("critterops.status/v1", ()),
}  # fmt: skip


@dataclass(frozen=True)
class Sandbox:
    """The repository the server was started on and what it may do there."""

    root: Path  # resolved
    allow_writes: bool = False
    exporter: str | None = None

    def inside(self, value: str | None, what: str) -> Path:
        """``value`` (relative to the repository, or absolute) resolved, refused outside the repository."""
        raw = Path(value or ".")
        path = (raw if raw.is_absolute() else self.root / raw).resolve()
        if path != self.root and not path.is_relative_to(self.root):
            raise UserError(
                f"{what} {value!r} is outside the repository this server was started on ({self.root}); "
                "give a path inside it (restart `critterops mcp --repo PATH` for another repository)"
            )
        return path


# -- running a call in a child process -----------------------------------------------------------


def _child(conn: Any, job: Callable[[], Any]) -> None:
    """Run ``job`` and send back ("ok", result), ("error", message) or ("crash", message)."""
    os.setpgid(0, 0)  # its own process group: a cancel also ends the processes it starts (risk's pool)
    try:
        reply: tuple[str, Any] = ("ok", job())
    except CritteropsError as error:
        reply = ("error", str(error))
    except BaseException as error:  # everything must reach the parent as a message
        reply = ("crash", f"{type(error).__name__}: {error}")
    conn.send(reply)
    conn.close()


_LIMIT: anyio.CapacityLimiter | None = None


async def isolated(job: Callable[[], Any]) -> Any:
    """``job()`` in a forked child; a cancelled call kills the child (the parent stays healthy).

    Fork, not spawn: the child starts with critterops already imported (a few milliseconds instead of
    a second). At most two calls run at once (the machines this runs on have few cores).
    """
    global _LIMIT
    if _LIMIT is None:
        _LIMIT = anyio.CapacityLimiter(2)
    async with _LIMIT:
        context = multiprocessing.get_context("fork")
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=_child, args=(sender, job))  # not daemonic: risk scores in a pool
        process.start()
        sender.close()
        try:
            kind, value = await anyio.to_thread.run_sync(_receive, receiver, abandon_on_cancel=True)
        finally:
            if process.is_alive():
                _kill_group(process)
            process.join(timeout=5)
            receiver.close()
    if kind == "error":
        raise ToolError(value)
    if kind == "crash":
        raise ToolError(f"unexpected error: {value}. This is a bug in critterops; please report it")
    return value


def _kill_group(process: Any) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):  # not yet in its own group
        process.kill()


def _receive(conn: Any) -> tuple[str, Any]:
    try:
        reply: tuple[str, Any] = conn.recv()
    except (EOFError, OSError):
        return "crash", "the worker process ended without an answer"
    return reply


def _namespace(argv: Sequence[str]) -> Any:
    """The ``argparse.Namespace`` the CLI would build for ``critterops ARGV`` (same defaults)."""
    from critterops.cli import _commands, build_parser

    return build_parser(_commands()).parse_args(list(argv))


def _captured(command: str, argv: Sequence[str]) -> tuple[int, str, str]:
    """Run a command's ``run`` with its output captured (in the child: no other thread prints)."""
    from critterops.cli import _commands

    args = _namespace([command, *argv])
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code: int = _commands()[command].run(args)
    return code, out.getvalue(), err.getvalue()


def _cli_errors(function: Callable[..., Awaitable[CallToolResult]]) -> Callable[..., Awaitable[CallToolResult]]:
    """A :class:`CritteropsError` raised while checking a call's arguments becomes a tool error with
    the CLI's message (the SDK would report any other exception as a crash, message withheld)."""

    @functools.wraps(function)
    async def wrapper(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            return await function(*args, **kwargs)
        except CritteropsError as error:
            raise ToolError(str(error)) from None

    return wrapper


def _result(data: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=json.dumps(data, indent=2))], structured_content=data)


def _document_schema(tool: str) -> dict[str, Any]:
    schema_id, keys = DOCUMENTS[tool]
    return {
        "type": "object",
        "description": f"the `{schema_id}` document, as `critterops {tool} --format json` prints it",
        "properties": {"schema": {"const": schema_id}, **{key: {} for key in keys}},
        "required": ["schema", *keys],
    }


# -- the tools -------------------------------------------------------------------------------------

Path_ = Annotated[str, Field(description="folder inside the repository (relative to it, or absolute)")]
Example = Annotated[
    bool, Field(description="use the bundled example (PawMart with a five-commit pull request) instead of PATH")
]
Base = Annotated[
    str | None,
    Field(description="the deployed version: branch, tag or commit (default: origin/HEAD, origin/main, main)"),
]
Head = Annotated[str, Field(description="the version to ship (default: HEAD)")]
NoModel = Annotated[bool, Field(description="rules only: skip the statistical model")]
Policy = Annotated[str | None, Field(description="policy file inside the repository (default: critterops.yaml)")]


def _range_argv(box: Sandbox, path: str, base: str | None, head: str, example: bool) -> list[str]:
    if example:
        if base or head != "HEAD":
            raise UserError("--example compares the example's main with its pull-request branch; drop --base/--head")
        return ["--example"]
    argv = [str(box.inside(path, "path")), f"--head={head}"]
    return argv + ([f"--base={base}"] if base else [])


def build_server(box: Sandbox) -> MCPServer[Any]:
    """The server with its tools bound to ``box``."""

    async def scan(path: Path_ = ".", example: Example = False) -> CallToolResult:
        """Read the repository into a system model: services, queues, flows, sagas, projections
        (`critterops scan --format json`, schema critterops.system/v1)."""
        root = None if example else box.inside(path, "path")

        def job() -> dict[str, Any]:
            from critterops.commands._common import example_path
            from critterops.discover import discover
            from critterops.report.plain import system_dict

            data: dict[str, Any] = system_dict(discover(example_path() if root is None else root))
            return data

        return _result(await isolated(job))

    async def risk(
        path: Path_ = ".",
        base: Base = None,
        head: Head = "HEAD",
        example: Example = False,
        no_model: NoModel = False,
        policy: Policy = None,
    ) -> CallToolResult:
        """Score the risk of a git range per service and explain it (`critterops risk --format json`,
        schema critterops.risk/v1)."""
        argv = _range_argv(box, path, base, head, example)
        argv += ["--no-model"] * no_model + ([f"--policy={box.inside(policy, 'policy')}"] if policy else [])

        def job() -> dict[str, Any]:
            from critterops.commands.risk import risk_report
            from critterops.report.risk import risk_dict

            report, empty = risk_report(_namespace(["risk", *argv]))
            if report is None:
                raise UserError(str(empty))
            data: dict[str, Any] = risk_dict(report)
            return data

        return _result(await isolated(job))

    async def plan(
        path: Path_ = ".",
        base: Base = None,
        head: Head = "HEAD",
        example: Example = False,
        env: Annotated[str, Field(description="environment from the policy")] = "production",
        no_model: NoModel = False,
        policy: Policy = None,
    ) -> CallToolResult:
        """The deployment plan for a git range: strategy, gates, order and rollback per service
        (`critterops plan --format json`, schema critterops.plan/v2)."""
        argv = [*_range_argv(box, path, base, head, example), f"--env={env}"]
        argv += ["--no-model"] * no_model + ([f"--policy={box.inside(policy, 'policy')}"] if policy else [])

        def job() -> dict[str, Any]:
            from critterops.commands.plan import build
            from critterops.report.plan import plan_dict

            built, empty = build(_namespace(["plan", *argv]))
            if built is None:
                raise UserError(str(empty))
            data: dict[str, Any] = plan_dict(built)
            return data

        return _result(await isolated(job))

    async def affected(
        path: Path_ = ".", base: Base = None, head: Head = "HEAD", example: Example = False, no_model: NoModel = False
    ) -> CallToolResult:
        """The services and test projects a git range affects, as GitHub Actions matrices
        (`critterops affected`)."""
        argv = _range_argv(box, path, base, head, example) + ["--no-model"] * no_model

        def job() -> dict[str, Any]:
            from critterops.commands.affected import affected_data

            return affected_data(_namespace(["affected", *argv]))

        return _result(await isolated(job))

    async def review(
        path: Path_ = ".",
        example: Example = False,
        base: Annotated[str | None, Field(description="compare with this commit too (event renames, ...)")] = None,
        no_tools: Annotated[bool, Field(description="only critterops' own rules (no hadolint/zizmor/...)")] = False,
        baseline: Annotated[str | None, Field(description="baseline file inside the repository")] = None,
    ) -> CallToolResult:
        """Critter-aware review of the repository, its Dockerfiles, workflows and manifests
        (`critterops review --format json`, schema critterops.review/v1)."""
        root = None if example else box.inside(path, "path")
        baseline_path = box.inside(baseline, "baseline") if baseline else None

        def job() -> dict[str, Any]:
            from critterops.commands._common import example_path
            from critterops.review import review as run_review
            from critterops.review.render import as_dict
            from critterops.review.suppress import read_baseline

            report = run_review(
                example_path() if root is None else root,
                base=base,
                baseline=read_baseline(baseline_path) if baseline_path else None,
                skip_tools=no_tools,
            )
            data: dict[str, Any] = as_dict(report)
            return data

        return _result(await isolated(job))

    async def generate(
        path: Path_ = ".",
        out: Annotated[str | None, Field(description="kit folder inside the repository (default: deploy/)")] = None,
        check: Annotated[
            bool, Field(description="compare the folder with the kit and report differences; write nothing")
        ] = True,
        only: Annotated[str | None, Field(description="parts: kubernetes,github,observability,runbooks,docker")] = None,
        no_argo: Annotated[bool, Field(description="plain Deployments instead of Argo Rollouts")] = False,
        tag: Annotated[str | None, Field(description="immutable image tag (default: the git commit)")] = None,
    ) -> CallToolResult:
        """Generate the deployment kit into a folder of the repository, or check that folder against it
        (`critterops generate [--check]`). Writing needs the server started with --allow-writes."""
        if not check and not box.allow_writes:
            raise ToolError(
                "generate writes files only when the server was started with --allow-writes; "
                "call it with check=true to compare instead"
            )
        root = box.inside(path, "path")
        target = box.inside(out, "out") if out else box.inside(str(root / "deploy"), "out")
        argv = [str(root), f"--out={target}"] + ["--check"] * check + ["--no-argo"] * no_argo
        argv += ([f"--only={only}"] if only else []) + ([f"--tag={tag}"] if tag else [])

        def job() -> dict[str, Any]:
            code, text, warnings = _captured("generate", argv)
            lines = text.splitlines()
            return {
                "out": str(target),
                "check": check,
                "up_to_date": (code == 0) if check else None,
                "summary": lines[-1] if lines else "",
                "differences": lines[:-1] if check else [],
                "warnings": [w.removeprefix("warning: ") for w in warnings.splitlines() if w],
            }

        return _result(await isolated(job))

    async def deploy_status(
        service: Annotated[str | None, Field(description="the service (default: the only rollout)")] = None,
        state_dir: Annotated[
            str | None, Field(description="state folder inside the repository (default: .critterops/deploy)")
        ] = None,
    ) -> CallToolResult:
        """The state of a local progressive rollout (`critterops deploy status --format json`)."""
        folder = box.inside(state_dir or ".critterops/deploy", "state_dir")
        argv = ["status", "--format=json", f"--state-dir={folder}"] + ([f"--service={service}"] if service else [])

        def job() -> dict[str, Any]:
            _, text, _ = _captured("deploy", argv)
            if not text.lstrip().startswith("{"):  # "no rollouts in FOLDER"
                return {"rollout": None, "message": text.strip()}
            return {"rollout": json.loads(text), "message": None}

        return _result(await isolated(job))

    async def status() -> CallToolResult:
        """Projections, dead letters, inbox/outbox, sagas and queues of the running system, read from the
        exporter given at start (`critterops status --from URL --format json`, schema critterops.status/v1)."""
        url = box.exporter
        assert url is not None

        def job() -> dict[str, Any]:
            import time

            from critterops.watch.collectors import read_exporter
            from critterops.watch.config import Limits
            from critterops.watch.status import assess

            data: dict[str, Any] = assess(read_exporter(url), Limits(), time.time(), origin=url).to_dict()
            return data

        return _result(await isolated(job))

    read_only = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
    functions: list[tuple[Callable[..., Any], ToolAnnotations]] = [
        (scan, read_only),
        (risk, read_only),
        (plan, read_only),
        (affected, read_only),
        (review, read_only),
        (generate, ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True)),
        (deploy_status, read_only),
    ]
    if box.exporter:
        functions.append((status, ToolAnnotations(read_only_hint=True, open_world_hint=True)))
    tools = []
    for function, hints in functions:
        tool = Tool.from_function(_cli_errors(function), annotations=hints, structured_output=False)
        if tool.name in DOCUMENTS:
            # a schema published without a model is advertised, not validated (mcp 2.3.0 func_metadata.py)
            tool.fn_metadata.output_schema = _document_schema(tool.name)
        tools.append(tool)
    return MCPServer(
        name="critterops",
        version=__version__,
        instructions=(
            f"critterops for the repository {box.root}: scan, risk, plan, affected, review, generate (check mode "
            + ("or writing" if box.allow_writes else "only: started read-only")
            + "), deploy_status"
            + (" and status" if box.exporter else "")
            + ". Paths are relative to the repository; paths outside it are refused."
        ),
        tools=tools,
    )


def serve(root: Path, allow_writes: bool = False, exporter: str | None = None) -> None:
    """Serve over stdio until the client closes the connection."""
    if not root.is_dir():
        raise UserError(f"--repo {root}: not a folder")
    box = Sandbox(root.resolve(), allow_writes, exporter)
    os.environ.setdefault("GIT_TERMINAL_PROMPT", "0")  # a git call must never wait on the protocol's stdin
    build_server(box).run("stdio")
