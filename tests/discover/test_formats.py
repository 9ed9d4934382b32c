"""The non-C# readers: JSONC, launchSettings, connection strings, compose, names."""

from __future__ import annotations

import pytest

from critterops.discover import jsonc
from critterops.discover.compose import ComposeService, infra_kind
from critterops.discover.names import dns_name, unique_names
from critterops.discover.settings import connection_database, flatten
from tests.conftest import WriteRepo


@pytest.mark.parametrize(
    ("source", "value"),
    [
        pytest.param('{"a": 1, // comment\n "b": [1, 2,],}', {"a": 1, "b": [1, 2]}, id="comment-trailing-commas"),
        pytest.param(
            '{"url": "http://x//y", /* block */ "c": "a,}"}',
            {"url": "http://x//y", "c": "a,}"},
            id="markers-inside-strings",
        ),
        pytest.param('{"q": "say \\"hi\\" // no"}', {"q": 'say "hi" // no'}, id="escaped-quote"),
    ],
)
def test_jsonc(source: str, value: object) -> None:
    assert jsonc.loads(source) == value


def test_jsonc_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        jsonc.loads('{"a": }')


@pytest.mark.parametrize(
    ("connection", "expected"),
    [
        ("Host=localhost;Port=5433;Database=orders;Username=postgres;Password=p", ("postgres", "orders")),
        ("postgres://u:p@db:5432/inventory", ("postgres", "inventory")),
        ("Server=.;Initial Catalog=Billing;Trusted_Connection=True", ("sqlserver", "Billing")),
        ("amqp://guest:guest@localhost:5672", ("rabbitmq", None)),
    ],
)
def test_connection_database(connection: str, expected: tuple[str | None, str | None]) -> None:
    assert connection_database(connection) == expected


def test_flatten_like_iconfiguration() -> None:
    assert flatten({"ConnectionStrings": {"postgres": "x"}, "Flags": [True, 2]}) == {
        "ConnectionStrings:postgres": "x",
        "Flags:0": "true",
        "Flags:1": "2",
    }


@pytest.mark.parametrize(
    ("ports", "pairs"),
    [
        (["5231:8080"], [(5231, 8080)]),
        (["127.0.0.1:5433:5432"], [(5433, 5432)]),
        (["8080"], [(None, 8080)]),
        (["5000-5001:80-81/tcp"], [(5000, 80)]),
        (["${PORT:-x}:80"], [(None, 80)]),
    ],
)
def test_compose_ports(ports: list[str], pairs: list[tuple[int | None, int | None]]) -> None:
    assert ComposeService("s", "f", ports=ports).port_pairs() == pairs


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("postgres:16", "postgres"),
        ("rabbitmq:3-management", "rabbitmq"),
        ("jaegertracing/all-in-one", "jaeger"),
        ("confluentinc/cp-kafka:7", "kafka"),
        ("mycorp/thing", "other"),
        (None, "other"),
    ],
)
def test_infra_kind(image: str | None, kind: str) -> None:
    assert infra_kind(image) == kind


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Orders.Api", "orders-api"),
        ("Customer Identity", "customer-identity"),
        ("My_Svc..Web", "my-svc-web"),
        ("9lives", "svc-9lives"),
        ("...", "service"),
        ("A" * 80, "a" * 63),
    ],
)
def test_dns_names(raw: str, name: str) -> None:
    assert dns_name(raw) == name


def test_unique_names_prefix_context_then_number() -> None:
    names = unique_names(
        {"a/Api.csproj": "api", "b/Api.csproj": "api", "c/x.csproj": "orders-api"},
        {"a/Api.csproj": "orders", "b/Api.csproj": "billing", "c/x.csproj": "orders"},
    )
    assert names == {"a/Api.csproj": "orders-api-2", "b/Api.csproj": "billing-api", "c/x.csproj": "orders-api"}


def test_directory_build_props_supplies_properties_the_project_leaves_out(write_repo: WriteRepo) -> None:
    from critterops.discover import discover

    props = "<Project><PropertyGroup><TargetFramework>net9.0</TargetFramework></PropertyGroup></Project>"
    web = '<Project Sdk="Microsoft.NET.Sdk.Web"><PropertyGroup>{}</PropertyGroup></Project>'
    root = write_repo(
        {
            "Directory.Build.props": props,
            "src/A.Api/A.Api.csproj": web.format(""),
            "src/A.Api/Program.cs": "var app = WebApplication.CreateBuilder(args).Build(); app.Run();",
            "src/B.Api/B.Api.csproj": web.format("<TargetFramework>net10.0</TargetFramework>"),
            "src/B.Api/Program.cs": "var app = WebApplication.CreateBuilder(args).Build(); app.Run();",
        }
    )
    frameworks = {s.name: s.target_framework for s in discover(root).services}
    assert frameworks == {"a-api": "net9.0", "b-api": "net10.0"}
