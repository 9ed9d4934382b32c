"""docker-compose files: services, images, ports, profiles, healthchecks, build contexts."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from critterops.discover.files import SourceTree

COMPOSE_NAMES = re.compile(r"^(docker-)?compose([.\-][\w.\-]+)?\.ya?ml$", re.IGNORECASE)
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_VAR = re.compile(r"\$\{([^}:\-]+)(?::?-([^}]*))?\}")

INFRA_KINDS = (
    ("postgis", "postgres"),
    ("timescale", "postgres"),
    ("postgres", "postgres"),
    ("rabbitmq", "rabbitmq"),
    ("jaeger", "jaeger"),
    ("otel/opentelemetry-collector", "otel-collector"),
    ("opentelemetry-collector", "otel-collector"),
    ("redis", "redis"),
    ("valkey", "redis"),
    ("confluentinc/cp-kafka", "kafka"),
    ("kafka", "kafka"),
    ("redpanda", "kafka"),
    ("zookeeper", "zookeeper"),
    ("mssql", "sqlserver"),
    ("mongo", "mongodb"),
    ("prometheus", "prometheus"),
    ("grafana", "grafana"),
    ("datalust/seq", "seq"),
    ("elasticsearch", "elasticsearch"),
    ("keycloak", "keycloak"),
    ("azurite", "azure-storage"),
    ("localstack", "aws-local"),
    ("nats", "nats"),
    ("pulsar", "pulsar"),
    ("mailhog", "smtp"),
    ("mailpit", "smtp"),
    ("pgadmin", "pgadmin"),
    ("typesense", "typesense"),
)


def infra_kind(image: str | None) -> str:
    if not image:
        return "other"
    lowered = image.lower()
    for needle, kind in INFRA_KINDS:
        if needle in lowered:
            return kind
    return "other"


@dataclass
class ComposeService:
    name: str
    file: str
    image: str | None = None
    build_context: str | None = None
    dockerfile: str | None = None
    ports: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)
    healthcheck: bool = False
    depends_on: list[str] = field(default_factory=list)

    def port_pairs(self) -> list[tuple[int | None, int | None]]:
        """(host, container) port pairs from the short and long port syntaxes."""
        out: list[tuple[int | None, int | None]] = []
        for spec in self.ports:
            spec = spec.split("/")[0]
            parts = spec.rsplit(":", 2)
            try:
                if len(parts) == 1:
                    out.append((None, int(parts[0].split("-")[0])))
                else:
                    host = parts[-2].split("-")[0]
                    out.append((int(host) if host.isdigit() else None, int(parts[-1].split("-")[0])))
            except ValueError:
                continue
        return out


def _interpolate(value: str) -> str:
    return _VAR.sub(lambda m: m.group(2) or "", value)


def _environment(raw: Any) -> dict[str, str]:
    env: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            env[str(key)] = _interpolate("" if value is None else str(value))
    elif isinstance(raw, list):
        for item in raw:
            key, _, value = str(item).partition("=")
            env[key] = _interpolate(value)
    return env


def _ports(raw: Any) -> list[str]:
    ports: list[str] = []
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict):
            target = item.get("target")
            published = item.get("published")
            if target is not None:
                ports.append(f"{published}:{target}" if published is not None else str(target))
        elif item is not None:
            ports.append(_interpolate(str(item)))
    return ports


def find_compose_files(tree: SourceTree) -> list[str]:
    return [f for f in tree.files if COMPOSE_NAMES.match(posixpath.basename(f)) and f.count("/") <= 2]


def read_compose(tree: SourceTree, rel: str) -> list[ComposeService]:
    content = tree.read_text(rel)
    if content is None:
        return []
    try:
        data = yaml.load(content, Loader=_LOADER)  # a SafeLoader, the C one when available
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        tree.warn(rel, f"invalid YAML{where}; its services are ignored", mark.line + 1 if mark else 0)
        return []
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        if data is not None:
            tree.warn(rel, "no `services:` mapping; not a compose file")
        return []
    base = posixpath.dirname(rel)
    out: list[ComposeService] = []
    for name, spec in data["services"].items():
        if not isinstance(spec, dict):
            tree.warn(rel, f"service {name!r} is not a mapping; ignored")
            continue
        service = ComposeService(str(name), rel)
        image = spec.get("image")
        service.image = _interpolate(str(image)) if image else None
        build = spec.get("build")
        if isinstance(build, str):
            service.build_context = posixpath.normpath(posixpath.join(base, build))
        elif isinstance(build, dict):
            context = posixpath.normpath(posixpath.join(base, str(build.get("context", "."))))
            service.build_context = context
            if build.get("dockerfile"):
                service.dockerfile = posixpath.normpath(posixpath.join(context, str(build["dockerfile"])))
        if service.build_context and not service.dockerfile:
            service.dockerfile = posixpath.normpath(posixpath.join(service.build_context, "Dockerfile"))
        service.ports = _ports(spec.get("ports"))
        profiles = spec.get("profiles")
        service.profiles = [str(p) for p in profiles] if isinstance(profiles, list) else []
        service.environment = _environment(spec.get("environment"))
        service.healthcheck = isinstance(spec.get("healthcheck"), dict) and not spec["healthcheck"].get("disable")
        depends = spec.get("depends_on")
        service.depends_on = [str(d) for d in (depends if isinstance(depends, (list, dict)) else [])]
        out.append(service)
    return out
