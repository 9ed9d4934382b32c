#!/usr/bin/env python3
"""Start and stop the PostgreSQL and RabbitMQ servers the tests and benchmarks use, on loopback only.

    python scripts/servers.py start      # idempotent: starts what is not running, prints the env to use
    python scripts/servers.py stop       # stops both by PID and checks nothing is left
    python scripts/servers.py status
    python scripts/servers.py env        # shell exports: CRITTEROPS_TEST_PG_DSN, CRITTEROPS_TEST_RABBITMQ_*

All state lives in one scratch folder (``$CRITTEROPS_SERVERS_DIR``, default ``/tmp/critterops-servers``).
PostgreSQL 15 (Debian ``postgresql``) runs as the ``postgres`` user on 127.0.0.1:15432; RabbitMQ
(Debian ``rabbitmq-server``) runs detached with AMQP on 127.0.0.1:15672, the management API on
127.0.0.1:15673 and the ``rabbitmq_prometheus`` endpoint on 127.0.0.1:15692. Ports can be moved
with ``CRITTEROPS_PG_PORT``, ``CRITTEROPS_RMQ_AMQP_PORT``, ``CRITTEROPS_RMQ_MGMT_PORT`` and
``CRITTEROPS_RMQ_PROM_PORT``. Exit codes: 0 done, 2 a server could not be started or stopped.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("CRITTEROPS_SERVERS_DIR", "/tmp/critterops-servers"))
PG_PORT = int(os.environ.get("CRITTEROPS_PG_PORT", "15432"))
AMQP_PORT = int(os.environ.get("CRITTEROPS_RMQ_AMQP_PORT", "15672"))
MGMT_PORT = int(os.environ.get("CRITTEROPS_RMQ_MGMT_PORT", "15673"))
PROM_PORT = int(os.environ.get("CRITTEROPS_RMQ_PROM_PORT", "15692"))
DIST_PORT = int(os.environ.get("CRITTEROPS_RMQ_DIST_PORT", "25673"))
EPMD_PORT = int(os.environ.get("CRITTEROPS_RMQ_EPMD_PORT", "4370"))
HOST = "127.0.0.1"
RMQ_BIN = Path("/usr/lib/rabbitmq/bin")


class ServerError(Exception):
    pass


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise ServerError("PostgreSQL is not installed: apt-get install -y postgresql")
    return Path(found[-1]).parent


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((HOST, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # PID 1 may not reap: a zombie is dead


def _run(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


# --- PostgreSQL --------------------------------------------------------------------------------------------------


def _pg_dir() -> Path:
    return ROOT / "pg"


def pg_pid() -> int | None:
    pidfile = _pg_dir() / "data" / "postmaster.pid"
    try:
        pid = int(pidfile.read_text(encoding="ascii").splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def pg_start() -> None:
    if pg_pid() is not None and port_open(PG_PORT):
        return
    bin_dir = _pg_bin()
    folder = _pg_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.chown(folder, "postgres")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if not (folder / "data" / "PG_VERSION").exists():
        shutil.rmtree(folder / "data", ignore_errors=True)
        done = _run(
            [*as_pg, str(bin_dir / "initdb"), "-D", str(folder / "data"), "-A", "trust", "-U", "postgres", "--no-sync"]
        )
        if done.returncode != 0:
            raise ServerError(f"initdb failed: {done.stderr.strip()[-500:]}")
    (folder / "data" / "postmaster.pid").unlink(missing_ok=True)  # stale after a crash
    options = f"-c listen_addresses={HOST} -p {PG_PORT} -k {folder} -c fsync=off -c max_connections=200"
    done = _run(
        [
            *as_pg,
            str(bin_dir / "pg_ctl"),
            "-D",
            str(folder / "data"),
            "-l",
            str(folder / "log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ]
    )
    if done.returncode != 0:
        log = (folder / "log").read_text(errors="replace")[-800:] if (folder / "log").exists() else ""
        raise ServerError(f"PostgreSQL did not start on {HOST}:{PG_PORT}: {done.stderr.strip()} {log}")


def pg_stop() -> None:
    pid = pg_pid()
    if pid is None:
        return
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    _run([*as_pg, str(_pg_bin() / "pg_ctl"), "-D", str(_pg_dir() / "data"), "-m", "fast", "-w", "stop"])
    _wait_dead([pid], "PostgreSQL")


# --- RabbitMQ ----------------------------------------------------------------------------------------------------


def _rmq_dir() -> Path:
    return ROOT / "rmq"


def _rmq_env() -> dict[str, str]:
    folder = _rmq_dir()
    return {
        **os.environ,
        "HOME": str(folder / "home"),
        "RABBITMQ_NODENAME": "rabbit@localhost",
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(folder / "rabbit.pid"),
        "RABBITMQ_DIST_PORT": str(DIST_PORT),
        "ERL_EPMD_ADDRESS": HOST,
        "ERL_EPMD_PORT": str(EPMD_PORT),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


RMQ_CONF = """\
listeners.tcp.default = {host}:{amqp}
management.tcp.ip = {host}
management.tcp.port = {mgmt}
prometheus.tcp.ip = {host}
prometheus.tcp.port = {prom}
collect_statistics_interval = 1000
loopback_users = none
"""


def rmq_pids() -> list[int]:
    pids: list[int] = []
    try:
        pids.append(int((_rmq_dir() / "rabbit.pid").read_text(encoding="ascii").strip()))
    except (OSError, ValueError):
        pass
    for name in ("beam.smp", "epmd"):
        found = _run(["pgrep", "-f", f"{name}.*{_rmq_dir()}|{name}.*-port {EPMD_PORT}|{name} .*{EPMD_PORT}"])
        pids += [int(p) for p in found.stdout.split()]
    epmd = _run(["pgrep", "-x", "epmd"])
    for pid in (int(p) for p in epmd.stdout.split()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"ERL_EPMD_PORT={EPMD_PORT}".encode() in environ:
            pids.append(pid)
    return sorted({p for p in pids if pid_alive(p)})


def rmq_start() -> None:
    if shutil.which("rabbitmq-server") is None and not (RMQ_BIN / "rabbitmq-server").exists():
        raise ServerError("RabbitMQ is not installed: apt-get install -y --no-install-recommends rabbitmq-server")
    env = _rmq_env()
    if port_open(AMQP_PORT) and port_open(MGMT_PORT) and _rmq_ctl(["await_startup", "--timeout", "5"], env) == 0:
        return
    folder = _rmq_dir()
    for sub in ("home", "mnesia", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "rabbitmq.conf").write_text(
        RMQ_CONF.format(host=HOST, amqp=AMQP_PORT, mgmt=MGMT_PORT, prom=PROM_PORT), encoding="ascii"
    )
    done = _run(
        [str(RMQ_BIN / "rabbitmq-plugins"), "enable", "--offline", "rabbitmq_management", "rabbitmq_prometheus"], env
    )
    if done.returncode != 0:
        raise ServerError(f"rabbitmq-plugins failed: {done.stderr.strip()[-500:]}")
    done = _run([str(RMQ_BIN / "rabbitmq-server"), "-detached"], env)
    if done.returncode != 0:
        raise ServerError(f"rabbitmq-server -detached failed: {done.stderr.strip()[-500:]}")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if _rmq_ctl(["await_startup", "--timeout", "60"], env) == 0 and port_open(MGMT_PORT):
            return
        time.sleep(0.5)
    raise ServerError(f"RabbitMQ did not start within 90 s; see {folder / 'log'}")


def _rmq_ctl(args: list[str], env: dict[str, str]) -> int:
    try:
        return _run([str(RMQ_BIN / "rabbitmqctl"), *args], env, timeout=90).returncode
    except subprocess.TimeoutExpired:
        return 124


def rmq_stop() -> None:
    pids = rmq_pids()
    if not pids:
        return
    _rmq_ctl(["stop"], _rmq_env())
    for pid in rmq_pids():  # epmd outlives the node
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    _wait_dead(pids, "RabbitMQ")


def _wait_dead(pids: list[int], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    left = [p for p in pids if pid_alive(p)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    if any(pid_alive(p) for p in left):
        raise ServerError(f"{what} processes {left} did not stop")


# --- command line ------------------------------------------------------------------------------------------------


def env_lines() -> list[str]:
    return [
        f"export CRITTEROPS_TEST_PG_DSN='host={HOST} port={PG_PORT} user=postgres dbname=postgres'",
        f"export CRITTEROPS_TEST_RABBITMQ_AMQP_PORT={AMQP_PORT}",
        f"export CRITTEROPS_TEST_RABBITMQ_MANAGEMENT=http://{HOST}:{MGMT_PORT}",
        f"export CRITTEROPS_TEST_RABBITMQ_PROMETHEUS=http://{HOST}:{PROM_PORT}",
    ]


def status() -> dict[str, bool]:
    return {
        "postgres": pg_pid() is not None and port_open(PG_PORT),
        "rabbitmq": port_open(AMQP_PORT) and port_open(MGMT_PORT),
    }


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    which = argv[2:] or ["postgres", "rabbitmq"]
    try:
        if command == "start":
            started = time.monotonic()
            if "postgres" in which:
                pg_start()
            if "rabbitmq" in which:
                rmq_start()
            print(f"# servers up in {time.monotonic() - started:.1f} s ({', '.join(which)})", file=sys.stderr)
            print("\n".join(env_lines()))
        elif command == "stop":
            if "rabbitmq" in which:
                rmq_stop()
            if "postgres" in which:
                pg_stop()
        elif command == "status":
            for name, up in status().items():
                print(f"{name}: {'up' if up else 'down'}")
        elif command == "env":
            print("\n".join(env_lines()))
        else:
            print(f"usage: {argv[0]} start|stop|status|env [postgres] [rabbitmq]", file=sys.stderr)
            return 2
    except (ServerError, subprocess.TimeoutExpired, OSError) as error:
        print(f"servers: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
