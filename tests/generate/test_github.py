"""The GitHub Actions workflows: structure, hardening, pins, golden files and the real linters."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from critterops import __version__
from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate import pins, validate, yamlio
from critterops.generate.context import KitContext, system_name
from critterops.generate.dockerfiles import dockerfile_files
from critterops.generate.github import CHECKOV_SKIPS, deploy_environments, github_files
from critterops.generate.kubernetes import kubernetes_files
from critterops.model import Project, Service, System
from critterops.model import TestProject as ModelTestProject
from critterops.plan.policy import default_policy

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))
GOLDEN = Path(__file__).parent / "golden" / "github"
OUT = "deploy"

needs_crittersupply = pytest.mark.skipif(
    not (CRITTERSUPPLY / "CritterSupply.slnx").is_file(),
    reason=f"CritterSupply clone not found at {CRITTERSUPPLY}: "
    "git clone https://github.com/erikshafer/CritterSupply /tmp/cs (or set CRITTEROPS_CRITTERSUPPLY)",
)


def gh_context(root: Path | str, **kwargs: Any) -> KitContext:
    system = discover(root)
    name = system_name(system)
    return KitContext(system, default_policy(), name, f"ghcr.io/acme/{name}", "0123456789ab", **kwargs)


@pytest.fixture(scope="module")
def gh_example() -> dict[str, str]:
    return github_files(gh_context(example_path()), OUT)


@pytest.fixture(scope="module")
def gh_crittersupply() -> dict[str, str]:
    if not (CRITTERSUPPLY / "CritterSupply.slnx").is_file():
        pytest.skip(f"CritterSupply clone not found at {CRITTERSUPPLY}")
    return github_files(gh_context(CRITTERSUPPLY), OUT)


def parsed(files: dict[str, str], name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(files[f".github/workflows/{name}"])
    # PyYAML reads the key `on` as True (YAML 1.1); GitHub reads it as the string "on".
    if True in document:
        document["on"] = document.pop(True)
    return document


def jobs(files: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, job_id, job) for path in files for job_id, job in yaml.safe_load(files[path])["jobs"].items()]


def steps(files: dict[str, str]) -> list[dict[str, Any]]:
    return [step for _, _, job in jobs(files) for step in job.get("steps", [])]


# ─── layout and determinism ──────────────────────────────────────────────────────────────────


def test_the_pipeline_has_its_six_workflows(gh_example: dict[str, str]) -> None:
    assert sorted(gh_example) == [
        f".github/workflows/{name}.yml"
        for name in ("ci", "deploy-production", "deploy-staging", "deploy", "images", "security-scan")
    ]


def test_every_file_starts_with_the_header_and_reruns_are_identical(gh_example: dict[str, str]) -> None:
    assert all(text.startswith(yamlio.HEADER) and text.endswith("\n") for text in gh_example.values())
    assert github_files(gh_context(example_path()), OUT) == gh_example


def test_environments_before_staging_are_not_deployed_and_later_ones_are_promoted_by_hand() -> None:
    ctx = gh_context(example_path())
    auto, manual = deploy_environments(ctx)
    assert auto is not None and auto.name == "staging"
    assert [e.name for e in manual] == ["production"]
    no_staging = dataclasses.replace(
        ctx.policy, environments=tuple(e for e in ctx.policy.environments if e.name != "staging")
    )
    files = github_files(dataclasses.replace(ctx, policy=no_staging), OUT)
    assert ".github/workflows/deploy-staging.yml" not in files
    assert ".github/workflows/deploy-production.yml" in files
    assert ".github/workflows/deploy-dev.yml" not in files


# ─── hardening ───────────────────────────────────────────────────────────────────────────────


def test_workflow_permissions_are_empty_and_jobs_get_least_privilege(gh_example: dict[str, str]) -> None:
    for path in gh_example:
        assert yaml.safe_load(gh_example[path])["permissions"] == {}, path
    for path, job_id, job in jobs(gh_example):
        granted = job["permissions"]
        assert set(granted.values()) <= {"read", "write"}, (path, job_id)
        writes = {scope for scope, level in granted.items() if level == "write"}
        if writes:
            assert writes == WRITERS.get((path.rsplit("/", 1)[1], job_id)), (path, job_id, writes)


# The only jobs that may write: the image job pushes, the deploy job asks for an OIDC token, the
# callers of those reusable workflows grant exactly what the called job needs, and the review job
# uploads its SARIF to code scanning.
WRITERS = {
    ("images.yml", "image"): {"packages"},
    ("deploy.yml", "deploy"): {"id-token"},
    ("deploy-staging.yml", "images"): {"packages"},
    ("deploy-staging.yml", "deploy"): {"id-token"},
    ("deploy-production.yml", "deploy"): {"id-token"},
    ("security-scan.yml", "review"): {"security-events"},
}


def test_every_job_has_a_timeout_unless_it_calls_a_reusable_workflow(gh_example: dict[str, str]) -> None:
    for path, job_id, job in jobs(gh_example):
        if "uses" in job:
            assert job["uses"].startswith("$/.github/workflows/"), (path, job_id)
            assert "secrets" not in job, "no secrets: inherit, no secrets at all"
        else:
            assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0, (path, job_id)


def test_checkouts_never_persist_credentials(gh_example: dict[str, str]) -> None:
    checkouts = [s for s in steps(gh_example) if s.get("uses", "").startswith("actions/checkout@")]
    assert len(checkouts) >= 8
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)


def test_no_dangerous_triggers_and_no_expressions_inside_scripts(gh_example: dict[str, str]) -> None:
    for path, text in gh_example.items():
        assert "pull_request_target" not in text and "workflow_run" not in text, path
        assert "secrets: inherit" not in text, path
    for step in steps(gh_example):
        assert "${{" not in step.get("run", ""), step["name"]


def test_every_action_is_pinned_to_a_known_release_commit_with_its_version(gh_example: dict[str, str]) -> None:
    pattern = re.compile(r"^\s*(?:- )?uses: (\S+)(.*)$")
    seen = set()
    for path, text in gh_example.items():
        for line in text.splitlines():
            match = pattern.match(line)
            if not match:
                continue
            ref, rest = match.groups()
            if ref.startswith("$/"):
                assert rest == "", line
                continue
            action, _, sha = ref.partition("@")
            assert action in pins.ACTIONS, f"{path}: {action} is not in pins.ACTIONS"
            assert pins.is_sha(sha) and sha == pins.ACTIONS[action][0], line
            assert rest == f" # {pins.ACTIONS[action][1]}", f"{path}: {line!r} lacks its version comment"
            seen.add(action)
    assert seen == set(pins.ACTIONS), "every pinned action is used, and only those"


@pytest.mark.parametrize("action", sorted(pins.ACTIONS))
def test_the_pin_table_holds_full_shas_and_release_tags(action: str) -> None:
    sha, version = pins.ACTIONS[action]
    assert re.fullmatch(r"[0-9a-f]{40}", sha)
    assert re.fullmatch(r"v\d+\.\d+\.\d+", version)


def test_downloaded_tools_are_pinned_by_version_and_checksum(gh_example: dict[str, str]) -> None:
    deploy = gh_example[".github/workflows/deploy.yml"]
    for tool in pins.TOOLS.values():
        assert re.fullmatch(r"[0-9a-f]{64}", tool.sha256)
        assert tool.version in tool.url
        assert f'"{tool.url}"' in deploy
        assert f"{tool.sha256}  " in deploy and "sha256sum -c -" in deploy


# ─── ci.yml ──────────────────────────────────────────────────────────────────────────────────


def test_ci_builds_the_solution_once_and_fans_out_tests(gh_example: dict[str, str]) -> None:
    ci = parsed(gh_example, "ci.yml")
    assert set(ci["on"]) == {"pull_request", "push"}
    assert ci["concurrency"]["cancel-in-progress"] == "${{ github.event_name == 'pull_request' }}"
    build = ci["jobs"]["build"]
    assert build["steps"][2]["env"]["SOLUTION"] == "PawMart.slnx"
    assert 'dotnet build "$SOLUTION" --no-restore --configuration Release' in build["steps"][3]["run"]
    setup = build["steps"][1]["with"]
    assert setup["cache-dependency-path"] == "**/packages.lock.json"
    assert "hashFiles('global.json')" in setup["dotnet-version"] and "'10.0.x'" in setup["dotnet-version"]
    for kind in ("unit", "integration"):
        job = ci["jobs"][f"{kind}-tests"]
        assert job["needs"] == ["affected", "build"]
        assert job["if"] == f"fromJSON(needs.affected.outputs.{kind}_any)"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.affected.outputs.{kind}) }}}}"
        test = next(s for s in job["steps"] if s["name"] == "Test")
        assert test["env"]["PROJECT"] == "${{ matrix.project }}" and "--no-build" in test["run"]


def test_pull_requests_ask_critterops_affected_and_main_runs_every_test(gh_example: dict[str, str]) -> None:
    affected = parsed(gh_example, "ci.yml")["jobs"]["affected"]
    checkout, on_pr, on_push = affected["steps"][:3]
    assert checkout["with"]["fetch-depth"] == 0 and checkout["if"] == "github.event_name == 'pull_request'"
    assert on_pr["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert f"pipx run --spec critterops=={__version__} critterops affected" in on_pr["run"]
    assert '--base "origin/$BASE_REF" --github-output' in on_pr["run"]
    every = yaml.safe_load(on_push["run"].split("<<'JSON'\n", 1)[1].rsplit("\nJSON", 1)[0])
    kinds = {t["project"].rsplit("/", 1)[1]: t["kind"] for t in every["tests"]["include"]}
    assert kinds["Orders.UnitTests.csproj"] == "unit"
    assert kinds["Orders.Api.IntegrationTests.csproj"] == "integration"
    assert len(kinds) == 7


# ─── images, deploys, scans ──────────────────────────────────────────────────────────────────


def test_images_are_built_per_service_from_the_root_tagged_with_the_sha(gh_example: dict[str, str]) -> None:
    images = parsed(gh_example, "images.yml")
    assert set(images["on"]) == {"workflow_call", "workflow_dispatch"}
    job = images["jobs"]["image"]
    include = {m["image"]: m["dockerfile"] for m in job["strategy"]["matrix"]["include"]}
    assert include["fulfillment-worker"] == "deploy/docker/fulfillment-worker/Dockerfile"
    assert include["storefront-web"] == "src/Customer Experience/Storefront.Web/Dockerfile"
    assert include["payments-api-migrations"] == "deploy/docker/payments-api/Dockerfile.migrations"
    assert include["critterops-exporter"] == "deploy/docker/critterops-exporter/Dockerfile"
    assert job["env"]["IMAGE"] == "ghcr.io/acme/pawmart/${{ matrix.image }}:${{ github.sha }}"
    build, scan, login, push = job["steps"][1:]
    assert build["with"]["context"] == "." and build["with"]["push"] is False
    assert scan["with"]["fail-build"] is True and scan["with"]["severity-cutoff"] == "high"
    assert login["with"]["registry"] == "ghcr.io"
    assert push["run"] == 'docker push "$IMAGE"\n'
    assert ":latest" not in gh_example[".github/workflows/images.yml"]


def test_deploy_sets_every_image_to_the_sha_applies_the_overlay_and_waits(gh_example: dict[str, str]) -> None:
    deploy = parsed(gh_example, "deploy.yml")
    assert set(deploy["on"]["workflow_call"]["inputs"]) == {"environment", "sha"}
    job = deploy["jobs"]["deploy"]
    assert job["environment"] == "${{ inputs.environment }}"
    assert job["concurrency"]["cancel-in-progress"] is False
    assert job["env"]["OVERLAY"] == "deploy/kubernetes/overlays/${{ inputs.environment }}"
    by_name = {s["name"]: s for s in job["steps"]}
    assert "^[0-9a-f]{40}$" in by_name["Check the inputs"]["run"]
    login = by_name["Log in to AWS with OIDC"]["with"]
    assert login["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}" and "aws-access-key-id" not in login
    set_image = by_name["Set every image to the commit"]["run"]
    wait = by_name["Wait for every rollout"]["run"]
    for service in ("fulfillment-worker", "inventory-api", "orders-api", "payments-api", "storefront-web"):
        assert f'"$REGISTRY/{service}:$SHA"' in set_image
        assert f"wait_rollout {service} " in wait
    for image in ("payments-api-migrations", "critterops-exporter"):
        assert f'"$REGISTRY/{image}:$SHA"' in set_image
    assert "kubectl argo rollouts status" in wait and "--timeout" in wait
    # the order the plan states: configuration, the migration Job (awaited), the Rollouts, the wait
    order = [s["name"] for s in job["steps"]]
    assert order[order.index("Render the overlay") :] == [
        "Render the overlay",
        "Apply the namespace, configuration, Services and policies",
        "Run the jobs that go before the rollout",
        "Apply the Rollouts",
        "Wait for every rollout",
    ]
    assert "critterops.dev/stage=before-rollout" in by_name["Run the jobs that go before the rollout"]["run"]


def test_production_waits_at_the_approval_gate_of_blue_green_services_and_staging_does_not(
    gh_example: dict[str, str],
) -> None:
    wait = next(
        s["run"] for s in parsed(gh_example, "deploy.yml")["jobs"]["deploy"]["steps"] if s["name"].startswith("Wait")
    )
    staging, production = wait.split("  staging)\n", 1)[1].split("  production)\n", 1)
    assert re.search(r"wait_rollout orders-api \d+ 0", staging)
    assert re.search(r"wait_rollout orders-api \d+ 1", production), "orders-api hosts a saga: blue-green, approved"
    assert re.search(r"wait_rollout payments-api \d+ 0", production)


def test_the_deploy_matches_the_kubernetes_overlays(gh_example: dict[str, str]) -> None:
    ctx = gh_context(example_path())
    overlays = {
        path.split("/")[2]: yaml.safe_load(text)
        for path, text in kubernetes_files(ctx).items()
        if path.startswith("kubernetes/overlays/") and path.endswith("/kustomization.yaml")
    }
    env = parsed(gh_example, "deploy.yml")["jobs"]["deploy"]["env"]
    for name in ("staging", "production"):
        assert overlays[name]["namespace"] == env["NAMESPACE"].replace("${{ inputs.environment }}", name)
        images = {i["name"] for i in overlays[name]["images"]}
        pulled = {f"{env['REGISTRY']}/{s.name}" for s in ctx.deployable()}
        pulled |= {f"{env['REGISTRY']}/payments-api-migrations", f"{env['REGISTRY']}/critterops-exporter"}
        assert images == pulled, "every image the overlays pull is set to the commit and built by images.yml"


def test_staging_deploys_every_push_and_production_promotes_a_checked_sha(gh_example: dict[str, str]) -> None:
    staging = parsed(gh_example, "deploy-staging.yml")
    assert staging["on"] == {"push": {"branches": ["main"]}}
    assert staging["jobs"]["deploy"]["needs"] == "images"
    assert staging["jobs"]["deploy"]["with"] == {"environment": "staging", "sha": "${{ github.sha }}"}
    production = parsed(gh_example, "deploy-production.yml")
    assert set(production["on"]) == {"workflow_dispatch"}
    assert production["on"]["workflow_dispatch"]["inputs"]["sha"]["required"] is True
    assert production["concurrency"]["cancel-in-progress"] is False
    assert production["jobs"]["deploy"]["with"] == {"environment": "production", "sha": "${{ inputs.sha }}"}
    verify = production["jobs"]["verify"]
    assert verify["env"]["SHA"] == "${{ inputs.sha }}"
    runs = "\n".join(s.get("run", "") for s in verify["steps"])
    assert "git merge-base --is-ancestor" in runs and "imagetools inspect" in runs
    assert "required reviewers" in gh_example[".github/workflows/deploy-production.yml"]


def test_security_scan_is_scheduled_and_fails_on_findings(gh_example: dict[str, str]) -> None:
    scan = parsed(gh_example, "security-scan.yml")
    assert set(scan["on"]) == {"schedule", "workflow_dispatch"}
    runs = "\n".join(s.get("run", "") for s in steps({"x": gh_example[".github/workflows/security-scan.yml"]}))
    assert "package --vulnerable --include-transitive" in runs and "exit 1" in runs
    assert 'kubectl kustomize "deploy/kubernetes/overlays/production"' in runs
    assert f"checkov=={pins.PYTHON_TOOLS['checkov']}" in runs
    assert all(job["permissions"] == {"contents": "read"} for name, job in scan["jobs"].items() if name != "review")
    assert scan["jobs"]["review"]["permissions"] == {"contents": "read", "security-events": "write"}


def test_without_a_solution_or_argo_the_workflows_build_projects_and_wait_for_deployments() -> None:
    service = Service(
        "billing-api",
        "src/Billing/Billing.csproj",
        "Billing",
        "api",
        tests=(ModelTestProject("tests/Billing.Tests/Billing.Tests.csproj", "unit"),),
    )
    system = System(
        "/r", services=(service,), projects=(Project(service.project, "Billing", "Microsoft.NET.Sdk.Web", "service"),)
    )
    ctx = KitContext(system, default_policy(), "r", "ghcr.io/acme/r", "t", argo=False)
    files = github_files(ctx, OUT)
    build = parsed(files, "ci.yml")["jobs"]["build"]
    assert "dotnet build 'src/Billing/Billing.csproj' --no-restore" in build["steps"][3]["run"]
    wait = parsed(files, "deploy.yml")["jobs"]["deploy"]["steps"][-1]["run"]
    assert 'kubectl rollout status "deployment/billing-api"' in wait and "argo" not in wait
    assert "kubectl-argo-rollouts" not in files[".github/workflows/deploy.yml"]


# ─── golden files ────────────────────────────────────────────────────────────────────────────


def test_golden_files(gh_example: dict[str, str]) -> None:
    """The example's workflows, byte for byte. CRITTEROPS_UPDATE_GOLDEN=1 rewrites them."""
    expected = {path.rsplit("/", 1)[1]: text for path, text in gh_example.items()}
    if os.environ.get("CRITTEROPS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        GOLDEN.mkdir(parents=True)
        for name, text in expected.items():
            (GOLDEN / name).write_text(text, encoding="utf-8")
    actual = {p.name: p.read_text(encoding="utf-8") for p in sorted(GOLDEN.glob("*.yml"))}
    assert actual.keys() == expected.keys(), "run with CRITTEROPS_UPDATE_GOLDEN=1 after an intended change"
    for name, text in expected.items():
        assert actual[name] == text, f"{name} differs from the golden file (CRITTEROPS_UPDATE_GOLDEN=1 to accept)"


# ─── the real linters ────────────────────────────────────────────────────────────────────────


def write_workflows(files: dict[str, str], root: Path) -> list[str]:
    for path, text in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(files)


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)


def needs(tool: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(tool) is None, reason=f"{tool} not on PATH (pip install {tool})")


SYSTEMS = [
    pytest.param("gh_example", id="example"),
    pytest.param("gh_crittersupply", id="crittersupply", marks=needs_crittersupply),
]


@needs("zizmor")
@pytest.mark.parametrize("persona", ["regular", "pedantic"])
@pytest.mark.parametrize("system", SYSTEMS)
def test_zizmor_finds_nothing(system: str, persona: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    files = write_workflows(request.getfixturevalue(system), tmp_path)
    result = run(["zizmor", "--offline", "--persona", persona, "--format", "plain", *files], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs("actionlint")
@pytest.mark.parametrize("system", SYSTEMS)
def test_actionlint_and_shellcheck_find_nothing(system: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    files = write_workflows(request.getfixturevalue(system), tmp_path)
    result = run(["actionlint", "-no-color", *files], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs("yamllint")
@pytest.mark.parametrize("system", SYSTEMS)
def test_yamllint_with_the_kit_config(system: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    files = write_workflows(request.getfixturevalue(system), tmp_path)
    (tmp_path / "yamllint.yaml").write_text(yamlio.YAMLLINT_CONFIG)
    result = run(["yamllint", "-s", "-f", "parsable", "-c", "yamllint.yaml", *files], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@needs("zizmor")
@needs("actionlint")
def test_the_linters_do_catch_a_broken_workflow(gh_example: dict[str, str], tmp_path: Path) -> None:
    """A tag-pinned checkout that keeps its token and an unquoted variable must fail both linters."""
    ci = gh_example[".github/workflows/ci.yml"]
    sha, version = pins.ACTIONS["actions/checkout"]
    broken = ci.replace(f"actions/checkout@{sha} # {version}", "actions/checkout@v4")
    broken = broken.replace("        persist-credentials: false\n", "        clean: true\n")
    broken = broken.replace('dotnet build "$SOLUTION"', "dotnet build $SOLUTION")
    files = write_workflows({".github/workflows/ci.yml": broken}, tmp_path)
    zizmor = run(["zizmor", "--offline", "--format", "plain", *files], tmp_path)
    assert zizmor.returncode != 0 and "unpinned-uses" in zizmor.stdout and "artipacked" in zizmor.stdout
    actionlint = run(["actionlint", "-no-color", *files], tmp_path)
    assert actionlint.returncode != 0
    if shutil.which("shellcheck"):
        assert "SC2086" in actionlint.stdout


@pytest.mark.skipif(
    validate.checkov_binary() is None, reason="checkov not installed (set CRITTEROPS_CHECKOV or put checkov on PATH)"
)
def test_checkov_passes_the_workflows_and_dockerfiles_with_the_documented_skips(
    gh_example: dict[str, str], tmp_path: Path
) -> None:
    """What the generated security-scan runs on the workflows and the generated Dockerfiles."""
    docker = {f"{OUT}/{rel}": text for rel, text in dockerfile_files(gh_context(example_path())).items()}
    write_workflows({**gh_example, **docker}, tmp_path)
    checkov = str(validate.checkov_binary())
    argv = [checkov, "-d", ".", "--framework", "dockerfile", "github_actions", "--skip-check", ",".join(CHECKOV_SKIPS)]
    result = subprocess.run(
        [*argv, "--skip-download", "--compact", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "github_actions scan results" in result.stdout and "dockerfile scan results" in result.stdout


@needs("zizmor")
@needs("actionlint")
def test_github_enterprise_calls_reusable_workflows_with_dot_slash(tmp_path: Path) -> None:
    """`$/` is github.com only (runner >= 2.336.0): --github-enterprise writes ./ and waives zizmor's
    self-repository audit on those lines, with the reason; both linters stay clean (pedantic included)."""
    files = github_files(gh_context(example_path(), github_enterprise=True), OUT)
    text = "\n".join(files.values())
    assert "$/.github" not in text and "uses: ./.github/workflows/deploy.yml" in text
    assert "# zizmor: ignore[self-repository] GitHub Enterprise Server has no $/ form" in text
    paths = write_workflows(files, tmp_path)
    zizmor = run(["zizmor", "--offline", "--persona", "pedantic", "--format", "plain", *paths], tmp_path)
    assert zizmor.returncode == 0, zizmor.stdout + zizmor.stderr
    actionlint = run(["actionlint", "-no-color", *paths], tmp_path)
    assert actionlint.returncode == 0, actionlint.stdout
    plain = "\n".join(github_files(gh_context(example_path()), OUT).values())
    assert "uses: $/.github/workflows/deploy.yml" in plain and "ignore[self-repository]" not in plain


@pytest.mark.parametrize(
    ("registry", "permission", "secret"),
    [
        ("ghcr.io/acme/pawmart", {"packages": "write"}, "${{ secrets.GITHUB_TOKEN }}"),
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com/pawmart", {"id-token": "write"}, None),
        ("registry.example.com/pawmart", {}, "${{ secrets.REGISTRY_PASSWORD }}"),
    ],
    ids=["ghcr", "ecr", "other"],
)
def test_registry_login_matches_the_registry(registry: str, permission: dict[str, str], secret: str | None) -> None:
    """GITHUB_TOKEN only for ghcr.io (issue 12.10): ECR by OIDC, any other registry by stored secrets."""
    ctx = dataclasses.replace(gh_context(example_path()), registry=registry)
    files = github_files(ctx, OUT)
    image = yaml.safe_load(files[".github/workflows/images.yml"])["jobs"]["image"]
    assert image["permissions"] == {"contents": "read", **permission}
    text = files[".github/workflows/images.yml"]
    if secret is None:
        login = next(s for s in image["steps"] if s["name"] == "Log in to the registry")
        assert "aws ecr get-login-password --region eu-west-1" in login["run"]
        assert "GITHUB_TOKEN" not in text and "aws-access-key-id" not in text
    else:
        login = next(s for s in image["steps"] if s["name"] == "Log in to the registry")
        assert login["with"]["password"] == secret and login["with"]["registry"] == registry.split("/")[0]
        if "ghcr" not in registry:
            assert "GITHUB_TOKEN" not in text
    assert f"IMAGE: {registry}/${{{{ matrix.image }}}}:${{{{ github.sha }}}}" in text
    assert max(len(line) for line in text.splitlines()) <= 160, "yamllint's line length"
