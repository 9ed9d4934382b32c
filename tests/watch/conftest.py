"""Real PostgreSQL and RabbitMQ on loopback for the watch tests, started by ``scripts/servers.py``.

If ``.ci/run`` (or you) started them already, they are reused and left running; otherwise the session
starts them and stops them at the end. Each test gets its own database (``pg_database``) or its own
queue names (``rabbit`` + ``unique``), so tests never see each other's rows or queues.
"""

from __future__ import annotations

import importlib.util
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _servers() -> ModuleType:
    spec = importlib.util.spec_from_file_location("critterops_servers", ROOT / "scripts" / "servers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SERVERS = _servers()


@dataclass(frozen=True)
class Rabbit:
    amqp_port: int
    management_url: str
    prometheus_url: str
    user: str = "guest"
    password: str = "guest"


def _ensure(name: str) -> Iterator[None]:
    was_up = SERVERS.status()[name]
    if not was_up:
        try:
            (SERVERS.pg_start if name == "postgres" else SERVERS.rmq_start)()
        except SERVERS.ServerError as error:
            if "is not installed" in str(error):  # like promtool: .ci/run installs it, a bare checkout may not
                pytest.skip(str(error))
            pytest.fail(f"{name} could not be started by scripts/servers.py: {error}")
    yield
    if not was_up and not os.environ.get("CRITTEROPS_KEEP_SERVERS"):
        (SERVERS.pg_stop if name == "postgres" else SERVERS.rmq_stop)()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[None]:
    """A libpq connection string for the ``postgres`` database of the test server (trust auth)."""
    yield from _ensure("postgres")


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: None) -> str:
    return f"host={SERVERS.HOST} port={SERVERS.PG_PORT} user=postgres dbname=postgres"


@pytest.fixture
def pg_database(postgres_dsn: str) -> Iterator[str]:
    """A fresh database for one test; the connection string to it. Dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"host={SERVERS.HOST} port={SERVERS.PG_PORT} user=postgres dbname={name}"
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def rabbit_server() -> Iterator[None]:
    yield from _ensure("rabbitmq")


@pytest.fixture(scope="session")
def rabbit(rabbit_server: None) -> Rabbit:
    return Rabbit(
        amqp_port=SERVERS.AMQP_PORT,
        management_url=f"http://{SERVERS.HOST}:{SERVERS.MGMT_PORT}",
        prometheus_url=f"http://{SERVERS.HOST}:{SERVERS.PROM_PORT}",
    )


@pytest.fixture
def unique() -> str:
    """A short random suffix for queue and schema names."""
    return uuid.uuid4().hex[:8]
