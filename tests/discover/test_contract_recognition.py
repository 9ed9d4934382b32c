"""A shared message-contracts project is recognised by how its types are used, not by its name.

Ground truth of each fixture is written next to it: which project carries messages between which
modules (services, or the modules of one host).
"""

from __future__ import annotations

from pathlib import Path

from critterops.discover import discover
from critterops.discover.projects import common_prefix, module_of
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

WIRE = "../Acme.Wire/Acme.Wire.csproj"


def _lib(*references: str) -> str:
    refs = "".join(f'<ProjectReference Include="{r}" />' for r in references)
    return LIB_CSPROJ.replace("</Project>", f"  <ItemGroup>{refs}</ItemGroup>\n</Project>")


def _roles(root: Path) -> dict[str, str]:
    system = discover(root)
    return {p.name: p.role for p in system.projects}


def test_messages_shared_by_two_services_make_a_contracts_project_whatever_its_name(write_repo: WriteRepo) -> None:
    # ground truth: Acme.Wire carries OrderPlaced (Orders → Billing) and InvoiceSent (Billing → Orders);
    # Acme.Toolkit is shared by both services but only holds helpers; Acme.Contracts is named like a
    # contracts project and holds only an extension class
    root = write_repo(
        {
            "Acme.Wire/Acme.Wire.csproj": LIB_CSPROJ,
            "Acme.Wire/Messages.cs": "namespace Acme.Wire;\npublic record OrderPlaced(Guid Id);\n"
            "public sealed record InvoiceSent(Guid Id);\n",
            "Acme.Toolkit/Acme.Toolkit.csproj": LIB_CSPROJ,
            "Acme.Toolkit/Clock.cs": "namespace Acme.Toolkit;\npublic class Clock { public DateTime Now { get; } }\n",
            "Acme.Contracts/Acme.Contracts.csproj": LIB_CSPROJ,
            "Acme.Contracts/Strings.cs": "namespace Acme.Contracts;\npublic static class StringExtensions {}\n",
            "Acme.Orders.Api/Acme.Orders.Api.csproj": web_csproj(
                references=(WIRE, "../Acme.Toolkit/Acme.Toolkit.csproj", "../Acme.Contracts/Acme.Contracts.csproj")
            ),
            "Acme.Orders.Api/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq());",
            "Acme.Orders.Api/PlaceOrder.cs": "public static class PlaceOrderEndpoint { public static async Task Post("
            "IMessageBus bus, Clock clock) { await bus.PublishAsync(new OrderPlaced(Guid.NewGuid())); } }\n",
            "Acme.Orders.Api/InvoiceSentHandler.cs": (
                "public static class InvoiceSentHandler { public static void Handle(InvoiceSent sent) {} }\n"
            ),
            "Acme.Billing.Api/Acme.Billing.Api.csproj": web_csproj(
                references=(WIRE, "../Acme.Toolkit/Acme.Toolkit.csproj", "../Acme.Contracts/Acme.Contracts.csproj")
            ),
            "Acme.Billing.Api/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq());",
            "Acme.Billing.Api/OrderPlacedHandler.cs": "public static class OrderPlacedHandler {\n"
            "    public static OutgoingMessages Handle(OrderPlaced placed, Clock clock) {\n"
            "        var outgoing = new OutgoingMessages();\n"
            "        outgoing.Add(new InvoiceSent(placed.Id));\n"
            "        return outgoing;\n    }\n}\n",
        }
    )
    system = discover(root)
    roles = {p.name: p.role for p in system.projects}
    assert roles["Acme.Wire"] == "contracts"
    assert roles["Acme.Toolkit"] == "library"
    assert roles["Acme.Contracts"] == "library"  # the name alone does not make a contracts project
    assert {c.full_name for c in system.contracts} == {"Acme.Wire.OrderPlaced", "Acme.Wire.InvoiceSent"}


def test_contracts_shared_between_the_modules_of_one_host_count(write_repo: WriteRepo) -> None:
    # ground truth: a modular monolith, one host (Shop.Host) and two modules; Shop.Integration carries
    # OrderPlaced from the Orders module to the Shipping module; Shop.Orders.Model is the Orders module's own
    root = write_repo(
        {
            "src/Shop.Host/Shop.Host.csproj": web_csproj(
                packages=("WolverineFx",),
                references=(
                    "../Modules/Shop.Orders/Shop.Orders.csproj",
                    "../Modules/Shop.Shipping/Shop.Shipping.csproj",
                ),
            ),
            "src/Shop.Host/Program.cs": "var builder = WebApplication.CreateBuilder(args);\nbuilder.UseWolverine();\n",
            "src/Modules/Shop.Integration/Shop.Integration.csproj": LIB_CSPROJ,
            "src/Modules/Shop.Integration/OrderPlaced.cs": "namespace Shop.Integration;\n"
            "public record OrderPlaced(Guid OrderId, decimal Total);\n",
            "src/Modules/Shop.Orders.Model/Shop.Orders.Model.csproj": LIB_CSPROJ,
            "src/Modules/Shop.Orders.Model/PlaceOrder.cs": "namespace Shop.Orders.Model;\n"
            "public record PlaceOrder(Guid OrderId);\n",
            "src/Modules/Shop.Orders/Shop.Orders.csproj": _lib(
                "../Shop.Integration/Shop.Integration.csproj", "../Shop.Orders.Model/Shop.Orders.Model.csproj"
            ),
            "src/Modules/Shop.Orders/PlaceOrderHandler.cs": "public static class PlaceOrderHandler {\n"
            "    public static async Task Handle(PlaceOrder command, IMessageBus bus)\n"
            "        => await bus.PublishAsync(new OrderPlaced(command.OrderId, 10m));\n}\n",
            "src/Modules/Shop.Orders/Endpoint.cs": "public static class Endpoint { public static Task Post("
            "IMessageBus bus) => bus.InvokeAsync(new PlaceOrder(Guid.NewGuid())); }\n",
            "src/Modules/Shop.Shipping/Shop.Shipping.csproj": _lib("../Shop.Integration/Shop.Integration.csproj"),
            "src/Modules/Shop.Shipping/OrderPlacedHandler.cs": (
                "public static class OrderPlacedHandler { public static void Handle(OrderPlaced placed) {} }\n"
            ),
        }
    )
    system = discover(root)
    roles = {p.name: p.role for p in system.projects}
    assert [s.project for s in system.services] == ["src/Shop.Host/Shop.Host.csproj"]
    assert roles["Shop.Integration"] == "contracts"
    assert roles["Shop.Orders.Model"] == "library"  # used by one module only (handled and sent by Orders)
    assert {c.full_name for c in system.contracts} == {"Shop.Integration.OrderPlaced"}


def test_the_layers_of_one_service_are_one_user(write_repo: WriteRepo) -> None:
    # ground truth: Orders.Api and Orders (its domain) both use Orders.Messages, a second service only
    # references it: nothing travels between modules, so it is not a contracts project
    root = write_repo(
        {
            "src/Orders/Orders.Messages/Orders.Messages.csproj": LIB_CSPROJ,
            "src/Orders/Orders.Messages/Commands.cs": "namespace Orders.Messages;\npublic record ShipOrder(Guid Id);\n",
            "src/Orders/Orders/Orders.csproj": _lib("../Orders.Messages/Orders.Messages.csproj"),
            "src/Orders/Orders/ShipOrderHandler.cs": (
                "public static class ShipOrderHandler { public static void Handle(ShipOrder command) {} }\n"
            ),
            "src/Orders/Orders.Api/Orders.Api.csproj": web_csproj(
                packages=("WolverineFx",),
                references=("../Orders/Orders.csproj", "../Orders.Messages/Orders.Messages.csproj"),
            ),
            "src/Orders/Orders.Api/Program.cs": "builder.UseWolverine();\n"
            'app.MapPost("/ship", (IMessageBus bus) => bus.SendAsync(new ShipOrder(Guid.NewGuid())));\n',
            "src/Reports/Reports.Api/Reports.Api.csproj": web_csproj(
                packages=("WolverineFx",), references=("../../Orders/Orders.Messages/Orders.Messages.csproj",)
            ),
            "src/Reports/Reports.Api/Program.cs": "builder.UseWolverine();\n",
        }
    )
    roles = _roles(root)
    assert roles["Orders.Messages"] == "library"


def test_module_names_drop_the_repository_prefix_and_the_layer() -> None:
    prefix = common_prefix(["Acme.Shop.Orders.Api", "Acme.Shop.Orders", "Acme.Shop.Billing.Api"])
    assert prefix == "Acme.Shop."
    assert module_of("Acme.Shop.Orders.Api", prefix) == "Orders"
    assert module_of("Acme.Shop.Orders", prefix) == "Orders"
    assert module_of("Orders.Domain") == "Orders"
    assert common_prefix(["Orders.Api"]) == ""
    assert common_prefix(["Acme.Api", "Acme"]) == ""  # every name keeps a part of its own


def test_sibling_projects_under_one_name_are_separate_modules(write_repo: WriteRepo) -> None:
    # ground truth: Worker.Ping publishes PingMessage and handles PongMessage, Worker.Pong the reverse;
    # Shared (no contract word in its name) carries both
    worker = (
        "builder.Services.AddHostedService<W>();\n"
        'builder.UseWolverine(o => o.PublishMessage<{out}>().ToRabbitQueue("q"));\n'
    )
    root = write_repo(
        {
            "Shared/Shared.csproj": LIB_CSPROJ,
            "Shared/Messages.cs": (
                "namespace Shared;\npublic record PingMessage(int N);\npublic record PongMessage(int N);\n"
            ),
            "Worker.Ping/Worker.Ping.csproj": web_csproj(("WolverineFx",), ("../Shared/Shared.csproj",)),
            "Worker.Ping/Program.cs": worker.format(out="PingMessage"),
            "Worker.Ping/PongHandler.cs": "public class PongHandler { public void Handle(PongMessage pong) {} }\n",
            "Worker.Pong/Worker.Pong.csproj": web_csproj(("WolverineFx",), ("../Shared/Shared.csproj",)),
            "Worker.Pong/Program.cs": worker.format(out="PongMessage"),
            "Worker.Pong/PingHandler.cs": "public class PingHandler { public void Handle(PingMessage ping) {} }\n",
        }
    )
    assert _roles(root)["Shared"] == "contracts"
