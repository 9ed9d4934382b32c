"""The judge as a metric provider: Argo Rollouts' ``web`` provider and Flagger's webhooks ask it over HTTP.

Every call names a version pair (namespace, canary and stable ``service.version``, which the kit sets to the
pod-template hash). The analysis' start comes from the call (``start``), else from the asking AnalysisRun's
``status.startedAt`` in the Kubernetes API (:class:`AnalysisRuns`, when the server has access), else it is the
canary's first sample in Prometheus (then every step of a canary is judged on all its data since the canary
started, so a proof at the first step passes the later ones too). The server reads the per-version
*cumulative* counters from Prometheus with one range query per counter family over ``[start, now]``,
differences them itself per series (a counter that went down is a restarted pod: its new value is the
interval's count; a series that appears later is a new pod: its first value counts whole), sums the series per
version, builds one :class:`Look` per interval and asks the judge. Nothing is kept between calls: the
intervals are anchored at the start and only intervals that ended ``settle_s`` ago are used (Prometheus may
not have scraped the last one yet), so a restarted judge, asked at the same moment, builds the same looks and
gives the same answer.

Argo Rollouts (v1.9.1) reads the answer through ``jsonPath: {$.verdict}`` with
``successCondition: result == "pass"`` and ``failureCondition: result == "fail"``; ``continue`` and
``inconclusive`` satisfy neither and become Inconclusive measurements (utils/evaluate/evaluate.go:53).
The kit's AnalysisTemplate (:mod:`critterops.generate.judge`) sets the limits that make that mean:

- still gathering: ``inconclusiveLimit`` = ``count``, so an Inconclusive measurement never exceeds the
  limit (analysis/analysis.go:673-679) and the run keeps measuring;
- pass: ``consecutiveSuccessLimit: 1``, the first Successful measurement ends the metric Successful
  (analysis.go:606-609); a pass therefore needs the judge's own proof;
- fail: ``failureLimit: 0``, the first Failed measurement fails the run (analysis.go:667-671), which
  aborts the Rollout;
- undecided at the end: ``count`` reached without a success while ``failureLimit`` >= 0 and
  ``consecutiveSuccessLimit`` > 0 gives Inconclusive (analysis.go:617-632), which pauses the Rollout;
- Prometheus unreachable: HTTP 503, which the web provider records as an Error measurement
  (metricproviders/webmetric/webmetric.go:107-108); Errors do not add to ``count``
  (analysis.go:401-405) and are retried every 10 s; the 5th in a row makes the run Error
  (``consecutiveErrorLimit`` 4, analysis.go:681-685), which aborts. Never a pass.

Every answer the judge gives Argo is JSON: the web provider takes a 2xx body that is not JSON as a
Successful measurement without evaluating any condition (webmetric.go:133-136), so nothing between
Argo and the judge may answer 2xx with something else (an HTML error page from a proxy would pass).

Flagger (v1.44.0, pkg/controller/webhook.go) fails a hook on any status above 202: ``/v1/flagger``
answers 200 for pass (and, as a ``rollout`` hook, for continue), 409 for inconclusive and 412 for fail.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from critterops import metrics as m
from critterops.errors import BackendError, UserError
from critterops.rollout.judges import Counts, Decision, Look, Verdict, make_judge
from critterops.rollout.sources import PrometheusClient

log = logging.getLogger("critterops.judge")

# label values are pod-template hashes, namespaces and service names: nothing PromQL would need escaped
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")

HTTP_COUNT = m.HTTP_SERVER_DURATION + "_count"
HTTP_SUM = m.HTTP_SERVER_DURATION + "_sum"
HTTP_BUCKET = m.HTTP_SERVER_DURATION + "_bucket"
FIVE_XX = 'http_response_status_code=~"5.."'


@dataclass(frozen=True, slots=True)
class Call:
    """What one call asks: this canary against this stable, since ``start`` (Unix seconds)."""

    namespace: str
    canary: str
    stable: str
    start: float | None = None
    service: str | None = None  # the ``job`` label (the kit's service name); None: any job
    rollout: str | None = None  # shown in the answer only
    run: str | None = None  # the analysis run's identity when the caller knows it (shown only)
    at: float | None = None  # answer as if asked at this moment (replays, backtests); never after now

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Call:
        """Build from query parameters or a JSON body; ``UserError`` names what is missing or wrong."""
        missing = [key for key in ("namespace", "canary", "stable") if not params.get(key)]
        if missing:
            raise UserError(f"missing parameter(s): {', '.join(missing)} (give namespace, canary and stable)")
        for key in ("namespace", "canary", "stable", "service"):
            value = params.get(key)
            if value and not _LABEL_VALUE.match(value):
                raise UserError(f"parameter {key}={value!r} is not a label value (letters, digits, '.', '_', '-')")
        if params["canary"] == params["stable"]:
            raise UserError(f"canary and stable are the same version ({params['canary']}): nothing to compare")
        return cls(
            namespace=params["namespace"],
            canary=params["canary"],
            stable=params["stable"],
            start=_parse_time(params["start"]) if params.get("start") else None,
            service=params.get("service") or None,
            rollout=params.get("rollout") or None,
            run=params.get("run") or None,
            at=_parse_time(params["at"]) if params.get("at") else None,
        )


def _parse_time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    from datetime import datetime

    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise UserError(f"start={text!r} is neither Unix seconds nor an RFC 3339 time") from exc


@dataclass(frozen=True, slots=True)
class Settings:
    """How the server reads and judges."""

    judge: str = "sequential"
    judge_settings: Mapping[str, Any] = field(default_factory=dict)
    step_s: float = 30.0  # one look per step
    settle_s: float = 15.0  # an interval is used once it ended this long ago
    lookback_s: float = 6 * 3600.0  # where to look for the canary's first sample when no start is given


@dataclass(frozen=True, slots=True)
class Answer:
    """The judge's answer to one call, as the JSON body says it."""

    verdict: str  # pass | fail | inconclusive | continue
    reason: str
    body: dict[str, Any]


def _selector(call: Call, version: str, extra: str = "") -> str:
    parts = [f'k8s_namespace_name="{call.namespace}"', f'service_version="{version}"']
    if call.service:
        parts.insert(0, f'job="{call.service}"')
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}"


Series = dict[tuple[tuple[str, str], ...], dict[float, float]]


def interval_deltas(series: Series, grid: Sequence[float]) -> list[float]:
    """Per-interval increases summed over series: ``grid`` has N+1 points, the result N values.

    Each series is differenced on its own: a value below the previous one is a counter reset (the new
    value is the increase); a series absent at a grid point and present at the next started in between
    (its value is the increase) unless it was absent at the first grid point only because the range
    began before it: a series present at ``grid[0]`` is the baseline.
    """
    out = [0.0] * (len(grid) - 1)
    for points in series.values():
        previous: float | None = None
        for i, t in enumerate(grid):
            value = points.get(t)
            if value is None or math.isnan(value):
                previous = None if value is None else previous
                continue
            if i > 0:
                if previous is None or value < previous:
                    out[i - 1] += value
                else:
                    out[i - 1] += value - previous
            previous = value
    return out


def _by_labels(matrix: list[tuple[dict[str, str], list[tuple[float, float]]]], drop: str = "") -> Series:
    series: Series = {}
    for labels, values in matrix:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != drop))
        if drop:
            key = ((drop, labels.get(drop, "")), *key)
        series.setdefault(key, {}).update({round(t, 3): v for t, v in values})
    return series


class Reader:
    """Reads a version pair's counters from Prometheus and builds the looks."""

    def __init__(self, client: PrometheusClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def find_start(self, call: Call, now: float) -> float | None:
        """The first grid point (epoch-aligned, so every call finds the same) where the canary had samples."""
        step = self.settings.step_s
        begin = math.floor((now - self.settings.lookback_s) / step) * step
        end = math.floor(now / step) * step
        query = (
            f"count({HTTP_COUNT}{_selector(call, call.canary)})"
            f" or count({m.WOLVERINE_SUCCEEDED}{_selector(call, call.canary)})"
            f" or count({m.WOLVERINE_FAILURES}{_selector(call, call.canary)})"
        )
        # Prometheus returns at most 11,000 points per series: coarser steps over long lookbacks
        coarse = max(step, math.ceil((end - begin) / 10_000 / step) * step)
        matrix = self.client.query_range(query, begin, end, coarse)
        times = [t for _, values in matrix for t, _ in values]
        return min(times) if times else None

    def looks(self, call: Call, start: float, now: float) -> tuple[list[Look], list[float]]:
        step = self.settings.step_s
        n = max(0, math.floor((now - self.settings.settle_s - start) / step))
        grid = [start + i * step for i in range(n + 1)]
        if n == 0:
            return [], grid
        end = grid[-1]
        versions: dict[str, list[Counts]] = {}
        for role, version in (("stable", call.stable), ("canary", call.canary)):
            families = {
                "requests": f"{HTTP_COUNT}{_selector(call, version)}",
                "errors": HTTP_COUNT + _selector(call, version, FIVE_XX),
                "latency_sum": f"{HTTP_SUM}{_selector(call, version)}",
                "handled": f"{m.WOLVERINE_SUCCEEDED}{_selector(call, version)}",
                "failed": f"{m.WOLVERINE_FAILURES}{_selector(call, version)}",
            }
            deltas = {
                name: interval_deltas(_by_labels(self.client.query_range(q, start, end, step)), grid)
                for name, q in families.items()
            }
            buckets = self._buckets(call, version, grid)
            counts: list[Counts] = []
            for i in range(n):
                http = _whole(deltas["requests"][i])
                errors_5xx = min(_whole(deltas["errors"][i]), http)
                failed = _whole(deltas["failed"][i])
                requests = http + _whole(deltas["handled"][i]) + failed
                latency = 1000.0 * deltas["latency_sum"][i] / http if http else None
                hist = buckets[i] if http and buckets is not None else None
                if hist is not None and hist[-1][1] != http:
                    hist = None  # scraped at different moments than _count: no histogram rather than a wrong one
                counts.append(
                    Counts(
                        requests=requests,
                        errors=min(errors_5xx + failed, requests),
                        latency_ms=latency if latency is not None and math.isfinite(latency) else None,
                        buckets=hist,
                    )
                )
            versions[role] = counts
        looks = [
            Look(t=round(grid[i + 1] - start, 3), stable=versions["stable"][i], canary=versions["canary"][i])
            for i in range(n)
        ]
        return looks, grid

    def _buckets(self, call: Call, version: str, grid: list[float]) -> list[tuple[tuple[float, int], ...]] | None:
        """Per interval, the latency histogram's increases per bound (ms, cumulative), or None without one."""
        query = HTTP_BUCKET + _selector(call, version)
        matrix = self.client.query_range(query, grid[0], grid[-1], grid[1] - grid[0])
        by_le: dict[float, Series] = {}
        for labels, values in matrix:
            try:
                le = float(labels.get("le", ""))
            except ValueError:
                continue
            rest = {k: v for k, v in labels.items() if k != "le"}
            by_le.setdefault(le, {}).update(_by_labels([(rest, values)]))
        if not by_le or not any(math.isinf(le) for le in by_le):
            return None
        bounds = sorted(by_le)
        per_bound = {le: interval_deltas(by_le[le], grid) for le in bounds}
        out: list[tuple[tuple[float, int], ...]] = []
        for i in range(len(grid) - 1):
            running = 0
            hist: list[tuple[float, int]] = []
            for le in bounds:
                # cumulative by construction; max() keeps it so when series of one bound were scraped apart
                running = max(running, _whole(per_bound[le][i]))
                hist.append((math.inf if math.isinf(le) else le * 1000.0, running))
            out.append(tuple(hist))
        return out


def _whole(value: float) -> int:
    return round(value) if math.isfinite(value) and value > 0 else 0


IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
ACTIVE = ("", "Pending", "Running")


class AnalysisRuns:
    """The start of the analysis run that is asking, from the Kubernetes API.

    Argo passes no run name or start to a metric (only ``{{args.*}}``: utils/template/template.go), but
    the runs a Rollout creates carry the canary's hash as ``rollouts-pod-template-hash``
    (utils/analysis/factory.go:70-106, StepLabels, BackgroundLabels, PrePromotionLabels) and their
    ``status.startedAt`` (pkg/apis/rollouts/v1alpha1/analysis_types.go:457-458). The active run of that
    hash (of that Rollout, when the call names it) is the one asking; its start is fixed, so every call
    during the run builds the same looks, and each canary step is judged on its own data. Needs
    ``get, list`` on ``analysisruns`` in the namespace (the kit's Role).
    """

    def __init__(self, api: str, token_file: str, ca_file: str | None, timeout: float = 5.0) -> None:
        self.api = api.rstrip("/")
        self.token_file = token_file
        self.timeout = timeout
        self._context = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()

    @classmethod
    def in_cluster(cls) -> AnalysisRuns | None:
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        if not host or not port or not os.path.exists(IN_CLUSTER_TOKEN):
            return None
        return cls(f"https://{host}:{port}", IN_CLUSTER_TOKEN, IN_CLUSTER_CA)

    def start_of(self, call: Call) -> tuple[float, str] | None:
        """(start, run name) of the active run for this canary, else of its latest run; None without runs."""
        selector = urllib.parse.urlencode({"labelSelector": f"rollouts-pod-template-hash={call.canary}"})
        url = f"{self.api}/apis/argoproj.io/v1alpha1/namespaces/{call.namespace}/analysisruns?{selector}"
        try:
            with open(self.token_file, encoding="utf-8") as handle:
                token = handle.read().strip()
        except OSError as exc:
            raise BackendError(f"cannot read the Kubernetes token {self.token_file}: {exc}") from exc
        request = urllib.request.Request(
            url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._context) as response:
                items = json.loads(response.read()).get("items") or []
        except urllib.error.HTTPError as exc:
            raise BackendError(f"the Kubernetes API refused to list analysisruns (HTTP {exc.code})") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise BackendError(f"the Kubernetes API at {self.api} is unavailable: {exc}") from exc
        runs = []
        for item in items:
            owners = [o.get("name") for o in item.get("metadata", {}).get("ownerReferences") or []]
            started = (item.get("status") or {}).get("startedAt")
            if not started or (call.rollout and owners and call.rollout not in owners):
                continue
            active = (item.get("status") or {}).get("phase", "") in ACTIVE
            runs.append((active, _parse_time(started), str(item["metadata"]["name"])))
        if not runs:
            return None
        _, start, name = max(runs)
        return start, name


class Provider:
    """Answers calls: reads, judges, explains."""

    def __init__(
        self,
        client: PrometheusClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
        runs: AnalysisRuns | None = None,
    ) -> None:
        self.reader = Reader(client, settings)
        self.settings = settings
        self.clock = clock
        self.runs = runs
        make_judge(settings.judge, **dict(settings.judge_settings))  # bad settings fail at start, not per call

    def answer(self, call: Call, now: float | None = None) -> Answer:
        """The judge's answer; raises ``BackendError`` when Prometheus cannot be read."""
        now = self.clock() if now is None else now
        if call.at is not None:
            now = min(now, call.at)
        start, source = call.start, "the call"
        if start is None and self.runs is not None:
            found = self.runs.start_of(call)
            if found is not None:
                start, source = found[0], f"analysis run {found[1]}"
        if start is None:
            start, source = self.reader.find_start(call, now), "the canary's first sample"
        body: dict[str, Any] = {
            "namespace": call.namespace,
            "canary": call.canary,
            "stable": call.stable,
            "judge": self.settings.judge,
            "rollout": call.rollout,
            "run": call.run,
            "start_from": source,
        }
        if start is None:
            reason = f"no samples of version {call.canary} in namespace {call.namespace} yet: still gathering"
            return Answer("continue", reason, {**body, "verdict": "continue", "reason": reason, "looks": 0})
        looks, grid = self.reader.looks(call, start, now)
        judge = make_judge(self.settings.judge, **dict(self.settings.judge_settings))
        decision: Decision = judge.decide(looks)
        verdict = decision.verdict.value
        totals = {
            role: {
                "requests": sum(getattr(look, role).requests for look in looks),
                "errors": sum(getattr(look, role).errors for look in looks),
            }
            for role in ("stable", "canary")
        }
        body.update(
            verdict=verdict,
            reason=decision.reason,
            start=start,
            through=grid[-1],
            step_s=self.settings.step_s,
            looks=len(looks),
            details=decision.details,
            totals=totals,
        )
        return Answer(verdict, decision.reason, body)


# --- HTTP ------------------------------------------------------------------------------------------------------

FLAGGER_STATUS = {"pass": 200, "continue": 200, "inconclusive": 409, "fail": 412}


def flagger_call(payload: Any) -> tuple[Call, str]:
    """Flagger's webhook body ``{name, namespace, phase, checksum, metadata}``; the versions come in metadata."""
    if not isinstance(payload, dict):
        raise UserError("Flagger's body must be a JSON object {name, namespace, phase, checksum, metadata}")
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise UserError("metadata must be an object of strings")
    params = {str(k): str(v) for k, v in metadata.items()}
    params.setdefault("namespace", str(payload.get("namespace") or ""))
    params.setdefault("rollout", str(payload.get("name") or ""))
    return Call.from_params(params), str(payload.get("phase") or "")


def make_handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "critterops-judge"

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = (json.dumps(body, sort_keys=True, allow_nan=False) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _params(self) -> tuple[str, dict[str, str], Any]:
            parts = urllib.parse.urlsplit(self.path)
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(parts.query).items()}
            payload: Any = None
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                raw = self.rfile.read(min(length, 1 << 20))
                try:
                    payload = json.loads(raw)
                except ValueError as exc:
                    raise UserError(f"the body is not JSON: {exc}") from exc
            return parts.path, params, payload

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            try:
                path, params, payload = self._params()
                if path in ("/healthz", "/readyz"):
                    self._send(200, {"status": "ok"})
                    return
                if path == "/v1/argo":
                    if isinstance(payload, dict):
                        params = {**{str(k): str(v) for k, v in payload.items()}, **params}
                    answer = provider.answer(Call.from_params(params))
                    log.info(
                        "%s/%s canary %s, %s looks from %s (%s): %s",
                        answer.body.get("namespace"),
                        answer.body.get("rollout"),
                        answer.body.get("canary"),
                        answer.body.get("looks"),
                        answer.body.get("start"),
                        answer.body.get("start_from"),
                        answer.reason,
                    )
                    self._send(200, answer.body)
                    return
                if path == "/v1/flagger":
                    call, phase = flagger_call(payload)
                    answer = provider.answer(call)
                    status = FLAGGER_STATUS[answer.verdict]
                    if params.get("gate") == "promotion" and answer.verdict == "continue":
                        status = 425  # confirm-promotion: wait for the judge's proof
                    self._send(status, {**answer.body, "phase": phase})
                    return
                self._send(404, {"error": f"no such path {path}; use /v1/argo, /v1/flagger or /healthz"})
            except UserError as exc:
                self._send(400, {"error": str(exc)})
            except BackendError as exc:
                log.warning("cannot answer: %s", exc)
                self._send(503, {"error": str(exc)})
            except ValueError as exc:  # looks the judge refuses (a Prometheus answer out of order)
                self._send(500, {"error": f"the judge could not decide: {exc}"})

    return Handler


def bind(provider: Provider, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(provider))
    server.daemon_threads = True
    return server


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    thread.start()
    return thread


__all__ = ["Answer", "Call", "Provider", "Reader", "Settings", "Verdict", "bind", "interval_deltas"]
