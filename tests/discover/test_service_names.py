"""Service names and bounded contexts come from the code: the Aspire AppHost's resource names, the
projects' folders and names without the repository-wide prefix; never the checkout folder.

Ground truth: Acme's repository prefixes every project with ``Acme.Shop.``; its bounded contexts are
Orders and Billing; its AppHost calls the services ``orders-api`` and ``Billing_Service``.
"""

from __future__ import annotations

from pathlib import Path

from critterops.discover import discover
from critterops.discover.projects import bounded_context, local_name, strip_shared_prefix
from tests.conftest import LIB_CSPROJ, web_csproj

APPHOST_CSPROJ = (
    '<Project Sdk="Aspire.AppHost.Sdk/9.0.0"><PropertyGroup><OutputType>Exe</OutputType>'
    "<IsAspireHost>true</IsAspireHost></PropertyGroup></Project>"
)
PROGRAM = "var builder = WebApplication.CreateBuilder(args);\nbuilder.UseWolverine();\n"


def _acme(checkout: Path, apphost: str | None = None, apphost_name: str = "Acme.Shop.AppHost") -> Path:
    files = {
        "src/Acme.Shop.Orders.Api/Acme.Shop.Orders.Api.csproj": web_csproj(
            references=("../Acme.Shop.Orders/Acme.Shop.Orders.csproj",)
        ),
        "src/Acme.Shop.Orders.Api/Program.cs": PROGRAM,
        "src/Acme.Shop.Orders/Acme.Shop.Orders.csproj": LIB_CSPROJ,
        "src/Acme.Shop.Billing.Api/Acme.Shop.Billing.Api.csproj": web_csproj(),
        "src/Acme.Shop.Billing.Api/Program.cs": PROGRAM,
    }
    if apphost is not None:
        files[f"src/{apphost_name}/{apphost_name}.csproj"] = APPHOST_CSPROJ
        files[f"src/{apphost_name}/AppHost.cs"] = (
            "var builder = DistributedApplication.CreateBuilder(args);\n" + apphost + "builder.Build().Run();\n"
        )
    for rel, content in files.items():
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text(content, encoding="utf-8")
    return checkout


def _names(root: Path) -> dict[str, tuple[str, str]]:
    return {s.project.split("/")[1]: (s.name, s.bounded_context) for s in discover(root).services}


def test_a_repository_wide_prefix_is_neither_a_name_nor_a_bounded_context(tmp_path: Path) -> None:
    # the checkout folder is called like the prefix on purpose: neither may leak into the results
    assert _names(_acme(tmp_path / "Acme")) == {
        "Acme.Shop.Orders.Api": ("orders-api", "Orders"),
        "Acme.Shop.Billing.Api": ("billing-api", "Billing"),
    }


def test_the_apphost_resource_name_is_the_service_name(tmp_path: Path) -> None:
    apphost = (
        'builder.AddProject<Projects.Acme_Shop_Orders_Api>("orders-api");\n'
        'builder.AddProject<Projects.Acme_Shop_Billing_Api>("Billing_Service");\n'
    )
    names = _names(_acme(tmp_path / "checkout", apphost))
    assert names == {
        "Acme.Shop.Orders.Api": ("orders-api", "Orders"),
        "Acme.Shop.Billing.Api": ("billing-service", "Billing"),  # DNS-1123: lower case, '_' → '-'
    }


def test_a_prefix_every_resource_shares_is_dropped_only_when_it_names_the_repository(tmp_path: Path) -> None:
    apphost = (
        'builder.AddProject<Projects.Acme_Shop_Orders_Api>("acme-shop-orders");\n'
        'builder.AddProject<Projects.Acme_Shop_Billing_Api>("acme-shop-billing");\n'
    )
    names = _names(_acme(tmp_path / "checkout", apphost))
    assert {n for n, _ in names.values()} == {"orders", "billing"}
    # a shared first word that is not the repository's name is part of the names
    assert strip_shared_prefix({"a": "orders-api", "b": "orders-worker"}, {"acme"}) == {
        "a": "orders-api",
        "b": "orders-worker",
    }


def test_bounded_context_follows_the_folders_that_group_a_context() -> None:
    assert bounded_context("src/Orders/Orders.Api/Orders.Api.csproj") == "Orders"
    assert bounded_context("src/Customer Experience/Storefront.Api/Storefront.Api.csproj") == "Customer Experience"
    assert bounded_context("src/Modules/Shipping/Shipping.csproj") == "Shipping"
    assert bounded_context("src/Acme.Shop.Orders.Api/Acme.Shop.Orders.Api.csproj", "Acme.Shop.") == "Orders"
    assert bounded_context("Acme.Shop.Billing.Api.csproj", "Acme.Shop.") == "Billing"


def test_a_host_named_only_prefix_and_layer_keeps_the_prefix() -> None:
    # a modular monolith's one host (CritterBids.Api next to CritterBids.Auctions, ...): "Api" names nothing
    assert bounded_context("src/CritterBids.Api/CritterBids.Api.csproj", "CritterBids.") == "CritterBids"
    assert local_name("CritterBids.Api", "CritterBids.") == "CritterBids.Api"
    assert local_name("CritterBids.Auctions", "CritterBids.") == "Auctions"


def test_an_apphost_named_otherwise_does_not_hide_the_prefix(tmp_path: Path) -> None:
    # Bunker's layout: src/AppHost/AppHost.csproj next to Bunker.AccountService, Bunker.LobbyService, ...
    apphost = 'builder.AddProject<Projects.Acme_Shop_Orders_Api>("orders-api");\n'
    names = _names(_acme(tmp_path / "checkout", apphost, apphost_name="AppHost"))
    assert names == {
        "Acme.Shop.Orders.Api": ("orders-api", "Orders"),
        "Acme.Shop.Billing.Api": ("billing-api", "Billing"),
    }


SLNX = """<Solution>
  <Folder Name="/.SolutionItems/"><File Path="README.md" /></Folder>
  <Folder Name="/src/Sales/">
    <Project Path="src/Acme.Shop.Orders.Api/Acme.Shop.Orders.Api.csproj" />
    <Project Path="src/Acme.Shop.Orders/Acme.Shop.Orders.csproj" />
  </Folder>
</Solution>
"""
FOLDER = "2150E333-8FDC-42A3-9474-1A3956D46DE8"
BILLING = "src\\Acme.Shop.Billing.Api\\Acme.Shop.Billing.Api.csproj"
BILLING_ID = "22222222-2222-2222-2222-222222222222"
SLN = f"""Microsoft Visual Studio Solution File, Format Version 12.00
Project("{{{FOLDER}}}") = "Accounting", "Accounting", "{{11111111-1111-1111-1111-111111111111}}"
EndProject
Project("{{FAE04EC0-301F-11D3-BF4B-00C04F79EFBC}}") = "Acme.Shop.Billing.Api", "{BILLING}", "{{{BILLING_ID}}}"
EndProject
Global
	GlobalSection(NestedProjects) = preSolution
		{{22222222-2222-2222-2222-222222222222}} = {{11111111-1111-1111-1111-111111111111}}
	EndGlobalSection
EndGlobal
"""


def test_solution_folders_name_the_bounded_context(tmp_path: Path) -> None:
    # ground truth: the developers grouped Orders under the solution folder "Sales" (.slnx) and
    # Billing under "Accounting" (.sln, NestedProjects); folders named src are only grouping
    root = _acme(tmp_path / "checkout")
    (root / "Acme.slnx").write_text(SLNX, encoding="utf-8")
    assert _names(root)["Acme.Shop.Orders.Api"] == ("orders-api", "Sales")
    (root / "Acme.slnx").unlink()
    (root / "Acme.sln").write_text(SLN, encoding="utf-8")
    assert _names(root)["Acme.Shop.Billing.Api"] == ("billing-api", "Accounting")
