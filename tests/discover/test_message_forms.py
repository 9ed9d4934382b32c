"""Message flows however the code creates a message, conventional routing names, library-owned queues.

The fixture repository ``tests/fixtures/message_forms`` (a bakery of five services under Wolverine's
conventional RabbitMQ routing) creates each contract in a different form; its ``truth.json`` says, from the
C# alone, which flows exist and which queues belong to a library.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from critterops.discover import discover
from critterops.discover.csharp import messages, syntax
from critterops.model import System
from tests.conftest import LIB_CSPROJ, WriteRepo, web_csproj

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "message_forms"


@pytest.fixture(scope="module")
def bakery() -> System:
    return discover(FIXTURE)


@pytest.fixture(scope="module")
def truth() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURE / "truth.json").read_text(encoding="utf-8"))
    return data


def test_every_creation_form_gives_its_flow_with_the_conventional_name(bakery: System, truth: dict[str, Any]) -> None:
    found = {(f.source, f.target, f.message, f.via, f.resolution) for f in bakery.flows}
    expected = {
        (f["from"], f["to"], f["message"], f"{f['name']} -> {f['name']}", "conventional") for f in truth["flows"]
    }
    assert found == expected


def test_a_local_type_with_a_contract_short_name_is_not_the_contract(bakery: System, truth: dict[str, Any]) -> None:
    found = {(f.source, f.target, f.message) for f in bakery.flows}
    for wrong in truth["not_flows"]:
        assert (wrong["from"], wrong["to"], wrong["message"]) not in found, wrong["why"]


def test_library_queues_are_marked_and_domain_listeners_still_warn(bakery: System, truth: dict[str, Any]) -> None:
    owned = {(s.name, x.queue, x.library) for s in bakery.services for x in s.listens if x.library}
    assert owned == {(q["service"], q["queue"], q["library"]) for q in truth["library_queues"]}
    telemetry = {(s.name, p.to, p.library) for s in bakery.services for p in s.publishes if p.library}
    assert telemetry == {(s.name, "critterwatch", "CritterWatch") for s in bakery.services}
    unfed = {w.message.split("'")[1] for w in bakery.warnings if "but no service in this repository sends" in w.message}
    assert unfed == {q["queue"] for q in truth["listeners_without_producer"]}
    assert not any("critterwatch" in w.message for w in bakery.warnings)
    assert not any(f.message == "CritterWatch telemetry" or "control" in f.via for f in bakery.flows)


def test_explicit_routing_keeps_library_queues_apart(write_repo: WriteRepo) -> None:
    """Without conventional routing: a CritterWatch control queue the service also listens to explicitly needs no
    producer in the repository, the console's telemetry queue needs no listener, and a domain queue still warns."""
    root = write_repo(
        {
            "Shop/Shop.csproj": web_csproj(),
            "Shop/Program.cs": """builder.Host.UseWolverine(opts => {
            opts.UseRabbitMq().AutoProvision();
            opts.ListenToRabbitQueue("shop-control");
            opts.ListenToRabbitQueue("wolverine.response.shop");
            opts.ListenToRabbitQueue("shop-imports");
            opts.AddCritterWatchMonitoring("rabbitmq://queue/critterwatch".ToUri(), "rabbitmq://queue/shop-control".ToUri());
        });""",
        }
    )
    system = discover(root)
    unfed = [w.message for w in system.warnings if "listens to" in w.message or "critterwatch" in w.message]
    assert len(unfed) == 1 and "'shop-imports'" in unfed[0]
    assert system.flows == ()


def test_conventional_listener_with_no_creator_is_reported(write_repo: WriteRepo) -> None:
    """Conventional routing used to silence every "listener with no producer" warning of the repository."""
    root = write_repo(
        {
            "Contracts/Contracts.csproj": LIB_CSPROJ,
            "Contracts/Messages.cs": "namespace Contracts;\npublic record Ping(int N);\n",
            "A/A.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "A/Program.cs": """builder.UseWolverine(o => {
                o.UseRabbitMq().UseConventionalRouting();
                o.ListenToRabbitQueue("a-inbox");
                o.ListenToRabbitQueue("Contracts.Ping");
            });""",
            "A/PingHandler.cs": (
                "using Contracts;\npublic static class PingHandler { public static void Handle(Ping p) {} }"
            ),
            "B/B.csproj": web_csproj(references=("../Contracts/Contracts.csproj",)),
            "B/Program.cs": "builder.UseWolverine(o => o.UseRabbitMq().UseConventionalRouting());",
            "B/Pinger.cs": (
                "using Contracts;\nclass Pinger { ValueTask Go(IMessageBus bus) => bus.PublishAsync(new Ping(1)); }"
            ),
        }
    )
    system = discover(root)
    assert {(f.source, f.target, f.via) for f in system.flows} == {("b", "a", "Contracts.Ping -> Contracts.Ping")}
    unfed = [w.message for w in system.warnings if "but no service in this repository sends" in w.message]
    assert len(unfed) == 1 and "'a-inbox'" in unfed[0]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("namespace N; class C { void M(IMessageBus b) { b.PublishAsync(new Contracts.X(1)); } }", "Contracts.X"),
        ("namespace N; class C { object M() => new global::Contracts.X(1); }", "Contracts.X"),
        ("using Contracts;\nnamespace N; class C { async Task<X> M() { return new(1); } }", "Contracts.X"),
        (
            "using Y = Contracts.X;\nnamespace N; class C { void M(IMessageBus b) => b.SendAsync<Y>(new(1)); }",
            "Contracts.X",
        ),
        ("using Contracts;\nnamespace N; class C { IEnumerable<X> M() { yield return new(1); } }", "Contracts.X"),
        ("using Contracts;\nnamespace N; class C { Task<(int n, X x)> M() { return (1, new(2)); } }", "Contracts.X"),
        ("using Contracts;\nnamespace N; class C { void M() { X x = new(1); } }", "Contracts.X"),
        ("using Contracts;\nnamespace N; record X(int A); class C { object M() => new X(1); }", "N.X"),
        ("using Contracts;\nnamespace N; class C { void M(OutgoingMessages o) { o.Add(new()); } }", None),
    ],
)
def test_each_form_resolves_to_its_full_name(source: str, expected: str | None) -> None:
    root = syntax.parse(source.encode()).root_node
    scope = messages.usings(root)[0]
    known = {"Contracts.X"} | messages.declared([(root, "C.cs")])
    resolved = [messages.resolve(c.written, c.namespace, scope, known) for c in messages.creations(root)]
    assert resolved == ([expected] if expected else [])
