"""A stand-in for a Wolverine RabbitMQ listener, for demos, tests and benchmarks of consumer rollouts.

    python -m critterops.rollout.demo_consumer --queue orders --version v2 --failure-rate 0.05

It behaves as Wolverine's RabbitMQ listener does where a rollout can tell (Wolverine V6.29.2):

- **declares** the queue durable with ``x-dead-letter-exchange: wolverine-dead-letter-queue`` (native dead
  lettering, Wolverine.RabbitMQ/Internal/RabbitMqQueue.cs:341-343) and the shared dead-letter exchange and
  queue ``wolverine-dead-letter-queue`` (DeadLetterQueueConstants.DefaultQueueName);
- **listens** with ``CRITTEROPS_LISTENERS`` listeners (Wolverine's ``ListenerCount(n)``,
  Configuration/ListenerConfiguration.cs:437), each its own channel with ``basic.qos`` prefetch
  (RabbitMqListener.cs:315; Wolverine's default for buffered endpoints is twice MaxDegreeOfParallelism,
  RabbitMqQueue.cs:81-93);
- **acks after handling**; a failed attempt is sent again to the same queue with its attempt count (the
  ``RequeueContinuation`` slots: ``MaximumAttempts`` defaults to 3, ErrorHandling/FailureRuleCollection.cs:30,
  93-101), and the last failed attempt is **nacked without requeue**, so the broker dead-letters it
  (``MoveToErrorQueue``, RabbitMqChannelCallback.cs:127);
- **counts** with Wolverine's instruments as the OpenTelemetry Collector's Prometheus exporter names them
  (critterops.metrics): messages received, succeeded, execution failures (label ``exception_type``), dead
  letters, and the execution-time histogram, on ``GET /metrics`` of ``$PORT``; ``GET /health`` answers 200
  once every listener consumes (or, as a preview, once connected);
- **holds its listeners as a preview**: with ``CRITTEROPS_ROLE=preview`` it starts without consuming and
  starts its listeners when the file ``CRITTEROPS_ROLE_FILE`` turns ``active`` (and stops them, draining,
  when it turns ``preview`` again) — the contract of critterops.plan.consumers;
- **drains on SIGTERM**: cancels its consumers, lets the message in hand finish and be acked, hands the
  prefetched ones back to the queue, and exits.

Every outcome is appended to ``--ledger`` (``<message-id> <version> ok|dead <redelivered 0|1>``) *before* the
ack, so a crash between the two gives a duplicate, never a loss: the benchmark checks every published id.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import random
import signal
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from critterops.plan.consumers import ACTIVE, LISTENERS_ENV, PREVIEW, ROLE_ENV, ROLE_FILE_ENV, VERSION_ENV

DEAD_LETTER = "wolverine-dead-letter-queue"
ATTEMPTS_HEADER = "wolverine-attempts"
MAX_ATTEMPTS = 3
BUCKETS_MS = (0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000)  # the SDK's defaults


def declare(channel: Any, queue: str) -> None:
    """The topology Wolverine declares with AutoProvision for one listened-to queue (native dead lettering)."""
    channel.exchange_declare(DEAD_LETTER, exchange_type="fanout", durable=True)
    channel.queue_declare(DEAD_LETTER, durable=True)
    channel.queue_bind(DEAD_LETTER, DEAD_LETTER)
    channel.queue_declare(queue, durable=True, arguments={"x-dead-letter-exchange": DEAD_LETTER})


class Meter:
    """Wolverine's instruments for one version, as Prometheus text."""

    def __init__(self, service: str, version: str, queue: str) -> None:
        self.labels = f'service="{service}",version="{version}",message_destination="rabbitmq://queue/{queue}"'
        self.lock = threading.Lock()
        self.received = self.succeeded = self.failures = self.dead = 0
        self.inflight = 0
        self.time_sum = 0.0
        self.buckets = [0] * (len(BUCKETS_MS) + 1)

    def handled(self, ok: bool, dead: bool, elapsed_ms: float) -> None:
        with self.lock:
            if ok:
                self.succeeded += 1
            else:
                self.failures += 1
            if dead:
                self.dead += 1
            self.time_sum += elapsed_ms
            index = next((i for i, bound in enumerate(BUCKETS_MS) if elapsed_ms <= bound), len(BUCKETS_MS))
            self.buckets[index] += 1

    def text(self) -> str:
        with self.lock:
            lines = [
                "# TYPE wolverine_messages_received_Messages_total counter",
                f"wolverine_messages_received_Messages_total{{{self.labels}}} {self.received}",
                "# TYPE wolverine_messages_succeeded_Messages_total counter",
                f"wolverine_messages_succeeded_Messages_total{{{self.labels}}} {self.succeeded}",
                "# TYPE wolverine_execution_failure_Messages_total counter",
                f'wolverine_execution_failure_Messages_total{{{self.labels},exception_type="HandlerException"}} '
                f"{self.failures}",
                "# TYPE wolverine_dead_letter_queue_Messages_total counter",
                f"wolverine_dead_letter_queue_Messages_total{{{self.labels}}} {self.dead}",
                "# TYPE wolverine_execution_time_milliseconds histogram",
            ]
            cumulative = 0
            for bound, count in zip((*BUCKETS_MS, None), self.buckets, strict=True):
                cumulative += count
                le = "+Inf" if bound is None else f"{bound}"
                lines.append(f'wolverine_execution_time_milliseconds_bucket{{{self.labels},le="{le}"}} {cumulative}')
            lines.append(f"wolverine_execution_time_milliseconds_sum{{{self.labels}}} {self.time_sum:.3f}")
            lines.append(f"wolverine_execution_time_milliseconds_count{{{self.labels}}} {cumulative}")
            lines.append("# TYPE critterops_consumer_inflight gauge")
            lines.append(f"critterops_consumer_inflight{{{self.labels}}} {self.inflight}")
            return "\n".join(lines) + "\n"


class Ledger:
    """Append-only record of outcomes, one line per message, written before the ack (O_APPEND: atomic lines)."""

    def __init__(self, path: Path | None) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if path else None

    def write(self, message_id: str, version: str, outcome: str, redelivered: bool = False) -> None:
        if self.fd is not None:
            os.write(self.fd, f"{message_id} {version} {outcome} {int(redelivered)}\n".encode())


class Outbox:
    """Wolverine's durable outbox, as far as a drain can see it: the node registers in ``wolverine_nodes``, each
    handled message cascades one row into ``wolverine_outgoing_envelopes`` owned by its ``node_number``, a sender
    removes rows once sent (after ``send_ms``), and a graceful stop sends what is left and deletes the node row.
    A SIGKILL leaves the rows owned by a node that is gone (orphaned), as a crashed Wolverine node does.
    Tables and columns: critterops.watch.pg_wolverine (Wolverine V5.29.0)."""

    def __init__(self, dsn: str, schema: str, version: str, destination: str, send_ms: float) -> None:
        import psycopg
        from psycopg import sql

        self.sql = sql
        self.schema = sql.Identifier(schema)
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.lock = threading.Lock()
        self.destination, self.send_ms = destination, send_ms
        self.node_id = uuid.uuid4()
        with self.lock:
            row = self.conn.execute(
                sql.SQL(
                    "INSERT INTO {}.wolverine_nodes (id, description, uri, version) VALUES (%s, %s, %s, %s) "
                    "RETURNING node_number"
                ).format(self.schema),
                (self.node_id, f"demo-consumer {os.getpid()}", "http://127.0.0.1", version),
            ).fetchone()
        assert row is not None
        self.node = int(row[0])
        self.stop = threading.Event()
        self.sender = threading.Thread(target=self._send, name="outbox-sender", daemon=True)
        self.sender.start()

    def cascade(self, message_type: str) -> None:
        with self.lock:
            self.conn.execute(
                self.sql.SQL(
                    "INSERT INTO {}.wolverine_outgoing_envelopes (id, owner_id, destination, body, message_type) "
                    "VALUES (%s, %s, %s, %s, %s)"
                ).format(self.schema),
                (uuid.uuid4(), self.node, self.destination, b"{}", message_type),
            )

    def _send(self) -> None:
        while not self.stop.wait(max(self.send_ms / 1000.0, 0.05)):
            self._flush()

    def _flush(self) -> None:
        with self.lock:
            self.conn.execute(
                self.sql.SQL("DELETE FROM {}.wolverine_outgoing_envelopes WHERE owner_id = %s").format(self.schema),
                (self.node,),
            )

    def close(self) -> None:
        """A graceful stop: send what is left, then leave the cluster."""
        self.stop.set()
        self.sender.join(timeout=10)
        self._flush()
        with self.lock:
            self.conn.execute(
                self.sql.SQL("DELETE FROM {}.wolverine_nodes WHERE id = %s").format(self.schema), (self.node_id,)
            )
        self.conn.close()


class Behaviour:
    def __init__(self, version: str, failure_rate: float, latency_ms: float, jitter_ms: float, seed: int) -> None:
        self.version, self.failure_rate = version, failure_rate
        self.latency_ms, self.jitter_ms = latency_ms, jitter_ms
        self.seed = seed
        self.random = random.Random(seed)
        self.lock = threading.Lock()

    def fails(self, message_id: str) -> bool:
        """A bug that fails some messages on every attempt (a poison shape), decided by the id."""
        digest = hashlib.blake2b(f"{self.seed}:{self.version}:{message_id}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self.failure_rate

    def pause_s(self) -> float:
        with self.lock:
            jitter = self.random.uniform(-self.jitter_ms, self.jitter_ms) if self.jitter_ms else 0.0
        return max(0.0, self.latency_ms + jitter) / 1000.0


class Listener(threading.Thread):
    """One Wolverine listener: a connection and channel consuming one queue, acking after handling."""

    def __init__(self, index: int, app: App) -> None:
        super().__init__(name=f"listener-{index}", daemon=True)
        self.index, self.app = index, app
        self.stopping = threading.Event()
        self.consuming = threading.Event()

    def run(self) -> None:
        import pika

        app = self.app
        try:
            params = pika.URLParameters(app.amqp)
            params.client_properties = {"connection_name": f"{app.service}/{app.version}/{self.index}"}
            connection = pika.BlockingConnection(params)
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_qos(prefetch_count=app.prefetch)
            self.consuming.set()
            for method, properties, body in channel.consume(app.queue, inactivity_timeout=0.2):
                if self.stopping.is_set():
                    break
                if method is None:
                    continue
                self._handle(channel, method, properties, body)
            channel.cancel()  # hands the prefetched, unhandled deliveries back to the queue
            connection.close()
        except Exception as error:  # the process reports it on /health and in its log
            app.errors.append(f"listener {self.index}: {error!r}")
            print(f"listener {self.index} stopped: {error!r}", file=sys.stderr, flush=True)
        finally:
            self.consuming.clear()

    def _handle(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        import pika

        app = self.app
        headers = dict(properties.headers or {})
        attempt = int(headers.get(ATTEMPTS_HEADER, 1))
        message_id = properties.message_id or f"tag-{method.delivery_tag}"
        with app.meter.lock:
            app.meter.received += 1
            app.meter.inflight += 1
        started = time.monotonic()
        time.sleep(app.behaviour.pause_s())
        ok = not app.behaviour.fails(message_id)
        elapsed = (time.monotonic() - started) * 1000.0
        dead = not ok and attempt >= MAX_ATTEMPTS
        try:
            if ok:
                if app.outbox is not None:
                    app.outbox.cascade("Demo.Handled")  # in the handler's transaction, before the ack
                app.ledger.write(message_id, app.version, "ok", bool(method.redelivered))
                channel.basic_ack(method.delivery_tag)
            elif dead:
                app.ledger.write(message_id, app.version, "dead", bool(method.redelivered))
                channel.basic_nack(method.delivery_tag, requeue=False)  # the broker dead-letters it
            else:
                headers[ATTEMPTS_HEADER] = attempt + 1
                retry = pika.BasicProperties(
                    message_id=properties.message_id,
                    headers=headers,
                    delivery_mode=2,
                    content_type=properties.content_type,
                )
                channel.basic_publish("", app.queue, body, retry)  # confirmed before the original is acked
                channel.basic_ack(method.delivery_tag)
        finally:
            app.meter.handled(ok, dead, elapsed)
            with app.meter.lock:
                app.meter.inflight -= 1


class App:
    def __init__(self, args: argparse.Namespace) -> None:
        self.amqp, self.queue, self.service = args.amqp, args.queue, args.service
        self.version = args.version or os.environ.get(VERSION_ENV, "v1")
        self.listeners = max(1, int(args.listeners or os.environ.get(LISTENERS_ENV, "1")))
        self.prefetch = args.prefetch
        self.role = ACTIVE if args.ignore_role else os.environ.get(ROLE_ENV, ACTIVE)
        role_file = None if args.ignore_role else os.environ.get(ROLE_FILE_ENV)
        self.role_file = Path(role_file) if role_file else None
        self.meter = Meter(self.service, self.version, self.queue)
        self.ledger = Ledger(args.ledger)
        self.behaviour = Behaviour(self.version, args.failure_rate, args.latency_ms, args.jitter_ms, args.seed)
        self.outbox_args = (args.outbox_dsn, args.outbox_schema, args.outbox_send_ms)
        self.outbox: Outbox | None = None
        self.running: list[Listener] = []
        self.errors: list[str] = []
        self.connected = False
        self.done = threading.Event()

    def start_listeners(self) -> None:
        if self.running:
            return
        self.running = [Listener(i, self) for i in range(self.listeners)]
        for listener in self.running:
            listener.start()

    def stop_listeners(self) -> None:
        for listener in self.running:
            listener.stopping.set()
        for listener in self.running:
            listener.join(timeout=60)
        self.running = []

    def healthy(self) -> bool:
        if self.errors or not self.connected:
            return False
        return all(listener.consuming.is_set() for listener in self.running)

    def current_role(self) -> str:
        if self.role_file is None:
            return self.role
        with contextlib.suppress(OSError):
            text = self.role_file.read_text(encoding="utf-8").strip()
            if text in (ACTIVE, PREVIEW):
                return text
        return self.role

    def run(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.amqp))
        declare(connection.channel(), self.queue)
        connection.close()
        dsn, schema, send_ms = self.outbox_args
        if dsn:
            self.outbox = Outbox(dsn, schema, self.version, f"rabbitmq://queue/{self.queue}-out", send_ms)
        self.connected = True
        while not self.done.is_set():
            role = self.current_role()
            if role == ACTIVE and not self.running:
                self.start_listeners()
            elif role == PREVIEW and self.running:
                self.stop_listeners()
            self.done.wait(0.2)
        self.stop_listeners()
        if self.outbox is not None:
            self.outbox.close()


def make_handler(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/metrics"):
                body, status, kind = app.meter.text().encode(), 200, "text/plain; version=0.0.4"
            elif self.path.startswith("/health"):
                ok = app.healthy()
                body = b"ok" if ok else ("; ".join(app.errors) or "starting").encode()
                status, kind = (200 if ok else 503), "text/plain"
            else:
                body, status, kind = b"not found", 404, "text/plain"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m critterops.rollout.demo_consumer", description=__doc__)
    parser.add_argument("--amqp", default=os.environ.get("CRITTEROPS_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F"))
    parser.add_argument("--queue", required=True)
    parser.add_argument("--service", default="demo-worker")
    parser.add_argument("--version", default=None, help=f"version label (default ${VERSION_ENV} or v1)")
    parser.add_argument("--listeners", type=int, default=None, help=f"listener count (default ${LISTENERS_ENV} or 1)")
    parser.add_argument("--prefetch", type=int, default=20)
    parser.add_argument("--failure-rate", type=float, default=0.0, help="share of messages whose handler fails")
    parser.add_argument("--latency-ms", type=float, default=2.0, help="handling time")
    parser.add_argument("--jitter-ms", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--outbox-dsn", default=None, help="PostgreSQL with Wolverine's tables: use a durable outbox")
    parser.add_argument("--outbox-schema", default="wolverine")
    parser.add_argument("--outbox-send-ms", type=float, default=200.0, help="how long a cascaded message waits")
    parser.add_argument(
        "--ignore-role", action="store_true", help="consume even as a preview (a service without the contract)"
    )
    parser.add_argument("--ledger", type=Path, default=None, help="append every outcome to this file")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "0")), help="HTTP port ($PORT)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    app = App(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(app))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: app.done.set())
    signal.signal(signal.SIGINT, lambda *_: app.done.set())
    try:
        app.run()
    except Exception as error:
        print(f"demo consumer failed: {error!r}", file=sys.stderr)
        return 1
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
