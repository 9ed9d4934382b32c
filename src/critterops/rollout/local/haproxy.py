"""HAProxy on loopback, driven through its admin socket: the local backend's traffic router.

One frontend on ``127.0.0.1:<listen_port>``, one ``roundrobin`` backend with a server per version.
Weights are absolute (0-256) and change at run time with ``set weight`` over the admin socket
(``<state_dir>/haproxy.sock``); ``show stat`` gives per-server counters. HAProxy runs as a daemon
(``-D``), so it outlives the command that started it and a later command finds it again through
its pid file.

Gotchas (reference validators.md §8): ``set weight b/s 50%`` is relative to the *initial* weight
(so 0 stays 0): only absolute weights are used here. One command per socket connection, read to EOF.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from critterops.errors import BackendError, UserError
from critterops.rollout.local.processes import LOOPBACK, check_name, pid_alive

MAX_WEIGHT = 256
INSTALL_HINT = "install it with `apt-get install -y --no-install-recommends haproxy socat` (Debian/Ubuntu)"
_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes including the NUL


@dataclass(frozen=True, slots=True)
class ServerStats:
    """One server's line of ``show stat`` (counters are cumulative since HAProxy started)."""

    name: str
    status: str  # UP, DOWN, MAINT, "UP 1/2", "no check", ...
    check_status: str  # L7OK, L4CON, ... ("" without checks)
    weight: int
    scur: int  # current sessions
    stot: int  # cumulative sessions: one per request, plus one per connect retry
    lbtot: int  # times the load balancer picked this server: the requests routed to it
    req_tot: int  # HTTP responses received from this server
    wretr: int  # connect retries (each also counts in stot)
    hrsp_1xx: int
    hrsp_2xx: int
    hrsp_3xx: int
    hrsp_4xx: int
    hrsp_5xx: int
    hrsp_other: int
    econ: int  # connection errors (the server refused or did not answer the connect)
    eresp: int  # response errors (the server closed or timed out mid-response)
    rtime: int  # average response time, ms, over the last 1024 requests (0 when none)
    qtime: int  # average queue time, ms, over the last 1024 requests
    ttime: int  # average total session time, ms, over the last 1024 requests

    @property
    def up(self) -> bool:
        return self.status.startswith("UP") or self.status == "no check"

    @property
    def requests(self) -> int:
        """Requests routed to this server (``lbtot``; ``stot`` would count a refused request once per retry)."""
        return self.lbtot

    @property
    def errors(self) -> int:
        """Requests this server failed: its 5xx answers, plus connects and responses that broke.

        A refused connection is answered 503 by HAProxy itself and never shows in the server's
        ``hrsp_5xx``, only in ``econ``.
        """
        return self.hrsp_5xx + self.econ + self.eresp


def _int(row: Mapping[str, str | None], key: str) -> int:
    value = (row.get(key) or "").strip()
    try:
        return int(value)
    except ValueError:
        return 0


def parse_show_stat(text: str) -> list[dict[str, str]]:
    """``show stat`` CSV → rows. The header line starts with ``# ``; trailing empty lines are ignored."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise BackendError(f"unexpected reply to `show stat` from HAProxy: {text[:200]!r}")
    body = "\n".join([lines[0][2:], *[line for line in lines[1:] if line.strip()]])
    return [{k: (v or "") for k, v in row.items() if k} for row in csv.DictReader(io.StringIO(body))]


def server_stats(row: Mapping[str, str]) -> ServerStats:
    return ServerStats(
        name=row.get("svname", ""),
        status=row.get("status", ""),
        check_status=row.get("check_status", ""),
        weight=_int(row, "weight"),
        scur=_int(row, "scur"),
        stot=_int(row, "stot"),
        lbtot=_int(row, "lbtot"),
        req_tot=_int(row, "req_tot"),
        wretr=_int(row, "wretr"),
        hrsp_1xx=_int(row, "hrsp_1xx"),
        hrsp_2xx=_int(row, "hrsp_2xx"),
        hrsp_3xx=_int(row, "hrsp_3xx"),
        hrsp_4xx=_int(row, "hrsp_4xx"),
        hrsp_5xx=_int(row, "hrsp_5xx"),
        hrsp_other=_int(row, "hrsp_other"),
        econ=_int(row, "econ"),
        eresp=_int(row, "eresp"),
        rtime=_int(row, "rtime"),
        qtime=_int(row, "qtime"),
        ttime=_int(row, "ttime"),
    )


def render_config(
    *,
    socket_path: Path,
    pid_path: Path,
    backend: str,
    servers: Mapping[str, int],
    weights: Mapping[str, int],
    listen_port: int,
    health_path: str | None,
) -> str:
    """The whole ``haproxy.cfg``: loopback only, admin socket, one roundrobin backend."""
    lines = [
        "# Written by critterops (local rollout backend). Changes at run time go through the admin socket.",
        "global",
        f"    stats socket {socket_path} mode 600 level admin",
        f"    pidfile {pid_path}",
        "    maxconn 2048",
        "",
        "defaults",
        "    mode http",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    timeout check 2s",
        "",
        "frontend fe",
        f"    bind {LOOPBACK}:{listen_port}",
        f"    default_backend {backend}",
        "",
        f"backend {backend}",
        "    balance roundrobin",
    ]
    if health_path is not None:
        lines.append(f"    option httpchk GET {health_path}")
    for name, port in servers.items():
        lines.append(f"    server {name} {LOOPBACK}:{port} weight {weights[name]} check inter 1s fall 2 rise 1")
    return "\n".join(lines) + "\n"


class HAProxy:
    """One HAProxy daemon whose files live in a state directory.

    ``HAProxy().start(state_dir, backend, servers, weights, listen_port)`` starts one;
    ``HAProxy(state_dir)`` in another process drives the one started there earlier: the pid file,
    admin socket and ``haproxy.cfg`` are all it needs.
    """

    def __init__(self, state_dir: Path | None = None, backend: str | None = None, *, binary: str | None = None) -> None:
        self._state_dir = state_dir
        self._backend = check_name(backend, "HAProxy backend name") if backend is not None else None
        self._binary = binary
        self.servers: dict[str, int] = {}
        self.listen_port: int | None = None
        self.health_path: str | None = "/health"
        if state_dir is not None and self.config_path.exists():
            with contextlib.suppress(BackendError):
                self._load_config()

    @property
    def state_dir(self) -> Path:
        if self._state_dir is None:
            raise BackendError("HAProxy has no state directory: start() it first")
        return self._state_dir

    @property
    def backend(self) -> str:
        if self._backend is None:
            raise BackendError("HAProxy has no backend: start() it first")
        return self._backend

    # --- files --------------------------------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        return self.state_dir / "haproxy.cfg"

    @property
    def socket_path(self) -> Path:
        return self.state_dir / "haproxy.sock"

    @property
    def pid_path(self) -> Path:
        return self.state_dir / "haproxy.pid"

    @property
    def log_path(self) -> Path:
        return self.state_dir / "haproxy.log"

    @property
    def url(self) -> str:
        if self.listen_port is None:
            raise BackendError("HAProxy has not been started")
        return f"http://{LOOPBACK}:{self.listen_port}"

    @staticmethod
    def find() -> str:
        """The path of the ``haproxy`` binary, or BackendError saying how to install it."""
        for candidate in (shutil.which("haproxy"), "/usr/sbin/haproxy", "/usr/local/sbin/haproxy"):
            if candidate and os.access(candidate, os.X_OK):
                return candidate
        raise BackendError(
            f"HAProxy is not installed (the local rollout backend routes traffic with it): {INSTALL_HINT}"
        )

    @property
    def binary(self) -> str:
        if self._binary is None:
            self._binary = self.find()
        return self._binary

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(
        self,
        state_dir: Path,
        backend: str,
        servers: Mapping[str, int],
        weights: Mapping[str, int],
        listen_port: int,
        *,
        health_path: str | None = "/health",
        timeout: float = 5.0,
    ) -> None:
        """Write, validate (``haproxy -c``) and start the configuration; return once the admin socket answers."""
        if self._state_dir is not None and self._state_dir != state_dir and self.alive():
            raise BackendError(f"this HAProxy already runs from {self._state_dir}; stop it first")
        self._state_dir = state_dir
        self._backend = check_name(backend, "HAProxy backend name")
        if not servers:
            raise UserError("HAProxy needs at least one server")
        for name, port in servers.items():
            check_name(name, "server name")
            if not 0 < port < 65536:
                raise UserError(f"invalid port {port} for server {name!r}")
        unknown = sorted(set(weights) - set(servers))
        if unknown:
            raise UserError(f"weights given for unknown servers: {', '.join(unknown)} (servers: {', '.join(servers)})")
        full = {name: weights.get(name, 0) for name in servers}
        for name, weight in full.items():
            _check_weight(name, weight)
        if health_path is not None and (not health_path.startswith("/") or any(c.isspace() for c in health_path)):
            raise UserError(f"health path {health_path!r} must start with '/' and contain no spaces")
        if not 0 < listen_port < 65536:
            raise UserError(f"invalid listen port {listen_port}")
        if len(str(self.socket_path.absolute())) > _SUN_PATH_MAX:
            raise BackendError(
                f"the state directory path is too long for a Unix socket ({self.socket_path}); use a shorter one"
            )
        if self.alive():
            raise BackendError(f"HAProxy is already running from {self.state_dir} (pid {self.pid()}); stop it first")

        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.servers = dict(servers)
        self.listen_port = listen_port
        self.health_path = health_path
        for stale in (self.socket_path, self.pid_path):
            stale.unlink(missing_ok=True)
        self.config_path.write_text(
            render_config(
                socket_path=self.socket_path.absolute(),
                pid_path=self.pid_path.absolute(),
                backend=self.backend,
                servers=self.servers,
                weights=full,
                listen_port=listen_port,
                health_path=health_path,
            ),
            encoding="utf-8",
        )
        self.validate()
        result = subprocess.run(
            [self.binary, "-D", "-f", str(self.config_path), "-p", str(self.pid_path)],
            capture_output=True,
            text=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        self.log_path.write_text(result.stdout + result.stderr, encoding="utf-8")
        if result.returncode != 0:
            raise BackendError(
                f"HAProxy failed to start (exit {result.returncode}; is port {listen_port} free?):\n"
                f"{(result.stderr or result.stdout).strip()}"
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is not None and self.socket_path.exists():
                with contextlib.suppress(BackendError):
                    self.command("show info")
                    return
            time.sleep(0.02)
        self.stop()
        raise BackendError(
            f"HAProxy started but its admin socket {self.socket_path} did not answer within {timeout:g}s"
        )

    def validate(self) -> None:
        """``haproxy -c -f haproxy.cfg``; BackendError with HAProxy's message if the configuration is invalid."""
        result = subprocess.run(
            [self.binary, "-c", "-f", str(self.config_path)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise BackendError(
                f"HAProxy rejected {self.config_path} (haproxy -c, exit {result.returncode}):\n"
                f"{(result.stderr or result.stdout).strip()}"
            )

    def pid(self) -> int | None:
        if self._state_dir is None:
            return None
        try:
            return int(self.pid_path.read_text(encoding="utf-8").split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def alive(self) -> bool:
        """True if the daemon in the pid file is running (not a zombie) and its admin socket answers."""
        pid = self.pid()
        if pid is None or not pid_alive(pid):
            return False
        try:
            self.command("show info", timeout=1.0)
        except BackendError:
            return False
        return True

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the daemon (by its pid file) and wait for it to end; SIGKILL after ``timeout``."""
        if self._state_dir is None:
            return
        pid = self.pid()
        if pid is not None and pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 2.0
                while pid_alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.02)
        for stale in (self.socket_path, self.pid_path):
            stale.unlink(missing_ok=True)

    def restart_all_on(self, server: str, weight: int = 100, *, timeout: float = 5.0) -> None:
        """Bring HAProxy back with every request going to ``server`` (the others at weight 0).

        For recovery: if the proxy died mid-rollout, the safe state is all traffic on stable.
        Stops a running HAProxy first. Needs the servers and listen port of the earlier start
        (known to this object, or read back from ``haproxy.cfg``).
        """
        if not self.servers or self.listen_port is None:
            self._load_config()
        if server not in self.servers:
            raise UserError(f"unknown server {server!r} (servers: {', '.join(self.servers) or 'none'})")
        _check_weight(server, weight)
        if weight == 0:
            raise UserError("restart_all_on needs a weight above 0 for the server that takes all traffic")
        assert self.listen_port is not None
        self.stop(timeout=timeout)
        self.start(
            self.state_dir,
            self.backend,
            self.servers,
            {name: (weight if name == server else 0) for name in self.servers},
            self.listen_port,
            health_path=self.health_path,
            timeout=timeout,
        )

    def _load_config(self) -> None:
        """Recover servers, listen port and health path from the ``haproxy.cfg`` this class wrote."""
        try:
            text = self.config_path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BackendError(f"no HAProxy configuration to restore from ({self.config_path}): {exc}") from exc
        servers: dict[str, int] = {}
        for match in re.finditer(r"^\s*server (\S+) [\d.]+:(\d+) ", text, re.MULTILINE):
            servers[match.group(1)] = int(match.group(2))
        bind = re.search(r"^\s*bind [\d.]+:(\d+)", text, re.MULTILINE)
        if not servers or bind is None:
            raise BackendError(f"cannot read servers and listen port back from {self.config_path}")
        health = re.search(r"^\s*option httpchk GET (\S+)", text, re.MULTILINE)
        backend = re.search(r"^backend (\S+)", text, re.MULTILINE)
        if backend is None:
            raise BackendError(f"cannot read the backend name back from {self.config_path}")
        if self._backend is None:
            self._backend = backend.group(1)
        self.servers = servers
        self.listen_port = int(bind.group(1))
        self.health_path = health.group(1) if health else None

    # --- runtime API --------------------------------------------------------------------------------------------

    def command(self, line: str, timeout: float = 2.0) -> str:
        """Send one command over the admin socket (one connection per command) and return the reply."""
        if "\n" in line or ";" in line:
            raise UserError(f"one HAProxy command at a time, without ';' or newlines: {line!r}")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.socket_path))
                sock.sendall(line.encode() + b"\n")
                chunks: list[bytes] = []
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError as exc:
            raise BackendError(
                f"HAProxy admin socket {self.socket_path} did not answer {line.split()[0]!r}: {exc}"
            ) from exc
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _server_ref(self, server: str) -> str:
        if self.servers and server not in self.servers:
            raise UserError(f"unknown server {server!r} (servers: {', '.join(self.servers)})")
        check_name(server, "server name")
        return f"{self.backend}/{server}"

    def set_weight(self, server: str, weight: int) -> None:
        """Set an absolute weight (0-256) and check it with ``get weight``."""
        _check_weight(server, weight)
        ref = self._server_ref(server)
        reply = self.command(f"set weight {ref} {weight}").strip()
        if reply:
            raise BackendError(f"HAProxy refused `set weight {ref} {weight}`: {reply}")
        current = self.get_weight(server)
        if current != weight:
            raise BackendError(f"HAProxy reports weight {current} for {ref} after setting {weight}")

    def set_weights(self, weights: Mapping[str, int]) -> None:
        """Set several weights; raised weights go first, so no moment has every server at 0."""
        for name, weight in weights.items():
            _check_weight(name, weight)
        current = self.weights()
        for name in sorted(weights, key=lambda n: weights[n] <= current.get(n, 0)):
            self.set_weight(name, weights[name])

    def get_weight(self, server: str) -> int:
        ref = self._server_ref(server)
        reply = self.command(f"get weight {ref}").strip()
        match = re.match(r"^(\d+)", reply)
        if match is None:
            raise BackendError(f"unexpected reply to `get weight {ref}`: {reply!r}")
        return int(match.group(1))

    def weights(self) -> dict[str, int]:
        return {name: stats.weight for name, stats in self.stats().items()}

    def stats(self) -> dict[str, ServerStats]:
        """Per-server counters of the backend (``show stat <backend> 4 -1``: servers only)."""
        rows = parse_show_stat(self.command(f"show stat {self.backend} 4 -1"))
        found = {
            row["svname"]: server_stats(row)
            for row in rows
            if row.get("pxname") == self.backend and row.get("svname") not in ("BACKEND", "FRONTEND")
        }
        if not found:
            raise BackendError(f"HAProxy has no servers in backend {self.backend!r}")
        if not self.servers:
            self.servers = dict.fromkeys(found, 0)  # ports unknown: attached to a running HAProxy
        return found

    def disable(self, server: str) -> None:
        """Put a server in maintenance: no new requests, whatever its weight (blue/green switch)."""
        self._set_state(server, "maint")

    def enable(self, server: str) -> None:
        """Take a server out of maintenance (it takes traffic again once its health check passes)."""
        self._set_state(server, "ready")

    def _set_state(self, server: str, state: str) -> None:
        ref = self._server_ref(server)
        reply = self.command(f"set server {ref} state {state}").strip()
        if reply:
            raise BackendError(f"HAProxy refused `set server {ref} state {state}`: {reply}")


def _check_weight(server: str, weight: int) -> None:
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
        raise UserError(f"weight for {server!r} must be an integer from 0 to {MAX_WEIGHT} (absolute), not {weight!r}")
