"""The bundled demo "orders-api": versions, injected failures, determinism."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from critterops.rollout.local.processes import VersionProcess

from . import Client, demo_argv, live_pids


@pytest.fixture
def run(tmp_path: Path) -> Iterator[list[VersionProcess]]:
    procs: list[VersionProcess] = []
    yield procs
    for proc in procs:
        proc.stop(grace=2.0)
        assert proc.pgid is not None and live_pids("-g", str(proc.pgid)) == []


def start(run: list[VersionProcess], tmp_path: Path, name: str, *extra: str) -> VersionProcess:
    proc = VersionProcess(name, demo_argv("1.5.0", *extra), tmp_path).start()
    run.append(proc)
    proc.wait_healthy(timeout=10)
    return proc


def test_answers_with_its_version(tmp_path: Path, run: list[VersionProcess]) -> None:
    proc = start(run, tmp_path, "app")
    conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=5)
    conn.request("POST", "/api/orders", body=b'{"sku": "KIBBLE"}', headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    assert response.status == 201
    assert response.getheader("X-Version") == "1.5.0"
    assert payload["version"] == "1.5.0" and payload["method"] == "POST"
    client = Client(proc.port)
    assert client.get("/api/orders/42") == (200, "1.5.0")
    assert client.get("/health") == (200, "1.5.0")
    assert client.get("/nope") == (404, "1.5.0")
    client.close()


def test_error_rate_and_seed_are_deterministic(tmp_path: Path, run: list[VersionProcess]) -> None:
    sequences = []
    for name in ("a", "b"):
        proc = start(run, tmp_path, name, "--error-rate", "0.5", "--seed", "7")
        client = Client(proc.port)
        sequences.append([client.get()[0] for _ in range(40)])
        client.close()
    assert sequences[0] == sequences[1]
    assert set(sequences[0]) == {200, 500}
    assert 8 <= sequences[0].count(500) <= 32


def test_always_failing(tmp_path: Path, run: list[VersionProcess]) -> None:
    proc = start(run, tmp_path, "bad", "--error-rate", "1")
    client = Client(proc.port)
    assert {client.get()[0] for _ in range(10)} == {500}
    assert client.get("/health")[0] == 200  # health stays green: only analysis can catch it
    client.close()
