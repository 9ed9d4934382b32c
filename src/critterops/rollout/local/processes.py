"""Version processes: one running copy of the service per version, on a free loopback port.

A :class:`VersionProcess` starts the user's command (a shell string run with ``/bin/sh -c``, or an
argv list) in its own process group, tells it its port through ``PORT`` and
``ASPNETCORE_URLS=http://127.0.0.1:<port>`` (so ``dotnet run`` listens where HAProxy will look),
sends its output to ``<state_dir>/<name>.log``, and stops the whole group: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from critterops.errors import BackendError, UserError

LOOPBACK = "127.0.0.1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def check_name(name: str, what: str = "version name") -> str:
    """Names end up in file names and HAProxy server names: letters, digits, ``_ . -`` only."""
    if not _NAME.match(name):
        raise UserError(
            f"invalid {what} {name!r}: use 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )
    return name


def http_status(port: int, path: str = "/", timeout: float = 1.0, method: str = "GET") -> int | None:
    """The status of one request to ``127.0.0.1:<port><path>``, or None when nothing answers.

    Uses :mod:`http.client` directly so that no ``http_proxy`` setting can divert loopback traffic.
    """
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, headers={"Connection": "close"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error messages."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    """True if ``pid`` is a running process (a zombie, which nobody reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # no /proc: trust kill(0)
    # The state follows the parenthesised command name, which may itself contain ") ".
    state = stat[stat.rfind(")") + 2 :][:1]
    return state not in ("Z", "X", "")


class VersionProcess:
    """One version of the service, running as a process group on a loopback port.

    ``command`` is either a shell string (the user's own command line, run with ``/bin/sh -c``;
    nothing is interpolated into it) or an argv list (run directly).
    """

    def __init__(
        self,
        name: str,
        command: str | Sequence[str],
        state_dir: Path,
        *,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = check_name(name)
        if isinstance(command, str):
            if not command.strip():
                raise UserError(f"the command for version {name!r} is empty")
            self.argv: list[str] = ["/bin/sh", "-c", command]
        else:
            if not command:
                raise UserError(f"the command for version {name!r} is empty")
            self.argv = [str(part) for part in command]
        self.command = command
        self.state_dir = state_dir
        self.port = port if port is not None else free_port()
        self.extra_env = dict(env or {})
        self.cwd = cwd
        self.log_path = state_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> VersionProcess:
        """Start the command; returns self. Raises BackendError if it cannot be started at all."""
        if self._proc is not None:
            raise BackendError(f"version {self.name!r} was already started (pid {self._proc.pid})")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.extra_env,
            "PORT": str(self.port),
            "ASPNETCORE_URLS": f"http://{LOOPBACK}:{self.port}",
        }
        log = self.log_path.open("ab")
        try:
            self._proc = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,  # its own session and process group: stop() reaches every child
            )
        except OSError as exc:
            raise BackendError(f"cannot start version {self.name!r} ({self.argv[0]}): {exc}") from exc
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def pgid(self) -> int | None:
        """The process group id: the same as the pid, because the process leads its own session."""
        return self.pid

    @property
    def exit_code(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal), else None."""
        if self._proc is None:
            return None
        return self._proc.poll()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_healthy(self, path: str = "/health", timeout: float = 30.0, interval: float = 0.1) -> float:
        """Poll ``GET http://127.0.0.1:<port><path>`` until it answers 2xx or 3xx; return the seconds it took.

        Raises BackendError, with the end of the log, if the process exits first or ``timeout`` passes.
        """
        if self._proc is None:
            raise BackendError(f"version {self.name!r} was never started")
        if not path.startswith("/"):
            raise UserError(f"health path {path!r} must start with '/'")
        started = time.monotonic()
        deadline = started + timeout
        last: int | None = None
        while True:
            code = self.exit_code
            if code is not None:
                raise BackendError(
                    f"version {self.name!r} exited with status {code} before it became healthy "
                    f"(log {self.log_path}):\n{tail(self.log_path)}"
                )
            last = http_status(self.port, path, timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            if last is not None and 200 <= last < 400:
                return time.monotonic() - started
            if time.monotonic() >= deadline:
                seen = "nothing listening" if last is None else f"last status {last}"
                raise BackendError(
                    f"version {self.name!r} did not become healthy on http://{LOOPBACK}:{self.port}{path} "
                    f"within {timeout:g}s ({seen}; log {self.log_path}):\n{tail(self.log_path)}"
                )
            time.sleep(interval)

    def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM to the whole process group, SIGKILL after ``grace`` seconds; returns the exit status."""
        proc = self._proc
        if proc is None or self._stopped:
            return self.exit_code
        self._stopped = True
        pgid = proc.pid
        self._signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self._signal_group(pgid, signal.SIGKILL)
            proc.wait(timeout=5.0)
        # The leader is gone; children that ignored SIGTERM may still hold the group.
        if self._group_alive(pgid):
            deadline = time.monotonic() + grace
            while self._group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            self._signal_group(pgid, signal.SIGKILL)
        return proc.returncode

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    @staticmethod
    def _group_alive(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return any(pid_alive(pid) for pid in group_members(pgid))

    def __enter__(self) -> VersionProcess:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self._proc is None else ("running" if self.alive() else f"exited {self.exit_code}")
        return f"VersionProcess({self.name!r}, port={self.port}, pid={self.pid}, {state})"


def group_members(pgid: int) -> list[int]:
    """The pids in process group ``pgid`` (from /proc; empty where there is no /proc)."""
    members: list[int] = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        # fields: state, ppid, pgrp, ...
        if len(fields) > 2 and fields[2] == str(pgid):
            members.append(int(entry.name))
    return members
