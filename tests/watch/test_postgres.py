"""The PostgreSQL collector against real Marten 8 and Wolverine 5 tables (one fresh database per test)."""

from __future__ import annotations

import dataclasses
import random
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from critterops import metrics as m
from critterops.watch import postgres as pg
from critterops.watch.exporter import Exporter
from critterops.watch.postgres import APPLICATION_NAME, PostgresCollector, connect, describe
from critterops.watch.samples import SourceResult
from critterops.watch.targets import PostgresTarget, SagaTarget, SchemaTarget

from . import critter_tables as ct

Conn = psycopg.Connection[Any]
SECRET = "s3cr3t-Pa55word"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def db(pg_database: str) -> Iterator[Conn]:
    with psycopg.connect(pg_database, autocommit=True) as conn:
        yield conn


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def target(dsn: str, *schemas: SchemaTarget, timeout_s: float = 2.0, password: str | None = None) -> PostgresTarget:
    return PostgresTarget("orders", dsn, schemas, password=password, timeout_s=timeout_s)


def collector(dsn: str, clock: FakeClock, *schemas: SchemaTarget, timeout_s: float = 2.0) -> PostgresCollector:
    return PostgresCollector(target(dsn, *schemas, timeout_s=timeout_s), clock=clock)


def values(result: SourceResult, name: str, *keys: str) -> dict[Any, float]:
    """``name``'s samples keyed by the given labels (one label: the value itself)."""
    out: dict[Any, float] = {}
    for item in result.samples:
        if item.name == name:
            key = tuple(item.label(k) for k in keys)
            out[key[0] if len(key) == 1 else key] = item.value
    return out


def value(result: SourceResult, name: str, **labels: str) -> float:
    found = [s.value for s in result.samples if s.name == name and all(s.label(k) == v for k, v in labels.items())]
    assert len(found) == 1, f"{name}{labels}: {found}"
    return found[0]


def ok(result: SourceResult) -> SourceResult:
    assert result.up, result.error
    assert not result.partial, result.partial
    return result


INVENTORY = SchemaTarget("inventory", "inventory-api", "Inventory")
ORDERS = SchemaTarget("orders", "orders-api", "Orders", sagas=(SagaTarget("Order", "mt_doc_order", "Status"),))


# --- Marten: lag, head, oldest unprocessed, stalls, dead-letter events ------------------------------------------


@pytest.mark.parametrize("optional", [False, True], ids=["plain-columns", "optional-columns"])
def test_projection_lag_against_high_water_mark_and_head(
    db: Conn, pg_database: str, clock: FakeClock, optional: bool
) -> None:
    ct.create_marten(db, "inventory", optional=optional)
    ct.append_events(db, "inventory", 100, ago_s=600, step_s=1)  # seq n was appended 601 - n seconds ago
    ct.set_progression(db, "inventory", "HighWaterMark", 90)
    ct.set_progression(db, "inventory", "HighWaterMark:tenant-a", 95)  # Marten 9's per-tenant marks are no shard
    ct.set_progression(db, "inventory", "StockLevelView:All", 90)
    ct.set_progression(db, "inventory", "Inventory.AlertFeedViewProjection:V2:All", 40)
    ct.set_progression(db, "inventory", "Done:All", 100)

    result = ok(collector(pg_database, clock, INVENTORY).collect())

    store = {"service": "inventory-api", "bounded_context": "Inventory", "schema": "inventory"}
    assert value(result, m.EVENT_SEQUENCE_HEAD, **store) == 100
    assert value(result, m.PROJECTION_HIGH_WATER_MARK, **store) == 90
    shards = ["Done:All", "Inventory.AlertFeedViewProjection:V2:All", "StockLevelView:All"]
    assert values(result, m.PROJECTION_LAST_SEQUENCE, "projection") == dict(zip(shards, [100, 40, 90], strict=True))
    assert values(result, m.PROJECTION_LAG, "projection") == dict(zip(shards, [0, 50, 0], strict=True))
    assert values(result, m.PROJECTION_HEAD_LAG, "projection") == dict(zip(shards, [0, 60, 10], strict=True))
    oldest = values(result, m.PROJECTION_OLDEST_UNPROCESSED, "projection")
    assert oldest["Done:All"] == 0
    assert oldest["Inventory.AlertFeedViewProjection:V2:All"] == pytest.approx(560, abs=5)  # seq 41
    assert oldest["StockLevelView:All"] == pytest.approx(510, abs=5)  # seq 91, behind the head only
    assert all(s.label("schema") == "inventory" for s in result.samples)


def test_fresh_store_reports_head_zero_and_no_mark_before_a_daemon_ran(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_marten(db, "inventory")  # the sequence exists but was never called: last_value 1, is_called false

    result = ok(collector(pg_database, clock, INVENTORY).collect())

    assert value(result, m.EVENT_SEQUENCE_HEAD) == 0
    assert values(result, m.PROJECTION_HIGH_WATER_MARK) == {}
    assert values(result, m.PROJECTION_LAG) == {}
    ct.append_events(db, "inventory", 1)
    assert value(ok(collector(pg_database, clock, INVENTORY).collect()), m.EVENT_SEQUENCE_HEAD) == 1


def test_without_a_mark_a_shard_behind_the_head_can_still_stall(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_marten(db, "inventory")
    ct.append_events(db, "inventory", 10)
    ct.set_progression(db, "inventory", "Trip:All", 4)  # no daemon keeps a HighWaterMark row
    watch = collector(pg_database, clock, INVENTORY)
    ok(watch.collect())
    clock.advance(40)

    result = ok(watch.collect())

    assert value(result, m.PROJECTION_STALLED, projection="Trip:All") == 40
    assert value(result, m.PROJECTION_HEAD_LAG, projection="Trip:All") == 6


def test_stall_grows_while_stuck_behind_and_resets_when_moving_or_caught_up(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_marten(db, "inventory")
    ct.append_events(db, "inventory", 100)
    ct.set_progression(db, "inventory", "HighWaterMark", 100)
    ct.set_progression(db, "inventory", "Trip:All", 40)
    ct.set_progression(db, "inventory", "Idle:All", 100)
    watch = collector(pg_database, clock, INVENTORY)

    def stalled() -> dict[Any, float]:
        return values(ok(watch.collect()), m.PROJECTION_STALLED, "projection")

    assert stalled() == {"Trip:All": 0, "Idle:All": 0}, "the first observation starts the clock"
    clock.advance(30)
    assert stalled() == {"Trip:All": 30, "Idle:All": 0}
    clock.advance(45)
    assert stalled()["Trip:All"] == 75
    ct.set_progression(db, "inventory", "Trip:All", 50)
    clock.advance(10)
    assert stalled()["Trip:All"] == 0, "moving resets it"
    clock.advance(20)
    assert stalled()["Trip:All"] == 20
    ct.set_progression(db, "inventory", "Trip:All", 100)
    clock.advance(300)
    assert stalled()["Trip:All"] == 0, "caught up is never stalled"
    ct.append_events(db, "inventory", 5)
    ct.set_progression(db, "inventory", "HighWaterMark", 105)
    clock.advance(600)
    assert stalled() == {"Trip:All": 0, "Idle:All": 0}, "a long caught-up idle is not a stall when events arrive"
    clock.advance(15)
    assert stalled() == {"Trip:All": 15, "Idle:All": 15}


def test_dead_letter_events_per_shard_with_zero_for_clean_shards(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_marten(db, "inventory")
    ct.append_events(db, "inventory", 10)
    for name in ("HighWaterMark", "StockLevelView:All", "BackorderImpactView:All"):
        ct.set_progression(db, "inventory", name, 10)
    ct.set_progression(db, "inventory", "Trip:V2:All", 10)
    ct.set_progression(db, "inventory", "Trip:V3:All", 4)  # blue/green: the new version catching up
    ct.add_dead_letter_events(db, "inventory", "StockLevelView:All", 3)
    ct.add_dead_letter_events(db, "inventory", "Trip:V3:All", 2)  # stored as Trip + All: the newest version
    ct.add_dead_letter_events(db, "inventory", "Retired:All", 1)  # a shard no longer in the progression table

    result = ok(collector(pg_database, clock, INVENTORY).collect())

    assert values(result, m.PROJECTION_DEAD_LETTER_EVENTS, "projection") == {
        "BackorderImpactView:All": 0,
        "Retired:All": 1,
        "StockLevelView:All": 3,
        "Trip:V2:All": 0,
        "Trip:V3:All": 2,
    }
    stored = db.execute("SELECT DISTINCT data ->> 'ShardName' FROM inventory.mt_doc_deadletterevent").fetchall()
    assert stored == [("All",)], "the fixture stores what JasperFx stores"


def test_without_dead_letter_table_no_dead_letter_series(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_marten(db, "inventory", dead_letter_table=False)
    ct.set_progression(db, "inventory", "StockLevelView:All", 0)

    result = ok(collector(pg_database, clock, INVENTORY).collect())

    assert values(result, m.PROJECTION_DEAD_LETTER_EVENTS) == {}
    assert values(result, m.PROJECTION_LAST_SEQUENCE, "projection") == {"StockLevelView:All": 0}
    assert not [note for note in result.notes if "deadletter" in note]


# --- Wolverine: inbox, outbox, orphans, dead letters, nodes -----------------------------------------------------


@pytest.mark.parametrize("optional", [False, True], ids=["plain-columns", "stale-and-expiry-columns"])
def test_inbox_and_outbox_by_status_and_owner_excluding_handled(
    db: Conn, pg_database: str, clock: FakeClock, optional: bool
) -> None:
    ct.create_wolverine(db, "orders", optional=optional)
    _, node = ct.add_node(db, "orders")
    ct.add_incoming(db, "orders", 5, status="Incoming", owner_id=0)
    ct.add_incoming(db, "orders", 3, status="Incoming", owner_id=node)
    ct.add_incoming(db, "orders", 2, status="Scheduled", owner_id=0)
    ct.add_incoming(db, "orders", 7, status="Handled", owner_id=0)
    ct.add_incoming(db, "orders", 4, status="Handled", owner_id=node)
    ct.add_outgoing(db, "orders", 4, destination="rabbitmq://queue/fulfillment-requests", owner_id=0)
    ct.add_outgoing(db, "orders", 2, destination="rabbitmq://queue/fulfillment-requests", owner_id=node)
    ct.add_outgoing(db, "orders", 1, destination="rabbitmq://exchange/orders", owner_id=node)

    result = ok(collector(pg_database, clock, ORDERS).collect())

    assert values(result, m.INBOX_PENDING, "status", "owner") == {
        ("Incoming", "any"): 5,
        ("Incoming", "node"): 3,
        ("Scheduled", "any"): 2,
        ("Scheduled", "node"): 0,
    }
    assert values(result, m.OUTBOX_PENDING, "destination", "owner") == {
        ("rabbitmq://queue/fulfillment-requests", "any"): 4,
        ("rabbitmq://queue/fulfillment-requests", "node"): 2,
        ("rabbitmq://exchange/orders", "any"): 0,
        ("rabbitmq://exchange/orders", "node"): 1,
    }
    assert values(result, m.ENVELOPES_ORPHANED, "table") == {"incoming": 0, "outgoing": 0}
    assert {s.label("service") for s in result.samples} == {"orders-api"}


def test_empty_inbox_still_reports_every_status_and_owner(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")

    result = ok(collector(pg_database, clock, ORDERS).collect())

    assert set(values(result, m.INBOX_PENDING, "status", "owner").values()) == {0}
    assert len(values(result, m.INBOX_PENDING, "status", "owner")) == 4
    assert values(result, m.OUTBOX_PENDING, "destination", "owner") == {("", "any"): 0, ("", "node"): 0}, (
        "an outbox that never held a row reads 0 per owner, like the inbox"
    )
    assert values(result, m.DEAD_LETTERS) == {} and values(result, m.DEAD_LETTER_OLDEST) == {}
    assert value(result, m.LEADERS) == 0


def test_an_emptied_outbox_keeps_its_destinations_at_zero(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")
    _, node = ct.add_node(db, "orders")
    ct.add_outgoing(db, "orders", 3, destination="rabbitmq://queue/fulfillment-requests", owner_id=node)
    ct.add_outgoing(db, "orders", 2, destination="rabbitmq://exchange/orders", owner_id=0)
    watch = collector(pg_database, clock, ORDERS)
    both = {
        ("rabbitmq://queue/fulfillment-requests", "any"): 0,
        ("rabbitmq://queue/fulfillment-requests", "node"): 3,
        ("rabbitmq://exchange/orders", "any"): 2,
        ("rabbitmq://exchange/orders", "node"): 0,
    }
    assert values(ok(watch.collect()), m.OUTBOX_PENDING, "destination", "owner") == both, "every owner of a destination"

    db.execute("DELETE FROM orders.wolverine_outgoing_envelopes")  # delivered
    clock.advance(60)
    emptied = ok(watch.collect())

    assert values(emptied, m.OUTBOX_PENDING, "destination", "owner") == dict.fromkeys(both, 0), (
        "the same series as with rows, at 0: sum() reads 0 and deriv() sees the drop"
    )
    assert all(s.label("destination") for s in emptied.samples if s.name == m.OUTBOX_PENDING)
    assert sum(s.value for s in emptied.samples if s.name == m.OUTBOX_PENDING) == 0

    clock.advance(pg.DESTINATION_MEMORY_S + 1)
    forgotten = ok(watch.collect())
    assert values(forgotten, m.OUTBOX_PENDING, "destination", "owner") == {("", "any"): 0, ("", "node"): 0}, (
        "a destination gone for longer than the memory is no longer reported"
    )


def test_envelopes_of_a_vanished_node_are_orphaned(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")
    _, alive = ct.add_node(db, "orders")
    crashed_id, crashed = ct.add_node(db, "orders")
    ct.add_incoming(db, "orders", 2, owner_id=alive)
    ct.add_incoming(db, "orders", 3, owner_id=crashed)
    ct.add_incoming(db, "orders", 6, status="Scheduled", owner_id=crashed)
    ct.add_incoming(db, "orders", 9, status="Handled", owner_id=crashed)  # kept after handling: not orphaned work
    ct.add_incoming(db, "orders", 1, owner_id=0)  # unowned: any node recovers it
    ct.add_outgoing(db, "orders", 4, destination="rabbitmq://queue/a", owner_id=crashed)
    ct.add_outgoing(db, "orders", 5, destination="rabbitmq://queue/a", owner_id=0)
    watch = collector(pg_database, clock, ORDERS)
    assert values(ok(watch.collect()), m.ENVELOPES_ORPHANED, "table") == {"incoming": 0, "outgoing": 0}

    ct.remove_node(db, "orders", crashed_id)

    assert values(ok(watch.collect()), m.ENVELOPES_ORPHANED, "table") == {"incoming": 9, "outgoing": 4}


def test_dead_letters_by_message_and_exception_type_with_the_oldest_age(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_wolverine(db, "orders", optional=True)
    ct.add_dead_letters(
        db, "orders", 3, message_type="PlaceOrder", exception_type="InvalidOperationException", ago_s=120
    )
    ct.add_dead_letters(db, "orders", 2, message_type="ShipOrder", exception_type="TimeoutException", ago_s=30)
    ct.add_dead_letters(db, "orders", 1, message_type="PlaceOrder", exception_type="TimeoutException")

    result = ok(collector(pg_database, clock, ORDERS).collect())

    assert values(result, m.DEAD_LETTERS, "message_type", "exception_type") == {
        ("PlaceOrder", "InvalidOperationException"): 3,
        ("PlaceOrder", "TimeoutException"): 1,
        ("ShipOrder", "TimeoutException"): 2,
    }
    assert value(result, m.DEAD_LETTER_OLDEST) == pytest.approx(120, abs=5)


@pytest.mark.parametrize("leader_uri", ["wolverine://leader", "wolverine://leader/"])
def test_nodes_heartbeat_version_and_leader(db: Conn, pg_database: str, clock: FakeClock, leader_uri: str) -> None:
    ct.create_wolverine(db, "orders")
    blue_id, blue = ct.add_node(db, "orders", version="1.4.0", heartbeat_ago_s=5)
    green_id, green = ct.add_node(db, "orders", version="1.5.0", heartbeat_ago_s=95)
    ct.assign(db, "orders", leader_uri, blue_id)
    ct.assign(db, "orders", "event-subscriptions://marten/main/localhost.orders/stocklevelview/all", green_id)

    result = ok(collector(pg_database, clock, ORDERS).collect())

    assert values(result, m.NODE_INFO, "node", "version", "leader") == {
        (str(blue), "1.4.0", "true"): 1,
        (str(green), "1.5.0", "false"): 1,
    }
    ages = values(result, m.NODE_HEARTBEAT_AGE, "node")
    assert ages[str(blue)] == pytest.approx(5, abs=3)
    assert ages[str(green)] == pytest.approx(95, abs=3)
    assert value(result, m.LEADERS) == 1


def test_no_leader_means_zero_leaders(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")
    node_id, _ = ct.add_node(db, "orders")
    ct.assign(db, "orders", "event-subscriptions://marten/main/localhost.orders/orderview/all", node_id)

    result = ok(collector(pg_database, clock, ORDERS).collect())

    assert value(result, m.LEADERS) == 0
    assert set(values(result, m.NODE_INFO, "leader")) == {"false"}


# --- sagas ----------------------------------------------------------------------------------------------------


def saga_values(result: SourceResult, name: str) -> dict[Any, float]:
    return values(result, name, "state")


def test_saga_instances_idle_and_time_in_state(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_document_table(db, "orders", "mt_doc_order")
    placed = ct.add_sagas(db, "orders", "mt_doc_order", 3, state="Placed", ago_s=600)
    ct.add_sagas(db, "orders", "mt_doc_order", 2, state="Paid", ago_s=10)
    (shipped,) = ct.add_sagas(db, "orders", "mt_doc_order", 1, state="Shipped", ago_s=900)
    watch = collector(pg_database, clock, ORDERS)

    result = ok(watch.collect())
    loaded = [note for note in result.notes if "saga Order" in note]
    assert len(loaded) == 1 and "the first read loaded all 6 documents" in loaded[0], "the warm-up says what it did"
    assert saga_values(result, m.SAGA_INSTANCES) == {"Paid": 2, "Placed": 3, "Shipped": 1}
    assert saga_values(result, m.SAGA_IDLE) == {"Paid": 0, "Placed": 3, "Shipped": 1}
    oldest = saga_values(result, m.SAGA_OLDEST_IN_STATE)
    assert oldest["Placed"] == pytest.approx(600, abs=5), "first seen: counted from the last save"
    assert oldest["Shipped"] == pytest.approx(900, abs=5)
    assert {s.label("saga") for s in result.samples} == {"Order"}

    # saves are stamped with their transaction's start, a few seconds back at most
    ct.save_saga(db, "orders", "mt_doc_order", placed[0], state="Placed")  # saved again, same state
    ct.save_saga(db, "orders", "mt_doc_order", shipped, state="Delivered", ago_s=8)  # the state changed
    result = ok(watch.collect())
    assert not [note for note in result.notes if "saga Order" in note], "only the first read is a warm-up"
    assert saga_values(result, m.SAGA_INSTANCES) == {"Delivered": 1, "Paid": 2, "Placed": 3}
    assert saga_values(result, m.SAGA_IDLE) == {"Delivered": 0, "Paid": 0, "Placed": 2}
    oldest = saga_values(result, m.SAGA_OLDEST_IN_STATE)
    assert oldest["Placed"] == pytest.approx(600, abs=5), "the other Placed sagas are still the oldest"
    assert oldest["Delivered"] == pytest.approx(8, abs=2), "a state change restarts the time in state"

    ct.save_saga(db, "orders", "mt_doc_order", shipped, state="Delivered")  # saved again: still in Delivered
    ct.save_saga(db, "orders", "mt_doc_order", placed[1], state="Paid")
    result = ok(watch.collect())
    oldest = saga_values(result, m.SAGA_OLDEST_IN_STATE)
    assert oldest["Delivered"] == pytest.approx(8, abs=2), "a save in the same state keeps the time in state"
    assert oldest["Paid"] == pytest.approx(10, abs=5)
    assert saga_values(result, m.SAGA_INSTANCES) == {"Delivered": 1, "Paid": 3, "Placed": 2}

    ct.complete_saga(db, "orders", "mt_doc_order", shipped)
    result = ok(watch.collect())
    assert saga_values(result, m.SAGA_INSTANCES) == {"Paid": 3, "Placed": 2}, "completed sagas are deleted"
    assert "Delivered" not in saga_values(result, m.SAGA_OLDEST_IN_STATE)


def test_saga_without_state_member_counts_every_instance_under_empty_state(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_document_table(db, "orders", "mt_doc_shipment")
    ct.add_sagas(db, "orders", "mt_doc_shipment", 4, state="Anything", ago_s=400)
    saga = SagaTarget("Shipment", "mt_doc_shipment", None, idle_after_s=3600)
    schema = SchemaTarget("orders", "orders-api", events=False, wolverine=False, sagas=(saga,))

    result = ok(collector(pg_database, clock, schema).collect())

    assert saga_values(result, m.SAGA_INSTANCES) == {"": 4}
    assert saga_values(result, m.SAGA_IDLE) == {"": 0}


def test_saga_tracking_matches_the_table_through_many_changes(db: Conn, pg_database: str, clock: FakeClock) -> None:
    """Saves, state changes, completions and new sagas between reads, checked against a GROUP BY."""
    ct.create_document_table(db, "orders", "mt_doc_order")
    states = ["Placed", "Paid", "Shipped", "Delivered"]
    ids = [i for state in states for i in ct.add_sagas(db, "orders", "mt_doc_order", 700, state=state, ago_s=900)]
    watch = collector(pg_database, clock, ORDERS)
    ok(watch.collect())
    rng = random.Random(7)
    for _ in range(3):
        rng.shuffle(ids)
        for saga_id in ids[:40]:
            ct.complete_saga(db, "orders", "mt_doc_order", saga_id)
        for saga_id in ids[40:100]:
            ct.save_saga(db, "orders", "mt_doc_order", saga_id, state=rng.choice(states))
        del ids[:40]
        ids += ct.add_sagas(db, "orders", "mt_doc_order", 25, state="Placed")
        clock.advance(15)

        result = ok(watch.collect())

        truth = db.execute(
            "SELECT data->>'Status', count(*), count(*) FILTER (WHERE now() - mt_last_modified > interval '300 s')"
            " FROM orders.mt_doc_order GROUP BY 1"
        ).fetchall()
        assert saga_values(result, m.SAGA_INSTANCES) == {state: n for state, n, _ in truth}
        assert saga_values(result, m.SAGA_IDLE) == {state: idle for state, _, idle in truth}


# --- layout: optional groups, notes, tables appearing and disappearing -------------------------------------------


def test_schema_without_wolverine_tables_is_noted_once(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_marten(db, "inventory")
    watch = collector(pg_database, clock, INVENTORY)

    first = ok(watch.collect())
    second = ok(watch.collect())

    assert len(first.notes) == 1 and "no Wolverine tables" in first.notes[0] and "inventory" in first.notes[0]
    assert second.notes == ()
    assert not any(s.name == m.INBOX_PENDING for s in first.samples + second.samples)


def test_schema_without_event_store_is_noted_once_and_configured_absence_is_silent(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_wolverine(db, "orders")
    detect = SchemaTarget("orders", "orders-api")
    configured = SchemaTarget("orders", "orders-api", events=False)

    watch = collector(pg_database, clock, detect)
    first, second = ok(watch.collect()), ok(watch.collect())

    assert len(first.notes) == 1 and "no Marten event store" in first.notes[0]
    assert second.notes == ()
    assert ok(collector(pg_database, clock, configured).collect()).notes == ()


def test_tables_created_later_are_picked_up(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_marten(db, "orders")
    watch = collector(pg_database, clock, ORDERS)
    first = ok(watch.collect())
    assert values(first, m.INBOX_PENDING) == {}

    ct.create_wolverine(db, "orders")
    ct.add_incoming(db, "orders", 2)
    ct.create_document_table(db, "orders", "mt_doc_order")
    ct.add_sagas(db, "orders", "mt_doc_order", 1, state="Placed")
    clock.advance(61)

    result = ok(watch.collect())
    assert value(result, m.INBOX_PENDING, status="Incoming", owner="any") == 2
    assert saga_values(result, m.SAGA_INSTANCES) == {"Placed": 1}


def test_table_dropped_midway_is_partial_and_the_rest_still_reported(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_wolverine(db, "orders")
    ct.add_dead_letters(db, "orders", 1)
    ct.add_incoming(db, "orders", 2)
    watch = collector(pg_database, clock, ORDERS)
    ok(watch.collect())

    db.execute("DROP TABLE orders.wolverine_dead_letters")
    result = watch.collect()

    assert result.up and result.error is None
    assert len(result.partial) == 1
    assert result.partial[0].startswith("orders: wolverine_dead_letters: ")
    assert "does not exist" in result.partial[0]
    assert value(result, m.INBOX_PENDING, status="Incoming", owner="any") == 2
    assert values(result, m.DEAD_LETTERS) == {}

    after = ok(watch.collect())  # the layout is read again: the table is gone, noted once
    assert [note for note in after.notes if "wolverine_dead_letters" in note]
    assert value(after, m.INBOX_PENDING, status="Incoming", owner="any") == 2


def test_a_lock_held_by_a_migration_times_out_one_part_only(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")
    ct.add_incoming(db, "orders", 2)
    watch = collector(pg_database, clock, ORDERS, timeout_s=0.3)
    ok(watch.collect())
    with psycopg.connect(pg_database) as migration:  # holds ACCESS EXCLUSIVE until the block ends
        migration.execute("LOCK TABLE orders.wolverine_dead_letters IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        result = watch.collect()
        elapsed = time.monotonic() - started

    assert result.up
    assert len(result.partial) == 1
    assert result.partial[0].startswith("orders: wolverine_dead_letters: canceling statement due to")
    assert result.partial[0].endswith("timeout")  # lock_timeout or statement_timeout, whichever fires first
    assert value(result, m.INBOX_PENDING, status="Incoming", owner="any") == 2
    assert elapsed < 2.0
    ok(watch.collect())


# --- the connection: read-only, timeouts, failures, secrets -----------------------------------------------------


def test_the_connection_is_read_only_and_named(db: Conn, pg_database: str) -> None:
    ct.create_wolverine(db, "orders")
    with connect(target(pg_database, ORDERS)) as conn:
        assert conn.execute("SHOW application_name").fetchone() == (APPLICATION_NAME,)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM orders.wolverine_incoming_envelopes")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE orders.intruder (id int)")
        assert conn.execute("SELECT 1").fetchone() == (1,), "still usable after a refused write"


def test_options_in_the_connection_string_are_kept_and_cannot_undo_read_only(pg_database: str) -> None:
    conninfo = f"{pg_database} options='-c search_path=orders -c default_transaction_read_only=off'"
    with connect(dataclasses.replace(target(pg_database, ORDERS), conninfo=conninfo)) as conn:
        assert conn.execute("SHOW search_path").fetchone() == ("orders",)
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)


def test_statement_timeout_is_the_targets_timeout(pg_database: str) -> None:
    with connect(target(pg_database, ORDERS, timeout_s=0.25)) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("250ms",)
        assert conn.execute("SHOW lock_timeout").fetchone() == ("250ms",)
        started = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("SELECT pg_sleep(5)")
        assert time.monotonic() - started < 2


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_database_is_down_without_secrets(clock: FakeClock) -> None:
    conninfo = f"host=127.0.0.1 port={_closed_port()} user=critterops dbname=orders"
    watch = PostgresCollector(target(conninfo, ORDERS, timeout_s=1, password=SECRET), clock=clock)

    result = watch.collect()

    assert not result.up and result.samples == ()
    assert result.error and "\n" not in result.error
    assert SECRET not in result.error and conninfo not in result.error
    assert "refused" in result.error.lower() or "connect" in result.error.lower()


def test_down_then_recovers_on_the_next_read(postgres_dsn: str, clock: FakeClock) -> None:
    name = f"t_{uuid.uuid4().hex[:12]}"
    dsn = postgres_dsn.replace("dbname=postgres", f"dbname={name}")
    watch = PostgresCollector(target(dsn, ORDERS, password=SECRET), clock=clock)
    down = watch.collect()
    assert not down.up and down.error and "does not exist" in down.error and SECRET not in down.error
    with psycopg.connect(postgres_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            with psycopg.connect(dsn, autocommit=True) as conn:
                ct.create_wolverine(conn, "orders")
            assert value(ok(watch.collect()), m.INBOX_PENDING, status="Incoming", owner="any") == 0
            watch.close()
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_exporter_backends(db: Conn) -> int:
    """``pg_terminate_backend`` on the collector's connections (a failover or a restart, as the collector sees it)."""
    row = db.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = %s AND datname = current_database()",
        (APPLICATION_NAME,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_a_connection_lost_between_scrapes_is_reopened_within_the_scrape(
    db: Conn, pg_database: str, clock: FakeClock
) -> None:
    ct.create_wolverine(db, "orders")
    ct.create_document_table(db, "orders", "mt_doc_order")
    ct.add_incoming(db, "orders", 1)
    ct.add_sagas(db, "orders", "mt_doc_order", 3, state="Placed", ago_s=600)
    exporter = Exporter([collector(pg_database, clock, ORDERS)], min_interval_s=0)
    try:
        before = exporter.scrape()
        assert before.results[0].up
        for _ in range(2):  # twice: each lost connection is reopened
            assert terminate_exporter_backends(db) == 1
            ct.add_incoming(db, "orders", 1)
            ct.add_sagas(db, "orders", "mt_doc_order", 1, state="Paid")

            scrape = exporter.scrape()

            (result,) = scrape.results
            assert result.up and not result.partial, result.error
            assert 'critterops_up{target="postgres:orders"} 1' in scrape.text()
            assert dict(scrape.errors) == {"postgres:orders": 0}, "a reopened connection is no failed read"
        assert value(result, m.INBOX_PENDING, status="Incoming", owner="any") == 3
        assert saga_values(result, m.SAGA_INSTANCES) == {"Paid": 2, "Placed": 3}
        assert saga_values(result, m.SAGA_OLDEST_IN_STATE)["Placed"] == pytest.approx(600, abs=5), (
            "the saga memory survives the reconnect: time in state is not reset"
        )
    finally:
        exporter.close()


def test_a_lost_connection_that_cannot_be_reopened_is_down(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")
    ct.add_incoming(db, "orders", 1)
    watch = collector(pg_database, clock, ORDERS)
    ok(watch.collect())
    database = db.execute("SELECT current_database()").fetchone()
    assert database is not None
    with psycopg.connect(pg_database.replace(f"dbname={database[0]}", "dbname=postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{database[0]}" WITH ALLOW_CONNECTIONS false')
        try:
            assert terminate_exporter_backends(db) == 1

            lost = watch.collect()

            assert not lost.up and lost.error and "\n" not in lost.error and lost.samples == ()
            assert "not currently accepting connections" in lost.error, "the reconnect's reason, not the lost one's"
        finally:
            admin.execute(f'ALTER DATABASE "{database[0]}" WITH ALLOW_CONNECTIONS true')
    assert value(ok(watch.collect()), m.INBOX_PENDING, status="Incoming", owner="any") == 1


def test_no_second_attempt_when_the_deadline_is_spent(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_wolverine(db, "orders")
    ct.add_incoming(db, "orders", 1)
    watch = PostgresCollector(target(pg_database, ORDERS), clock=clock, deadline_s=0.0)
    ok(watch.collect())
    assert terminate_exporter_backends(db) == 1

    lost = watch.collect()

    assert not lost.up and lost.error and "\n" not in lost.error
    assert value(ok(watch.collect()), m.INBOX_PENDING, status="Incoming", owner="any") == 1


def test_describe_never_shows_the_password_or_connection_string() -> None:
    conninfo = "host=db.internal port=5432 user=exporter dbname=orders sslmode=require"
    secret_target = PostgresTarget("orders", conninfo, (), password=SECRET)
    messages = [
        f'connection failed: FATAL:  password authentication failed for user "exporter" ({SECRET})\n\tmore',
        f'missing "=" after "{conninfo}" in connection info string',
        "invalid dsn: password=hunter2 host=x",
        "could not connect to postgresql://exporter:hunter2@db.internal/orders",
    ]
    for message in messages:
        text = describe(psycopg.OperationalError(message), secret_target)
        assert SECRET not in text and "hunter2" not in text and conninfo not in text
        assert "\n" not in text and "\t" not in text


def test_statements_list_every_query_of_a_full_schema(db: Conn, pg_database: str, clock: FakeClock) -> None:
    ct.create_marten(db, "orders")
    ct.create_wolverine(db, "orders")
    ct.create_document_table(db, "orders", "mt_doc_order")
    watch = collector(pg_database, clock, ORDERS)
    ok(watch.collect())

    statements = watch.statements("orders")

    assert [s.part for s in statements] == [
        "mt_event_progression",
        "mt_doc_deadletterevent",
        "wolverine envelopes",
        "wolverine_dead_letters",
        "wolverine_nodes",
        "saga Order",
        "saga Order resync",
    ]
    with connect(target(pg_database, ORDERS)) as conn:
        for statement in statements:
            conn.execute(b"EXPLAIN " + statement.query.as_bytes(conn), statement.params)
