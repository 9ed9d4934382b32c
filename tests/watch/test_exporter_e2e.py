"""``critterops exporter`` and ``critterops status`` as a user runs them: real PostgreSQL databases with
Marten and Wolverine tables, the real RabbitMQ broker, the command in its own process.

The fault test runs a private PostgreSQL server (its own data folder and port) so it can be stopped and
started again without disturbing the other tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pika
import psycopg
import pytest

from critterops import metrics as m
from critterops.watch.promtext import parse
from tests.watch import critter_tables as ct
from tests.watch.conftest import SERVERS, Rabbit

SECRET = "pw-" + uuid.uuid4().hex  # the RabbitMQ and PostgreSQL password: must never be printed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivatePostgres:
    """A PostgreSQL server of this test's own, with password authentication."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="critterops-pg-"))
        self.dir.chmod(0o755)
        shutil.chown(self.dir, "postgres")
        self.port = free_port()
        self.bin = SERVERS._pg_bin()
        pwfile = self.dir / "pw"
        pwfile.write_text(SECRET)
        shutil.chown(pwfile, "postgres")
        self._pg(
            "initdb",
            "-D",
            str(self.dir / "data"),
            "-U",
            "postgres",
            "-A",
            "scram-sha-256",
            "--no-sync",
            f"--pwfile={pwfile}",
        )
        pwfile.unlink()

    def _pg(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def start(self) -> None:
        self._pg(
            "pg_ctl",
            "-D",
            str(self.dir / "data"),
            "-l",
            str(self.dir / "log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off",
            "start",
        )

    def stop(self) -> None:
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", password=SECRET, dbname=dbname, autocommit=True
        )

    def remove(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.dir / "data"),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()


def fill_orders(conn: psycopg.Connection) -> None:
    ct.create_wolverine(conn, "orders")
    ct.create_document_table(conn, "orders", "mt_doc_order")
    ct.add_sagas(conn, "orders", "mt_doc_order", 3, state="Placed", ago_s=30)
    ct.add_sagas(conn, "orders", "mt_doc_order", 2, state="AwaitingPayment", ago_s=7200)
    node, number = ct.add_node(conn, "orders", version="2.1.0", heartbeat_ago_s=3)
    ct.assign(conn, "orders", ct.LEADER + "/", node)
    ct.add_incoming(conn, "orders", 4, owner_id=number)
    ct.add_incoming(conn, "orders", 2, status="Scheduled")
    ct.add_incoming(conn, "orders", 5, status="Handled", owner_id=number)
    ct.add_outgoing(conn, "orders", 3, destination="rabbitmq://queue/fulfillment-requests", owner_id=number)
    ct.add_incoming(conn, "orders", 6, owner_id=99)  # owned by a node that crashed and was ejected
    ct.add_dead_letters(
        conn, "orders", 7, message_type="Orders.PlaceOrder", exception_type="TimeoutException", ago_s=600
    )


def fill_inventory(conn: psycopg.Connection) -> None:
    ct.create_marten(conn, "inventory")
    head = ct.append_events(conn, "inventory", 500, ago_s=900, step_s=1)
    ct.set_progression(conn, "inventory", "HighWaterMark", head)
    ct.set_progression(conn, "inventory", "AlertFeedView:All", head)
    ct.set_progression(conn, "inventory", "Inventory.Management.BackorderImpactViewProjection:All", head - 200)
    ct.add_dead_letter_events(conn, "inventory", "AlertFeedView:All", 2)


def fill_system(server: PrivatePostgres) -> None:
    """Two databases as CritterSupply has them: orders (Wolverine, a saga) and inventory (Marten events)."""
    with server.connect() as conn:
        conn.execute("CREATE DATABASE orders")
        conn.execute("CREATE DATABASE inventory")
    with server.connect("orders") as conn:
        fill_orders(conn)
    with server.connect("inventory") as conn:
        fill_inventory(conn)


def write_config(folder: Path, pg_port: int, rabbit: Rabbit, management: str | None = None) -> Path:
    path = folder / "critterops.yaml"
    path.write_text(
        f"""exporter:
  timeout: 2s
  min_interval: 0s
  postgres:
    - url: postgresql://postgres@127.0.0.1:{pg_port}/{{database}}
      password_env: TEST_PG_PASSWORD
      schemas:
        - {{schema: orders, service: orders-api, bounded_context: Orders, database: orders}}
        - {{schema: inventory, service: inventory-api, bounded_context: Inventory, database: inventory}}
  rabbitmq:
    management: {management or rabbit.management_url}
    prometheus: {rabbit.prometheus_url}
  sagas:
    Order: {{state: Status, idle_after: 1h, schema: orders}}
""",
        encoding="utf-8",
    )
    return path


class Running:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "critterops", "exporter", "--config", str(config), "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.log: list[str] = []
        deadline = time.monotonic() + 30
        assert self.process.stderr is not None
        while time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line:
                break
            self.log.append(line)
            found = re.search(r"serving (http://127\.0\.0\.1:\d+)/metrics", line)
            if found:
                self.url = found.group(1)
                return
        self.process.kill()
        raise AssertionError("the exporter did not start:\n" + "".join(self.log))

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        with urllib.request.urlopen(self.url + "/metrics", timeout=20) as response:
            text = response.read().decode()
        assert SECRET not in text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in parse(text).samples}

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, err = self.process.communicate(timeout=20)
        return "".join(self.log) + err


def value(metrics: dict, name: str, **labels: str) -> float:
    matches = [v for (n, ls), v in metrics.items() if n == name and all((k, x) in ls for k, x in labels.items())]
    assert len(matches) == 1, f"{name} {labels}: {len(matches)} series"
    return matches[0]


def test_exporter_serves_the_system_survives_a_database_outage_and_never_shows_secrets(
    private_pg: PrivatePostgres, rabbit: Rabbit, unique: str, tmp_path: Path
) -> None:
    fill_system(private_pg)
    queue = f"fulfillment-requests-{unique}"
    amqp = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", rabbit.amqp_port))
    channel = amqp.channel()
    channel.queue_declare(queue)
    for i in range(5):
        channel.basic_publish("", queue, f"m{i}".encode())
    env = {**os.environ, "TEST_PG_PASSWORD": SECRET}
    try:
        exporter = Running(write_config(tmp_path, private_pg.port, rabbit), env)
    except BaseException:
        channel.queue_delete(queue)
        amqp.close()
        raise
    try:
        deadline = time.monotonic() + 20
        while True:  # the management API's queue stats lag by up to a second
            metrics = exporter.metrics()
            found = [v for (n, ls), v in metrics.items() if n == m.QUEUE_MESSAGES and ("queue", queue) in ls]
            if found == [5] or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert value(metrics, m.QUEUE_MESSAGES, queue=queue) == 5
        assert value(metrics, m.QUEUE_CONSUMERS, queue=queue) == 0
        for target in ("postgres:orders", "postgres:inventory", "rabbitmq"):
            assert value(metrics, m.SOURCE_UP, target=target) == 1
            assert value(metrics, m.SCRAPE_DURATION, target=target) > 0
        shard = "Inventory.Management.BackorderImpactViewProjection:All"
        assert (
            value(metrics, m.PROJECTION_LAG, projection=shard, service="inventory-api", bounded_context="Inventory")
            == 200
        )
        assert value(metrics, m.PROJECTION_LAG, projection="AlertFeedView:All") == 0
        assert 600 <= value(metrics, m.PROJECTION_OLDEST_UNPROCESSED, projection=shard) < 660  # event 301 of 500
        assert value(metrics, m.PROJECTION_DEAD_LETTER_EVENTS, projection="AlertFeedView:All") == 2
        assert value(metrics, m.INBOX_PENDING, service="orders-api", status="Incoming", owner="node") == 10
        assert value(metrics, m.INBOX_PENDING, status="Scheduled", owner="any") == 2
        assert value(metrics, m.ENVELOPES_ORPHANED, table="incoming") == 6
        assert value(metrics, m.OUTBOX_PENDING, destination="rabbitmq://queue/fulfillment-requests", owner="node") == 3
        assert value(metrics, m.OUTBOX_PENDING, destination="rabbitmq://queue/fulfillment-requests", owner="any") == 0
        assert value(metrics, m.SOURCE_WARMING_UP, target="postgres:orders") == 0
        assert value(metrics, m.DEAD_LETTERS, message_type="Orders.PlaceOrder", exception_type="TimeoutException") == 7
        assert value(metrics, m.LEADERS, service="orders-api") == 1
        assert value(metrics, m.NODE_INFO, version="2.1.0", leader="true") == 1
        assert value(metrics, m.SAGA_INSTANCES, saga="Order", state="AwaitingPayment") == 2
        assert value(metrics, m.SAGA_IDLE, saga="Order", state="AwaitingPayment") == 2
        assert value(metrics, m.SAGA_IDLE, saga="Order", state="Placed") == 0

        private_pg.stop()  # the database server goes away
        down = exporter.metrics()
        assert value(down, m.SOURCE_UP, target="postgres:orders") == 0
        assert value(down, m.SOURCE_UP, target="rabbitmq") == 1
        assert value(down, m.QUEUE_MESSAGES, queue=queue) == 5, "the broker's series are still served"
        assert not [k for k in down if k[0] == m.SAGA_INSTANCES], "no stale values from before the outage"
        assert value(down, m.SCRAPE_ERRORS, target="postgres:orders") >= 1

        private_pg.start()  # it comes back: the exporter reconnects by itself
        back = exporter.metrics()
        assert value(back, m.SOURCE_UP, target="postgres:orders") == 1
        assert value(back, m.SAGA_INSTANCES, saga="Order", state="Placed") == 3

        status = subprocess.run(
            [sys.executable, "-m", "critterops", "status", "--from", exporter.url, "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert status.returncode == 1, status.stderr
        problems = json.loads(status.stdout)["problems"]
        assert {"store", "queue"} <= {p["area"] for p in problems}, problems  # orphans; 5 messages, no consumer
    finally:
        log = exporter.stop()
        channel.queue_delete(queue)
        amqp.close()
    assert exporter.process.returncode == 0, log
    assert SECRET not in log
    assert "postgres:orders is down" in log and "postgres:orders is back up" in log
    assert log.count("postgres:orders is down") == 1
    # each schema lacks one kind of table: one line each for the whole run, outage included
    assert log.count("no Wolverine tables") == 1 and "inventory: no Wolverine tables" in log
    assert log.count("no Marten event store") == 1 and "orders: no Marten event store" in log


def test_status_once_shows_the_problems_and_exits_1(
    private_pg: PrivatePostgres, rabbit: Rabbit, tmp_path: Path
) -> None:
    fill_system(private_pg)
    config = write_config(tmp_path, private_pg.port, rabbit)
    env = {**os.environ, "TEST_PG_PASSWORD": SECRET}
    run = [sys.executable, "-m", "critterops", "status", "--once", "--config", str(config)]
    done = subprocess.run([*run, "--format", "json"], capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    subjects = {(p["area"], p["subject"]) for p in data["problems"]}
    assert ("projection", "inventory-api/Inventory.Management.BackorderImpactViewProjection:All") in subjects
    assert ("store", "orders-api/orders") in subjects  # orphans and dead letters
    assert ("saga", "orders-api/Order/AwaitingPayment") in subjects  # 2 h > the 1 h default
    assert SECRET not in done.stdout + done.stderr
    text = subprocess.run(run, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert text.returncode == 1 and "BackorderImpactViewProjection" in text.stdout and "orphaned" in text.stdout


def test_status_refreshes_on_a_terminal_until_interrupted(rabbit: Rabbit) -> None:
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "critterops",
            "status",
            "--rabbitmq-management",
            rabbit.management_url,
            "--interval",
            "0.3",
        ],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "160"},
    )
    os.close(follower)
    screen = b""
    deadline = time.monotonic() + 20
    while screen.count(b"critterops status") < 3 and time.monotonic() < deadline:
        try:
            screen += os.read(leader, 65536)
        except OSError:
            break
    process.send_signal(signal.SIGINT)
    try:
        while True:
            chunk = os.read(leader, 65536)
            if not chunk:
                break
            screen += chunk
    except OSError:
        pass
    assert process.wait(timeout=20) == 0
    os.close(leader)
    assert screen.count(b"critterops status") >= 3, "the screen refreshes"
    assert b"rabbitmq" in screen and b"Traceback" not in screen


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--listen", "127.0.0.1:70000", "--postgres", "host=127.0.0.1"], "is not a port"),
        (["--postgres", "nonsense"], "not a PostgreSQL connection string"),
        ([], "no source to read"),
        (["--rabbitmq-management", "http://guest:guest@127.0.0.1:1"], "holds credentials"),
    ],
)
def test_bad_configuration_exits_2_at_start(args: list[str], fragment: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "critterops", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and fragment in done.stderr and "Traceback" not in done.stderr
