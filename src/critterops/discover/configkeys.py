"""Every configuration key a service reads, as :class:`Setting` records the deployment kit supplies.

The reads come from :mod:`critterops.discover.csharp.configreads`, over all the code the service
runs: its own project, the libraries it owns, and the shared methods it calls (``AddServiceDefaults``
and what that calls, transitively, as the wiring does). This module merges them per key (keys are
case-insensitive in .NET configuration), expands sections bound to options classes into the class'
properties, adds the keys the Aspire AppHost's ``WithReference`` supplies, takes defaults from the
project's ``appsettings.json`` and points connection strings and broker settings at the
infrastructure they reach (compose services and AppHost resources).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from tree_sitter import Node

from critterops.discover import compose as compose_mod
from critterops.discover.apphost import AppHostInfo
from critterops.discover.csharp.configreads import ConfigFacts, ConfigRead, read_configuration
from critterops.discover.csharp.configvocab import secret_name
from critterops.discover.csharp.values import Scope
from critterops.discover.settings import connection_database
from critterops.model import Location, ScanWarning, Setting, TypeInfo

# the stronger use of a key wins when it is read in several places
_RANK = {"broker": 0, "connection-string": 1, "http-base-url": 2, "key": 3, "section": 4, "aspire-reference": 5}
_LOCAL = frozenset({"localhost", "127.0.0.1", "::1", "host.docker.internal", "0.0.0.0"})
_CLASS_NAME = re.compile(r"^(?!(?:string|int|long|bool|double|decimal|float|object)$)[A-Za-z_][\w.]*$")
_HOST_KEYS = frozenset({"hostname", "host", "server", "bootstrapservers", "address"})
# Wolverine connects a bare UseRabbitMq() to localhost unless an IConnectionFactory is registered:
# ``ConnectionFactory ??= runtime.Services.GetService<IConnectionFactory>() as ConnectionFactory ??
# new ConnectionFactory { HostName = "localhost" }`` (JasperFx/wolverine V6.29.2,
# src/Transports/RabbitMQ/Wolverine.RabbitMQ/Internal/RabbitMqTransport.cs lines 210-211)
BARE_RABBIT = (
    "UseRabbitMq() names no broker: Wolverine then connects to localhost:5672 (no IConnectionFactory is "
    'registered): read it from configuration: UseRabbitMqUsingNamedConnection("rabbitmq"), which reads '
    "ConnectionStrings:rabbitmq"
)
# the same default when the code listens to or sends on RabbitMQ and never calls UseRabbitMq at all
NO_RABBIT = (
    "listens to or sends on RabbitMQ but never says where the broker is (no UseRabbitMq...): Wolverine then "
    'connects to localhost:5672: read it from configuration: UseRabbitMqUsingNamedConnection("rabbitmq"), which '
    "reads ConnectionStrings:rabbitmq"
)


@dataclass(frozen=True, slots=True)
class Infra:
    """Something a connection string can point at: a compose service or an AppHost resource."""

    name: str
    kind: str  # postgres | rabbitmq | redis | database (an AppHost database) | ...
    host_ports: tuple[int, ...] = ()


def infrastructure(compose: list[compose_mod.ComposeService], apphost: AppHostInfo) -> list[Infra]:
    out = [
        Infra(svc.name, compose_mod.infra_kind(svc.image), tuple(h for h, _ in svc.port_pairs() if h is not None))
        for svc in compose
        if svc.image and not svc.build_context and compose_mod.infra_kind(svc.image) != "other"
    ]
    known = {i.name for i in out}
    out += [Infra(name, kind) for name, kind in sorted(apphost.resources.items()) if name not in known]
    return out


@dataclass
class SharedCode:
    """The methods of shared code (ServiceDefaults, shared libraries) that read configuration, by name.

    What a method reads is worked out once, for the first service that calls it: its keys come from
    its own literals and the repository's constants, the same for every caller.
    """

    methods: dict[str, list[tuple[str, Node]]] = field(default_factory=dict)
    _facts: dict[tuple[str, int], ConfigFacts] = field(default_factory=dict)

    def facts(self, rel: str, method: Node, scope: Scope) -> ConfigFacts:
        key = (rel, method.start_byte)
        if key not in self._facts:
            self._facts[key] = read_configuration(method, rel, scope)
        return self._facts[key]


def gather(sources: list[tuple[str, Node]], shared: SharedCode, scope: Scope) -> list[ConfigFacts]:
    """The reads of the service's own files, then of the shared methods they call, transitively."""
    facts = [read_configuration(root, rel, scope) for rel, root in sources]
    names = set(shared.methods)
    followed: set[str] = set()
    pending = sorted({name for f in facts for name in f.invoked} & names)
    while pending:
        name = pending.pop()
        if name in followed:
            continue
        followed.add(name)
        for rel, method in shared.methods[name]:
            sub = shared.facts(rel, method, scope)
            facts.append(sub)
            pending += sorted((sub.invoked & names) - followed)
    return facts


def service_settings(
    facts: list[ConfigFacts],
    *,
    defaults: Mapping[str, str],
    values: Callable[[str], str | None],
    infra: list[Infra],
    find_type: Callable[[str], TypeInfo | None],
    references: Sequence[tuple[str, bool]] = (),
    rabbit_at: Location | None = None,
) -> tuple[tuple[Setting, ...], list[ScanWarning]]:
    """The settings of one service and the warnings about what it hard-codes or cannot resolve.

    ``defaults`` is the project's flattened ``appsettings.json``; ``values(key)`` the value the
    service would see where it runs locally (compose environment first, then appsettings), used to
    find the infrastructure a connection points at; ``references`` the AppHost's ``WithReference``
    targets as ``(resource, is a project)``; ``rabbit_at`` where the service first listens to or sends on
    RabbitMQ, if it does.
    """
    lowered = {k.lower(): v for k, v in defaults.items()}
    merged: dict[str, Setting] = {}
    warnings: list[ScanWarning] = []

    def add(setting: Setting) -> None:
        key = setting.key.lower()
        old = merged.get(key)
        if old is None:
            merged[key] = setting
            return
        strong, weak = (setting, old) if _RANK[setting.kind] < _RANK[old.kind] else (old, setting)
        merged[key] = replace(
            strong,
            key=old.key,
            target=strong.target or weak.target,
            secret=old.secret or setting.secret,
            file=old.file or setting.file,
        )

    for fact in facts:
        for read in fact.reads:
            for setting in _settings_of(read, fact.file, lowered, values, infra, find_type):
                add(setting)
        warnings += [ScanWarning(fact.file, message, line) for line, message in fact.hard_coded + fact.unresolved]
    if not any(f.connection_factory for f in facts):
        warnings += [ScanWarning(f.file, BARE_RABBIT, line) for f in facts for line in f.bare_rabbit]
        configured = any(f.rabbit_connection or f.bare_rabbit for f in facts)
        if rabbit_at is not None and not configured:
            warnings.append(ScanWarning(rabbit_at.file, NO_RABBIT, rabbit_at.line))
    for resource, is_project in references:
        if is_project:  # service discovery: services:{name}:http:0 (aspire.dev, fundamentals/environment-variables)
            add(Setting(f"services:{resource}:http:0", "aspire-reference", "WithReference", resource))
        else:  # ConnectionStrings:{resource}
            key = f"ConnectionStrings:{resource}"
            add(Setting(key, "aspire-reference", "WithReference", resource, True, lowered.get(key.lower())))
    return tuple(sorted(merged.values(), key=lambda s: s.key.lower())), warnings


def _settings_of(
    read: ConfigRead,
    file: str,
    defaults: dict[str, str],
    values: Callable[[str], str | None],
    infra: list[Infra],
    find_type: Callable[[str], TypeInfo | None],
) -> list[Setting]:
    where = Location(file, read.line)
    out: list[Setting] = []
    if read.kind == "section":
        if read.key:  # a root binding (Configure<T>(builder.Configuration)) only has its properties
            out.append(Setting(read.key, "section", read.via, None, read.secret, None, False, where))
        if read.options_type:
            out += _options_keys(read.key, read.options_type, defaults, find_type, 0)
        return out
    target = None
    if read.kind in ("connection-string", "broker"):
        target = _infra_target(read, values(read.key), infra)
    out.append(
        Setting(read.key, read.kind, read.via, target, read.secret, defaults.get(read.key.lower()), read.file, where)
    )
    return out


def _options_keys(
    section: str, type_name: str, defaults: dict[str, str], find_type: Callable[[str], TypeInfo | None], depth: int
) -> list[Setting]:
    """The keys an options class binds: ``Jwt:SigningKey`` for ``JwtSettings.SigningKey`` bound to ``Jwt``."""
    name = type_name.rstrip("?")
    if not _CLASS_NAME.match(name):  # string[], List<string>, int: nothing to expand
        return []
    info = find_type(name)
    if info is None or depth > 3 or info.kind not in ("class", "record", "struct"):
        return []
    out: list[Setting] = []
    for member in info.members:
        key = f"{section}:{member.name}" if section else member.name
        nested = _options_keys(key, member.type, defaults, find_type, depth + 1) if "<" not in member.type else []
        if nested:
            out += nested
            continue
        out.append(
            Setting(
                key,
                "key",
                f"{info.name}.{member.name}",
                None,
                secret_name(key),
                defaults.get(key.lower()),
                False,
                Location(info.file, member.line),
            )
        )
    return out


def _infra_target(read: ConfigRead, value: str | None, infra: list[Infra]) -> str | None:
    """The compose service or AppHost resource a connection string or broker setting reaches.

    By the connection name when the AppHost declares a resource of that name, by the host (a
    compose service name, or ``localhost`` and a port that a compose service publishes), else by
    kind when exactly one piece of infrastructure has it.
    """
    name = read.key.split(":", 1)[1] if read.key.lower().startswith("connectionstrings:") else None
    by_name = {i.name.lower(): i.name for i in infra}
    if name and name.lower() in by_name and name.lower() not in _LOCAL:
        return by_name[name.lower()]
    host, port, kind = _endpoint(read.key, value) if value else (None, None, None)
    if host:
        if host.lower() in by_name:
            return by_name[host.lower()]
        if host.lower() in _LOCAL and port:
            for item in infra:
                if port in item.host_ports:
                    return item.name
    kind = kind or read.infra
    matching = [i.name for i in infra if i.kind == kind]
    return matching[0] if len(matching) == 1 else None


def _endpoint(key: str, value: str) -> tuple[str | None, int | None, str | None]:
    """(host, port, infrastructure kind) of a connection string, URL or host name."""
    value = value.strip()
    if "://" in value:
        try:
            parts = urlsplit(value)
            kind = {"amqp": "rabbitmq", "amqps": "rabbitmq", "redis": "redis", "nats": "nats"}.get(parts.scheme)
            return parts.hostname, parts.port, kind or connection_database(value)[0]
        except ValueError:
            return None, None, None
    if "=" in value:
        pairs = {k.strip().lower(): v.strip() for k, v in re.findall(r"\s*([^=;]+?)\s*=\s*([^;]*)", value)}
        host = pairs.get("host") or pairs.get("server") or pairs.get("data source") or pairs.get("address")
        port = pairs.get("port")
        if host and "," in host:  # SQL Server: tcp:host,1433
            host, port = host.split(",", 1)
        host = host.removeprefix("tcp:") if host else None
        return host, int(port) if port and port.isdigit() else None, connection_database(value)[0]
    if key.rsplit(":", 1)[-1].lower() in _HOST_KEYS:
        host, _, port = value.partition(":")
        return host, int(port) if port.isdigit() else None, None
    return None, None, None


def resolve_targets(
    settings: tuple[Setting, ...],
    calls_by_key: Mapping[str, str],
    hosts: Mapping[str, str],
    resolve_url: Callable[[str, str | None], str | None],
) -> tuple[Setting, ...]:
    """Point HTTP base URLs and Aspire service references at the services they call.

    ``calls_by_key`` maps a configuration key (lower case) to the target discovery resolved for
    the HTTP client configured from it (:class:`critterops.model.HttpCall`); ``hosts`` maps host
    and resource names to service names; ``resolve_url(key, url)`` resolves the rest the same way
    HTTP calls are resolved."""
    out: list[Setting] = []
    for setting in settings:
        target = setting.target
        if setting.key.lower().startswith("services:"):
            target = hosts.get(setting.key.split(":")[1].lower(), target)
        elif setting.kind == "http-base-url" and target is None:
            target = calls_by_key.get(setting.key.lower()) or resolve_url(setting.key, setting.default)
        out.append(setting if target == setting.target else replace(setting, target=target))
    return tuple(out)
