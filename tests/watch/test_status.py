"""critterops status: problems found in samples, and the screen and JSON that show them."""

from __future__ import annotations

import json

from critterops import metrics as m
from critterops.report.status import render_status
from critterops.watch.config import Limits
from critterops.watch.samples import Sample, sample
from critterops.watch.status import assess

INV = {"service": "inventory-api", "bounded_context": "Inventory", "schema": "inventory"}
ORD = {"service": "orders-api", "bounded_context": "Orders", "schema": "orders"}


def shard(name: str, lag: float, stalled: float, **extra: float) -> list[Sample]:
    labels = {**INV, "projection": name}
    out = [
        sample(m.PROJECTION_LAG, lag, **labels),
        sample(m.PROJECTION_STALLED, stalled, **labels),
        sample(m.PROJECTION_LAST_SEQUENCE, 1000 - lag, **labels),
    ]
    out += [sample(metric, value, **labels) for metric, value in extra.items()]
    return out


def healthy() -> list[Sample]:
    return [
        sample(m.SOURCE_UP, 1, target="postgres:inventory"),
        sample(m.SOURCE_UP, 1, target="rabbitmq"),
        sample(m.PROJECTION_HIGH_WATER_MARK, 1000, **INV),
        sample(m.EVENT_SEQUENCE_HEAD, 1000, **INV),
        *shard("AlertFeedView:All", 0, 0),
        sample(m.NODE_HEARTBEAT_AGE, 4, **ORD, node="1"),
        sample(m.NODE_INFO, 1, **ORD, node="1", version="1.4.0", leader="true"),
        sample(m.LEADERS, 1, **ORD),
        sample(m.INBOX_PENDING, 2, **ORD, status="Incoming", owner="node"),
        sample(m.INBOX_PENDING, 9, **ORD, status="Scheduled", owner="node"),
        sample(m.SAGA_INSTANCES, 12, service="orders-api", bounded_context="Orders", saga="Order", state="Placed"),
        sample(
            m.SAGA_OLDEST_IN_STATE, 30, service="orders-api", bounded_context="Orders", saga="Order", state="Placed"
        ),
        sample(m.QUEUE_MESSAGES, 3, vhost="/", queue="orders-placed", service="orders-api"),
        sample(m.QUEUE_CONSUMERS, 2, vhost="/", queue="orders-placed", service="orders-api"),
    ]


def test_a_healthy_system_has_no_problems() -> None:
    status = assess(healthy(), Limits(), at=0)
    assert status.problems == [] and status.worst is None
    assert [(s.inbox_incoming, s.inbox_scheduled, s.leaders) for s in status.stores] == [(2, 9, 1)]


def test_each_kind_of_trouble_is_named_with_its_subject() -> None:
    samples = [
        *(s for s in healthy() if s.name not in (m.LEADERS, m.SOURCE_UP)),
        sample(m.SOURCE_UP, 0, target="postgres:inventory"),
        sample(m.SOURCE_UP, 1, target="rabbitmq"),
        *shard("Stuck:All", 500, 600),
        *shard("Slow:All", 250, 10),
        sample(m.PROJECTION_DEAD_LETTER_EVENTS, 4, **INV, projection="AlertFeedView:All"),
        sample(m.LEADERS, 0, **ORD),
        sample(m.NODE_HEARTBEAT_AGE, 400, **ORD, node="2"),
        sample(m.ENVELOPES_ORPHANED, 5, **ORD, table="incoming"),
        sample(m.DEAD_LETTERS, 7, **ORD, message_type="PlaceOrder", exception_type="TimeoutException"),
        sample(m.SAGA_INSTANCES, 1, service="orders-api", bounded_context="Orders", saga="Order", state="Paying"),
        sample(
            m.SAGA_OLDEST_IN_STATE, 7200, service="orders-api", bounded_context="Orders", saga="Order", state="Paying"
        ),
        sample(m.QUEUE_MESSAGES, 40, vhost="/", queue="fulfillment-requests", service="fulfillment-api"),
        sample(m.QUEUE_CONSUMERS, 0, vhost="/", queue="fulfillment-requests", service="fulfillment-api"),
        sample(m.QUEUE_MESSAGES, 2, vhost="/", queue="wolverine-dead-letter-queue"),
        sample(m.QUEUE_CONSUMERS, 0, vhost="/", queue="wolverine-dead-letter-queue"),
    ]
    status = assess(samples, Limits(), at=0, errors={"postgres:inventory": "connection refused"})
    found = {(p.severity, p.subject) for p in status.problems}
    assert found == {
        ("critical", "postgres:inventory"),
        ("critical", "inventory-api/Stuck:All"),
        ("warning", "inventory-api/Slow:All"),
        ("warning", "inventory-api/AlertFeedView:All"),
        ("critical", "orders-api/orders"),  # no leader
        ("warning", "orders-api/orders"),  # stale node, orphans, dead letters
        ("warning", "orders-api/Order/Paying"),
        ("warning", "fulfillment-requests"),
        ("warning", "wolverine-dead-letter-queue"),
    }
    assert status.worst == "critical" and status.problems[0].severity == "critical"
    messages = " | ".join(p.message for p in status.problems)
    assert "connection refused" in messages and "PlaceOrder" in messages and "fulfillment-api" in messages


def test_per_state_saga_limits_win_over_the_default() -> None:
    limits = Limits(saga_in_state_s=3600, saga_state_limits=(("Order", "Delivered", 30 * 86400.0),))
    samples = [
        sample(m.SAGA_OLDEST_IN_STATE, 5 * 86400, service="o", bounded_context="O", saga="Order", state="Delivered"),
        sample(m.SAGA_OLDEST_IN_STATE, 5 * 86400, service="o", bounded_context="O", saga="Order", state="Placed"),
    ]
    assert [p.subject for p in assess(samples, limits, at=0).problems] == ["o/Order/Placed"]


def test_without_a_model_the_default_is_the_alerts_and_the_well_known_names_decide() -> None:
    def oldest(state: str, seconds: float) -> Sample:
        return sample(m.SAGA_OLDEST_IN_STATE, seconds, service="o", bounded_context="O", saga="Order", state=state)

    samples = [
        oldest("Placed", 10 * 60),  # over the generated rules' 5 minutes (the old default, 1 hour, hid it)
        oldest("Paying", 4 * 60),
        oldest("Cancelled", 40 * 86400),  # a well-known terminal name: never
        oldest("Delivered", 10 * 86400),  # a well-known waiting name: 31 days
        oldest("Shipped", 20 * 86400),  # ... 15 days
    ]
    status = assess(samples, Limits(), at=0)
    assert [p.subject for p in status.problems] == ["o/Order/Placed", "o/Order/Shipped"]
    assert {r.state: r.limit_s for r in status.sagas} == {
        "Cancelled": float("inf"),
        "Delivered": 31 * 86400,
        "Paying": 300,
        "Placed": 300,
        "Shipped": 15 * 86400,
    }


def test_json_is_valid_and_the_screen_names_the_problems() -> None:
    limits = Limits(saga_state_limits=(("Order", "Placed", float("inf")),))
    samples = [*healthy(), *shard("Stuck:All", 500, 600)]
    status = assess(samples, limits, at=1_800_000_000)
    data = json.loads(json.dumps(status.to_dict(), allow_nan=False))
    assert data["schema"] == "critterops.status/v1" and data["worst"] == "critical"
    assert data["sagas"][0]["limit_s"] is None  # "never" has no JSON number
    from rich.console import Console

    console = Console(width=160, record=True, color_system=None)
    console.print(render_status(status))
    screen = console.export_text()
    assert "CRITICAL" in screen and "Stuck:All" in screen and "stalled for 10m" in screen
    assert "orders-placed" in screen and "AlertFeedView:All" in screen


def test_names_are_printed_as_they_are_not_as_markup() -> None:
    from rich.console import Console

    samples = [
        sample(m.QUEUE_MESSAGES, 4, vhost="/", queue="orders[/x]"),
        sample(m.QUEUE_CONSUMERS, 0, vhost="/", queue="orders[/x]"),
        sample(m.SAGA_OLDEST_IN_STATE, 9e9, service="o", bounded_context="O", saga="Order", state="[bold]Odd"),
    ]
    console = Console(width=160, record=True, color_system=None)
    console.print(render_status(assess(samples, Limits(), at=0)))
    screen = console.export_text()
    assert "orders[/x]" in screen and "[bold]Odd" in screen
