"""The GitHub Action (``action.yml``): its steps run as scripts against the bundled example's pull request.

A small runner plays GitHub's part for a composite action: it expands the ``${{ }}`` expressions
the action uses (inputs, step outputs, ``github.token``), evaluates the ``if:`` conditions, runs
each ``run:`` with ``bash --noprofile --norc -eo pipefail`` (GitHub's ``shell: bash``) and reads
each step's ``$GITHUB_OUTPUT`` file. The install step is replaced by a venv-shaped folder whose
``critterops`` runs this checkout (installing would need the network). ``gh`` is a fake that
answers the comments API from canned JSON through the real ``jq`` filter the action gives it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops.commands._example import BASE_BRANCH, HEAD_BRANCH, build_example_repo
from critterops.generate import pins

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
MARKER = "<!-- critterops:plan -->"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
CONDITION = re.compile(r"^inputs\.([\w-]+) (==|!=) '([^']*)'$")


@dataclass
class Run:
    returncode: int
    outputs: dict[str, str]
    log: str
    ran: list[str] = field(default_factory=list)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def _shim(temp: Path) -> Path:
    """What the install step leaves behind, pointing at this checkout's critterops."""
    venv = temp / "critterops-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "critterops").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m critterops "$@"\n')
    (venv / "bin" / "critterops").chmod(0o755)
    (venv / "bin" / "python").symlink_to(sys.executable)
    return venv


def run_action(
    workspace: Path, event: dict[str, Any], inputs: dict[str, str], tmp: Path, env: dict[str, str] | None = None
) -> Run:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    values["github-token"] = ""  # no token: the comment goes to a file
    values.update(inputs)
    temp = tmp / "runner-temp"
    temp.mkdir()
    event_path = tmp / "event.json"
    event_path.write_text(json.dumps(event), encoding="utf-8")
    steps: dict[str, dict[str, str]] = {}
    log: list[str] = []
    ran: list[str] = []

    def expand(text: str) -> str:
        def one(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("inputs."):
                return values[expr.removeprefix("inputs.")]
            if parts := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr):
                return steps.get(parts.group(1), {}).get(parts.group(2), "")
            if expr == "github.token":
                return values["github-token"]
            raise AssertionError(f"the test runner does not know ${{{{ {expr} }}}}")

        return EXPRESSION.sub(one, text)

    for step in action["runs"]["steps"]:
        if step.get("id") == "install":
            steps["install"] = {"venv": str(_shim(temp))}
            continue
        if "if" in step:
            match = CONDITION.match(step["if"])
            assert match, f"unsupported condition {step['if']!r}"
            name, op, literal = match.groups()
            if (values[name] == literal) != (op == "=="):
                continue
        assert step["shell"] == "bash"
        assert not EXPRESSION.search(step["run"]), "no ${{ }} inside run: scripts (template injection)"
        output = tmp / f"output-{len(ran)}"
        output.touch()
        script = tmp / f"step-{len(ran)}.sh"
        script.write_text(step["run"], encoding="utf-8")
        step_env = {
            **os.environ,
            **(env or {}),
            **{key: expand(str(value)) for key, value in (step.get("env") or {}).items()},
            "GITHUB_OUTPUT": str(output),
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
            "GITHUB_ACTION_PATH": str(ROOT),
            "GITHUB_REPOSITORY": "example/pawmart",
            "RUNNER_TEMP": str(temp),
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env=step_env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        ran.append(step["name"])
        log.append(done.stdout + done.stderr)
        steps[step.get("id", step["name"])] = dict(
            line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if "=" in line
        )
        if done.returncode != 0:
            return Run(done.returncode, steps.get("assess", {}), "\n".join(log), ran)
    return Run(0, steps.get("assess", {}), "\n".join(log), ran)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The example repository on its pull-request branch and a pull_request event for it.

    The event carries a hostile branch name and title: the action must never run them.
    """
    repo = build_example_repo(tmp_path_factory.mktemp("action") / "pawmart")
    canary = tmp_path_factory.mktemp("canary") / "pwned"
    hostile = f'$(touch {canary})"; touch {canary}; echo "'
    event = {
        "pull_request": {
            "number": 7,
            "title": hostile,
            "base": {"sha": _git(repo, "rev-parse", BASE_BRANCH), "ref": "main"},
            "head": {"sha": _git(repo, "rev-parse", HEAD_BRANCH), "ref": hostile},
        },
        "canary": str(canary),
    }
    return repo, event


def test_comment_body_and_outputs_for_the_example_pull_request(
    example: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    repo, event = example
    result = run_action(repo, event, {}, tmp_path)
    assert result.returncode == 0, result.log
    out = result.outputs
    assert out["max-level"] == "high"
    services = json.loads(out["services"])
    assert {"orders-api", "payments-api", "inventory-api"} <= set(services)
    matrix = json.loads(out["affected"])
    assert {row["service"] for row in matrix["include"]} == set(services)
    assert out["deploy"] == "true"
    assert "include" in json.loads(out["tests"])
    body = Path(out["comment-file"]).read_text(encoding="utf-8")
    assert body.startswith(MARKER + "\n### critterops plan for `production`")
    table = body.index("| Phase | Service | Strategy | Risk | Gates | Rollback |")
    assert table < body.index("<details>"), "the summary table comes before the folded details"
    for service in services:
        assert f"| `{service}` |" in body
        assert f"<details><summary><b>{service}</b>" in body
    assert "<details><summary>Risk report</summary>" in body
    assert body.count("<details>") == body.count("</details>")
    assert event["pull_request"]["base"]["sha"][:10] in body
    assert "no token or no pull request: the comment is in" in result.log
    assert (tmp_path / "summary.md").read_text(encoding="utf-8") == body
    assert not Path(event["canary"]).exists(), "the pull request's branch name or title was executed"


def _fake_gh(folder: Path, comments: list[dict[str, Any]]) -> Path:
    """A ``gh`` that answers ``api`` calls: GETs from ``comments`` through the real jq, writes logged."""
    folder.mkdir()
    (folder / "comments.json").write_text(json.dumps(comments), encoding="utf-8")
    (folder / "gh").write_text(
        f"#!{sys.executable}\n"
        "import json, subprocess, sys\n"
        f"folder = {str(folder)!r}\n"
        "args = sys.argv[1:]\n"
        "with open(folder + '/calls.jsonl', 'a') as log:\n"
        "    log.write(json.dumps(args) + '\\n')\n"
        "if '--jq' in args:\n"
        "    data = open(folder + '/comments.json').read()\n"
        "    jq = args[args.index('--jq') + 1]\n"
        "    sys.stdout.write(subprocess.run(['jq', '-r', jq], input=data, text=True, capture_output=True,"
        " check=True).stdout)\n"
        "for i, arg in enumerate(args):\n"
        "    if arg == '-F' and args[i + 1].startswith('body=@'):\n"
        "        open(folder + '/posted.md', 'w').write(open(args[i + 1][6:]).read())\n"
    )
    (folder / "gh").chmod(0o755)
    return folder


@pytest.mark.skipif(shutil.which("jq") is None, reason="the fake gh applies the action's filter with jq")
@pytest.mark.parametrize("existing", [False, True])
def test_the_comment_is_sticky(example: tuple[Path, dict[str, Any]], tmp_path: Path, existing: bool) -> None:
    repo, event = example
    comments = [{"id": 11, "body": "LGTM"}, {"id": 12, "body": f"not ours, quoting {MARKER}"}]
    if existing:
        comments.append({"id": 42, "body": f"{MARKER}\nan older plan"})
    fake = _fake_gh(tmp_path / "fake", comments)
    result = run_action(
        repo,
        event,
        {"github-token": "t0ken"},
        tmp_path,
        env={"PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.log
    calls = [json.loads(line) for line in (fake / "calls.jsonl").read_text().splitlines()]
    assert calls[0][:3] == ["api", "--paginate", "repos/example/pawmart/issues/7/comments"]
    write = calls[1]
    if existing:
        assert write[:4] == ["api", "--method", "PATCH", "repos/example/pawmart/issues/comments/42"]
        assert "updated comment 42" in result.log
    else:
        assert write[:4] == ["api", "--method", "POST", "repos/example/pawmart/issues/7/comments"]
    assert len(calls) == 2
    assert (fake / "posted.md").read_text(encoding="utf-8") == Path(result.outputs["comment-file"]).read_text()


@pytest.mark.parametrize(("fail_on", "code"), [("", 0), ("high", 1), ("medium", 1), ("severe", 2)])
def test_fails_only_when_fail_on_is_given(
    example: tuple[Path, dict[str, Any]], tmp_path: Path, fail_on: str, code: int
) -> None:
    repo, event = example
    result = run_action(repo, event, {"fail-on": fail_on, "comment": "false"}, tmp_path)
    assert result.returncode == code, result.log
    assert ("Gate on the risk level" in result.ran) == bool(fail_on)
    if code == 1:
        assert f"::error title=critterops::risk high reaches fail-on {fail_on}" in result.log


def test_a_shallow_clone_gets_critterops_message(example: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    repo, event = example
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", HEAD_BRANCH, f"file://{repo}", str(shallow)], check=True
    )
    result = run_action(shallow, event, {}, tmp_path)
    assert result.returncode == 2
    assert "::error title=critterops risk::" in result.log
    assert "fetch-depth: 0" in result.log


def _readme_workflow() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## GitHub Action") :]
    return section[section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml\n") + 8)]


def test_readme_workflow_pins_checkout_and_grants_least_privilege() -> None:
    workflow = _readme_workflow()
    sha, version = pins.ACTIONS["actions/checkout"]
    assert f"uses: actions/checkout@{sha} # {version}" in workflow
    data = yaml.safe_load(workflow)
    assert data["permissions"] == {}
    assert data["jobs"]["plan"]["permissions"] == {"contents": "read", "pull-requests": "write"}


@pytest.mark.skipif(shutil.which("zizmor") is None, reason="zizmor is in the test extra")
def test_zizmor_pedantic_finds_nothing_in_the_action() -> None:
    done = subprocess.run(
        ["zizmor", "--offline", "--persona", "pedantic", "--format", "json", str(ACTION)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.skipif(shutil.which("actionlint") is None, reason="actionlint is in the test extra")
def test_actionlint_checks_the_action_through_the_readme_workflow(tmp_path: Path) -> None:
    """actionlint reads action metadata when a workflow uses a local action: the README's workflow,
    pointed at ``./``, checks the action's inputs and outputs as a caller uses them."""
    shutil.copy(ACTION, tmp_path / "action.yml")
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    workflow = re.sub(r"uses: [\w-]+/critterops@\S+.*", "uses: ./", _readme_workflow())
    (workflows / "plan.yml").write_text(workflow, encoding="utf-8")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    done = subprocess.run(
        ["actionlint", "-no-color", ".github/workflows/plan.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    zizmor = shutil.which("zizmor")
    if zizmor:  # the snippet as written (with `uses: ./` zizmor would ask for `$/`, github.com's self syntax)
        snippet = tmp_path / "snippet.yml"
        snippet.write_text(_readme_workflow(), encoding="utf-8")
        checked = subprocess.run(
            [zizmor, "--offline", "--format", "json", str(snippet)], capture_output=True, text=True
        )
        assert checked.returncode == 0, checked.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_the_bash_steps_pass_shellcheck(tmp_path: Path) -> None:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    for i, step in enumerate(action["runs"]["steps"]):
        script = tmp_path / f"{i}.sh"
        script.write_text(step["run"], encoding="utf-8")
        done = subprocess.run(["shellcheck", "-s", "bash", str(script)], capture_output=True, text=True)
        assert done.returncode == 0, f"{step['name']}:\n{done.stdout}"
