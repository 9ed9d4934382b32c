"""One scrape of ``critterops exporter`` over HTTP, with every source at the size the issue names.

    python scripts/servers.py start          # PostgreSQL 127.0.0.1:15432, RabbitMQ 15672/15673/15692
    python benchmarks/exporter.py [--runs 30] [--events 1000000] [--sagas 100000] [--dead-letters 10000] [--queues 50]

PostgreSQL: a scratch database with 1,000,000 Marten events (three async shards at 0, 5,000 and
400,000 behind), 10,000 Wolverine dead letters, inbox/outbox rows, three nodes and 100,000 ``Order``
saga documents (``benchmarks/exporter_postgres.py`` builds it). RabbitMQ: 50 queues with 20 messages
and one consumer holding 5 unacknowledged each. The exporter runs in-process on a loopback port with
both sources (management API and rabbitmq_prometheus), ``min_interval`` 0, and each timed scrape is a
real ``GET /metrics``: the parallel reads, the rendering and the HTTP round trip. Between busy
scrapes, 20 events are appended and sagas are saved, completed and started. Before that it times the
first answer of fresh exporters: without the warm-up (the first scrape loads every saga document), and
right after ``Exporter.start()`` with a 10 s and a 0.1 s scrape deadline (the background warm-up is
waited for within the deadline, else answered as ``critterops_warming_up 1``). Prints the
``EXPLAIN (ANALYZE, BUFFERS)`` plan of every statement the PostgreSQL collector runs, and exits 1 if a
plan scans ``mt_events`` sequentially or the median busy scrape exceeds 250 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pika
import psycopg
from psycopg import sql

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS))

import exporter_postgres as pgbench  # noqa: E402
import exporter_rabbitmq as rmqbench  # noqa: E402

from critterops.metrics import SOURCE_WARMING_UP as WARMING_UP  # noqa: E402
from critterops.watch.exporter import Exporter, bind  # noqa: E402
from critterops.watch.postgres import PostgresCollector  # noqa: E402
from critterops.watch.promtext import parse  # noqa: E402
from critterops.watch.rabbitmq import RabbitCollector  # noqa: E402
from critterops.watch.samples import Collector  # noqa: E402
from critterops.watch.targets import PostgresTarget, QueueOwner, RabbitTarget, SagaTarget, SchemaTarget  # noqa: E402

BUDGET_S = 0.250


def scrape(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        body = response.read()
    return time.perf_counter() - started, len(body)


def warming(url: str) -> tuple[float, bool]:
    """One ``GET /metrics``: (seconds, whether a source said it is still warming up)."""
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    elapsed = time.perf_counter() - started
    return elapsed, any(item.name == WARMING_UP and item.value == 1 for item in parse(text).samples)


def first_answer(collectors: list[Collector], deadline_s: float, warm_up: bool) -> tuple[float, bool, float]:
    """A fresh exporter's first ``GET /metrics`` (with ``Exporter.start()`` first when ``warm_up``):
    (seconds, whether it answered "warming up", seconds until no source was warming up any more)."""
    exporter = Exporter(collectors, min_interval_s=0, deadline_s=deadline_s)
    server = bind(exporter, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
    try:
        started = time.perf_counter()
        if warm_up:
            exporter.start()
        answered, said_warming = warming(url)
        still = said_warming
        while still:
            time.sleep(0.02)
            still = warming(url)[1]
        return answered, said_warming, time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
        exporter.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default=os.environ.get("CRITTEROPS_TEST_PG_DSN", pgbench.DEFAULT_DSN))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sagas", type=int, default=100_000)
    parser.add_argument("--dead-letters", type=int, default=10_000)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    database = f"critterops_bench_{os.getpid()}"
    with psycopg.connect(args.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    dsn = psycopg.conninfo.make_conninfo(args.dsn, dbname=database)
    names = [f"bench-{uuid.uuid4().hex[:6]}-{i:03d}" for i in range(args.queues)]
    owners = tuple(QueueOwner(name, f"svc-{i % 5}", f"Ctx{i % 5}") for i, name in enumerate(names))
    amqp = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", rmqbench.AMQP_PORT))
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            started = time.perf_counter()
            pgbench.fill(conn, args.events, args.sagas, args.dead_letters)
            rmqbench.declare_queues(amqp, names)
            rmqbench.wait_until_visible(names, owners)
            print(
                f"{args.events:,} events, {args.sagas:,} sagas, {args.dead_letters:,} dead letters, "
                f"{args.queues} queues: ready in {time.perf_counter() - started:.0f} s"
            )
            ids = [row[0] for row in conn.execute("SELECT id FROM orders.mt_doc_order").fetchall()]
            target = PostgresTarget(
                database,
                dsn,
                (
                    SchemaTarget("inventory", "inventory-api", "Inventory"),
                    SchemaTarget(
                        "orders",
                        "orders-api",
                        "Orders",
                        events=False,
                        sagas=(SagaTarget("Order", "mt_doc_order", "Status"),),
                    ),
                ),
            )
            rabbit = RabbitTarget(rmqbench.MANAGEMENT, rmqbench.PROMETHEUS, password="guest", owners=owners)
            firsts = {
                label: first_answer([PostgresCollector(target), RabbitCollector(rabbit)], deadline, warm_up)
                for label, deadline, warm_up in (
                    ("no warm-up: the scrape loads every saga", 10.0, False),
                    ("start(), then GET; deadline 10 s", 10.0, True),
                    ("start(), then GET; deadline 0.1 s", 0.1, True),
                )
            }
            postgres = PostgresCollector(target)
            collectors: list[Collector] = [postgres, RabbitCollector(rabbit)]
            exporter = Exporter(collectors, min_interval_s=0, deadline_s=10)
            server = bind(exporter, "127.0.0.1", 0)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
            try:
                first, size = scrape(url)
                quiet = [scrape(url)[0] for _ in range(args.runs)]
                rng = random.Random(1)
                busy = []
                for _ in range(args.runs):
                    pgbench.churn(conn, rng, ids)
                    busy.append(scrape(url)[0])
                last = exporter.last
                assert last is not None
                down = [r.target for r in last.results if not r.up or r.partial]
                if down:
                    raise SystemExit(f"sources failed during the benchmark: {down}")
                plans = pgbench.explain(postgres, target)
                series = len([line for line in last.text().splitlines() if not line.startswith("#")])
                per_source = {r.target: r.duration_s for r in last.results}
            finally:
                server.shutdown()
                server.server_close()
                exporter.close()
    finally:
        amqp.close()
        rmqbench.delete_queues(names)
        with psycopg.connect(args.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database)))

    print(f"\n{'statement (EXPLAIN ANALYZE)':<44}{'ms':>9}")
    for label, executed, seq_scan in plans:
        print(f"{label:<44}{executed:>9.2f}" + ("  SEQ SCAN OF mt_events" if seq_scan else ""))
    print(
        f"\n/metrics: {series:,} series, {size / 1024:.0f} KiB; last read per source: "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in per_source.items())
    )
    print(f"\n{'first GET /metrics of a fresh exporter':<44}{'answer':>9}{'warming':>9}{'all read':>10}")
    for label, (answered, said, done) in firsts.items():
        print(f"{label:<44}{answered * 1000:>7.1f}ms{'yes' if said else 'no':>9}{done * 1000:>8.1f}ms")
    print(f"\n{'GET /metrics (wall clock)':<44}{'median':>9}{'p95':>9}{'max':>9}")
    print(f"{'first (connects, loads every saga)':<44}{first * 1000:>7.1f}ms")
    for label, times in (("steady, nothing changed", quiet), ("steady, events and sagas changing", busy)):
        row = [statistics.median(times), pgbench.percentile(times, 0.95), max(times)]
        print(f"{label + f' x{len(times)}':<44}" + "".join(f"{t * 1000:>7.1f}ms" for t in row))
    clean = not any(seq_scan for *_, seq_scan in plans)
    print(
        f"mt_events never scanned sequentially: {'yes' if clean else 'NO'}; budget {BUDGET_S * 1000:.0f} ms per scrape"
    )
    return 0 if clean and statistics.median(busy) <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
