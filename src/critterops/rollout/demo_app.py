"""A stand-in "orders-api" for demos and tests: tiny, deterministic, and honest about its version.

``python -m critterops.rollout.demo_app --port 8081 --version 1.4.0 --error-rate 0.0 --latency-ms 40``

- ``GET /health`` → 200 ``{"status": "ok", "version": ...}`` (never slow, never failing);
- ``GET|POST|PUT|PATCH|DELETE /api/orders...`` → JSON with the version, after a log-normal delay
  (median ``--latency-ms``, spread ``--jitter-ms``); 500 at ``--error-rate``;
- every response carries ``X-Version``; ``--crash-after-s N`` exits with status 70 after N seconds.

Listens on 127.0.0.1 only; ``--port`` defaults to ``$PORT``. ``--seed`` makes the error and latency
draws reproducible (in request order).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CRASH_STATUS = 70


class Behaviour:
    """Error and latency draws, shared by the request threads."""

    def __init__(self, version: str, error_rate: float, latency_ms: float, jitter_ms: float, seed: int | None) -> None:
        self.version = version
        self.error_rate = error_rate
        self.latency_ms = latency_ms
        self.sigma = math.sqrt(math.log1p((jitter_ms / latency_ms) ** 2)) if latency_ms > 0 and jitter_ms > 0 else 0.0
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.served = 0

    def draw(self) -> tuple[bool, float]:
        """(fail?, delay in seconds) for the next request."""
        with self._lock:
            self.served += 1
            fail = self._rng.random() < self.error_rate
            if self.latency_ms <= 0:
                return fail, 0.0
            delay_ms = self.latency_ms * math.exp(self._rng.gauss(0.0, self.sigma)) if self.sigma else self.latency_ms
            return fail, delay_ms / 1000.0


def make_handler(behaviour: Behaviour) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "orders-api-demo"

        def log_message(self, format: str, *args: object) -> None:
            pass  # no access log: thousands of lines per rollout help nobody

        def _reply(self, status: int, payload: dict[str, object]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Version", behaviour.version)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            if path in ("/health", "/healthz"):
                self._reply(200, {"status": "ok", "version": behaviour.version})
                return
            if not (path == "/api/orders" or path.startswith("/api/orders/")):
                self._reply(404, {"error": "not found", "path": path, "version": behaviour.version})
                return
            fail, delay = behaviour.draw()
            if delay:
                time.sleep(delay)
            if fail:
                self._reply(500, {"error": "injected failure", "version": behaviour.version})
                return
            status = 201 if self.command == "POST" else 200
            self._reply(status, {"version": behaviour.version, "method": self.command, "path": path, "ok": True})

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    return Handler


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m critterops.rollout.demo_app", description=__doc__.split("\n")[0])
    default_port = os.environ.get("PORT")
    parser.add_argument("--port", type=int, default=int(default_port) if default_port else None)
    parser.add_argument("--version", default="1.0.0")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--jitter-ms", type=float, default=15.0)
    parser.add_argument("--crash-after-s", type=float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    if args.port is None:
        parser.error("--port is required (or set PORT)")
    if not 0.0 <= args.error_rate <= 1.0:
        parser.error("--error-rate must be between 0 and 1")
    if args.latency_ms < 0 or args.jitter_ms < 0:
        parser.error("--latency-ms and --jitter-ms must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    behaviour = Behaviour(args.version, args.error_rate, args.latency_ms, args.jitter_ms, args.seed)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(behaviour))
    server.daemon_threads = True
    if args.crash_after_s is not None:

        def crash() -> None:
            print(f"orders-api {args.version}: crashing on purpose after {args.crash_after_s:g}s", flush=True)
            os._exit(CRASH_STATUS)

        timer = threading.Timer(args.crash_after_s, crash)
        timer.daemon = True
        timer.start()
    print(f"orders-api {args.version} listening on http://127.0.0.1:{args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
