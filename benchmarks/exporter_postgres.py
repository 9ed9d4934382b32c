"""Cost of one PostgreSQL scrape by ``critterops exporter`` on a CritterSupply-sized database.

    python scripts/servers.py start                      # PostgreSQL on 127.0.0.1:15432
    python benchmarks/exporter_postgres.py [--dsn DSN] [--runs 30] [--keep]

Creates a scratch database on the server of ``--dsn`` (default ``$CRITTEROPS_TEST_PG_DSN``, else the
test server) and fills it: an ``inventory`` schema with 1,000,000 events, a HighWaterMark and three
async shards at different positions, poisoned events, and Wolverine tables; an ``orders`` schema with
Wolverine tables (10,000 dead letters, inbox, outbox, three nodes and a leader) and 100,000 ``Order``
saga documents. After ``VACUUM ANALYZE`` it times the collector's first read, then ``--runs`` quiet
reads (nothing changed) and ``--runs`` busy reads (between reads: events appended, a shard moved,
sagas saved, completed and started), and prints ``EXPLAIN (ANALYZE, BUFFERS)`` of every statement the
collector runs. Exits non-zero if a plan scans ``mt_events`` sequentially or a busy read's median
exceeds the 250 ms budget.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.watch import critter_tables as ct  # noqa: E402

from critterops.watch.postgres import PostgresCollector, connect  # noqa: E402
from critterops.watch.targets import PostgresTarget, SagaTarget, SchemaTarget  # noqa: E402

BUDGET_S = 0.250
STATES = ("Placed", "PaymentConfirmed", "InventoryReserved", "Shipped", "Delivered")
SHARDS = {  # shard -> events behind the head
    "StockLevelView:All": 0,
    "BackorderImpactView:All": 5_000,
    "Inventory.Management.AlertFeedViewProjection:All": 400_000,
}
DEFAULT_DSN = "host=127.0.0.1 port=15432 user=postgres dbname=postgres"


def fill(conn: psycopg.Connection[Any], events: int, sagas: int, dead_letters: int) -> int:
    """The data set; returns the event sequence head."""
    ct.create_marten(conn, "inventory")
    ct.create_wolverine(conn, "inventory")
    head = ct.append_events(conn, "inventory", events, ago_s=7 * 86400, step_s=7 * 86400 / events)
    ct.set_progression(conn, "inventory", "HighWaterMark", head)
    for shard, behind in SHARDS.items():
        ct.set_progression(conn, "inventory", shard, head - behind)
    ct.add_dead_letter_events(conn, "inventory", "BackorderImpactView:All", 12)

    ct.create_wolverine(conn, "orders")
    nodes = [ct.add_node(conn, "orders", version="1.5.0", heartbeat_ago_s=i * 4) for i in range(3)]
    ct.assign(conn, "orders", ct.LEADER, nodes[0][0])
    for _, number in nodes:
        ct.add_incoming(conn, "orders", 150, owner_id=number)
        ct.add_incoming(conn, "orders", 700, status="Handled", owner_id=number)
        ct.add_outgoing(conn, "orders", 40, destination="rabbitmq://queue/fulfillment-requests", owner_id=number)
    ct.add_incoming(conn, "orders", 300, status="Scheduled")
    ct.add_incoming(conn, "orders", 40, owner_id=99)  # a vanished node's
    ct.add_outgoing(conn, "orders", 25, destination="rabbitmq://exchange/payments")
    types = ("PlaceOrder", "ConfirmPayment", "ReserveStock", "ShipOrder")
    exceptions = ("System.InvalidOperationException", "System.TimeoutException", "Npgsql.PostgresException")
    for i in range(dead_letters // 100):
        ct.add_dead_letters(
            conn, "orders", 100, message_type=types[i % 4], exception_type=exceptions[i % 3], ago_s=86400 - i * 60
        )

    ct.create_document_table(conn, "orders", "mt_doc_order")
    for i, state in enumerate(STATES):
        ct.add_sagas(conn, "orders", "mt_doc_order", sagas // len(STATES), state=state, ago_s=60 + i * 3600)
    conn.execute("VACUUM ANALYZE")
    return head


def churn(conn: psycopg.Connection[Any], rng: random.Random, ids: list[uuid.UUID]) -> None:
    """What happens between two scrapes of a busy Orders/Inventory pair."""
    head = ct.append_events(conn, "inventory", 20)
    ct.set_progression(conn, "inventory", "HighWaterMark", head)
    ct.set_progression(conn, "inventory", "StockLevelView:All", head)
    for saga_id in rng.sample(ids, 8):
        ct.save_saga(conn, "orders", "mt_doc_order", saga_id, state=rng.choice(STATES))
    for saga_id in rng.sample(ids, 3):
        ct.complete_saga(conn, "orders", "mt_doc_order", saga_id)
        ids.remove(saga_id)
    ids += ct.add_sagas(conn, "orders", "mt_doc_order", 3, state="Placed")


def timed_reads(watch: PostgresCollector, runs: int, between: Callable[[], None] | None = None) -> list[float]:
    """Seconds per read; ``between`` runs before each (untimed)."""
    times = []
    for _ in range(runs):
        if between is not None:
            between()
        started = time.perf_counter()
        result = watch.collect()
        times.append(time.perf_counter() - started)
        if not result.up or result.partial:
            raise SystemExit(f"read failed: {result.error or result.partial}")
    return times


def explain(watch: PostgresCollector, target: PostgresTarget) -> list[tuple[str, float, bool]]:
    """Print the plan of every statement; (statement, execution ms, scans mt_events sequentially) each."""
    out = []
    with connect(target) as conn:
        for schema in target.schemas:
            for statement in watch.statements(schema.schema):
                query = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + statement.query
                plan = [row[0] for row in conn.execute(query, statement.params).fetchall()]
                seq_scan = any(re.search(r"Seq Scan on (\S+\.)?mt_events\b", line) for line in plan)
                executed = next(float(line.split()[2]) for line in plan if line.startswith("Execution Time"))
                label = f"{schema.schema}: {statement.part}"
                print(f"\n--- {label}\n" + "\n".join(plan) + ("\n!!! sequential scan of mt_events" if seq_scan else ""))
                out.append((label, executed, seq_scan))
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("CRITTEROPS_TEST_PG_DSN", DEFAULT_DSN))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sagas", type=int, default=100_000)
    parser.add_argument("--dead-letters", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    name = f"critterops_bench_{os.getpid()}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=name)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            fill(conn, args.events, args.sagas, args.dead_letters)
            print(
                f"filled {args.events:,} events, {args.sagas:,} sagas, {args.dead_letters:,} dead letters "
                f"in {time.perf_counter() - started:.0f} s"
            )
            ids = [row[0] for row in conn.execute("SELECT id FROM orders.mt_doc_order").fetchall()]
            saga = SagaTarget("Order", "mt_doc_order", "Status")
            target = PostgresTarget(
                "bench",
                dsn,
                (
                    SchemaTarget("inventory", "inventory-api", "Inventory"),
                    SchemaTarget("orders", "orders-api", "Orders", events=False, sagas=(saga,)),
                ),
            )
            watch = PostgresCollector(target)
            first = timed_reads(watch, 1)[0]
            quiet = timed_reads(watch, args.runs)
            rng = random.Random(1)
            busy = timed_reads(watch, args.runs, lambda: churn(conn, rng, ids))
            plans = explain(watch, target)
            watch.close()
    finally:
        if not args.keep:
            with psycopg.connect(args.dsn, autocommit=True) as admin:
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    print(f"\n{'statement (EXPLAIN ANALYZE)':<44}{'ms':>9}")
    for label, executed, seq_scan in plans:
        print(f"{label:<44}{executed:>9.2f}" + ("  SEQ SCAN OF mt_events" if seq_scan else ""))
    print(f"\n{'read (collect(), wall clock)':<44}{'median':>9}{'p95':>9}{'max':>9}")
    print(f"{'first (loads every saga)':<44}{first * 1000:>7.1f}ms")
    for label, times in (("steady, nothing changed", quiet), ("steady, sagas and events changing", busy)):
        row = [statistics.median(times), percentile(times, 0.95), max(times)]
        print(f"{label + f' x{len(times)}':<44}" + "".join(f"{t * 1000:>7.1f}ms" for t in row))
    clean = not any(seq_scan for *_, seq_scan in plans)
    print(f"mt_events never scanned sequentially: {'yes' if clean else 'NO'}; budget {BUDGET_S * 1000:.0f} ms per read")
    if not clean or statistics.median(busy) > BUDGET_S:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
