"""How long one RabbitMQ collect takes, against the real broker on loopback.

    python scripts/servers.py start
    python benchmarks/exporter_rabbitmq.py [--queues 50] [--runs 50]

Declares ``--queues`` queues (20 messages each, one consumer holding 5 unacked on each), waits until the
management API shows them all, then times ``--runs`` calls of ``RabbitCollector.collect()`` in-process for
each source set-up: management API only, rabbitmq_prometheus only, and both (the management API read
first, rabbitmq_prometheus only to fill gaps). Prints median / p95 / max per set-up and deletes its
queues. Broker addresses come from ``scripts/servers.py env`` (``CRITTEROPS_TEST_RABBITMQ_*``) or its
defaults. Target: well under 250 ms per collect.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

import pika

from critterops import metrics as m
from critterops.watch.rabbitmq import RabbitCollector
from critterops.watch.targets import QueueOwner, RabbitTarget

AMQP_PORT = int(os.environ.get("CRITTEROPS_TEST_RABBITMQ_AMQP_PORT", "15672"))
MANAGEMENT = os.environ.get("CRITTEROPS_TEST_RABBITMQ_MANAGEMENT", "http://127.0.0.1:15673")
PROMETHEUS = os.environ.get("CRITTEROPS_TEST_RABBITMQ_PROMETHEUS", "http://127.0.0.1:15692")
MESSAGES = 20
PREFETCH = 5


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def wait_until_visible(names: list[str], owners: tuple[QueueOwner, ...]) -> float:
    """Seconds until the management API shows every queue with its consumer and unacked messages."""
    collector = RabbitCollector(RabbitTarget(MANAGEMENT, password="guest", owners=owners))
    started = time.monotonic()
    wanted = set(names)
    while time.monotonic() - started < 60:
        result = collector.collect()
        ready = {
            s.label("queue")
            for s in result.samples
            if s.name == m.QUEUE_UNACKED and s.value == PREFETCH and s.label("queue") in wanted
        }
        if ready == wanted:
            return time.monotonic() - started
        time.sleep(0.25)
    raise SystemExit(f"the management API did not show all {len(names)} queues within 60 s")


def declare_queues(conn: pika.BlockingConnection, names: list[str]) -> None:
    """Each queue gets MESSAGES messages and one consumer that holds PREFETCH of them unacknowledged."""
    publisher = conn.channel()
    publisher.confirm_delivery()
    for name in names:
        publisher.queue_declare(name)
        for i in range(MESSAGES):
            publisher.basic_publish("", name, f"m{i}".encode())
        consumer = conn.channel()
        consumer.basic_qos(prefetch_count=PREFETCH)
        consumer.basic_consume(name, lambda *_: None, auto_ack=False)
    conn.process_data_events(time_limit=0.2)


def delete_queues(names: list[str]) -> None:
    cleanup = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", AMQP_PORT))
    channel = cleanup.channel()
    for name in names:
        channel.queue_delete(name)
    cleanup.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queues", type=int, default=50)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()

    prefix = f"bench-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{i:03d}" for i in range(args.queues)]
    owners = tuple(QueueOwner(name, f"svc-{i % 5}", f"Ctx{i % 5}") for i, name in enumerate(names))
    try:
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", AMQP_PORT))
    except pika.exceptions.AMQPError as exc:
        print(f"no broker on 127.0.0.1:{AMQP_PORT} ({exc!r}); run: python scripts/servers.py start", file=sys.stderr)
        return 2
    try:
        declare_queues(conn, names)
        settle = wait_until_visible(names, owners)
        print(
            f"{args.queues} queues x {MESSAGES} messages, 1 consumer / {PREFETCH} unacked each "
            f"(visible in the management API after {settle:.1f} s); {args.runs} collects per set-up\n"
        )

        setups = {
            "management": RabbitTarget(MANAGEMENT, password="guest", owners=owners),
            "prometheus": RabbitTarget(None, PROMETHEUS, owners=owners),
            "both": RabbitTarget(MANAGEMENT, PROMETHEUS, password="guest", owners=owners),
        }
        print(f"{'set-up':<12}{'queues':>8}{'samples':>9}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
        for label, target in setups.items():
            collector = RabbitCollector(target)
            collector.collect()  # warm-up
            times: list[float] = []
            result = None
            for _ in range(args.runs):
                started = time.perf_counter()
                result = collector.collect()
                times.append((time.perf_counter() - started) * 1000)
                if not result.up:
                    raise SystemExit(f"{label}: collect failed: {result.error}")
            assert result is not None
            queues = len({s.label("queue") for s in result.samples})
            print(
                f"{label:<12}{queues:>8}{len(result.samples):>9}{statistics.median(times):>11.1f}"
                f"{percentile(times, 0.95):>9.1f}{max(times):>9.1f}"
            )
            collector.close()
        conn.process_data_events(time_limit=0)
    finally:
        if conn.is_open:
            conn.close()
        delete_queues(names)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
