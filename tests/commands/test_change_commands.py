"""``risk``, ``plan`` and ``affected`` end to end on real git repositories."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from critterops.cli import main
from critterops.commands._example import BASE_BRANCH, HEAD_BRANCH, build_example_repo
from tests.change.conftest import git


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_example_repo(tmp_path_factory.mktemp("cli") / "pawmart")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:  # type: ignore[type-arg]
    assert main(list(argv)) == 0
    data: dict = json.loads(capsys.readouterr().out)  # type: ignore[type-arg]
    return data


def test_risk_json_on_the_example(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    data = run_json(
        capsys, "risk", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--no-model", "--format", "json"
    )
    assert data["schema"] == "critterops.risk/v1"
    levels = {s["service"]: s["level"] for s in data["services"]}
    assert levels["fulfillment-worker"] == "high" and levels["payments-api"] == "high"
    breaking = next(f for f in data["findings"] if f["rule"] == "contract-breaking")
    assert breaking["message_types"] == ["Messages.Contracts.Fulfillment.ShipmentDispatched"]
    assert set(breaking["services"]) == {"fulfillment-worker", "orders-api", "storefront-web"}
    assert breaking["files"] == ["src/Shared/Messages.Contracts/Fulfillment/ShipmentEvents.cs:6"]
    orders = next(s for s in data["services"] if s["service"] == "orders-api")
    assert orders["reasons"][0]["rule"] == "contract-breaking", "the most important reason comes first"
    assert [r["weight"] for r in orders["reasons"]] == sorted((r["weight"] for r in orders["reasons"]), reverse=True)


def test_plan_orders_phases_and_marks_unsafe_rollback(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    data = run_json(
        capsys, "plan", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--no-model", "--format", "json"
    )
    assert data["schema"] == "critterops.plan/v2" and data["environment"] == "production"
    by_name = {s["service"]: s for s in data["services"]}
    assert by_name["orders-api"]["phase"] < by_name["fulfillment-worker"]["phase"]
    assert by_name["storefront-web"]["phase"] < by_name["fulfillment-worker"]["phase"]
    assert by_name["payments-api"]["rollback"]["safe"] is False
    assert by_name["payments-api"]["rollback"]["action"] == "roll-forward"
    assert by_name["inventory-api"]["strategy"] == "blue-green"
    assert any(g["name"] == "projection-lag" for g in by_name["inventory-api"]["gates"])
    assert {e["rule"] for e in data["expand_contract"]} == {"contract-breaking", "migration-destructive"}


def test_plan_markdown_starts_with_the_summary_table(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    assert (
        main(["plan", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--no-model", "--format", "markdown"])
        == 0
    )
    out = capsys.readouterr().out
    table = out.index("| Phase | Service |")
    assert table < out.index("<details>")
    assert "| 2 | `fulfillment-worker` | canary |" in out  # a consumer whose preview would consume: canary


@pytest.mark.parametrize(
    ("commits", "expected"),
    [
        # the worker only consumes, and its preview would take live messages: canary by consumer share
        (1, {"orders-api": "blue-green", "storefront-web": "blue-green", "fulfillment-worker": "canary"}),
        (3, {"payments-api": "blue-green"}),
        (4, {"inventory-api": "blue-green"}),
    ],
)
def test_plan_on_successive_versions(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, commits: int, expected: dict[str, str]
) -> None:
    repo = build_example_repo(tmp_path / "p", commits=commits)
    data = run_json(capsys, "plan", str(repo), "--base", BASE_BRANCH, "--no-model", "--format", "json")
    strategies = {s["service"]: s["strategy"] for s in data["services"]}
    assert expected.items() <= strategies.items()


def test_dev_plan_rolls_everything(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    data = run_json(
        capsys,
        "plan",
        str(example),
        "--base",
        BASE_BRANCH,
        "--head",
        HEAD_BRANCH,
        "--env",
        "dev",
        "--no-model",
        "--format",
        "json",
    )
    assert {s["strategy"] for s in data["services"]} == {"rolling"}
    assert len(data["phases"]) == 2, "ordering still holds in dev"


def test_affected_is_a_github_matrix(
    capsys: pytest.CaptureFixture[str], example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    data = run_json(capsys, "affected", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--github-output")
    assert set(data["services"]) == {"include"}, "a matrix object: every other key would become a dimension"
    names = {row["service"] for row in data["services"]["include"]}
    assert names == {"fulfillment-worker", "orders-api", "payments-api", "storefront-web", "inventory-api"}
    assert all(row["project"].endswith(".csproj") for row in data["tests"]["include"])
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    assert json.loads(lines["services"]) == data["services"] and lines["any"] == "true"


def test_docs_only_range_needs_no_deploy(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    data = run_json(
        capsys,
        "plan",
        str(example),
        "--base",
        f"{HEAD_BRANCH}~1",
        "--head",
        HEAD_BRANCH,
        "--no-model",
        "--format",
        "json",
    )
    assert data["deploy"] is False and data["services"] == []


def test_explain_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "critterops.yaml").write_text("thresholds: {http_error_rate: 0.005}\n")
    assert main(["plan", str(tmp_path), "--explain-policy"]) == 0
    out = capsys.readouterr().out
    assert "production" in out and "0.005" in out and "critterops.yaml" in out


# -- bad input ----------------------------------------------------------------------------------


def test_unknown_ref_is_a_usage_error(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    assert main(["risk", str(example), "--base", "origin/nope", "--no-model"]) == 2
    err = capsys.readouterr().err
    assert "unknown git revision 'origin/nope'" in err and "git fetch origin nope" in err


def test_not_a_repository(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["risk", str(tmp_path), "--base", "main"]) == 2
    assert "not a git repository" in capsys.readouterr().err


def test_unknown_environment(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    assert main(["plan", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--env", "prod"]) == 2
    assert "production" in capsys.readouterr().err


def test_shallow_clone_says_what_depth_is_needed(
    capsys: pytest.CaptureFixture[str], example: Path, tmp_path: Path
) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(
        ["git", "clone", "-q", "--depth", "1", "--branch", HEAD_BRANCH, f"file://{example}", str(shallow)], check=True
    )
    assert main(["risk", str(shallow), "--base", f"{HEAD_BRANCH}~3", "--no-model"]) == 2
    err = capsys.readouterr().err
    assert "shallow" in err and "fetch-depth: 0" in err


def test_dirty_tree_and_binary_files_become_warnings(
    capsys: pytest.CaptureFixture[str], example: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "dirty"
    subprocess.run(["git", "clone", "-q", "--branch", HEAD_BRANCH, str(example), str(repo)], check=True)
    (repo / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0binary")
    git(repo, "add", "logo.png")
    git(repo, "commit", "-q", "-m", "logo")
    readme = repo / "README.md"
    readme.write_text(readme.read_text() + "uncommitted\n")
    data = run_json(capsys, "risk", str(repo), "--base", "origin/main", "--no-model", "--format", "json")
    messages = [w["message"] for w in data["warnings"]]
    assert any("uncommitted changes" in m for m in messages)
    assert any(w["file"] == "logo.png" and "binary" in w["message"] for w in data["warnings"])
    assert readme.read_text().endswith("uncommitted\n"), "the working tree is never touched"


def test_merge_commits_and_renames(capsys: pytest.CaptureFixture[str], example: Path, tmp_path: Path) -> None:
    repo = tmp_path / "merge"
    subprocess.run(["git", "clone", "-q", "--branch", BASE_BRANCH, str(example), str(repo)], check=True)
    git(repo, "checkout", "-q", "-b", "topic")
    git(
        repo,
        "mv",
        "src/Shared/Messages.Contracts/Orders/OrderPlaced.cs",
        "src/Shared/Messages.Contracts/Orders/Placed.cs",
    )
    git(repo, "commit", "-q", "-m", "rename the file, keep the type")
    git(repo, "checkout", "-q", BASE_BRANCH)
    git(repo, "merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    data = run_json(capsys, "risk", str(repo), "--base", "HEAD~1", "--no-model", "--format", "json")
    assert not [f for f in data["findings"] if f["rule"].startswith("contract")], "a file rename keeps the type name"


def test_range_without_dotnet_code(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    repo = tmp_path / "docs"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "one")
    (repo / "README.md").write_text("hello again\n")
    git(repo, "commit", "-q", "-am", "two")
    data = run_json(capsys, "risk", str(repo), "--base", "HEAD~1", "--no-model", "--format", "json")
    assert data["deploy"] is False
    assert [f["rule"] for f in data["findings"]] == ["no-deploy"]
    assert any("no .csproj" in w["message"] for w in data["warnings"])


def test_fail_on_high_is_a_ci_gate(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    argv = ["risk", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--no-model"]
    assert main([*argv, "--fail-on", "high"]) == 1
    capsys.readouterr()
    docs_only = ["risk", str(example), "--base", f"{HEAD_BRANCH}~1", "--head", HEAD_BRANCH, "--no-model"]
    assert main([*docs_only, "--fail-on", "medium"]) == 0


def test_risk_markdown_is_a_pull_request_comment(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    assert main(["risk", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.index("| Service | Risk |") < out.index("<details>")
    assert "`contract-breaking`" in out and "riskiest commit's calibrated P(needs a later fix)" in out


def test_risk_with_the_published_model_explains_commits(capsys: pytest.CaptureFixture[str], example: Path) -> None:
    data = run_json(capsys, "risk", str(example), "--base", BASE_BRANCH, "--head", HEAD_BRANCH, "--format", "json")
    assert len(data["commits"]) == 5
    assert all(0 < c["probability"] < 1 and len(c["top_terms"]) == 3 for c in data["commits"])
    assert "trained on" in data["model"]
    payments = next(s for s in data["services"] if s["service"] == "payments-api")
    assert payments["model_probability"] is not None
    # two visible parts, no composite pseudo-probability
    assert all("score" not in s for s in data["services"])
    assert payments["rule_level"] == "high" and payments["model_level"] in ("low", "medium", "high")
    # the range's model view is its riskiest commit, which cannot grow with the number of commits
    top = max(c["probability"] for c in data["commits"])
    assert data["range_risk"]["max_probability"] == top and data["range_risk"]["commits"] == 5
    assert "range_probability" not in data


def test_history_on_a_short_history_says_there_is_not_enough_data(
    capsys: pytest.CaptureFixture[str], example: Path
) -> None:
    assert main(["risk", str(example), "--history"]) == 0
    assert "not enough" in capsys.readouterr().out.lower()
