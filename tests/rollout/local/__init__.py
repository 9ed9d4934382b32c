"""Helpers for the local backend's tests: real processes on loopback, and checks that none is left."""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from critterops.rollout.local.processes import pid_alive

requires_haproxy = pytest.mark.skipif(
    shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
    reason="HAProxy is not installed (apt-get install -y --no-install-recommends haproxy socat)",
)


def demo_argv(version: str, *extra: str, latency_ms: float = 0.0) -> list[str]:
    """argv for the bundled demo app (it takes its port from $PORT, which VersionProcess sets)."""
    return [
        sys.executable,
        "-m",
        "critterops.rollout.demo_app",
        "--version",
        version,
        "--latency-ms",
        str(latency_ms),
        "--jitter-ms",
        "0",
        *extra,
    ]


def live_pids(*pgrep_args: str) -> list[int]:
    """``pgrep <args>``, without zombies (PID 1 here reaps nothing, so killed daemons linger as zombies)."""
    result = subprocess.run(["pgrep", *pgrep_args], capture_output=True, text=True, check=False)
    return [pid for pid in (int(p) for p in result.stdout.split()) if pid_alive(pid)]


@contextmanager
def short_tmpdir() -> Iterator[Path]:
    """A directory with a short path (a Unix socket path must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="crit-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


class Client:
    """One keep-alive HTTP connection to 127.0.0.1:<port>."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)

    def get(self, path: str = "/api/orders", method: str = "GET") -> tuple[int, str | None]:
        try:
            self.conn.request(method, path)
            response = self.conn.getresponse()
            response.read()
            return response.status, response.getheader("X-Version")
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            return 0, None

    def close(self) -> None:
        self.conn.close()
