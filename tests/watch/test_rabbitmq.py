"""RabbitCollector against the real RabbitMQ on loopback (``rabbit`` fixture): queues declared, filled, consumed
and acknowledged over AMQP with pika, then read through the management API and/or rabbitmq_prometheus.

The management API's numbers lag the broker by its statistics interval (1 s here, a few seconds end to end),
so the tests poll the collector until the expected values show up (``wait_for``), with a 15 s deadline.
A small HTTP proxy in front of the management API stands in for a broker that is down, answers 500, hangs,
serves garbage or runs with its metrics collector disabled.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pika
import pytest

from critterops import metrics as m
from critterops.rollout.local.processes import free_port
from critterops.watch import promtext, rabbitmq
from critterops.watch.rabbitmq import RabbitCollector
from critterops.watch.samples import SourceResult, sample
from critterops.watch.targets import QueueOwner, RabbitTarget
from tests.watch.conftest import Rabbit

DEADLINE_S = 15.0
COUNTERS = (m.QUEUE_PUBLISHED, m.QUEUE_ACKED, m.QUEUE_PUBLISH_RATE, m.QUEUE_ACK_RATE)

# --- helpers ---------------------------------------------------------------------------------------------------


def management(rabbit: Rabbit, password: str | None = None, **kw: Any) -> RabbitTarget:
    return RabbitTarget(rabbit.management_url, user=rabbit.user, password=password or rabbit.password, **kw)


def prometheus(rabbit: Rabbit, **kw: Any) -> RabbitTarget:
    return RabbitTarget(None, rabbit.prometheus_url, **kw)


def by_queue(result: SourceResult) -> dict[str, dict[str, float]]:
    """queue -> {metric: value}; fails on a queue reported twice for one metric."""
    out: dict[str, dict[str, float]] = {}
    for item in result.samples:
        values = out.setdefault(item.label("queue"), {})
        assert item.name not in values, f"{item.name} twice for {item.label('queue')}"
        values[item.name] = item.value
    return out


def depth(messages: float, ready: float, unacked: float, consumers: float) -> dict[str, float]:
    return {m.QUEUE_MESSAGES: messages, m.QUEUE_READY: ready, m.QUEUE_UNACKED: unacked, m.QUEUE_CONSUMERS: consumers}


def wait_for(
    collector: RabbitCollector,
    check: Callable[[SourceResult], bool],
    what: str,
    seen: list[SourceResult] | None = None,
) -> SourceResult:
    """Collect until ``check`` holds (at most DEADLINE_S); the matching result. ``seen`` gets every read."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        result = collector.collect()
        if seen is not None:
            seen.append(result)
        if check(result):
            return result
        if time.monotonic() > deadline:
            last = f"up={result.up} error={result.error} queues={by_queue(result)}"
            pytest.fail(f"{what}: not seen within {DEADLINE_S} s; last read: {last}")
        time.sleep(0.2)


def has(queue: str, expected: dict[str, float]) -> Callable[[SourceResult], bool]:
    def check(result: SourceResult) -> bool:
        values = by_queue(result).get(queue, {})
        return result.up and all(values.get(name) == value for name, value in expected.items())

    return check


def api(rabbit: Rabbit, method: str, path: str, body: object | None = None) -> None:
    """A management API call the tests use for set-up (vhosts, permissions, queues in other vhosts)."""
    token = base64.b64encode(f"{rabbit.user}:{rabbit.password}".encode()).decode()
    request = urllib.request.Request(
        rabbit.management_url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=10):
        pass


class Broker:
    """AMQP on the test broker; deletes the queues it declared when closed."""

    def __init__(self, rabbit: Rabbit, vhost: str = "/") -> None:
        self.rabbit = rabbit
        self.params = pika.ConnectionParameters("127.0.0.1", rabbit.amqp_port, virtual_host=vhost)
        self.conn = pika.BlockingConnection(self.params)
        self.ch = self.conn.channel()
        self.ch.confirm_delivery()  # basic_publish returns once the broker has the message
        self.created: list[str] = []

    def declare(self, name: str, **kw: Any) -> str:
        self.ch.queue_declare(name, **kw)
        self.created.append(name)
        return name

    def publish(self, queue: str, count: int) -> None:
        for i in range(count):
            self.ch.basic_publish("", queue, f"message {i}".encode())

    def consumer(self, queue: str, prefetch: int) -> Any:
        """A channel consuming ``queue`` without acknowledging: ``prefetch`` messages end up unacked."""
        channel = self.conn.channel()
        channel.basic_qos(prefetch_count=prefetch)
        channel.basic_consume(queue, lambda *_: None, auto_ack=False)
        self.conn.process_data_events(time_limit=0.1)
        return channel

    def close(self) -> None:
        conn = pika.BlockingConnection(self.params)
        try:
            channel = conn.channel()
            for name in self.created:
                channel.queue_delete(name)
        finally:
            conn.close()
            if self.conn.is_open:
                self.conn.close()


@pytest.fixture
def broker(rabbit: Rabbit) -> Iterator[Broker]:
    amqp = Broker(rabbit)
    yield amqp
    amqp.close()


@pytest.fixture
def own_vhost(rabbit: Rabbit, unique: str) -> Iterator[str]:
    """A fresh vhost the test user may use; deleted with all its queues afterwards."""
    vhost = f"vh-{unique}"
    quoted = urllib.parse.quote(vhost, safe="")
    api(rabbit, "PUT", f"/api/vhosts/{quoted}")
    try:
        api(rabbit, "PUT", f"/api/permissions/{quoted}/{rabbit.user}", {"configure": ".*", "write": ".*", "read": ".*"})
        yield vhost
    finally:
        api(rabbit, "DELETE", f"/api/vhosts/{quoted}")


class Proxy:
    """An HTTP server in front of the management API on a loopback port; ``mode`` picks how it answers:
    ``forward``; ``error`` (500); ``garbage`` (200, not JSON); ``hang`` (answers after 1 s); ``no-stats``
    (forward, keeping only name and vhost per queue, as with the metrics collector disabled)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.mode = "forward"
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.requests.append(self.path)
                status, body = proxy.answer(self.path, self.headers.get("Authorization"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, path: str, auth: str | None) -> tuple[int, bytes]:
        if self.mode == "error":
            return 500, b'{"error":"internal"}'
        if self.mode == "garbage":
            return 200, b"<html>It works!</html>"
        if self.mode == "hang":
            time.sleep(1.0)
        request = urllib.request.Request(self.upstream + path, headers={"Authorization": auth} if auth else {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=10) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        if self.mode == "no-stats":
            payload = json.loads(body)
            payload["items"] = [{"name": q["name"], "vhost": q["vhost"]} for q in payload["items"]]
            body = json.dumps(payload).encode()
        return 200, body


@pytest.fixture
def proxy(rabbit: Rabbit) -> Iterator[Proxy]:
    server = Proxy(rabbit.management_url)
    yield server
    server.stop()


# --- depth, consumers, owners ------------------------------------------------------------------------------------


def test_management_reports_exact_depth_unacked_consumers_and_owner_labels(
    rabbit: Rabbit, broker: Broker, unique: str
) -> None:
    owned = broker.declare(f"orders-{unique}")
    other = broker.declare(f"misc-{unique}")
    broker.publish(owned, 10)
    broker.publish(other, 2)
    broker.consumer(owned, prefetch=3)  # 3 delivered and not acked, 7 ready
    target = management(rabbit, owners=(QueueOwner(owned, "orders-api", "Orders"),))
    assert target.prometheus_url is None
    collector = RabbitCollector(target)
    assert collector.target == "rabbitmq"

    result = wait_for(
        collector,
        lambda r: has(owned, depth(10, 7, 3, 1))(r) and has(other, depth(2, 2, 0, 0))(r),
        "depth and consumers through the management API",
    )

    assert result.error is None and result.partial == ()
    assert result.duration_s > 0
    labels = {item.label("queue"): dict(item.labels) for item in result.samples}
    assert labels[owned] == {"vhost": "/", "queue": owned, "service": "orders-api", "bounded_context": "Orders"}
    assert labels[other] == {"vhost": "/", "queue": other, "service": "", "bounded_context": ""}
    assert {item.name for item in result.samples if item.label("queue") == owned} == {
        m.QUEUE_MESSAGES,
        m.QUEUE_READY,
        m.QUEUE_UNACKED,
        m.QUEUE_CONSUMERS,
        *COUNTERS,
    }
    assert by_queue(result)[owned][m.QUEUE_PUBLISHED] == 10
    assert all(item == sample(item.name, item.value, **dict(item.labels)) for item in result.samples)
    collector.close()


def test_published_and_acked_counters_increase_after_acking(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    queue = broker.declare(f"acks-{unique}")
    collector = RabbitCollector(management(rabbit))
    broker.publish(queue, 4)
    for _ in range(4):
        method, _, _ = broker.ch.basic_get(queue, auto_ack=False)
        broker.ch.basic_ack(method.delivery_tag)
    first = wait_for(
        collector, has(queue, {m.QUEUE_PUBLISHED: 4, m.QUEUE_ACKED: 4, m.QUEUE_MESSAGES: 0}), "4 published, 4 acked"
    )

    broker.publish(queue, 3)
    method, _, _ = broker.ch.basic_get(queue, auto_ack=False)
    broker.ch.basic_ack(method.delivery_tag)
    second = wait_for(
        collector,
        has(queue, {m.QUEUE_PUBLISHED: 7, m.QUEUE_ACKED: 5, m.QUEUE_READY: 2, m.QUEUE_MESSAGES: 2}),
        "7 published, 5 acked",
    )
    before, after = by_queue(first)[queue], by_queue(second)[queue]
    assert after[m.QUEUE_PUBLISHED] > before[m.QUEUE_PUBLISHED] and after[m.QUEUE_ACKED] > before[m.QUEUE_ACKED]
    assert after[m.QUEUE_PUBLISH_RATE] >= 0 and after[m.QUEUE_ACK_RATE] >= 0


def test_a_queue_without_traffic_has_zero_counters(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    queue = broker.declare(f"idle-{unique}")
    result = wait_for(RabbitCollector(management(rabbit)), has(queue, depth(0, 0, 0, 0)), "an idle queue's statistics")
    values = by_queue(result)[queue]
    assert {name: values[name] for name in COUNTERS} == dict.fromkeys(COUNTERS, 0.0)


def test_prometheus_only_gives_depth_and_consumers(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    queue = broker.declare(f"prom-{unique}")
    broker.publish(queue, 5)
    broker.consumer(queue, prefetch=2)
    collector = RabbitCollector(prometheus(rabbit))
    result = wait_for(collector, has(queue, depth(5, 3, 2, 1)), "depth and consumers from rabbitmq_prometheus")
    assert result.error is None and result.partial == ()
    assert set(by_queue(result)[queue]) == {m.QUEUE_MESSAGES, m.QUEUE_READY, m.QUEUE_UNACKED, m.QUEUE_CONSUMERS}


def test_disabled_metrics_collector_is_filled_from_prometheus(
    rabbit: Rabbit, broker: Broker, proxy: Proxy, unique: str
) -> None:
    queue = broker.declare(f"nostats-{unique}")
    broker.publish(queue, 6)
    broker.consumer(queue, prefetch=1)
    proxy.mode = "no-stats"
    proxy.start()

    alone = RabbitCollector(RabbitTarget(proxy.url, password=rabbit.password))
    result = alone.collect()
    assert result.up and queue not in by_queue(result)  # nothing to report but the name
    assert any("prometheus_url" in note for note in result.notes)

    both = RabbitCollector(RabbitTarget(proxy.url, rabbit.prometheus_url, password=rabbit.password))
    seen: list[SourceResult] = []
    result = wait_for(both, has(queue, depth(6, 5, 1, 1)), "management names filled from rabbitmq_prometheus", seen)
    assert result.partial == ()
    assert not set(COUNTERS) & set(by_queue(result)[queue])  # no counters without management statistics
    assert any("rabbitmq_prometheus" in note for r in seen for note in r.notes)


def test_management_down_with_prometheus_up_is_partial(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    queue = broker.declare(f"partial-{unique}")
    broker.publish(queue, 3)
    target = RabbitTarget(f"http://127.0.0.1:{free_port()}", rabbit.prometheus_url, password="hunter2-secret")
    result = wait_for(RabbitCollector(target), has(queue, depth(3, 3, 0, 0)), "prometheus standing in")
    assert result.up and result.error is None
    assert len(result.partial) == 1 and result.partial[0].startswith("management:")
    assert "connection refused" in result.partial[0]
    assert "hunter2-secret" not in result.partial[0]


def test_with_both_sources_and_full_statistics_management_wins(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    queue = broker.declare(f"both-{unique}")
    broker.publish(queue, 2)
    target = RabbitTarget(rabbit.management_url, rabbit.prometheus_url, password=rabbit.password)
    result = wait_for(RabbitCollector(target), has(queue, {**depth(2, 2, 0, 0), m.QUEUE_PUBLISHED: 2}), "both sources")
    assert set(COUNTERS) <= set(by_queue(result)[queue])


# --- failures and recovery ------------------------------------------------------------------------------------------


def test_wrong_password_is_down_and_says_authentication_without_the_password(rabbit: Rabbit) -> None:
    secret = "Wr0ng-Pa55word"
    result = RabbitCollector(management(rabbit, password=secret)).collect()
    assert not result.up and result.samples == ()
    assert result.error is not None and "authentication" in result.error.lower()
    for leak in (secret, "Authorization", "Basic ", base64.b64encode(f"guest:{secret}".encode()).decode()):
        assert leak not in result.error
    assert "\n" not in result.error


def test_credentials_in_the_url_are_used_and_never_shown(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    queue = broker.declare(f"urlcreds-{unique}")
    host = urllib.parse.urlsplit(rabbit.management_url).netloc
    good = RabbitCollector(RabbitTarget(f"http://{rabbit.user}:{rabbit.password}@{host}", password=None))
    wait_for(good, has(queue, {m.QUEUE_MESSAGES: 0}), "login with the URL's credentials")

    port = free_port()
    bad = RabbitCollector(RabbitTarget(f"http://admin:T0p-secret@127.0.0.1:{port}", password=None)).collect()
    assert not bad.up and bad.error is not None
    assert "T0p-secret" not in bad.error and "admin:" not in bad.error and "@" not in bad.error
    assert f"http://127.0.0.1:{port}" in bad.error


def test_unreachable_broker_is_down_and_recovers_on_the_next_collect(
    rabbit: Rabbit, broker: Broker, proxy: Proxy, unique: str
) -> None:
    queue = broker.declare(f"recover-{unique}")
    broker.publish(queue, 1)
    collector = RabbitCollector(RabbitTarget(proxy.url, password=rabbit.password, timeout_s=0.3))

    refused = collector.collect()  # nothing listens on the port yet
    assert not refused.up and refused.samples == ()
    assert refused.error is not None and "connection refused" in refused.error and proxy.url in refused.error

    proxy.start()
    failures = {"error": "HTTP 500", "garbage": "not JSON", "hang": "timed out"}
    for mode, reason in failures.items():
        proxy.mode = mode
        result = collector.collect()
        assert not result.up and result.error is not None and reason in result.error, (mode, result.error)
        assert result.samples == ()
    assert collector.collect().duration_s < 1.0  # the hang is cut off by timeout_s, not waited out

    proxy.mode = "forward"
    wait_for(collector, has(queue, depth(1, 1, 0, 0)), "recovered after the broker came back")

    proxy.stop()
    assert not collector.collect().up
    proxy.start()
    assert collector.collect().up


def test_misconfigured_targets_are_down_not_raising() -> None:
    nothing = RabbitCollector(RabbitTarget(None, None)).collect()
    assert not nothing.up and nothing.error is not None and "configured" in nothing.error
    bad_url = RabbitCollector(RabbitTarget("ftp://user:pw-secret@broker", password=None)).collect()
    assert not bad_url.up and bad_url.error is not None and "http" in bad_url.error
    assert "pw-secret" not in bad_url.error


def test_prometheus_port_that_is_not_rabbitmq_prometheus_is_an_error(rabbit: Rabbit) -> None:
    result = RabbitCollector(RabbitTarget(None, rabbit.management_url)).collect()
    assert not result.up and result.error is not None and result.error.startswith("prometheus:")


# --- many queues, vhosts, Wolverine's queues -----------------------------------------------------------------------


def test_many_queues_are_all_reported_across_pages(
    rabbit: Rabbit, broker: Broker, proxy: Proxy, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rabbitmq, "PAGE_SIZE", 50)  # 120 queues of ours, and whatever else: at least 3 pages
    names = [broker.declare(f"many-{unique}-{i:03d}") for i in range(120)]
    for name in names:
        broker.publish(name, 1)
    proxy.start()
    collector = RabbitCollector(RabbitTarget(proxy.url, password=rabbit.password))

    def all_there(result: SourceResult) -> bool:
        queues = by_queue(result)
        return all(queues.get(name, {}).get(m.QUEUE_MESSAGES) == 1 for name in names)

    wait_for(collector, all_there, "120 queues through the management API")
    proxy.requests.clear()
    assert all_there(collector.collect())
    pages = [urllib.parse.parse_qs(urllib.parse.urlsplit(path).query) for path in proxy.requests]
    assert len(pages) >= 3
    assert [page["page"] for page in pages] == [[str(n)] for n in range(1, len(pages) + 1)]
    assert all(page["page_size"] == ["50"] and "columns" in page for page in pages)

    wait_for(RabbitCollector(prometheus(rabbit)), all_there, "120 queues through rabbitmq_prometheus")


def test_vhost_filtering(rabbit: Rabbit, broker: Broker, own_vhost: str, unique: str) -> None:
    elsewhere = f"elsewhere-{unique}"
    api(rabbit, "PUT", f"/api/queues/{urllib.parse.quote(own_vhost, safe='')}/{elsewhere}", {"durable": False})
    home = broker.declare(f"home-{unique}")

    def sees(result: SourceResult, queue: str, where: str) -> bool:
        return any(s.label("queue") == queue and s.label("vhost") == where for s in result.samples)

    makers: tuple[Callable[..., RabbitTarget], ...] = (management, prometheus)
    for make in makers:
        default = wait_for(RabbitCollector(make(rabbit)), lambda r: sees(r, home, "/"), "the default vhost")
        assert not any(s.label("vhost") != "/" for s in default.samples)
        only = wait_for(
            RabbitCollector(make(rabbit, vhost=own_vhost)), lambda r: sees(r, elsewhere, own_vhost), "the other vhost"
        )
        assert {s.label("queue") for s in only.samples} == {elsewhere}
        wait_for(
            RabbitCollector(make(rabbit, vhost=None)),
            lambda r: sees(r, home, "/") and sees(r, elsewhere, own_vhost),
            "all vhosts",
        )


def test_dead_letter_queue_is_reported(rabbit: Rabbit, own_vhost: str, unique: str) -> None:
    # Wolverine fixes the name: a vhost of the test's own keeps concurrent test runs from sharing the queue
    amqp = Broker(rabbit, own_vhost)
    try:
        amqp.declare(m.RABBITMQ_DLQ, durable=True)
        source = amqp.declare(
            f"orders-{unique}",
            arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": m.RABBITMQ_DLQ},
        )
        amqp.publish(source, 2)
        for _ in range(2):  # Wolverine rejects a poison message without requeue: the broker dead-letters it
            method, _, _ = amqp.ch.basic_get(source, auto_ack=False)
            amqp.ch.basic_reject(method.delivery_tag, requeue=False)

        for target in (management(rabbit, vhost=own_vhost), prometheus(rabbit, vhost=own_vhost)):
            result = wait_for(
                RabbitCollector(target),
                lambda r: has(m.RABBITMQ_DLQ, depth(2, 2, 0, 0))(r) and has(source, {m.QUEUE_MESSAGES: 0})(r),
                "the dead-letter queue",
            )
            assert set(by_queue(result)) == {m.RABBITMQ_DLQ, source}
    finally:
        amqp.close()


def test_wolverine_reply_queues_are_skipped_with_a_note(rabbit: Rabbit, broker: Broker, unique: str) -> None:
    reply = broker.declare(f"wolverine.response.{unique}", auto_delete=True, arguments={"x-expires": 1_800_000})
    listener = broker.declare(f"listener-{unique}")
    broker.publish(reply, 1)
    broker.publish(listener, 1)
    for target in (management(rabbit), prometheus(rabbit)):
        collector = RabbitCollector(target)
        seen: list[SourceResult] = []
        wait_for(collector, has(listener, {m.QUEUE_MESSAGES: 1}), "the listener queue", seen)
        assert all(reply not in by_queue(result) for result in seen)
        notes = [note for result in seen for note in result.notes if "wolverine.response." in note]
        assert len(notes) == 1  # said once per collector, not on every read
        assert not any("wolverine.response." in note for note in collector.collect().notes)


# --- the Prometheus text parser --------------------------------------------------------------------------------


def test_promtext_parses_escapes_comments_special_values_and_skips_malformed_lines() -> None:
    text = "\n".join(
        [
            "# HELP rabbitmq_detailed_queue_messages Sum of ready and unacknowledged messages",
            "# TYPE rabbitmq_detailed_queue_messages gauge",
            r'rabbitmq_detailed_queue_messages{vhost="/",queue="a \"quoted\" q\\x\nnl"} 12',
            'rabbitmq_detailed_queue_consumers{ vhost = "/" , queue="b,}{=" , } 3 1712345678000',
            "no_labels 4.5e2",
            'head_timestamp{queue="c"} NaN',
            'up_inf{queue="d"} +Inf',
            'down_inf{queue="d"} -Inf',
            "",
            "   # indented comment",
            'broken{queue="unterminated} 1',
            "broken_value 12abc",
            'broken_label{9bad="x"} 1',
            "too many fields 1 2",
        ]
    )
    parsed = promtext.parse(text)
    assert parsed.malformed == 4
    items = {item.name: item for item in parsed.samples}
    assert dict(items["rabbitmq_detailed_queue_messages"].labels) == {"vhost": "/", "queue": 'a "quoted" q\\x\nnl'}
    assert items["rabbitmq_detailed_queue_messages"].value == 12
    assert dict(items["rabbitmq_detailed_queue_consumers"].labels) == {"vhost": "/", "queue": "b,}{="}
    assert items["rabbitmq_detailed_queue_consumers"].value == 3
    assert items["no_labels"].value == 450 and dict(items["no_labels"].labels) == {}
    assert items["head_timestamp"].value != items["head_timestamp"].value  # NaN
    assert items["up_inf"].value == float("inf") and items["down_inf"].value == float("-inf")
    assert [item.name for item in parsed.named("no_labels", "up_inf")] == ["no_labels", "up_inf"]
