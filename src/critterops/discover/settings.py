"""``Properties/launchSettings.json`` and ``appsettings*.json`` of a project."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from critterops.discover import jsonc
from critterops.discover.files import SourceTree


@dataclass
class LaunchInfo:
    http_port: int | None = None
    https_port: int | None = None
    urls: list[str] = field(default_factory=list)
    environment: str | None = None


def _port(url: str) -> int | None:
    try:
        parts = urlsplit(url.strip())
        return parts.port
    except ValueError:
        return None


def _load(tree: SourceTree, rel: str) -> Any:
    content = tree.read_text(rel)
    if content is None:
        return None
    try:
        return jsonc.loads(content)
    except ValueError as error:
        tree.warn(rel, f"invalid JSON ({error}); its settings are ignored")
        return None


def read_launch_settings(tree: SourceTree, rel: str) -> LaunchInfo:
    info = LaunchInfo()
    data = _load(tree, rel)
    if not isinstance(data, dict):
        return info
    profiles = data.get("profiles")
    if not isinstance(profiles, dict):
        return info
    ordered = sorted(
        (p for p in profiles.values() if isinstance(p, dict)),
        key=lambda p: 0 if p.get("commandName") == "Project" else 1,
    )
    for profile in ordered:
        urls = profile.get("applicationUrl")
        env = profile.get("environmentVariables")
        if isinstance(env, dict):
            if info.environment is None and isinstance(env.get("ASPNETCORE_ENVIRONMENT"), str):
                info.environment = env["ASPNETCORE_ENVIRONMENT"]
            if not urls and isinstance(env.get("ASPNETCORE_URLS"), str):
                urls = env["ASPNETCORE_URLS"]
        if not isinstance(urls, str):
            continue
        for url in urls.split(";"):
            url = url.strip()
            if not url:
                continue
            info.urls.append(url)
            port = _port(url)
            if url.startswith("http://") and info.http_port is None:
                info.http_port = port
            elif url.startswith("https://") and info.https_port is None:
                info.https_port = port
    return info


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """appsettings as ``Section:Key`` → value strings (what IConfiguration sees)."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}{key}:"))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.update(flatten(value, f"{prefix}{index}:"))
    elif data is not None:
        out[prefix.rstrip(":")] = str(data).lower() if isinstance(data, bool) else str(data)
    return out


def read_appsettings(tree: SourceTree, rel: str) -> dict[str, str]:
    data = _load(tree, rel)
    return flatten(data) if isinstance(data, dict) else {}


_KV = re.compile(r"\s*([^=;]+?)\s*=\s*([^;]*)")


def connection_database(connection: str) -> tuple[str | None, str | None]:
    """(kind, database) of an ADO.NET connection string or a URL.

    ``Host=x;Database=orders;...`` → ("postgres", "orders"); ``amqp://...`` → ("rabbitmq", None).
    """
    text = connection.strip()
    if text.startswith(("postgres://", "postgresql://")):
        path = urlsplit(text).path.lstrip("/")
        return "postgres", path or None
    if text.startswith(("amqp://", "amqps://")):
        return "rabbitmq", None
    pairs = {k.strip().lower(): v.strip() for k, v in _KV.findall(text)}
    database = pairs.get("database") or pairs.get("initial catalog") or pairs.get("db")
    if "host" in pairs or ("server" in pairs and "port" in pairs) or "username" in pairs:
        kind = "postgres" if ("host" in pairs or "username" in pairs) else "sqlserver"
    elif "server" in pairs or "data source" in pairs:
        kind = "sqlserver"
    else:
        kind = None
    return kind, database
