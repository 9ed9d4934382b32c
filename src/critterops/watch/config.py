"""The exporter's settings: the ``exporter:`` section of ``critterops.yaml``, command-line overrides and,
with ``--repo``, the system model (which databases and schemas hold which service's tables, which sagas
exist and which member holds their state, which service consumes which queue).

```yaml
exporter:
  listen: 127.0.0.1:9180
  timeout: 2s                      # connect and statement timeout per source
  postgres:
    - url: postgresql://critterops@db.internal:5432/{database}   # {database}: one connection per database
      password_env: CRITTEROPS_PG_PASSWORD                        # never write the password into the file
      schemas:                                                    # optional with --repo
        - {schema: orders, service: orders-api, bounded_context: Orders, database: orders}
  rabbitmq:
    management: http://rabbitmq:15672
    prometheus: http://rabbitmq:15692                             # optional; fills in when stats are off
    user: critterops
    password_env: RABBITMQ_PASSWORD
    vhost: /
  sagas:
    Order: {state: Status, idle_after: 5m, table: mt_doc_order}
  limits:                                                         # what critterops status flags
    projection_lag: 100
    stalled_after: 2m
```

Passwords come only from environment variables (or libpq's own ``PGPASSWORD`` and ``~/.pgpass``); a
password written into a URL is taken out of it and kept apart, so it never reaches a log line, a
metric or an error message.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from critterops.configfile import (
    LONG_DURATION,
    Doc,
    KeyPath,
    check_bool,
    check_duration,
    check_number,
    compose,
    describe,
    find_config_file,
    read_config_text,
    seconds,
    section,
)
from critterops.errors import ConfigError
from critterops.model.sagas import SAGA_DEFAULT_LIMIT, duration_seconds, saga_state_limits, saga_table
from critterops.model.storage import events_schema, message_schema, stores_in_postgres
from critterops.model.system import Saga, System
from critterops.watch.targets import PostgresTarget, QueueOwner, RabbitTarget, SagaTarget, SchemaTarget

DEFAULT_LISTEN: Final = ("127.0.0.1", 9180)
DEFAULT_TIMEOUT: Final = "2s"
DEFAULT_IDLE_AFTER: Final = "5m"
MAX_TIMEOUT_S: Final = 300.0  # a read must finish within a scrape interval; larger values overflow timers

_TOP = ("listen", "timeout", "min_interval", "postgres", "rabbitmq", "sagas", "limits")
_PG = ("name", "url", "password_env", "databases", "schemas")
_SCHEMA = ("schema", "service", "bounded_context", "database", "events", "wolverine")
_RABBIT = ("management", "prometheus", "user", "password_env", "vhost", "queues")
_SAGA = ("state", "idle_after", "table", "service", "schema", "limits")
_LIMITS = (
    "projection_lag",
    "stalled_after",
    "heartbeat_stale",
    "dead_letters",
    "orphaned",
    "queue_messages_without_consumers",
    "saga_in_state",
)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}")


@dataclass(frozen=True, slots=True)
class Limits:
    """When ``critterops status`` calls something a problem (the alert rules use the policy's and the
    generated thresholds; these defaults match them)."""

    projection_lag: float = 100.0  # events behind the high-water mark
    stalled_after_s: float = 120.0
    heartbeat_stale_s: float = 60.0  # Wolverine's StaleNodeTimeout
    dead_letters: float = 0.0  # more than this many is a problem
    orphaned: float = 0.0
    queue_messages_without_consumers: float = 0.0
    # states without a limit of their own: the generated SagaStuckInState rules' default, so status agrees
    saga_in_state_s: float = duration_seconds(SAGA_DEFAULT_LIMIT)
    saga_state_limits: tuple[tuple[str, str, float], ...] = ()  # (saga, state, seconds) from the model


@dataclass(frozen=True, slots=True)
class ExporterConfig:
    listen: tuple[str, int] = DEFAULT_LISTEN
    timeout_s: float = 2.0
    min_interval_s: float = 1.0  # scrapes closer together than this share one read of the sources
    postgres: tuple[PostgresTarget, ...] = ()
    rabbitmq: RabbitTarget | None = None
    limits: Limits = field(default_factory=Limits)
    warnings: tuple[str, ...] = ()
    source: str | None = None

    @property
    def deadline_s(self) -> float:
        """How long one read of a source may take in all: a read runs several statements (each bounded by
        ``timeout``), so a slow but healthy database gets room; a dead one is cut off by the connect timeout."""
        return max(10.0, self.timeout_s * 4 + 1)


@dataclass(frozen=True, slots=True)
class Overrides:
    """Command-line settings; each replaces the file's value."""

    listen: str | None = None
    postgres: tuple[str, ...] = ()
    rabbitmq_management: str | None = None
    rabbitmq_prometheus: str | None = None


def find_config(repo: Path | None, explicit: Path | None) -> Path | None:
    """``--config`` if given (it must exist), else ``critterops.yaml``/``.critterops.yaml`` in ``--repo``."""
    if repo is None and explicit is None:
        return None
    return find_config_file(repo or Path("."), explicit, "--config")


def load_config(
    path: Path | None,
    system: System | None = None,
    overrides: Overrides | None = None,
    environ: Mapping[str, str] | None = None,
    require_sources: bool = True,
) -> ExporterConfig:
    """The exporter settings from ``path`` (may be None), the model and the overrides. Raises
    ConfigError (exit code 2) for anything invalid, including (when required) a configuration with no source."""
    text, source = "", "command line"
    if path is not None:
        text, source = read_config_text(path), str(path)
    environ = os.environ if environ is None else environ
    return parse_config(text, source, system, overrides or Overrides(), environ, require_sources)


def parse_config(
    text: str,
    source: str,
    system: System | None,
    overrides: Overrides,
    environ: Mapping[str, str],
    require_sources: bool = True,
) -> ExporterConfig:
    doc = Doc(source)
    data = compose(text, doc) if text else None
    if data is not None and not isinstance(data, dict):
        raise doc.error((), f"expected a mapping of settings, got {describe(data)}", "a mapping")
    top = section(doc, (data or {}).get("exporter"), ("exporter",), _TOP)
    reader = Reader(doc, environ)
    path: KeyPath = ("exporter",)

    if overrides.listen:
        listen = Reader(Doc("--listen"), environ).listen(overrides.listen, ())
    else:
        listen = reader.listen(top.get("listen"), (*path, "listen"))
    timeout = seconds(check_duration(doc, top.get("timeout", DEFAULT_TIMEOUT), (*path, "timeout"), positive=True))
    if timeout > MAX_TIMEOUT_S:
        raise doc.error((*path, "timeout"), f"{top.get('timeout')} is longer than 5 minutes", "from 1ms to 5m, e.g. 2s")
    min_interval = seconds(check_duration(doc, top.get("min_interval", "1s"), (*path, "min_interval")))
    sagas = reader.saga_settings(top.get("sagas"), (*path, "sagas"))
    if system is None:
        for name, setting in sagas.items():
            if setting.schema is None and setting.service is None:
                raise doc.error(
                    (*path, "sagas", name),
                    "without --repo critterops cannot tell which schema holds this saga",
                    "schema: <schema> or service: <service> on the saga, or pass --repo",
                )
    warnings: list[str] = []

    pg_items: list[tuple[dict[str, Any], KeyPath]] = []
    if overrides.postgres:
        pg_items = [({"url": url}, ("--postgres", i)) for i, url in enumerate(overrides.postgres)]
    elif top.get("postgres") is not None:
        if not isinstance(top["postgres"], list):
            raise doc.error((*path, "postgres"), f"expected a list, got {describe(top['postgres'])}", "a list")
        pg_items = [(item, (*path, "postgres", i)) for i, item in enumerate(top["postgres"])]
    postgres: list[PostgresTarget] = []
    for item, item_path in pg_items:
        postgres += reader.postgres(item, item_path, system, sagas, timeout, warnings)
    names = [t.name for t in postgres]
    for name in names:
        if names.count(name) > 1:
            raise doc.error((*path, "postgres"), f"two connections are both named {name!r}", "distinct names")

    rabbit_section = section(doc, top.get("rabbitmq"), (*path, "rabbitmq"), _RABBIT)
    if overrides.rabbitmq_management:
        rabbit_section = {**rabbit_section, "management": overrides.rabbitmq_management}
    if overrides.rabbitmq_prometheus:
        rabbit_section = {**rabbit_section, "prometheus": overrides.rabbitmq_prometheus}
    rabbit = reader.rabbit(rabbit_section, (*path, "rabbitmq"), system, timeout) if rabbit_section else None

    if require_sources and not postgres and rabbit is None:
        raise ConfigError(
            f"{source}: no source to read: give exporter.postgres and/or exporter.rabbitmq in critterops.yaml, "
            "or --postgres URL / --rabbitmq-management URL"
        )
    limits = reader.limits(top.get("limits"), (*path, "limits"), system)
    configured = tuple((name, state, limit) for name, setting in sagas.items() for state, limit in setting.limits)
    if configured:  # the file's per-state limits win over the ones the model implies
        keys = {(name, state) for name, state, _ in configured}
        kept = tuple(entry for entry in limits.saga_state_limits if (entry[0], entry[1]) not in keys)
        limits = replace(limits, saga_state_limits=(*configured, *kept))
    return ExporterConfig(
        listen=listen,
        timeout_s=timeout,
        min_interval_s=min_interval,
        postgres=tuple(postgres),
        rabbitmq=rabbit,
        limits=limits,
        warnings=tuple(warnings),
        source=source if text else None,
    )


@dataclass(frozen=True, slots=True)
class _SagaSetting:
    state: str | None
    idle_after_s: float
    table: str | None
    service: str | None
    schema: str | None
    limits: tuple[tuple[str, float], ...] = ()  # (state, seconds; inf for "never")


class Reader:
    def __init__(self, doc: Doc, environ: Mapping[str, str]) -> None:
        self.doc = doc
        self.environ = environ

    def text(self, value: Any, path: KeyPath, allowed: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.doc.error(path, f"expected text, got {describe(value)}", allowed)
        return value.strip()

    def ident(self, value: Any, path: KeyPath, what: str) -> str:
        if not isinstance(value, str) or not _IDENT.fullmatch(value):
            allowed = f"a PostgreSQL {what} name: letters, digits and '_', starting with a letter or '_'"
            raise self.doc.error(path, f"{describe(value)} is not a valid {what} name", allowed)
        return value

    def listen(self, value: Any, path: KeyPath) -> tuple[str, int]:
        if value is None:
            return DEFAULT_LISTEN
        allowed = "host:port with a port from 0 (any free port) to 65535, e.g. 127.0.0.1:9180, 0.0.0.0:9180 or :9180"
        if isinstance(value, int) and not isinstance(value, bool):
            value = f":{value}"
        if not isinstance(value, str) or ":" not in value:
            raise self.doc.error(path, f"{describe(value)} is not host:port", allowed)
        host, _, port = value.rpartition(":")
        host = host.strip("[]") or DEFAULT_LISTEN[0]
        if not re.fullmatch(r"[0-9]{1,5}", port) or not 0 <= int(port) < 65536:
            raise self.doc.error(path, f"{port!r} is not a port", allowed)
        return host, int(port)

    def password(self, item: Mapping[str, Any], path: KeyPath) -> str | None:
        name = item.get("password_env")
        if name is None:
            return None
        name = self.text(name, (*path, "password_env"), "the name of an environment variable")
        if name not in self.environ:
            raise self.doc.error(
                (*path, "password_env"),
                f"the environment variable {name} is not set",
                f"export {name} before starting critterops, or remove password_env",
            )
        return self.environ[name]

    # -- PostgreSQL ------------------------------------------------------------------------------------------

    def postgres(
        self,
        item: Any,
        path: KeyPath,
        system: System | None,
        sagas: Mapping[str, _SagaSetting],
        timeout: float,
        warnings: list[str],
    ) -> list[PostgresTarget]:
        item = section(self.doc, item, path, _PG)
        url = self.text(item.get("url"), (*path, "url"), "postgresql://user@host:5432/database or host=… dbname=…")
        conninfo, url_password, database = self.conninfo(url, (*path, "url"))
        password = self.password(item, path) or url_password
        if url_password is not None:
            warnings.append(
                f"{_where(self.doc, path)}: the connection URL holds a password; critterops keeps it out of its "
                "output, but move it to an environment variable and name that in password_env"
            )
        wanted = item.get("databases")
        if wanted is not None and (not isinstance(wanted, list) or not all(isinstance(d, str) for d in wanted)):
            raise self.doc.error((*path, "databases"), f"expected a list of names, got {describe(wanted)}", "a list")
        listed = item.get("schemas")
        if listed is not None and not isinstance(listed, list):
            raise self.doc.error((*path, "schemas"), f"expected a list, got {describe(listed)}", "a list of schemas")
        explicit = [self.schema(s, (*path, "schemas", i)) for i, s in enumerate(listed or [])]
        by_database: dict[str | None, list[SchemaTarget]] = {}
        for target, db in explicit:
            by_database.setdefault(db, []).append(_with_sagas(target, sagas))
        if not explicit and system is not None:
            for target, db in _schemas_from_model(system, sagas):
                by_database.setdefault(db, []).append(target)
        templated = "{database}" in conninfo
        out: list[PostgresTarget] = []
        if templated:
            unnamed = by_database.pop(None, [])
            if unnamed:
                raise self.doc.error(
                    (*path, "schemas"),
                    f"schema {unnamed[0].schema} has no database, but the URL has a {{database}} placeholder",
                    "database: <name> on every schema, or a URL without {database}",
                )
            if not by_database:
                raise self.doc.error(
                    (*path, "url"),
                    "the URL has a {database} placeholder but no database is known: pass --repo so the system "
                    "model names them, or list schemas with their database",
                    None,
                )
            for db in sorted(d for d in by_database if d is not None):
                if wanted is not None and db not in wanted:
                    continue
                name = f"{item['name']}-{db}" if item.get("name") else db
                schemas = tuple(by_database[db])
                out.append(PostgresTarget(name, _with_database(conninfo, db), schemas, password, timeout))
            return out
        schemas_list = by_database.pop(database, []) + by_database.pop(None, [])
        if not explicit and not schemas_list and by_database and len(by_database) == 1:
            schemas_list = next(iter(by_database.values()))  # a single-database system named differently
            by_database.clear()
        for db, left in by_database.items():
            warnings.append(
                f"{_where(self.doc, path)}: {', '.join(s.service for s in left)} keep their tables in database "
                f"{db}, not {database}; add a connection for it (or use {{database}} in the URL)"
            )
        if not schemas_list:
            # without a model the connection is the only name: two databases' public schemas stay apart
            own = str(item.get("name") or database or "postgres")
            schemas_list = [SchemaTarget("public", own, "")] if system is None else []
            if not schemas_list:
                warnings.append(f"{_where(self.doc, path)}: no service of the system keeps its tables in {database}")
                return []
        name = str(item.get("name") or database or "postgres")
        return [PostgresTarget(name, conninfo, tuple(schemas_list), password, timeout)]

    def conninfo(self, url: str, path: KeyPath) -> tuple[str, str | None, str | None]:
        """(conninfo without the password, the password it held, the database it names)."""
        from psycopg import conninfo as pgconninfo

        placeholder = "{database}" in url
        probe = url.replace("{database}", "critterops_placeholder")
        try:
            params = pgconninfo.conninfo_to_dict(probe)
        except Exception:  # psycopg.ProgrammingError quotes the offending part, which may be the password
            raise self.doc.error(
                path,
                "not a PostgreSQL connection string (check quoting, spaces and %-escapes)",
                "postgresql://user@host:5432/db or host=... dbname=...",
            ) from None
        password = params.pop("password", None)
        if "host" not in params and "hostaddr" not in params:
            raise self.doc.error(path, "the connection string names no host", "postgresql://user@host:5432/db")
        database = params.get("dbname")
        rebuilt = pgconninfo.make_conninfo("", **{k: v for k, v in params.items() if v is not None})
        if placeholder:
            rebuilt = rebuilt.replace("critterops_placeholder", "{database}")
            database = None
        return rebuilt, None if password is None else str(password), None if database is None else str(database)

    def schema(self, value: Any, path: KeyPath) -> tuple[SchemaTarget, str | None]:
        item = section(self.doc, value, path, _SCHEMA)
        schema = self.ident(item.get("schema"), (*path, "schema"), "schema").lower()
        service = str(item.get("service") or schema)
        context = str(item.get("bounded_context") or "")
        database = item.get("database")
        if database is not None:
            database = self.text(database, (*path, "database"), "a database name")
        events = check_bool(self.doc, item.get("events"), (*path, "events"), nullable=True)
        wolverine = check_bool(self.doc, item.get("wolverine"), (*path, "wolverine"), nullable=True)
        return SchemaTarget(schema, service, context, events, wolverine), database

    def saga_settings(self, value: Any, path: KeyPath) -> dict[str, _SagaSetting]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.doc.error(path, f"expected a mapping of saga names to settings, got {describe(value)}", None)
        out: dict[str, _SagaSetting] = {}
        for name, settings in value.items():
            item = section(self.doc, settings, (*path, name), _SAGA)
            state = item.get("state")
            if state is not None:
                state = self.text(state, (*path, name, "state"), "the saga's state member, e.g. Status")
            idle_after = item.get("idle_after", DEFAULT_IDLE_AFTER)
            idle = seconds(check_duration(self.doc, idle_after, (*path, name, "idle_after"), positive=True))
            table = item.get("table")
            if table is not None:
                table = self.ident(table, (*path, name, "table"), "table").lower()
            schema = item.get("schema")
            if schema is not None:
                schema = self.ident(schema, (*path, name, "schema"), "schema").lower()
            service = item.get("service")
            limits = self.state_limits(item.get("limits"), (*path, name, "limits"))
            out[name] = _SagaSetting(state, idle, table, None if service is None else str(service), schema, limits)
        return out

    def state_limits(self, value: Any, path: KeyPath) -> tuple[tuple[str, float], ...]:
        """``limits: {Placed: 5m, Delivered: 30d, Completed: never}``: how long a saga may stay in a state."""
        if value is None:
            return ()
        if not isinstance(value, dict):
            raise self.doc.error(path, f"expected a mapping of states to durations, got {describe(value)}", None)
        out: list[tuple[str, float]] = []
        for state, limit in value.items():
            if limit == "never":
                out.append((state, float("inf")))
                continue
            try:
                out.append((state, seconds(limit, LONG_DURATION)))
            except (ValueError, TypeError):
                allowed = "a duration such as 5m, 2h, 30d or 2w, or never"
                raise self.doc.error((*path, state), f"{describe(limit)} is not a duration", allowed) from None
        return tuple(out)

    # -- RabbitMQ --------------------------------------------------------------------------------------------

    def rabbit(self, item: Mapping[str, Any], path: KeyPath, system: System | None, timeout: float) -> RabbitTarget:
        management = self.http_url(item.get("management"), (*path, "management"))
        prometheus = self.http_url(item.get("prometheus"), (*path, "prometheus"))
        if management is None and prometheus is None:
            raise self.doc.error(path, "neither management nor prometheus is set", "management: http://host:15672")
        user = item.get("user", "guest")
        user = self.text(user, (*path, "user"), "a RabbitMQ user name")
        password = self.password(item, path)
        if password is None:
            password = "guest" if user == "guest" else None
        vhost = item.get("vhost", "/")
        if vhost is not None:
            vhost = self.text(vhost, (*path, "vhost"), "a virtual host such as /, or null for all")
        owners = {o.queue: o for o in (_queue_owners(system) if system is not None else ())}
        owners.update(self.owners(item.get("queues"), (*path, "queues")))
        return RabbitTarget(
            management, prometheus, user, password, vhost, tuple(owners[q] for q in sorted(owners)), timeout
        )

    def owners(self, value: Any, path: KeyPath) -> dict[str, QueueOwner]:
        """``queues: {queue: {service: ..., bounded_context: ...}}`` (or ``{queue: service}``)."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.doc.error(path, f"expected a mapping of queue names to services, got {describe(value)}", None)
        out: dict[str, QueueOwner] = {}
        for queue, owner in value.items():
            if isinstance(owner, str):
                owner = {"service": owner}
            item = section(self.doc, owner, (*path, queue), ("service", "bounded_context"))
            service = self.text(item.get("service"), (*path, queue, "service"), "the consuming service's name")
            context = str(item.get("bounded_context") or "")
            out[queue] = QueueOwner(queue, service, context)
        return out

    def http_url(self, value: Any, path: KeyPath) -> str | None:
        if value is None:
            return None
        allowed = "http://host:port or https://host:port, without credentials (use user and password_env)"
        url = self.text(value, path, allowed)
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError:
            raise self.doc.error(path, f"{url!r} is not a URL", allowed) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise self.doc.error(path, f"{url!r} is not an http(s) URL", allowed)
        if parts.username or parts.password:
            raise self.doc.error(path, "the URL holds credentials", allowed)
        try:
            parts.port  # noqa: B018 - raises for a port out of range
        except ValueError:
            raise self.doc.error(path, f"{url!r} has an invalid port", allowed) from None
        return url.rstrip("/")

    # -- limits ----------------------------------------------------------------------------------------------

    def limits(self, value: Any, path: KeyPath, system: System | None) -> Limits:
        item = section(self.doc, value, path, _LIMITS)
        numbers: dict[str, Any] = {
            key: check_number(self.doc, item[key], (*path, key), "a number of 0 or more", low=0)
            for key in ("projection_lag", "dead_letters", "orphaned", "queue_messages_without_consumers")
            if key in item
        }
        durations: dict[str, Any] = {
            f"{key}_s": seconds(check_duration(self.doc, item[key], (*path, key), positive=True))
            for key in ("stalled_after", "heartbeat_stale", "saga_in_state")
            if key in item
        }
        limits = replace(Limits(), **numbers, **durations)
        if system is not None:
            limits = replace(limits, saga_state_limits=saga_state_limits(system))
        return limits


def _where(doc: Doc, path: KeyPath) -> str:
    line = doc.lines.get(path)
    return f"{doc.source}:{line}" if line else doc.source


# -- the model --------------------------------------------------------------------------------------------------


def _schemas_from_model(system: System, sagas: Mapping[str, _SagaSetting]) -> list[tuple[SchemaTarget, str | None]]:
    out: list[tuple[SchemaTarget, str | None]] = []
    for service in system.services:
        if not stores_in_postgres(service):
            continue
        schema = events_schema(service).lower()
        messages = message_schema(service).lower()
        saga_targets = tuple(_saga_target(saga, sagas.get(saga.name)) for saga in service.sagas)
        events = bool(service.marten and service.marten.event_sourcing) or None
        apart = messages != schema  # Wolverine's tables in a schema of their own
        context = service.bounded_context
        out.append(
            (
                SchemaTarget(schema, service.name, context, events, False if apart else None, saga_targets),
                service.database,
            )
        )
        if apart:
            out.append((SchemaTarget(messages, service.name, context, False, None), service.database))
    return out


def _with_sagas(target: SchemaTarget, sagas: Mapping[str, _SagaSetting]) -> SchemaTarget:
    """A schema written in the configuration gets the sagas configured for it (by schema or service)."""
    found = tuple(
        SagaTarget(name, setting.table or saga_table(name), setting.state, setting.idle_after_s)
        for name, setting in sagas.items()
        if setting.schema == target.schema or (setting.service is not None and setting.service == target.service)
    )
    return replace(target, sagas=found) if found else target


def _with_database(conninfo: str, database: str) -> str:
    """The template with ``dbname`` set through libpq's own quoting (a name with spaces stays one name)."""
    from psycopg import conninfo as pgconninfo

    return pgconninfo.make_conninfo(conninfo.replace("{database}", "critterops_placeholder"), dbname=database)


def _saga_target(saga: Saga, setting: _SagaSetting | None) -> SagaTarget:
    if setting is None:
        return SagaTarget(saga.name, saga_table(saga.name), saga.state_member, seconds(DEFAULT_IDLE_AFTER))
    return SagaTarget(
        saga.name, setting.table or saga_table(saga.name), setting.state or saga.state_member, setting.idle_after_s
    )


def _queue_owners(system: System) -> tuple[QueueOwner, ...]:
    owners: dict[str, QueueOwner] = {}
    for service in system.services:
        for listen in service.listens:
            if listen.transport == "rabbitmq" and listen.queue not in owners:
                owners[listen.queue] = QueueOwner(listen.queue, service.name, service.bounded_context)
    return tuple(owners[q] for q in sorted(owners))


def _show_limit(limit: float) -> str:
    if limit == float("inf"):
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if limit >= size and limit % size == 0:
            return f"{int(limit // size)}{unit}"
    return f"{int(limit)}s"


def targets_summary(config: ExporterConfig) -> Sequence[str]:
    """One line per source for the start-up log: where it reads, never with a password."""
    lines = []
    for target in config.postgres:
        schemas = ", ".join(f"{s.schema} ({s.service})" if s.service else s.schema for s in target.schemas)
        lines.append(f"{target.target}: {redact_conninfo(target.conninfo)} schemas {schemas}")
    if config.rabbitmq is not None:
        rabbit = config.rabbitmq
        where = " + ".join(u for u in (rabbit.management_url, rabbit.prometheus_url) if u)
        lines.append(f"rabbitmq: {where} as {rabbit.user}, vhost {rabbit.vhost or 'all'}")
    return lines


def redact_conninfo(conninfo: str) -> str:
    """``host:port/dbname user`` of a conninfo (which holds no password, but keep output short)."""
    from psycopg import conninfo as pgconninfo

    try:
        params = pgconninfo.conninfo_to_dict(conninfo.replace("{database}", "x"))
    except Exception:
        return "(connection string)"
    host = params.get("host") or params.get("hostaddr") or "localhost"
    return f"{host}:{params.get('port', 5432)}/{params.get('dbname', '')} as {params.get('user', '(default user)')}"


# -- the kit's exporter configuration ---------------------------------------------------------------------------

PG_PASSWORD_ENV: Final = "CRITTEROPS_PG_PASSWORD"
RABBITMQ_PASSWORD_ENV: Final = "CRITTEROPS_RABBITMQ_PASSWORD"


def config_document(system: System) -> dict[str, Any]:
    """A complete ``exporter:`` section for ``system`` that needs no ``--repo``: every schema with its
    service, bounded context and database, every saga with its schema, table and state member. The
    deployment kit writes it; :func:`parse_config` reads it back to the same targets as ``--repo``."""
    postgres_host = next((i.name for i in system.infrastructure if i.kind == "postgres"), "postgres")
    schemas: dict[str | None, list[dict[str, Any]]] = {}
    sagas: dict[str, dict[str, Any]] = {}
    state_limits = saga_state_limits(system)
    for target, database in _schemas_from_model(system, {}):
        entry: dict[str, Any] = {"schema": target.schema, "service": target.service}
        if target.bounded_context:
            entry["bounded_context"] = target.bounded_context
        if database:
            entry["database"] = database
        schemas.setdefault(database, []).append(entry)
        for saga in target.sagas:
            setting: dict[str, Any] = {"schema": target.schema, "table": saga.table, "idle_after": DEFAULT_IDLE_AFTER}
            if saga.state_member:
                setting["state"] = saga.state_member
            limits = {state: _show_limit(limit) for name, state, limit in state_limits if name == saga.name}
            if limits:
                setting["limits"] = limits
            sagas[saga.name] = setting
    postgres: list[dict[str, Any]] = []
    named = [
        entry
        for database, entries in sorted(schemas.items(), key=lambda kv: kv[0] or "")
        if database
        for entry in entries
    ]
    if named:
        postgres.append(
            {
                "url": f"postgresql://critterops@{postgres_host}:5432/{{database}}",
                "password_env": PG_PASSWORD_ENV,
                "schemas": named,
            }
        )
    if schemas.get(None):  # the code names no database: Npgsql's default is the user's own
        postgres.append(
            {
                "name": "default",
                "url": f"postgresql://critterops@{postgres_host}:5432/postgres",
                "password_env": PG_PASSWORD_ENV,
                "schemas": [{k: v for k, v in entry.items() if k != "database"} for entry in schemas[None]],
            }
        )
    section: dict[str, Any] = {"listen": "0.0.0.0:9180", "timeout": DEFAULT_TIMEOUT}
    if postgres:
        section["postgres"] = postgres
    if any(listen.transport == "rabbitmq" for s in system.services for listen in s.listens):
        broker = next((i.name for i in system.infrastructure if i.kind == "rabbitmq"), "rabbitmq")
        section["rabbitmq"] = {
            "management": f"http://{broker}:15672",
            "prometheus": f"http://{broker}:15692",
            "user": "critterops",
            "password_env": RABBITMQ_PASSWORD_ENV,
            "vhost": "/",
            "queues": {
                owner.queue: {"service": owner.service, "bounded_context": owner.bounded_context}
                if owner.bounded_context
                else {"service": owner.service}
                for owner in _queue_owners(system)
            },
        }
    if sagas:
        section["sagas"] = dict(sorted(sagas.items()))
    return {"exporter": section}
