"""The dev overlay's PostgreSQL and RabbitMQ, proven on this machine (the lab's KWOK nodes run no containers).

- The init script the kit mounts at ``/docker-entrypoint-initdb.d/`` runs through the real ``psql`` against
  the test PostgreSQL the way the image's entrypoint runs it, twice, and every database and schema of the
  model then exists, owned by the app user.
- The broker's generated ``enabled_plugins`` and ``conf.d`` file, its environment and its command start a
  real ``rabbitmq-server``: the management API and the Prometheus endpoint answer, the default user (not
  ``guest``) and vhost exist and AMQP accepts that user.
- The manifests keep the images' entrypoint contracts (docker-library/postgres 3a94d965
  ``16/bookworm/docker-entrypoint.sh``; docker-library/rabbitmq 15c35230 ``3.13/ubuntu/docker-entrypoint.sh``).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pika
import psycopg
import pytest
import yaml

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate.context import KitContext, system_name
from critterops.generate.infra import APP_USER, databases, dev_infrastructure, init_sql
from critterops.generate.kubernetes import kubernetes_files
from critterops.generate.observability import observability_files
from critterops.model import EfCoreConfig, Listen, MartenConfig, Service, System, WolverineConfig
from critterops.model.storage import durable_storage, message_schema
from critterops.plan.policy import default_policy
from critterops.watch.config import config_document
from tests.watch.conftest import SERVERS, postgres_server  # noqa: F401  (the fixture starts the test PostgreSQL)
from tests.watch.test_exporter_e2e import free_port

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))
RMQ_BIN = Path("/usr/lib/rabbitmq/bin")

# Variables the pinned rabbitmq entrypoint refuses to start with (3.13/ubuntu/docker-entrypoint.sh at
# docker-library/rabbitmq 15c35230, the deprecatedEnvVars array): the image's data, not the kit's.
IMAGE_REJECTS = (
    "RABBITMQ_DEFAULT_PASS_FILE",
    "RABBITMQ_DEFAULT_USER_FILE",
    "RABBITMQ_MANAGEMENT_SSL_CACERTFILE",
    "RABBITMQ_MANAGEMENT_SSL_CERTFILE",
    "RABBITMQ_MANAGEMENT_SSL_DEPTH",
    "RABBITMQ_MANAGEMENT_SSL_FAIL_IF_NO_PEER_CERT",
    "RABBITMQ_MANAGEMENT_SSL_KEYFILE",
    "RABBITMQ_MANAGEMENT_SSL_VERIFY",
    "RABBITMQ_SSL_CACERTFILE",
    "RABBITMQ_SSL_CERTFILE",
    "RABBITMQ_SSL_DEPTH",
    "RABBITMQ_SSL_FAIL_IF_NO_PEER_CERT",
    "RABBITMQ_SSL_KEYFILE",
    "RABBITMQ_SSL_VERIFY",
    "RABBITMQ_VM_MEMORY_HIGH_WATERMARK",
)
# What that entrypoint does for a non-root user (the kit runs it as UID 10001): refuse those, then exec.
ENTRYPOINT_AS_NON_ROOT = (
    "#!/usr/bin/env bash\nset -euo pipefail\nfor old in "
    + " ".join(IMAGE_REJECTS)
    + '; do\n  if [ -n "${!old:-}" ]; then echo >&2 "error: $old is set but deprecated"; exit 1; fi\ndone\n'
    + 'exec "$@"\n'
)


def context(system: System) -> KitContext:
    return KitContext(system, default_policy(), system_name(system), "ghcr.io/acme/app", "0123456789ab")


def dev_documents(system: System) -> dict[tuple[str, str], dict[str, Any]]:
    """The dev overlay's infrastructure.yaml as the kit writes it, by (kind, name)."""
    files = kubernetes_files(context(system))
    text = files.get("kubernetes/overlays/dev/infrastructure.yaml", "")
    return {(d["kind"], d["metadata"]["name"]): d for d in yaml.safe_load_all(text) if d}


def container(docs: dict[tuple[str, str], dict[str, Any]], name: str) -> dict[str, Any]:
    (only,) = docs[("StatefulSet", name)]["spec"]["template"]["spec"]["containers"]
    return dict(only)


def env_of(spec: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in spec.get("env", [])}


@pytest.fixture(scope="module")
def pawmart() -> System:
    return discover(example_path())


def service(name: str, **fields: Any) -> Service:
    return Service(name=name, project=f"src/{name}/{name}.csproj", bounded_context=name.split("-")[0], **fields)


def crittersupply_shaped() -> System:
    """CritterSupply's storage layout (docker-compose, appsettings, Program.cs at d31066ce) in small: a
    database per bounded context with a Marten schema of the same name, two contexts sharing the server's
    ``postgres`` database in schemas of their own, an EF Core context without a schema, a front end without
    PostgreSQL; plus a Wolverine store in a schema of its own and a worker whose connection string names no
    database (Npgsql then connects to the user's own)."""
    marten = MartenConfig(event_sourcing=True, integrates_with_wolverine=True)
    rabbit = ("postgres", "rabbitmq")
    return System(
        root="crittersupply-shaped",
        services=(
            service("orders-api", kind="api", uses=rabbit, database="orders", schema="orders", marten=marten,
                    wolverine=WolverineConfig(message_storage="marten", transports=("rabbitmq",)),
                    listens=(Listen("rabbitmq", "orders-payment-events"),)),
            service("payments-api", kind="api", uses=rabbit, database="payments", schema="payments",
                    wolverine=WolverineConfig(message_storage="postgresql", message_schema="payments_envelopes")),
            service("backoffice-api", kind="api", uses=rabbit, database="postgres", schema="backoffice", marten=marten),
            service("correspondence-api", kind="api", uses=rabbit, database="postgres", schema="correspondence",
                    marten=marten),
            service("customeridentity-api", kind="api", uses=("postgres",), database="customeridentity",
                    ef_core=EfCoreConfig(contexts=("CustomerIdentityDbContext",), provider="npgsql")),
            service("storefront-web", kind="web", uses=("rabbitmq",)),
            service("reminders-worker", kind="worker", uses=("postgres",), schema="reminders", marten=marten),
        ),
    )  # fmt: skip


CRITTERSUPPLY_SHAPED_STORAGE = {  # written out by hand: the oracle the generated script is checked against
    "orders": {"orders"},
    "payments": {"payments", "payments_envelopes"},
    "postgres": {"backoffice", "correspondence"},
    "customeridentity": set(),
    APP_USER: {"reminders"},
}


def test_databases_follow_the_model() -> None:
    found = {d.name: set(d.schemas) for d in databases(crittersupply_shaped())}
    assert found == CRITTERSUPPLY_SHAPED_STORAGE
    shared = next(d for d in databases(crittersupply_shaped()) if d.name == "postgres")
    assert shared.services == ("backoffice-api", "correspondence-api")


def test_names_that_cannot_be_quoted_are_reported_not_run() -> None:
    system = System(root=".", services=(service("odd-api", kind="api", uses=("postgres",), database="o'k=1"),))
    script = init_sql(system)
    assert "-- skipped: 1 name(s)" in script
    assert "CREATE DATABASE" not in script and "\\connect" not in script


# -- the entrypoint contracts, on the manifests ------------------------------------------------------------------


def test_postgres_follows_the_image_entrypoint(pawmart: System) -> None:
    docs = dev_documents(pawmart)
    pg = container(docs, "postgres")
    env = env_of(pg)
    mounts = {m["mountPath"]: m for m in pg["volumeMounts"]}
    assert env["POSTGRES_USER"] == APP_USER and env["POSTGRES_DB"] == APP_USER
    secret_file = Path(env["POSTGRES_PASSWORD_FILE"])
    assert any(secret_file.parent == Path(p) for p in mounts), "the password file is in a mounted Secret"
    # PGDATA is a subdirectory of the volume: initdb refuses a mount point holding lost+found
    data = next(p for p, m in mounts.items() if m["name"] == "data")
    assert Path(env["PGDATA"]).parent == Path(data) == Path("/var/lib/postgresql/data")
    init = mounts["/docker-entrypoint-initdb.d"]
    volumes = {v["name"]: v for v in docs[("StatefulSet", "postgres")]["spec"]["template"]["spec"]["volumes"]}
    config_map = docs[("ConfigMap", volumes[init["name"]]["configMap"]["name"])]
    assert [k for k in config_map["data"] if k.endswith(".sql")] == list(config_map["data"]), "only *.sql runs"
    assert {"/var/run/postgresql", "/tmp"} <= set(mounts), "the socket dir and nss_wrapper's files are writable"
    assert "startupProbe" in pg, "no liveness kill while initdb and the init script run"


def test_rabbitmq_follows_the_image_entrypoint(pawmart: System) -> None:
    docs = dev_documents(pawmart)
    broker = container(docs, "rabbitmq")
    assert not set(env_of(broker)) & set(IMAGE_REJECTS), "the 3.9+ entrypoint exits 1 on these"
    assert env_of(broker)["RABBITMQ_DEFAULT_USER"] == APP_USER
    assert broker["command"][-1].endswith("exec docker-entrypoint.sh rabbitmq-server"), "the image's own start"
    for mount in broker["volumeMounts"]:
        if mount["mountPath"].startswith("/etc/rabbitmq"):
            assert "subPath" in mount, f"{mount['mountPath']}: a volume there hides the image's plugins and defaults"
    config = docs[("ConfigMap", "rabbitmq-config")]["data"]
    assert set(re.findall(r"rabbitmq_\w+", config["enabled_plugins"])) == {"rabbitmq_management", "rabbitmq_prometheus"}


def _conf_ports(conf: str) -> dict[str, int]:
    keys = {"listeners.tcp.default": "amqp", "management.tcp.port": "management", "prometheus.tcp.port": "prometheus"}
    found = dict(re.findall(r"^([\w.]+) = (\d+)$", conf, re.MULTILINE))
    return {name: int(found[key]) for key, name in keys.items()}


def test_every_port_the_kit_uses_is_served_and_exposed(pawmart: System) -> None:
    docs = dev_documents(pawmart)
    broker = container(docs, "rabbitmq")
    conf = next(v for k, v in docs[("ConfigMap", "rabbitmq-config")]["data"].items() if k.endswith(".conf"))
    container_ports = {p["name"]: p["containerPort"] for p in broker["ports"]}
    assert _conf_ports(conf) == container_ports, "RabbitMQ listens where the container says"
    exposed = {p["port"] for p in docs[("Service", "rabbitmq")]["spec"]["ports"]}
    exporter = config_document(pawmart)["exporter"]["rabbitmq"]
    used = {urlsplit(exporter["management"]).port, urlsplit(exporter["prometheus"]).port}
    scrape = yaml.safe_load(observability_files(context(pawmart))["observability/prometheus/scrape-config.yaml"])
    job = next(j for j in scrape["scrape_configs"] if j["job_name"] == "rabbitmq")
    used |= {int(t.rsplit(":", 1)[1]) for c in job["static_configs"] for t in c["targets"]}
    assert used | {5672} == exposed
    assert [p["port"] for p in docs[("Service", "postgres")]["spec"]["ports"]] == [5432]
    exporter_pg = {
        urlsplit(c["url"].replace("{database}", "x")).port for c in config_document(pawmart)["exporter"]["postgres"]
    }
    assert exporter_pg == {5432}


@pytest.mark.parametrize(
    ("uses", "listens", "expected"),
    [
        pytest.param(("postgres", "rabbitmq"), True, {"postgres": [5432], "rabbitmq": [5672, 15672, 15692]}, id="both"),
        pytest.param(("rabbitmq",), False, {"rabbitmq": [5672, 15692]}, id="publisher-only-broker-is-scraped"),
        pytest.param(("postgres",), False, {"postgres": [5432]}, id="no-broker"),
        pytest.param((), False, {}, id="no-infrastructure"),
    ],
)
def test_infrastructure_follows_what_the_system_uses(
    uses: tuple[str, ...], listens: bool, expected: dict[str, list[int]]
) -> None:
    wolverine = WolverineConfig(transports=("rabbitmq",)) if "rabbitmq" in uses else None
    queues = (Listen("rabbitmq", "work"),) if listens else ()
    system = System(
        root=".", services=(service("work-api", kind="api", uses=uses, wolverine=wolverine, listens=queues),)
    )
    docs = {(d["kind"], d["metadata"]["name"]): d for d in dev_infrastructure(context(system))}
    services = {name: [p["port"] for p in d["spec"]["ports"]] for (kind, name), d in docs.items() if kind == "Service"}
    assert services == expected
    files = kubernetes_files(context(system))
    overlay = yaml.safe_load(files["kubernetes/overlays/dev/kustomization.yaml"])
    assert ("infrastructure.yaml" in overlay["resources"]) == bool(expected)
    assert ("kubernetes/overlays/dev/infrastructure.yaml" in files) == bool(expected)


# -- the init script on the real PostgreSQL ------------------------------------------------------------------------


def _isolated(system: System, prefix: str) -> System:
    """The same model with its own database and schema names, so the shared test server keeps other tests'
    objects apart. ``postgres`` stays: that database exists on every server, as in the image."""

    def name(value: str | None) -> str | None:
        return value if value in (None, "postgres", "public") else f"{prefix}{value}"

    services = []
    for s in system.services:
        wolverine = s.wolverine and replace(s.wolverine, message_schema=name(s.wolverine.message_schema))
        services.append(replace(s, database=name(s.database), schema=name(s.schema), wolverine=wolverine))
    return replace(system, services=tuple(services))


def _models() -> list[Any]:
    cases = [
        pytest.param(lambda: discover(example_path()), id="pawmart"),
        pytest.param(crittersupply_shaped, id="crittersupply-shaped"),
    ]
    skip = pytest.mark.skipif(not CRITTERSUPPLY.is_dir(), reason=f"{CRITTERSUPPLY}: no CritterSupply clone")
    cases.append(pytest.param(lambda: discover(CRITTERSUPPLY), id="crittersupply", marks=skip))
    return cases


@pytest.fixture
def app_role(postgres_server: None) -> Iterator[str]:  # noqa: F811  (the imported fixture)
    """A fresh superuser with its own database, as the image makes POSTGRES_USER and POSTGRES_DB; every
    database it owns afterwards is dropped with it."""
    role = f"t_infra_{uuid.uuid4().hex[:10]}"
    admin = f"host={SERVERS.HOST} port={SERVERS.PG_PORT} user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
        conn.execute(f'CREATE DATABASE "{role}" OWNER "{role}"')
    yield role
    with psycopg.connect(admin, autocommit=True) as conn:
        owned = conn.execute("SELECT datname FROM pg_database WHERE pg_get_userbyid(datdba) = %s", (role,)).fetchall()
        for (database,) in owned:
            conn.execute(f'DROP DATABASE "{database}" WITH (FORCE)')
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE pg_get_userbyid(nspowner) = %s", (role,)
        ).fetchall():
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.execute(f'DROP ROLE "{role}"')


def _psql_as_the_entrypoint(role: str, script: Path) -> subprocess.CompletedProcess[str]:
    # docker_process_sql: psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc
    #                     --dbname "$POSTGRES_DB" -f FILE (over the socket; here the loopback port)
    command = ["psql", "-v", "ON_ERROR_STOP=1", "--username", role, "--no-password", "--no-psqlrc"]
    command += ["--dbname", role, "-h", SERVERS.HOST, "-p", str(SERVERS.PG_PORT), "-f", str(script)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _expected_storage(system: System, default_database: str) -> dict[str, set[str]]:
    """Where the model says tables live, read without the generator: each PostgreSQL service's database
    and its Marten/EF schema and Wolverine envelope schema (model.storage, as the exporter reads them),
    and every (database, schema) of the exporter's own configuration."""
    out: dict[str, set[str]] = {}
    for s in system.services:
        if "postgres" not in s.uses and not durable_storage(s):
            continue
        schemas = out.setdefault(s.database or default_database, set())
        schemas.update(x.lower() for x in (s.schema, durable_storage(s) and message_schema(s)) if x)
    for connection in config_document(system)["exporter"].get("postgres", []):
        for entry in connection["schemas"]:
            if "database" in entry:
                out.setdefault(entry["database"], set()).add(entry["schema"])
    return {db: schemas - {"public"} for db, schemas in out.items()}


@pytest.mark.skipif(not shutil.which("psql"), reason="psql is not installed (apt-get install postgresql-client)")
@pytest.mark.parametrize("model", _models())
def test_init_script_creates_every_database_and_schema(model: Any, app_role: str, tmp_path: Path) -> None:
    system = _isolated(model(), f"{app_role}_")
    script = tmp_path / "critterops-databases.sql"
    script.write_text(init_sql(system, default_database=app_role), encoding="utf-8")
    first = _psql_as_the_entrypoint(app_role, script)
    assert first.returncode == 0, first.stderr
    second = _psql_as_the_entrypoint(app_role, script)
    assert second.returncode == 0, second.stderr
    assert "CREATE DATABASE" not in second.stdout, "the second run creates nothing"

    expected = _expected_storage(system, app_role)
    assert expected, "the model has PostgreSQL storage"
    admin = f"host={SERVERS.HOST} port={SERVERS.PG_PORT} user=postgres"
    with psycopg.connect(f"{admin} dbname=postgres") as conn:
        owners = dict(conn.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database").fetchall())
    assert set(expected) <= set(owners), f"missing databases: {sorted(set(expected) - set(owners))}"
    owned = {db for db, owner in owners.items() if owner == app_role}
    # exactly the model's databases, owned by the app user (its own is POSTGRES_DB, made before the script)
    assert owned == (set(expected) - {"postgres"}) | {app_role}
    for database, schemas in expected.items():
        with psycopg.connect(f"{admin} dbname={database}") as conn:
            found = dict(conn.execute("SELECT nspname, pg_get_userbyid(nspowner) FROM pg_namespace").fetchall())
        assert {s: found.get(s) for s in schemas} == dict.fromkeys(schemas, app_role), database


@pytest.mark.skipif(not CRITTERSUPPLY.is_dir(), reason=f"{CRITTERSUPPLY}: no CritterSupply clone")
def test_crittersupply_gets_every_database_its_own_script_creates() -> None:
    """CritterSupply's docker/postgres/create-databases.sh is the ground truth for its databases; two
    contexts (Backoffice, Correspondence) keep their schemas in the server's ``postgres`` database."""
    own = re.findall(r"CREATE DATABASE (\w+);", (CRITTERSUPPLY / "docker/postgres/create-databases.sh").read_text())
    found = {d.name: d for d in databases(discover(CRITTERSUPPLY))}
    assert len(own) >= 10 and set(own) <= set(found)
    assert {"backoffice", "correspondence"} <= set(found["postgres"].schemas)


# -- the broker on a real rabbitmq-server --------------------------------------------------------------------------


def _http(url: str, user: str, password: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _epmd_pids(port: int) -> list[int]:
    """The epmd daemon the node started on this test's own port (it outlives the node)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if (proc / "comm").read_text().strip() == "epmd" and f"ERL_EPMD_PORT={port}".encode() in (
                proc / "environ"
            ).read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


@pytest.mark.slow
@pytest.mark.skipif(not (RMQ_BIN / "rabbitmq-server").exists(), reason="apt-get install rabbitmq-server")
def test_rabbitmq_starts_with_the_generated_files(pawmart: System, tmp_path: Path) -> None:
    docs = dev_documents(pawmart)
    spec = docs[("StatefulSet", "rabbitmq")]["spec"]["template"]["spec"]
    broker = container(docs, "rabbitmq")
    volumes = {v["name"]: v for v in spec["volumes"]}
    root = tmp_path / "root"  # the container's filesystem: every mount lands under it
    password = uuid.uuid4().hex
    for mount in broker["volumeMounts"]:
        target = root / mount["mountPath"].lstrip("/")
        volume = volumes.get(mount["name"], {})
        if "configMap" in volume:
            data = docs[("ConfigMap", volume["configMap"]["name"])]["data"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[mount["subPath"]], encoding="utf-8")
        elif "secret" in volume:
            target.mkdir(parents=True, exist_ok=True)
            (target / "rabbitmq-password").write_text(password, encoding="ascii")
        else:
            target.mkdir(parents=True, exist_ok=True)
    amqp, management, prometheus, dist, epmd = (free_port() for _ in range(5))
    # the only file of the test's own: the same listeners on loopback and free ports (a later conf.d file wins)
    (root / "etc/rabbitmq/conf.d/99-test-loopback.conf").write_text(
        f"listeners.tcp.default = 127.0.0.1:{amqp}\nmanagement.tcp.ip = 127.0.0.1\nmanagement.tcp.port = {management}\n"
        f"prometheus.tcp.ip = 127.0.0.1\nprometheus.tcp.port = {prometheus}\n",
        encoding="ascii",
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker-entrypoint.sh").write_text(ENTRYPOINT_AS_NON_ROOT, encoding="ascii")
    (bin_dir / "docker-entrypoint.sh").chmod(0o755)
    etc, data = root / "etc/rabbitmq", root / "var/lib/rabbitmq"
    node = f"critterops-infra-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        "PATH": f"{bin_dir}:{RMQ_BIN}:{os.environ['PATH']}",
        "LANG": "C.UTF-8",
        # the image's paths (rabbit_env.erl defaults under /etc/rabbitmq and the image's HOME), under root/
        "HOME": str(data),
        "RABBITMQ_CONFIG_FILE": str(etc / "rabbitmq"),
        "RABBITMQ_CONFIG_FILES": str(etc / "conf.d" / "*.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(etc / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(etc / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(etc / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(data / "mnesia"),
        "RABBITMQ_LOG_BASE": str(root / "var/log/rabbitmq"),
        # a node of its own on loopback
        "RABBITMQ_NODENAME": node,
        "RABBITMQ_DIST_PORT": str(dist),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "ERL_EPMD_PORT": str(epmd),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        **env_of(broker),
    }
    command = [part.replace("/run/secrets/infra", str(root / "run/secrets/infra")) for part in broker["command"]]
    log = (tmp_path / "rabbitmq.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    user = env["RABBITMQ_DEFAULT_USER"]
    api = f"http://127.0.0.1:{management}/api"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, (tmp_path / "rabbitmq.log").read_text()[-3000:]
            try:
                if _http(f"{api}/whoami", user, password)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the management API did not answer in 120 s"
            time.sleep(0.5)
        status, body = _http(f"{api}/whoami", user, password)
        assert json.loads(body)["name"] == user and "administrator" in json.loads(body)["tags"]
        status, body = _http(f"{api}/users", user, password)
        assert [u["name"] for u in json.loads(body)] == [user], "the default user replaces guest"
        assert _http(f"{api}/whoami", "guest", "guest")[0] == 401
        vhost = env["RABBITMQ_DEFAULT_VHOST"]
        status, body = _http(f"{api}/permissions/{urllib.parse.quote(vhost, safe='')}/{user}", user, password)
        assert status == 200 and json.loads(body)["configure"] == ".*"
        status, body = _http(f"{api}/overview", user, password)
        assert json.loads(body).get("disable_stats") is False, "message rates for the exporter"
        status, body = _http(f"http://127.0.0.1:{prometheus}/metrics", user, password)
        assert status == 200 and b"rabbitmq_" in body
        path = "/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count"  # the kit's scrape job
        assert _http(f"http://127.0.0.1:{prometheus}{path}", user, password)[0] == 200
        credentials = pika.PlainCredentials(user, password)
        parameters = pika.ConnectionParameters("127.0.0.1", amqp, vhost, credentials, connection_attempts=3)
        connection = pika.BlockingConnection(parameters)
        assert connection.is_open
        connection.close()
    finally:
        subprocess.run([str(RMQ_BIN / "rabbitmqctl"), "stop"], env=env, capture_output=True, timeout=60, check=False)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        for pid in _epmd_pids(epmd):
            os.kill(pid, signal.SIGTERM)
        log.close()
    assert not _port_open(amqp) and not _port_open(management)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_wolverines_own_postgresql_persistence_defaults_to_the_wolverine_schema() -> None:
    """PersistMessagesWithPostgresql(conn) without a schema keeps envelopes in "wolverine"
    (PostgresqlBackedPersistence.cs, V6.29.2), not in public or Marten's schema."""
    own = Service("a", "a.csproj", "A", "api", schema="orders", wolverine=WolverineConfig(message_storage="postgresql"))
    marten = Service("b", "b.csproj", "B", "api", schema="orders", wolverine=WolverineConfig(message_storage="marten"))
    named = replace(own, wolverine=WolverineConfig(message_storage="postgresql", message_schema="envelopes"))
    assert [message_schema(s) for s in (own, marten, named)] == ["wolverine", "orders", "envelopes"]
