"""The exporter's scrape loop and HTTP endpoints: parallel sources, a slow or failing source costs only
its own series, shared reads, error counters, logs without secrets."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request

import pytest

from critterops import metrics as m
from critterops.errors import BackendError
from critterops.watch.exporter import Exporter, bind
from critterops.watch.promtext import parse
from critterops.watch.samples import SourceResult, sample


class Source:
    """A collector with scripted behaviour (the real ones are tested against real servers)."""

    def __init__(self, target: str, delay: float = 0.0) -> None:
        self.target = target
        self.delay = delay
        self.up = True
        self.calls = 0
        self.release = threading.Event()
        self.release.set()

    def collect(self) -> SourceResult:
        self.calls += 1
        self.release.wait()
        time.sleep(self.delay)
        if not self.up:
            return SourceResult(self.target, False, self.delay, error="connection refused")
        value = sample(m.QUEUE_MESSAGES, self.calls, vhost="/", queue=self.target)
        return SourceResult(self.target, True, self.delay, (value,))

    def close(self) -> None:
        pass


def values(exporter: Exporter) -> dict[tuple[str, str], float]:
    parsed = parse(exporter.scrape().text()).samples
    return {(s.name, s.labels.get("target") or s.labels.get("queue", "")): s.value for s in parsed}


def test_sources_are_read_in_parallel() -> None:
    sources = [Source(f"s{i}", delay=0.3) for i in range(4)]
    exporter = Exporter(sources, min_interval_s=0)
    started = time.monotonic()
    exporter.scrape()
    assert time.monotonic() - started < 0.9  # not 4 × 0.3 s
    exporter.close()


def test_a_down_source_costs_only_its_own_series_and_recovers(caplog: pytest.LogCaptureFixture) -> None:
    good, bad = Source("rabbitmq"), Source("postgres:orders")
    exporter = Exporter([good, bad], min_interval_s=0)
    bad.up = False
    with caplog.at_level(logging.INFO, logger="critterops.exporter"):
        first = values(exporter)
        values(exporter)
        bad.up = True
        third = values(exporter)
    assert first[(m.SOURCE_UP, "postgres:orders")] == 0 and first[(m.SOURCE_UP, "rabbitmq")] == 1
    assert (m.QUEUE_MESSAGES, "rabbitmq") in first and (m.QUEUE_MESSAGES, "postgres:orders") not in first
    assert third[(m.SOURCE_UP, "postgres:orders")] == 1 and (m.QUEUE_MESSAGES, "postgres:orders") in third
    assert third[(m.SCRAPE_ERRORS, "postgres:orders")] == 2 and third[(m.SCRAPE_ERRORS, "rabbitmq")] == 0
    downs = [r.message for r in caplog.records if "is down" in r.message]
    assert downs == ["postgres:orders is down: connection refused"], "one line per state change, not per scrape"
    assert any("postgres:orders is back up" in r.message for r in caplog.records)


def test_a_hung_source_is_reported_down_and_not_read_twice() -> None:
    hung, fine = Source("postgres:orders"), Source("rabbitmq")
    exporter = Exporter([hung, fine], min_interval_s=0, deadline_s=0.3)
    assert values(exporter)[(m.SOURCE_UP, "postgres:orders")] == 1
    hung.release.clear()
    started = time.monotonic()
    first = values(exporter)
    second = values(exporter)
    assert time.monotonic() - started < 1.5
    assert first[(m.SOURCE_UP, "postgres:orders")] == 0 and second[(m.SOURCE_UP, "postgres:orders")] == 0
    assert second[(m.SOURCE_WARMING_UP, "postgres:orders")] == 0, "a source that was up is not warming up"
    assert second[(m.SCRAPE_DURATION, "postgres:orders")] > 0.2, "a stuck read reports how long it has taken"
    assert hung.calls == 2, "a read still running is not started again"
    assert fine.calls == 3
    hung.release.set()
    time.sleep(0.1)
    assert values(exporter)[(m.SOURCE_UP, "postgres:orders")] == 1
    exporter.close()


def test_the_warm_up_runs_in_the_background_and_scrapes_answer_within_their_deadline(
    caplog: pytest.LogCaptureFixture,
) -> None:
    slow, fine = Source("postgres:orders", delay=0.8), Source("rabbitmq")
    exporter = Exporter([slow, fine], min_interval_s=0, deadline_s=0.2)
    with caplog.at_level(logging.INFO, logger="critterops.exporter"):
        exporter.start()
        started = time.monotonic()
        during = values(exporter)
        assert time.monotonic() - started < 0.5, "the scrape waits for the warm-up only within its deadline"
        assert during[(m.SOURCE_WARMING_UP, "postgres:orders")] == 1
        assert (m.SOURCE_UP, "postgres:orders") not in during, "no read has finished: neither up nor down"
        assert during[(m.SOURCE_UP, "rabbitmq")] == 1 and during[(m.SOURCE_WARMING_UP, "rabbitmq")] == 0
        assert during[(m.SCRAPE_ERRORS, "postgres:orders")] == 0, "warming up is not an error"
        slow.delay = 0.0  # later reads only fetch what changed
        time.sleep(0.8)
        after = values(exporter)
    assert after[(m.SOURCE_UP, "postgres:orders")] == 1 and after[(m.SOURCE_WARMING_UP, "postgres:orders")] == 0
    assert slow.calls == 2, "the warm-up read, then the scrape's own"
    logged = [r.message for r in caplog.records]
    assert any("postgres:orders: warm-up read finished in 0.8" in line for line in logged), logged
    assert not any("is down" in line for line in logged), "warming up is not an outage"
    exporter.close()


def test_a_scrape_uses_a_warm_up_that_finishes_within_its_deadline() -> None:
    source = Source("postgres:orders", delay=0.2)
    exporter = Exporter([source], min_interval_s=0, deadline_s=2)
    exporter.start()
    exporter.start()  # again: nothing more
    assert values(exporter)[(m.SOURCE_UP, "postgres:orders")] == 1
    assert source.calls == 1, "the scrape took the warm-up's result instead of reading again"
    exporter.close()


def test_a_first_read_that_never_ends_is_down_after_the_warm_up_limit() -> None:
    hung = Source("postgres:orders")
    hung.release.clear()
    exporter = Exporter([hung], min_interval_s=0, deadline_s=0.1, warm_up_limit_s=0.5)
    exporter.start()
    assert values(exporter)[(m.SOURCE_WARMING_UP, "postgres:orders")] == 1
    time.sleep(0.5)
    late = values(exporter)
    assert late[(m.SOURCE_UP, "postgres:orders")] == 0 and late[(m.SOURCE_WARMING_UP, "postgres:orders")] == 0
    assert hung.calls == 1
    hung.release.set()
    exporter.close()


def test_scrapes_within_the_minimum_interval_share_one_read() -> None:
    source = Source("rabbitmq")
    exporter = Exporter([source], min_interval_s=5)
    threads = [threading.Thread(target=exporter.scrape) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert source.calls == 1


def test_a_collector_that_raises_is_a_down_source_not_a_dead_exporter() -> None:
    class Broken(Source):
        def collect(self) -> SourceResult:
            raise RuntimeError("password=hunter2 leaked by a bug")

    exporter = Exporter([Broken("postgres:x"), Source("rabbitmq")], min_interval_s=0)
    scrape = exporter.scrape()
    broken = next(r for r in scrape.results if r.target == "postgres:x")
    assert not broken.up and "hunter2" not in (broken.error or "") and "RuntimeError" in (broken.error or "")


def test_http_endpoints() -> None:
    exporter = Exporter([Source("rabbitmq")], min_interval_s=0)
    server = bind(exporter, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with urllib.request.urlopen(base + "/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert 'critterops_up{target="rabbitmq"} 1' in response.read().decode()
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            health = json.loads(response.read())
        assert response.status == 200 and health["sources"] == {"rabbitmq": True} and health["warming_up"] == []
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(base + "/nope", timeout=5)
        assert caught.value.code == 404
        with pytest.raises(BackendError, match=r"cannot listen on 127\.0\.0\.1"):
            bind(exporter, "127.0.0.1", server.server_address[1])
        with pytest.raises(BackendError, match="cannot listen on"):
            bind(exporter, "no-such-host-" + "x" * 70, 9180)
        six = bind(exporter, "::1", 0)  # IPv6 literals listen on IPv6
        six.server_close()
    finally:
        server.shutdown()
        server.server_close()
        exporter.close()
