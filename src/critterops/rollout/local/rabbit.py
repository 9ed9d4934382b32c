"""RabbitMQ for local consumer rollouts: synthetic publishing, what each process holds, and the message ledger.

- :class:`Publisher` publishes persistent messages with ids at a steady rate, with publisher confirms,
  and records every confirmed id (the load of a consumer rollout, and the benchmark's ground truth);
- :class:`Management` reads the management API: a queue's depth, and the **unacknowledged messages held by
  the connections of given processes** — connections are matched to processes by their client port
  (``peer_port`` in ``GET /api/connections``, the process's sockets in ``/proc``), so no cooperation of the
  service is needed (Wolverine names every connection "Wolverine" by default, RabbitMqTransport.cs:73);
- :func:`account` checks a ledger of outcomes against the published ids and the dead-letter queue:
  lost, duplicated and dead-lettered messages, by id.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from critterops.errors import BackendError

DEAD_LETTER = "wolverine-dead-letter-queue"


class Publisher:
    """Publish ``rps`` persistent messages per second to ``queue`` (default exchange), each with an id."""

    def __init__(self, amqp: str, queue: str, rps: float, *, record: Path | None = None, prefix: str = "m") -> None:
        self.amqp, self.queue, self.rps = amqp, queue, rps
        self.record = record
        self.prefix = prefix
        self.published = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="publisher", daemon=True)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        import pika

        try:
            connection = pika.BlockingConnection(pika.URLParameters(self.amqp))
        except Exception as error:
            self.errors.append(f"cannot connect to {_safe(self.amqp)}: {error!r}")
            return
        channel = connection.channel()
        channel.confirm_delivery()
        out = self.record.open("a", encoding="ascii") if self.record else None
        started = time.monotonic()
        try:
            while not self._stop.is_set():
                due = int((time.monotonic() - started) * self.rps)
                if self.published >= due:
                    connection.sleep(min(0.05, 1.0 / max(self.rps, 1.0)))
                    continue
                message_id = f"{self.prefix}-{self.published:08d}"
                props = pika.BasicProperties(message_id=message_id, delivery_mode=2, content_type="application/json")
                body = json.dumps({"id": message_id}).encode()
                channel.basic_publish("", self.queue, body, props, mandatory=True)  # confirmed, or it raises
                self.published += 1
                if out is not None:
                    out.write(message_id + "\n")
        except Exception as error:
            self.errors.append(f"publishing to {self.queue} stopped: {error!r}")
        finally:
            if out is not None:
                out.close()
            with contextlib.suppress(Exception):
                connection.close()


def _safe(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


class Management:
    """The RabbitMQ management API on loopback (``http://127.0.0.1:15672`` and the like)."""

    def __init__(self, url: str, user: str = "guest", password: str = "guest", timeout: float = 3.0) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise BackendError(f"management API {url!r}: expected http://host:port")
        self.host, self.port = parts.hostname, parts.port or 15672
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.timeout = timeout
        self.url = url

    def get(self, path: str) -> Any:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("GET", path, headers={"Authorization": self.auth, "Accept": "application/json"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                raise BackendError(f"management API {path}: HTTP {response.status}")
            return json.loads(body)
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise BackendError(f"management API at {self.url} did not answer: {error}") from error
        finally:
            conn.close()

    def queue(self, name: str, vhost: str = "/") -> dict[str, Any]:
        path = f"/api/queues/{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(name, safe='')}"
        data = self.get(path + "?columns=name,messages,messages_ready,messages_unacknowledged,consumers")
        return data if isinstance(data, dict) else {}

    def wait_for_queue(self, name: str, *, empty: bool = False, timeout: float = 60.0) -> bool:
        """Wait until ``name`` is declared (or, with ``empty``, holds no message); False when time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(BackendError):
                stats = self.queue(name)
                if stats.get("name") == name and (not empty or stats.get("messages", 1) == 0):
                    return True
            time.sleep(0.25)
        return False

    def unacked_of(self, pids: Iterable[int]) -> int | None:
        """Unacknowledged deliveries on the AMQP connections opened by these processes (None: none found)."""
        ports = client_ports(pids)
        if not ports:
            return None
        names = {
            c.get("name")
            for c in self.get("/api/connections?columns=name,peer_port,peer_host")
            if c.get("peer_port") in ports
        }
        if not names:
            return None
        channels = self.get("/api/channels?columns=connection_details,messages_unacknowledged")
        return sum(
            int(ch.get("messages_unacknowledged") or 0)
            for ch in channels
            if (ch.get("connection_details") or {}).get("name") in names
        )


def process_tree(pid: int) -> set[int]:
    """``pid`` and its descendants (from ``/proc/<pid>/task/*/children``)."""
    seen, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except (OSError, ValueError):
                continue
    return seen


def client_ports(pids: Iterable[int]) -> set[int]:
    """Local TCP ports of the sockets these processes (and their children) hold, from ``/proc``."""
    inodes: set[str] = set()
    for root in pids:
        for pid in process_tree(root):
            try:
                for fd in os.scandir(f"/proc/{pid}/fd"):
                    with_target = os.readlink(fd.path)
                    if with_target.startswith("socket:["):
                        inodes.add(with_target[8:-1])
            except OSError:
                continue
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


@dataclass
class Accounting:
    """Every published message, by id: handled, dead-lettered, duplicated, lost."""

    published: int
    handled: int  # distinct ids with an ``ok`` outcome
    dead_lettered: int  # distinct ids in the dead-letter queue (or with a ``dead`` outcome)
    duplicates: int  # outcomes beyond the first, per id (at-least-once delivery)
    lost: list[str] = field(default_factory=list)
    by_version: dict[str, int] = field(default_factory=dict)  # ok outcomes per version
    redelivered: int = 0  # outcomes of messages the broker delivered again (a consumer died or gave them back)
    queued: int = 0  # still in the queue, safe, when the count was made

    def as_dict(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "handled": self.handled,
            "dead_lettered": self.dead_lettered,
            "duplicates": self.duplicates,
            "lost": len(self.lost),
            "lost_ids": self.lost[:20],
            "handled_by_version": self.by_version,
            "redelivered": self.redelivered,
            "queued": self.queued,
        }


def read_ledger(path: Path) -> list[tuple[str, str, str]]:
    """``(message id, version, outcome)`` per line; an outcome of a redelivered message ends in ``*``."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="ascii", errors="replace").splitlines():
        parts = line.split()
        if len(parts) in (3, 4):
            redelivered = len(parts) == 4 and parts[3] == "1"
            rows.append((parts[0], parts[1], parts[2] + ("*" if redelivered else "")))
    return rows


def drain_dead_letters(amqp: str, queue: str = DEAD_LETTER) -> list[str]:
    """Take every message off the dead-letter queue; their ids."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp))
    channel = connection.channel()
    ids: list[str] = []
    try:
        while True:
            method, properties, _ = channel.basic_get(queue, auto_ack=True)
            if method is None:
                break
            ids.append(properties.message_id or "")
    finally:
        connection.close()
    return ids


def account(
    published: list[str], ledger: list[tuple[str, str, str]], dead: list[str], queued: list[str] | None = None
) -> Accounting:
    """``queued``: ids still in the queue when the count is made (not handled yet, and not lost)."""
    outcomes = Counter(message_id for message_id, _, _ in ledger)
    ok = {message_id for message_id, _, outcome in ledger if outcome.rstrip("*") == "ok"}
    dead_ids = set(dead) | {message_id for message_id, _, outcome in ledger if outcome.rstrip("*") == "dead"}
    waiting = set(queued or ())
    lost = [m for m in published if m not in ok and m not in dead_ids and m not in waiting]
    by_version: Counter[str] = Counter(version for _, version, outcome in ledger if outcome.rstrip("*") == "ok")
    duplicates = sum(count - 1 for count in outcomes.values() if count > 1)
    redelivered = sum(1 for _, _, outcome in ledger if outcome.endswith("*"))
    return Accounting(
        len(published), len(ok), len(dead_ids), duplicates, lost, dict(by_version), redelivered, len(waiting)
    )


__all__ = [
    "DEAD_LETTER",
    "Accounting",
    "Management",
    "Publisher",
    "account",
    "client_ports",
    "drain_dead_letters",
    "process_tree",
    "read_ledger",
]
