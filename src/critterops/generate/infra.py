"""The dev overlay's in-cluster PostgreSQL and RabbitMQ, following the official images' entrypoints.

Staging and production use managed services; ``dev`` runs one StatefulSet of each in the namespace.
Each follows the contract of its image at the pinned tag, read in the image's own sources:

PostgreSQL (``postgres:16.4``; docker-library/postgres commit 3a94d965 "Update 16 to 16.4",
``16/bookworm/docker-entrypoint.sh`` and ``Dockerfile``):

- ``POSTGRES_USER`` (default ``postgres``) becomes the bootstrap superuser, with the password of
  ``POSTGRES_PASSWORD`` or of the file named by ``POSTGRES_PASSWORD_FILE`` (``file_env``, lines
  9-25 and 224-228); ``POSTGRES_DB`` (default: ``POSTGRES_USER``) is created (``docker_setup_db``).
  The app user is that superuser (:data:`APP_USER`), and ``POSTGRES_DB`` is its own database, which is
  also where Npgsql connects when a connection string names no ``Database`` ("Same as Username",
  npgsql.org/doc/connection-string-parameters).
- ``PGDATA`` is a subdirectory of the volume: ``initdb`` refuses a mount point that holds anything
  (``lost+found``) or cannot be chowned (docker-library/docs 4b846035, ``postgres/content.md``, PGDATA).
- ``/docker-entrypoint-initdb.d/*.sql`` run once, only when ``PGDATA`` holds no ``PG_VERSION``
  (``docker_setup_env`` and ``_main``), through ``psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER"
  --no-password --no-psqlrc --dbname "$POSTGRES_DB" -f FILE`` (``docker_process_sql``). The kit mounts
  :func:`init_sql` there: every database and schema the system model names, created idempotently so the
  same file can be run again when the model grows (the entrypoint never reruns it on a used volume).
- Running as a UID without a passwd entry works: ``initdb`` gets one from nss_wrapper, in ``/tmp``.

RabbitMQ (``rabbitmq:3.13.7-management``; docker-library/rabbitmq commit 15c35230 "Update 3.13 to
3.13.7", ``3.13/ubuntu/docker-entrypoint.sh``, ``Dockerfile`` and ``management/Dockerfile``):

- Since 3.9 the entrypoint exits 1 when any of ``RABBITMQ_DEFAULT_PASS_FILE``,
  ``RABBITMQ_DEFAULT_USER_FILE``, ``RABBITMQ_MANAGEMENT_SSL_*``, ``RABBITMQ_SSL_*`` or
  ``RABBITMQ_VM_MEMORY_HIGH_WATERMARK`` is set ("deprecated environment variables detected").
  ``RABBITMQ_DEFAULT_USER``, ``RABBITMQ_DEFAULT_PASS``, ``RABBITMQ_DEFAULT_VHOST`` (and
  ``RABBITMQ_ERLANG_COOKIE``) are read by RabbitMQ itself (rabbitmq-server v3.13.7,
  ``deps/rabbit_common/src/rabbit_env.erl``, ``default_user``/``default_pass``/``default_vhost``), so
  the image accepts them (docker-library/rabbitmq 3dc27055, "Allow upstream-supported environment
  variables without error"). There is no file variant of the password any more: the container reads the
  Secret's file into ``RABBITMQ_DEFAULT_PASS`` and then runs the image's own entrypoint, as
  ``POSTGRES_PASSWORD_FILE`` does for PostgreSQL; the password never appears in the pod spec.
- The image enables ``rabbitmq_prometheus`` (port 15692) and the ``-management`` image
  ``rabbitmq_management`` (port 15672) by writing ``/etc/rabbitmq/enabled_plugins``, and ships
  ``/etc/rabbitmq/conf.d/10-defaults.conf`` (``log.console = true``). A volume over ``/etc/rabbitmq``
  hides all of that, so the kit mounts single files with ``subPath``: ``enabled_plugins`` and its own
  ``conf.d/30-critterops.conf`` (``RABBITMQ_CONFIG_FILES`` defaults to ``/etc/rabbitmq/conf.d/*.conf``,
  rabbit_env.erl; the files are sorted by name, ``find_additional_config_files`` in
  ``deps/rabbitmq_prelaunch/src/rabbit_prelaunch_conf.erl`` at v3.13.7, and a later file's value wins).

The Services expose every port the kit's consumers use: 5432; AMQP 5672 for the services, the
management API 15672 where the critterops exporter reads it, and 15692 where Prometheus scrapes
``rabbitmq_prometheus`` (or the exporter reads it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from critterops.generate.context import KitContext
from critterops.generate.kubernetes import (
    EXPORTER_NAME,
    MONITORING_NAMESPACE,
    WAIVER_DIGEST,
    container_security,
    labels,
    pod_security,
    policy_document,
    selector,
    waivers,
)
from critterops.generate.traits import rabbitmq_name
from critterops.model import System
from critterops.model.storage import durable_storage, message_schema, stores_in_postgres
from critterops.watch.config import config_document

POSTGRES_IMAGE: Final = "postgres:16.4"
RABBITMQ_IMAGE: Final = "rabbitmq:3.13.7-management"
APP_USER: Final = "critterops"  # PostgreSQL's POSTGRES_USER and RabbitMQ's default user; the exporter's too
SECRET: Final = "{name}-dev-infrastructure"  # keys postgres-password and rabbitmq-password (see the kit README)
SECRET_DIR: Final = "/run/secrets/infra"

POSTGRES_PORT: Final = 5432
AMQP_PORT: Final = 5672
MANAGEMENT_PORT: Final = 15672
PROMETHEUS_PORT: Final = 15692

POSTGRES_DATA: Final = "/var/lib/postgresql/data"  # the image's VOLUME
PGDATA: Final = f"{POSTGRES_DATA}/pgdata"
INIT_DIR: Final = "/docker-entrypoint-initdb.d"
INIT_FILE: Final = "critterops-databases.sql"

RABBITMQ_DATA: Final = "/var/lib/rabbitmq"  # the image's VOLUME and HOME (the Erlang cookie lives there)
ENABLED_PLUGINS_PATH: Final = "/etc/rabbitmq/enabled_plugins"
CONF_FILE: Final = "30-critterops.conf"
CONF_PATH: Final = f"/etc/rabbitmq/conf.d/{CONF_FILE}"
# the same list the two images write (rabbitmq-plugins enable --offline in Dockerfile and management/Dockerfile)
ENABLED_PLUGINS: Final = "[rabbitmq_management,rabbitmq_prometheus].\n"
# the image's command is ENTRYPOINT ["docker-entrypoint.sh"] + CMD ["rabbitmq-server"]; this runs the same after
# reading the password file (set -e: a missing Secret key stops the container instead of starting with guest)
RABBITMQ_COMMAND: Final = (
    f'set -eu; RABBITMQ_DEFAULT_PASS="$(< {SECRET_DIR}/rabbitmq-password)"; export RABBITMQ_DEFAULT_PASS; '
    "exec docker-entrypoint.sh rabbitmq-server"
)

# names psql's \connect and SQL literals take as they are (a '=' would make \connect read a conninfo string),
# within PostgreSQL's 63-byte identifier limit; anything else is reported in the script instead
_UNSAFE = re.compile(r"[\x00-\x1f'\"\\=]")


def _safe(name: str) -> bool:
    return 0 < len(name.encode()) <= 63 and not _UNSAFE.search(name)


@dataclass(frozen=True, slots=True)
class Database:
    """One database of the dev server, the schemas to create in it and the services that use it."""

    name: str
    schemas: tuple[str, ...]
    services: tuple[str, ...]


def _service_schemas(system: System, default_database: str) -> dict[str, tuple[str, set[str]]]:
    """Per PostgreSQL service: its database (``default_database``, the app user's own, when the code names
    none) and schemas.

    Schemas are Marten's ``DatabaseSchemaName`` (or an EF Core default schema the model records) and
    Wolverine's envelope schema, from :mod:`critterops.model.storage` as the exporter reads them, lower
    case as Marten stores them (``StoreOptions.DatabaseSchemaName`` setter, ``ToLowerInvariant()``);
    ``public`` exists in every database."""
    out: dict[str, tuple[str, set[str]]] = {}
    for service in system.services:
        if "postgres" not in service.uses and not stores_in_postgres(service):
            continue
        schemas = {service.schema.lower()} if service.schema else set()
        if durable_storage(service):
            schemas.add(message_schema(service).lower())
        schemas.discard("public")
        out[service.name] = (service.database or default_database, schemas)
    return out


def databases(system: System, default_database: str = APP_USER) -> tuple[Database, ...]:
    """Every database the system's services connect to, with the schemas they keep there, by name.

    ``default_database`` is ``POSTGRES_DB``: where a connection string that names no database lands."""
    grouped: dict[str, tuple[set[str], list[str]]] = {}
    for service, (database, schemas) in sorted(_service_schemas(system, default_database).items()):
        found, users = grouped.setdefault(database, (set(), []))
        found.update(schemas)
        users.append(service)
    return tuple(Database(name, tuple(sorted(s)), tuple(u)) for name, (s, u) in sorted(grouped.items()))


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def init_sql(system: System, default_database: str = APP_USER) -> str:
    """The psql script that creates every database and schema of :func:`databases`, owned by the app user.

    Idempotent: ``CREATE DATABASE`` cannot take ``IF NOT EXISTS``, so it is generated by a query that
    returns nothing when the database exists and run by psql's ``\\gexec``; schemas use
    ``CREATE SCHEMA IF NOT EXISTS``. The entrypoint runs it as ``POSTGRES_USER``, so ``current_user`` is
    the app user."""
    lines = [
        "-- Generated by critterops from the system model: every database and schema the services use.",
        f"-- The postgres image runs this file once, on an empty data directory, as POSTGRES_USER ({APP_USER}).",
        "-- Every statement is idempotent: when the model adds a database, run it again on the running server:",
        f"--   kubectl exec postgres-0 -- psql -v ON_ERROR_STOP=1 -U {APP_USER} -d {APP_USER} \\",
        f"--     -f {INIT_DIR}/{INIT_FILE}",
    ]
    for database in databases(system, default_database):
        lines.append("")
        lines.append(f"-- {database.name}: {', '.join(database.services)}")
        unsafe = [n for n in (database.name, *database.schemas) if not _safe(n)]
        if unsafe:
            lines.append(f"-- skipped: {len(unsafe)} name(s) with quotes, '=', control characters or over 63 bytes")
            continue
        name = _literal(database.name)
        lines.append(f"SELECT format('CREATE DATABASE %I OWNER %I', {name}, current_user)")
        lines.append(f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {name})")
        lines.append("\\gexec")
        if database.schemas:
            lines.append(f"\\connect {name}")
            lines += [f"CREATE SCHEMA IF NOT EXISTS {_ident(s)} AUTHORIZATION CURRENT_USER;" for s in database.schemas]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class BrokerPorts:
    """The broker's HTTP ports the kit's consumers use (AMQP is always exposed)."""

    management: bool  # the critterops exporter reads the management API
    prometheus: bool  # Prometheus scrapes rabbitmq_prometheus, or the exporter reads it


def broker_ports(system: System) -> BrokerPorts:
    exporter = config_document(system)["exporter"].get("rabbitmq", {})
    return BrokerPorts(
        management="management" in exporter,
        prometheus="prometheus" in exporter or rabbitmq_name(system) is not None,
    )


def rabbitmq_conf() -> str:
    """``conf.d/30-critterops.conf``: loaded after the image's ``10-defaults.conf``."""
    return "\n".join(
        [
            "# Generated by critterops: the dev broker, on the ports the kit's Services and NetworkPolicies name.",
            f"listeners.tcp.default = {AMQP_PORT}",
            f"management.tcp.port = {MANAGEMENT_PORT}",
            f"prometheus.tcp.port = {PROMETHEUS_PORT}",
            "# message rates in the management API, which the critterops exporter reads (the image without",
            "# -management switches the collector off in conf.d/20-management_agent.disable_metrics_collector.conf)",
            "management_agent.disable_metrics_collector = false",
            "# the root filesystem is read-only: log to stdout only",
            "log.console = true",
            "log.file = false",
            "",
        ]
    )


def uses_postgres(system: System) -> bool:
    return any("postgres" in s.uses or stores_in_postgres(s) for s in system.services)


def uses_rabbitmq(system: System) -> bool:
    return any("rabbitmq" in s.uses for s in system.services) or rabbitmq_name(system) is not None


def dev_infrastructure(ctx: KitContext) -> list[dict[str, Any]]:
    """The dev overlay's ``infrastructure.yaml``: what the system uses of PostgreSQL and RabbitMQ."""
    docs: list[dict[str, Any]] = []
    if uses_postgres(ctx.system):
        docs += _postgres(ctx)
    if uses_rabbitmq(ctx.system):
        docs += _rabbitmq(ctx)
    return docs


# -- the objects ----------------------------------------------------------------------------------------------


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _port(name: str, number: int) -> dict[str, Any]:
    return {"name": name, "containerPort": number, "protocol": "TCP"}


def _config_map(ctx: KitContext, owner: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels(ctx, owner, "infrastructure")},
        "data": data,
    }


def _statefulset(
    ctx: KitContext,
    name: str,
    container: dict[str, Any],
    config: tuple[list[dict[str, Any]], dict[str, Any]],
    data_path: str,
    writable: tuple[str, ...],
) -> dict[str, Any]:
    """One replica, restricted Pod Security, a 5Gi claim on the image's data volume, scratch for the rest.

    ``config`` is the ConfigMap's mounts and its volume."""
    lab = labels(ctx, name, "infrastructure")
    mounts: list[dict[str, Any]] = [{"name": "data", "mountPath": data_path}]
    mounts += [{"name": f"scratch-{i}", "mountPath": path} for i, path in enumerate(writable)]
    mounts += config[0]
    mounts.append({"name": "credentials", "mountPath": SECRET_DIR, "readOnly": True})
    all_volumes = [{"name": f"scratch-{i}", "emptyDir": {}} for i in range(len(writable))]
    all_volumes.append(config[1])
    all_volumes.append({"name": "credentials", "secret": {"secretName": SECRET.format(name=ctx.name)}})
    container = {
        **container,
        "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "securityContext": container_security(seccomp=False),
        "volumeMounts": mounts,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name, "labels": lab, "annotations": waivers(WAIVER_DIGEST)},
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": selector(name)},
            "template": {
                "metadata": {"labels": lab},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [container],
                    "volumes": all_volumes,
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "5Gi"}}},
                }
            ],
        },
    }


def _service(ctx: KitContext, name: str, ports: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": labels(ctx, name, "infrastructure")},
        "spec": {
            "type": "ClusterIP",
            "selector": selector(name),
            "ports": [{"name": n, "port": p, "targetPort": n, "protocol": "TCP"} for n, p in ports],
        },
    }


def _network_policy(ctx: KitContext, name: str, ingress: list[dict[str, Any]]) -> dict[str, Any]:
    return policy_document(ctx, name, ingress, [], "infrastructure")


def _from_system(ctx: KitContext) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": ctx.name}}}


def _postgres(ctx: KitContext) -> list[dict[str, Any]]:
    name = "postgres"
    ready = ["pg_isready", "-U", APP_USER, "-d", APP_USER, "-h", "127.0.0.1", "-p", str(POSTGRES_PORT)]
    probe: dict[str, Any] = {"exec": {"command": ready}}
    container: dict[str, Any] = {
        "name": name,
        "image": POSTGRES_IMAGE,
        "imagePullPolicy": "Always",
        "ports": [_port(name, POSTGRES_PORT)],
        "env": [
            {"name": "POSTGRES_USER", "value": APP_USER},
            {"name": "POSTGRES_DB", "value": APP_USER},
            {"name": "POSTGRES_PASSWORD_FILE", "value": f"{SECRET_DIR}/postgres-password"},
            {"name": "PGDATA", "value": PGDATA},
        ],
        # initdb and the init script run before the server listens on TCP (the entrypoint's temporary server
        # takes only the socket): a liveness kill then would leave a half-initialised volume that is never retried
        "startupProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 30},
        "readinessProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 30, "timeoutSeconds": 10},
    }
    init = f"{name}-init"
    mounts = [{"name": "init", "mountPath": INIT_DIR, "readOnly": True}]
    return [
        _config_map(ctx, name, init, {INIT_FILE: init_sql(ctx.system)}),
        _statefulset(
            ctx,
            name,
            container,
            (mounts, {"name": "init", "configMap": {"name": init}}),
            POSTGRES_DATA,
            ("/var/run/postgresql", "/tmp"),
        ),
        _service(ctx, name, [(name, POSTGRES_PORT)]),
        _network_policy(ctx, name, [{"from": [_from_system(ctx)], "ports": _tcp(POSTGRES_PORT)}]),
    ]


def _rabbitmq(ctx: KitContext) -> list[dict[str, Any]]:
    name = "rabbitmq"
    wanted = broker_ports(ctx.system)
    probe: dict[str, Any] = {"exec": {"command": ["rabbitmq-diagnostics", "-q", "ping"]}}
    config = f"{name}-config"
    container: dict[str, Any] = {
        "name": name,
        "image": RABBITMQ_IMAGE,
        "imagePullPolicy": "Always",
        "command": ["bash", "-c", RABBITMQ_COMMAND],
        "ports": [
            _port("amqp", AMQP_PORT),
            _port("management", MANAGEMENT_PORT),
            _port("prometheus", PROMETHEUS_PORT),
        ],
        "env": [
            {"name": "RABBITMQ_DEFAULT_USER", "value": APP_USER},
            {"name": "RABBITMQ_DEFAULT_VHOST", "value": "/"},
        ],
        "readinessProbe": {**probe, "periodSeconds": 10, "timeoutSeconds": 5},
        "livenessProbe": {**probe, "periodSeconds": 30, "timeoutSeconds": 10},
    }
    # single files: a volume over /etc/rabbitmq (or conf.d) would hide the image's enabled_plugins and defaults
    mounts = [
        {"name": "config", "mountPath": ENABLED_PLUGINS_PATH, "subPath": "enabled_plugins", "readOnly": True},
        {"name": "config", "mountPath": CONF_PATH, "subPath": CONF_FILE, "readOnly": True},
    ]
    ports = [("amqp", AMQP_PORT)]
    ingress: list[dict[str, Any]] = [{"from": [_from_system(ctx)], "ports": _tcp(AMQP_PORT)}]
    exporter_ports = []
    if wanted.management:
        ports.append(("management", MANAGEMENT_PORT))
        exporter_ports.append(MANAGEMENT_PORT)
    if wanted.prometheus:
        ports.append(("prometheus", PROMETHEUS_PORT))
        exporter_ports.append(PROMETHEUS_PORT)
    if exporter_ports:
        ingress.append(
            {"from": [{"podSelector": {"matchLabels": selector(EXPORTER_NAME)}}], "ports": _tcp(*exporter_ports)}
        )
    if wanted.prometheus:
        monitoring = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}}
        ingress.append({"from": [monitoring], "ports": _tcp(PROMETHEUS_PORT)})
    return [
        _config_map(ctx, name, config, {"enabled_plugins": ENABLED_PLUGINS, CONF_FILE: rabbitmq_conf()}),
        _statefulset(
            ctx,
            name,
            container,
            (mounts, {"name": "config", "configMap": {"name": config}}),
            RABBITMQ_DATA,
            ("/tmp",),
        ),
        _service(ctx, name, ports),
        _network_policy(ctx, name, ingress),
    ]
