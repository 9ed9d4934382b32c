"""Counter histories in a real Prometheus: looks written as the collector's cumulative series, backfilled.

``promtool tsdb create-blocks-from openmetrics`` turns an OpenMetrics file with timestamps into TSDB
blocks; a Prometheus started on that data directory answers range queries over the whole history at
once. The series carry the names and labels the kit's collector exports (``k8s_namespace_name``,
``service_version`` = the pod-template hash, ``http_response_status_code``), so the judge server reads
them exactly as it reads a cluster's. Used by ``tests/rollout/test_provider*.py`` and
``benchmarks/judges_argo.py``.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from critterops import metrics as m
from critterops.rollout.judges import Counts, Look
from critterops.rollout.local.processes import free_port

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")

COUNT = m.HTTP_SERVER_DURATION + "_count"
SUM = m.HTTP_SERVER_DURATION + "_sum"
BUCKET = m.HTTP_SERVER_DURATION + "_bucket"


@dataclass
class History:
    """Samples per series: ``(metric name, sorted labels) -> [(unix seconds, value)]``."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, name: str, labels: dict[str, str], t: float, value: float) -> None:
        self.samples[(name, tuple(sorted(labels.items())))].append((t, value))

    def openmetrics(self) -> str:
        by_name: dict[str, list[str]] = defaultdict(list)
        for (name, labels), points in self.samples.items():
            text = ",".join(f'{k}="{v}"' for k, v in labels)
            for t, value in sorted(points):
                by_name[name].append(f"{name}{{{text}}} {value!r} {t:.3f}")
        out: list[str] = []
        for name, lines in by_name.items():
            out.append(f"# TYPE {name} unknown")
            out.extend(lines)
        out.append("# EOF")
        return "\n".join(out) + "\n"


def add_version(
    history: History,
    namespace: str,
    version: str,
    start: float,
    step: float,
    counts: Sequence[Counts],
    *,
    base: int = 0,
    pod: str = "pod-0",
    job: str = "orders",
) -> None:
    """One pod's cumulative counters for one version: a sample at ``start`` (``base``) and after each look."""
    labels = {"job": job, "k8s_namespace_name": namespace, "service_version": version, "service_instance_id": pod}
    ok = {**labels, "http_response_status_code": "200"}
    bad = {**labels, "http_response_status_code": "500"}
    good_total, bad_total, seconds = float(base), 0.0, 0.0
    buckets: dict[float, float] = {}
    history.add(COUNT, ok, start, good_total)
    history.add(COUNT, bad, start, bad_total)
    history.add(SUM, ok, start, seconds)
    for i, c in enumerate(counts, 1):
        t = start + i * step
        good_total += c.requests - c.errors
        bad_total += c.errors
        if c.latency_ms is not None:
            seconds += c.latency_ms * c.requests / 1000.0
        history.add(COUNT, ok, t, good_total)
        history.add(COUNT, bad, t, bad_total)
        history.add(SUM, ok, t, seconds)
        if c.buckets is not None:
            for bound, n in c.buckets:
                le = bound if math.isinf(bound) else bound / 1000.0
                buckets[le] = buckets.get(le, 0.0) + n
                history.add(BUCKET, {**ok, "le": "+Inf" if math.isinf(le) else repr(le)}, t, buckets[le])


def add_looks(
    history: History, namespace: str, stable: str, canary: str, start: float, step: float, looks: Sequence[Look]
) -> None:
    """A run's looks as the two versions' counters (stable with a history before the run, canary from 0)."""
    add_version(history, namespace, stable, start, step, [look.stable for look in looks], base=100_000)
    add_version(history, namespace, canary, start, step, [look.canary for look in looks], pod="pod-1")


@dataclass
class BackfilledPrometheus:
    url: str
    proc: subprocess.Popen[bytes]
    work: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def start_backfilled(work: Path, histories: Iterable[History], port: int | None = None) -> BackfilledPrometheus:
    """Backfill the histories into a new TSDB under ``work`` and serve it on 127.0.0.1 (no scrapes)."""
    assert PROMETHEUS and PROMTOOL, "prometheus and promtool are needed (apt-get install prometheus)"
    work.mkdir(parents=True, exist_ok=True)
    source = work / "history.om"
    with source.open("w") as out:
        merged = History()
        for history in histories:
            for key, points in history.samples.items():
                merged.samples[key].extend(points)
        out.write(merged.openmetrics())
    data = work / "data"
    made = subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr[-2000:]
    config = work / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = port or free_port()
    log = (work / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=30d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    log.close()
    prom = BackfilledPrometheus(f"http://127.0.0.1:{port}", proc, work)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"prometheus exited: {(work / 'prometheus.log').read_text()[-2000:]}")
        try:
            with opener.open(f"{prom.url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return prom
        except OSError:
            time.sleep(0.1)
    prom.stop()
    raise AssertionError("prometheus did not become ready within 30 s")
