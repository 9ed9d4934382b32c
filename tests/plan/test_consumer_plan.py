"""The plan's choices for services that consume messages: blue/green only when the preview can hold its
listeners, canary by consumer share otherwise, and the consumers block the backends read."""

from __future__ import annotations

from dataclasses import replace

import pytest

from critterops.discover.csharp import syntax
from critterops.discover.csharp.values import Scope
from critterops.discover.csharp.wiring import extract
from critterops.model import Finding, Listen, Location, Service, WolverineConfig
from critterops.plan.consumers import listener_split, replica_split, stable_listeners_for
from tests.plan.test_planner import plan_for, risk

WORKER = Service(
    "shipping-worker",
    "src/Shipping/Shipping.Worker.csproj",
    "Shipping",
    "worker",
    listens=(Listen("rabbitmq", "shipping-requests"), Listen("rabbitmq", "wolverine.control", library="critterwatch")),
    wolverine=WolverineConfig(handlers=3, handled_messages=("ShipOrder",), message_storage="marten"),
)
HELD = replace(WORKER, wolverine=replace(WORKER.wolverine, listeners_held=True))  # type: ignore[arg-type]


def breaking(service: str) -> Finding:
    return Finding("contract-breaking", (service,), "ShipOrder lost a field", (Location("x.cs"),), ("Ship.ShipOrder",))


def wiring_holds(code: str) -> bool:
    tree = syntax.parse(code.encode())
    return extract(tree.root_node, "Program.cs", Scope({}, {})).listeners_held


@pytest.mark.parametrize(
    ("code", "held"),
    [
        ('opts.DisableAllExternalListeners = builder.Configuration["CRITTEROPS_ROLE"] == "preview";', True),
        (
            'opts.DisableAllExternalListeners = Environment.GetEnvironmentVariable("CRITTEROPS_ROLE") == "preview";',
            True,
        ),
        ("opts.DisableAllExternalListeners = true;", False),  # never consumes: a publisher-only host, not a preview
        ("opts.DisableAllExternalListeners = false;", False),
        ('opts.ListenToRabbitQueue("x");', False),
    ],
)
def test_wiring_recognises_a_preview_that_can_hold_its_listeners(code: str, held: bool) -> None:
    assert wiring_holds(code) is held


def test_a_consumer_that_cannot_hold_its_listeners_gets_a_canary_instead_of_blue_green() -> None:
    plan = plan_for([WORKER], [risk("shipping-worker", 0.9, "contract-breaking")], [breaking("shipping-worker")])
    entry = plan.services[0]
    assert entry.strategy == "canary"
    assert any("canary instead of blue/green" in why for why in entry.why)
    assert any("each must handle the other's messages" in w for w in entry.warnings)
    assert entry.consumers is not None
    assert entry.consumers.queues == ("shipping-requests",)  # CritterWatch's control queue is not the domain's
    assert entry.consumers.preview == "none"


def test_a_consumer_that_holds_its_listeners_keeps_blue_green() -> None:
    plan = plan_for([HELD], [risk("shipping-worker", 0.9, "contract-breaking")], [breaking("shipping-worker")])
    entry = plan.services[0]
    assert entry.strategy == "blue-green"
    assert any("holds its listeners until promotion" in why for why in entry.why)
    assert entry.consumers is not None and entry.consumers.preview == "held"


def test_a_low_risk_consumer_rolls_and_still_drains() -> None:
    plan = plan_for([WORKER], [risk("shipping-worker", 0.1, "code-changed")], [])
    entry = plan.services[0]
    assert entry.strategy == "rolling"
    assert entry.consumers is not None and entry.consumers.drain_timeout_s > 0


@pytest.mark.parametrize(("weight", "stable", "canary"), [(10, 9, 1), (25, 9, 3), (50, 9, 9), (1, 99, 1), (0, 9, 0)])
def test_listener_split_gives_the_canary_its_share_of_consumers(weight: int, stable: int, canary: int) -> None:
    assert listener_split(weight, stable) == canary


def test_the_stable_listener_count_realises_every_step_within_a_fifth() -> None:
    stable = stable_listeners_for([1, 10, 25, 50])
    for weight in (1, 10, 25, 50):
        canary = listener_split(weight, stable)
        assert abs(canary / (canary + stable) - weight / 100) <= 0.2 * weight / 100


@pytest.mark.parametrize(
    ("replicas", "weight", "surge", "expected"),
    # cases of TestApproximateWeightedNewStableReplicaCounts, argo-rollouts v1.9.1
    # utils/replicaset/canary_test.go:769-848 (all 57 with maxWeight 100 were checked to agree)
    [
        (1, 49, 0, (0, 1)),
        (1, 50, 0, (1, 0)),
        (1, 1, 1, (1, 1)),
        (2, 1, 1, (1, 2)),
        (2, 99, 1, (2, 1)),
        (2, 50, 0, (1, 1)),
        (10, 10, 1, (1, 9)),
        (4, 25, 1, (1, 3)),
        (4, 100, 1, (4, 0)),
        (4, 0, 1, (0, 4)),
    ],
)
def test_replica_split_follows_argo(replicas: int, weight: int, surge: int, expected: tuple[int, int]) -> None:
    assert replica_split(weight, replicas, surge) == expected
