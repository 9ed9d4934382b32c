"""CR107 credentials-in-configuration.

Bad: ``"postgres": "Host=db;Database=orders;Username=app;Password=s3cret"`` in ``appsettings.json``;
``rabbit.Password = config["password"] ?? "guest";`` in code; ``POSTGRES_PASSWORD: postgres`` in a
compose file.

Good: no password in files that ship: ``appsettings.json`` names the keys, the values come from the
environment (a Kubernetes Secret, user-secrets in Development).

``appsettings.json`` is copied into the image and read in every environment; a literal in code is in
every build. ``appsettings.Development.json`` is left alone (local development defaults). Compose files
are local tooling: reported as warnings.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator

from critterops.review.casekit import api_dir, program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

_CONN_PASSWORD = re.compile(r"(?i)\b(?:password|pwd)\s*=\s*([^;\"'\s]+)")
_JSON_SECRET = re.compile(r'(?i)"([\w.-]*(?:password|passwd|pwd|secret|apikey|api_key)[\w.-]*)"\s*:\s*"([^"]*)"')
_CODE_CONN = re.compile(r'(?i)"[^"]*\b(?:password|pwd)=([^;"\s]+)')
_CODE_SECRET = re.compile(r'(?i)\b\w*(?:password|passwd)\w*\s*=\s*(?:[^;]*\?\?\s*)?"([^"]+)"\s*[;,)]')
_YAML_SECRET = re.compile(r"(?i)^\s*-?\s*\"?([\w.]*(?:PASSWORD|_PASS|PASSWD|SECRET)[\w.]*)\"?\s*[:=]\s*\"?([^\"#\s]+)")
_PLACEHOLDER = re.compile(r"^(\$\{.*\}|\$\(.*\)|#\{.*\}|<.*>|__\w+__|\{\{.*\}\}|\*+)$")


def _value_ok(value: str) -> bool:
    return not value or bool(_PLACEHOLDER.match(value)) or value.startswith("$")


def _appsettings(rel: str) -> bool:
    name = posixpath.basename(rel).lower()
    return name.startswith("appsettings") and name.endswith(".json") and "development" not in name


def _compose(rel: str) -> bool:
    name = posixpath.basename(rel).lower()
    return ("compose" in name) and name.endswith((".yml", ".yaml"))


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for rel in ctx.tree.files:
        if _appsettings(rel) and "/bin/" not in rel:
            for number, text in enumerate(ctx.lines(rel), 1):
                found = _JSON_SECRET.search(text)
                conn = _CONN_PASSWORD.search(text)
                if found and not _value_ok(found.group(2)):
                    yield Hit(rel, number, f"{found.group(1)} has a value in {posixpath.basename(rel)}")
                elif conn and not _value_ok(conn.group(1)):
                    yield Hit(rel, number, f"a connection string with a password in {posixpath.basename(rel)}")
        elif _compose(rel):
            for number, text in enumerate(ctx.lines(rel), 1):
                if text.lstrip().startswith("#"):
                    continue
                found = _YAML_SECRET.search(text)
                conn = _CONN_PASSWORD.search(text)
                if (found and not _value_ok(found.group(2))) or (conn and not _value_ok(conn.group(1))):
                    what = found.group(1) if found else "a connection string password"
                    yield Hit(rel, number, f"{what} written in the compose file", severity="warning")
    for rel in ctx.code_files():
        for number, text in enumerate(ctx.lines(rel), 1):
            if ctx.is_comment(text):
                continue
            conn = _CODE_CONN.search(text)
            found = _CODE_SECRET.search(text)
            if conn and not _value_ok(conn.group(1)):
                yield Hit(rel, number, "a connection string with a password written in code")
            elif found and not _value_ok(found.group(1)):
                yield Hit(rel, number, f"a password written in code ('{found.group(1)[:2]}…')")


_SETTINGS_BAD = """{
  "ConnectionStrings": {
    "marten": "Host=postgres;Port=5432;Database=orders;Username=orders;Password=orders-pw"
  },
  "RabbitMQ": { "hostname": "rabbitmq", "username": "guest", "password": "guest" }
}
"""
_SETTINGS_GOOD = """{
  "ConnectionStrings": { "marten": "" },
  "RabbitMQ": { "hostname": "rabbitmq" }
}
"""
_CODE_BAD = """builder.Host.UseWolverine(opts =>
{
    var rabbit = builder.Configuration.GetSection("RabbitMQ");
    opts.UseRabbitMq(r =>
    {
        r.HostName = rabbit["hostname"];
        r.Password = rabbit["password"] ?? "guest";
    });
});
var app = builder.Build();
app.Run();
"""
_CODE_GOOD = _CODE_BAD.replace(' ?? "guest"', "")
_COMPOSE = """services:
  postgres:
    image: postgres:16.4
    environment:
      POSTGRES_USER: postgres
      POSTGRES_PASSWORD: postgres
"""
_COMPOSE_GOOD = _COMPOSE.replace("POSTGRES_PASSWORD: postgres", "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}")
_SETTINGS = f"{api_dir('Orders')}/appsettings.json"
_PROGRAM = f"{api_dir('Orders')}/Program.cs"

RULE = Rule(
    id="CR107",
    name="credentials-in-configuration",
    severity="error",
    summary="a password or secret written in appsettings, a compose file or code",
    why="files in the repository ship in every image and every clone; a default like guest/guest or "
    "postgres/postgres then works against production if nobody overrides it",
    fix="leave the value out of shipped files: read it from the environment (a Kubernetes Secret, user-secrets "
    "in Development) and fail at startup when it is missing",
    check=check,
    cases=(
        Case("appsettings-passwords", service(appsettings=_SETTINGS_BAD), ((_SETTINGS, 3), (_SETTINGS, 5))),
        Case("appsettings-keys-only", service(appsettings=_SETTINGS_GOOD)),
        Case("code-fallback-guest", service(program=_CODE_BAD), ((_PROGRAM, program_line(_CODE_BAD, "r.Password")),)),
        Case("code-reads-configuration", service(program=_CODE_GOOD)),
        Case("compose-password", {**service(), "docker-compose.yml": _COMPOSE}, (("docker-compose.yml", 6),)),
        Case("compose-from-environment", {**service(), "docker-compose.yml": _COMPOSE_GOOD}),
    ),
)
