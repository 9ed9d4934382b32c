"""The judge server against a real Prometheus holding backfilled counter histories.

The histories are the collector's cumulative series (names and labels as the kit exports them); the
server must rebuild the looks the runs were made of, counter resets and pods that come and go included,
and answer what the in-process judge answers on those looks.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from critterops.errors import BackendError, UserError
from critterops.rollout.judges import Counts, Look, make_judge
from critterops.rollout.local.processes import free_port
from critterops.rollout.provider import AnalysisRuns, Call, Provider, Reader, Series, Settings, interval_deltas
from critterops.rollout.sources import PrometheusClient

from .provider_history import PROMETHEUS, PROMTOOL, History, add_looks, add_version, start_backfilled

requires_prometheus = pytest.mark.skipif(
    PROMETHEUS is None or PROMTOOL is None, reason="prometheus/promtool not installed (apt-get install prometheus)"
)

STEP = 10.0
NOW = math.floor(time.time() / 60) * 60  # histories end before now; answers are asked "at" fixed moments
START_BAD = NOW - 3 * 3600
START_GOOD = NOW - 2 * 3600
START_PODS = NOW - 1 * 3600


def _looks(n: int, stable_rate: float, canary_rate: float, *, buckets: bool = False) -> list[Look]:
    """Deterministic looks: 4,500 stable and 500 canary requests per look, errors at the given rates."""
    out = []
    for i in range(1, n + 1):

        def counts(requests: int, rate: float, latency: float, i: int = i) -> Counts:
            errors = round(requests * rate * i) - round(requests * rate * (i - 1))
            hist = None
            if buckets:
                fast = requests * 3 // 4
                slow = requests // 100  # the same shape for both versions: 1 % above 250 ms
                hist = ((50.0, fast // 2), (100.0, fast), (250.0, requests - slow), (math.inf, requests))
            return Counts(requests, errors, latency, buckets=hist)

        out.append(
            Look(t=i * STEP, stable=counts(4500, stable_rate, 100.0 + i % 3), canary=counts(500, canary_rate, 101.0))
        )
    return out


BAD = _looks(60, 0.005, 0.05)
GOOD = _looks(120, 0.005, 0.005, buckets=True)


@pytest.fixture(scope="module")
def prom() -> Iterator[str]:
    history = History()
    add_looks(history, "shop", "stable1", "canary1", START_BAD, STEP, BAD)
    add_looks(history, "shop", "stable2", "canary2", START_GOOD, STEP, GOOD)
    # the canary on two pods: pod-a restarts after look 6 (its counter starts again from 0), pod-b starts
    # at look 4; stable on one pod with a long history
    pods = [Counts(100, 2, 80.0)] * 12
    add_version(history, "shop", "stable3", START_PODS, STEP, [Counts(900, 9, 80.0)] * 12, base=5_000_000)
    add_version(history, "shop", "canary3", START_PODS, STEP, pods[:6], pod="pod-a")
    add_version(history, "shop", "canary3", START_PODS + 7 * STEP, STEP, pods[7:12], pod="pod-a")
    add_version(history, "shop", "canary3", START_PODS + 4 * STEP, STEP, pods[4:12], pod="pod-b")
    work = Path(tempfile.mkdtemp(prefix="crit-judge-"))
    server = start_backfilled(work, [history])
    try:
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _provider(url: str, **settings: object) -> Provider:
    return Provider(PrometheusClient(url), Settings(step_s=STEP, settle_s=0.0, **settings))  # type: ignore[arg-type]


def test_interval_deltas_difference_each_series_then_sum() -> None:
    grid = [0.0, 10.0, 20.0, 30.0]
    series: Series = {
        (("pod", "a"),): {0.0: 100.0, 10.0: 110.0, 20.0: 3.0, 30.0: 8.0},  # reset between 10 and 20
        (("pod", "b"),): {20.0: 4.0, 30.0: 6.0},  # a new pod: its first value counts whole
        (("pod", "c"),): {0.0: 50.0, 10.0: 55.0},  # gone after 10: nothing afterwards
    }
    assert interval_deltas(series, grid) == [15.0, 7.0, 7.0]


@requires_prometheus
@pytest.mark.parametrize(
    ("canary", "stable", "start", "looks"),
    [("canary1", "stable1", START_BAD, BAD), ("canary2", "stable2", START_GOOD, GOOD)],
)
def test_the_server_rebuilds_the_looks_and_answers_as_the_judge_in_process(
    prom: str, canary: str, stable: str, start: float, looks: list[Look]
) -> None:
    provider = _provider(prom)
    at = start + len(looks) * STEP
    call = Call(namespace="shop", canary=canary, stable=stable, start=start, at=at)
    rebuilt, _ = provider.reader.looks(call, start, at)
    assert [(x.t, x.stable.requests, x.stable.errors, x.canary.requests, x.canary.errors) for x in rebuilt] == [
        (x.t, x.stable.requests, x.stable.errors, x.canary.requests, x.canary.errors) for x in looks
    ]
    assert all(
        a.canary.latency_ms == pytest.approx(b.canary.latency_ms) and a.canary.buckets == b.canary.buckets
        for a, b in zip(rebuilt, looks, strict=True)
    )
    expected = make_judge("sequential").decide(looks)
    answer = provider.answer(call)
    assert answer.verdict == expected.verdict.value
    assert answer.body["details"]["look"] == expected.details["look"]
    assert answer.verdict == ("fail" if canary == "canary1" else "pass")
    assert answer.body["totals"]["canary"]["requests"] == sum(x.canary.requests for x in looks)


@requires_prometheus
def test_restarted_pods_and_new_pods_are_counted_once(prom: str) -> None:
    reader = Reader(PrometheusClient(prom), Settings(step_s=STEP, settle_s=0.0))
    call = Call(namespace="shop", canary="canary3", stable="stable3")
    looks, _ = reader.looks(call, START_PODS, START_PODS + 12 * STEP)
    # pod-a: looks 1-6 and 8-12 (look 7 is lost: its restart), pod-b from look 5
    expected = [100, 100, 100, 100, 200, 200, 100, 200, 200, 200, 200, 200]
    assert [look.canary.requests for look in looks] == expected
    assert [look.stable.requests for look in looks] == [900] * 12  # 5,000,000 before the start not counted


@requires_prometheus
def test_without_a_start_the_canary_first_sample_is_the_start(prom: str) -> None:
    reader = Reader(PrometheusClient(prom), Settings(step_s=STEP, settle_s=0.0))
    found = reader.find_start(Call(namespace="shop", canary="canary2", stable="stable2"), START_GOOD + 600)
    assert found == START_GOOD
    nothing = _provider(prom).answer(Call(namespace="shop", canary="nope", stable="stable2"), now=NOW)
    assert nothing.verdict == "continue" and nothing.body["looks"] == 0


@requires_prometheus
def test_still_gathering_then_deciding_as_time_passes(prom: str) -> None:
    provider = _provider(prom)
    call = Call(namespace="shop", canary="canary1", stable="stable1", start=START_BAD)
    decided_at = int(make_judge("sequential").decide(BAD).details["look"])
    early = provider.answer(call, now=START_BAD + (decided_at - 1) * STEP)
    assert early.verdict == "continue" and early.body["looks"] == decided_at - 1
    later = provider.answer(call, now=START_BAD + (decided_at + 5) * STEP)
    assert later.verdict == "fail" and later.body["details"]["look"] == decided_at


def test_bad_calls_are_refused() -> None:
    with pytest.raises(UserError, match="missing parameter"):
        Call.from_params({"namespace": "shop", "canary": "a"})
    with pytest.raises(UserError, match="same version"):
        Call.from_params({"namespace": "shop", "canary": "a", "stable": "a"})
    with pytest.raises(UserError, match="not a label value"):
        Call.from_params({"namespace": "shop", "canary": 'a"}) or vector(1', "stable": "b"})
    with pytest.raises(UserError, match="RFC 3339"):
        Call.from_params({"namespace": "shop", "canary": "a", "stable": "b", "start": "yesterday"})
    assert Call.from_params({"namespace": "n", "canary": "a", "stable": "b", "start": "2026-12-06T02:00:00Z"}).start


def test_an_unreachable_prometheus_is_an_error_never_a_verdict() -> None:
    provider = _provider(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(BackendError, match="unavailable"):
        provider.answer(Call(namespace="shop", canary="a", stable="b", start=time.time() - 100))


# --- the process, over HTTP ----------------------------------------------------------------------------------


def _serve(prom: str, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "critterops",
            "judge",
            "serve",
            "--prometheus",
            prom,
            "--port",
            str(port),
            "--step",
            str(STEP),
            "--settle",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if _get(f"http://127.0.0.1:{port}/healthz")[0] == 200:
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("judge serve did not answer /healthz within 15 s")


def _get(url: str, body: Mapping[str, object] | None = None) -> tuple[int, dict[str, object]]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    finally:
        if proc.stderr:
            proc.stderr.close()


@requires_prometheus
def test_judge_serve_answers_argo_and_flagger_and_a_restart_answers_the_same(prom: str) -> None:
    port = free_port()
    at = START_BAD + len(BAD) * STEP
    url = f"http://127.0.0.1:{port}/v1/argo?namespace=shop&canary=canary1&stable=stable1&start={START_BAD}&at={at}"
    proc = _serve(prom, port)
    try:
        status, first = _get(url)
        assert status == 200 and first["verdict"] == "fail", first
        # the kit's form: POST with a JSON body (Argo's jsonBody)
        body = {"namespace": "shop", "canary": "canary1", "stable": "stable1", "start": str(START_BAD), "at": str(at)}
        assert _get(f"http://127.0.0.1:{port}/v1/argo", body) == (200, first)
        flagger = {
            "name": "orders",
            "namespace": "shop",
            "phase": "Progressing",
            "checksum": "x",
            "metadata": {"canary": "canary1", "stable": "stable1", "start": str(START_BAD), "at": str(at)},
        }
        status, answer = _get(f"http://127.0.0.1:{port}/v1/flagger", flagger)
        assert status == 412 and answer["verdict"] == "fail"  # Flagger fails a hook on status > 202
        good = {
            **flagger,
            "metadata": {
                "canary": "canary2",
                "stable": "stable2",
                "start": str(START_GOOD),
                "at": str(START_GOOD + 1200),
            },
        }
        assert _get(f"http://127.0.0.1:{port}/v1/flagger", good)[0] == 200
        status, answer = _get(f"http://127.0.0.1:{port}/v1/argo?namespace=shop&canary=x")
        assert status == 400 and "missing parameter" in str(answer["error"])
    finally:
        _stop(proc)
    proc = _serve(prom, port)
    try:
        assert _get(url) == (200, first)  # nothing was kept: the restarted judge gives the same answer
    finally:
        _stop(proc)


def test_judge_serve_without_prometheus_answers_503() -> None:
    port = free_port()
    proc = _serve(f"http://127.0.0.1:{free_port()}", port)
    try:
        status, body = _get(
            f"http://127.0.0.1:{port}/v1/argo?namespace=shop&canary=a&stable=b&start={time.time() - 60}"
        )
        assert status == 503 and "unavailable" in str(body["error"])
    finally:
        _stop(proc)


def test_judge_serve_refuses_bad_options() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "critterops", "judge", "serve", "--judge-settings", '{"alpha": 2}'],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 2 and "alpha" in done.stderr and "Traceback" not in done.stderr


def test_judge_serve_needs_a_token_with_kube_api() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "critterops", "judge", "serve", "--kube-api", "https://127.0.0.1:6443"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert done.returncode == 2 and "--kube-token-file" in done.stderr and "Traceback" not in done.stderr


def test_the_kubernetes_api_down_is_an_error_never_a_verdict(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    runs = AnalysisRuns(f"https://127.0.0.1:{free_port()}", str(token), None, timeout=1)
    provider = Provider(PrometheusClient(f"http://127.0.0.1:{free_port()}"), Settings(), runs=runs)
    with pytest.raises(BackendError, match=r"Kubernetes API .* is unavailable"):
        provider.answer(Call(namespace="shop", canary="a", stable="b"))
