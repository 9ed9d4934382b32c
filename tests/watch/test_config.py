"""The exporter's settings: critterops.yaml, command-line overrides and the system model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from critterops.discover import discover
from critterops.errors import ConfigError
from critterops.watch.config import (
    PG_PASSWORD_ENV,
    RABBITMQ_PASSWORD_ENV,
    ExporterConfig,
    Overrides,
    config_document,
    load_config,
    parse_config,
    targets_summary,
)

NO_ENV: dict[str, str] = {}


def config(text: str, system=None, overrides: Overrides | None = None, environ=NO_ENV):
    return parse_config(text, "critterops.yaml", system, overrides or Overrides(), environ)


def error_of(text: str, **kwargs) -> str:
    with pytest.raises(ConfigError) as caught:
        config(text, **kwargs)
    return str(caught.value)


def test_the_model_names_databases_schemas_sagas_and_queue_owners(pawmart: Path) -> None:
    system = discover(str(pawmart))
    text = """
exporter:
  postgres:
    - url: postgresql://critterops@db.internal:5432/{database}
  rabbitmq: {management: "http://rabbit:15672"}
"""
    cfg = config(text, system)
    by_db = {t.name: t for t in cfg.postgres}
    stores = [s for s in system.services if s.marten or (s.wolverine and s.wolverine.message_storage)]
    assert set(by_db) == {s.database for s in stores if s.database}
    for target in cfg.postgres:
        assert "dbname=" + target.name in target.conninfo and "{database}" not in target.conninfo
        assert target.target == f"postgres:{target.name}"
    schemas = {s.service: s for t in cfg.postgres for s in t.schemas}
    saga_hosts = [s for s in system.services if s.sagas]
    assert saga_hosts, "the example has a saga"
    for service in saga_hosts:
        target = schemas[service.name]
        assert target.bounded_context == service.bounded_context
        saga = service.sagas[0]
        assert [(g.name, g.table, g.state_member) for g in target.sagas] == [
            (saga.name, f"mt_doc_{saga.name.lower()}", saga.state_member)
        ]
    assert cfg.rabbitmq is not None
    owners = {o.queue: o.service for o in cfg.rabbitmq.owners}
    listens = {(q.queue, s.name) for s in system.services for q in s.listens if q.transport == "rabbitmq"}
    assert set(owners.items()) <= listens and len(owners) == len({q for q, _ in listens})
    assert cfg.limits.saga_state_limits, "status uses the generated per-state saga limits"


def test_passwords_come_from_the_environment_and_never_show() -> None:
    text = """
exporter:
  postgres:
    - url: postgresql://critterops@127.0.0.1:5432/orders
      password_env: PG_SECRET
      schemas: [{schema: orders, service: orders-api}]
  rabbitmq: {management: "http://127.0.0.1:15672", user: ops, password_env: RMQ_SECRET}
"""
    cfg = config(text, environ={"PG_SECRET": "s3cr3t-pg", "RMQ_SECRET": "s3cr3t-mq"})
    assert cfg.postgres[0].password == "s3cr3t-pg" and "s3cr3t" not in cfg.postgres[0].conninfo
    assert cfg.rabbitmq is not None and cfg.rabbitmq.password == "s3cr3t-mq"
    assert "s3cr3t" not in "\n".join(targets_summary(cfg))


def test_a_password_inside_the_url_is_taken_out_and_warned_about() -> None:
    text = "exporter:\n  postgres:\n    - url: postgresql://u:hunter2@127.0.0.1/orders\n"
    cfg = config(text)
    target = cfg.postgres[0]
    assert target.password == "hunter2" and "hunter2" not in target.conninfo
    assert any("password_env" in w for w in cfg.warnings) and not any("hunter2" in w for w in cfg.warnings)


def test_command_line_sources_replace_the_file() -> None:
    text = "exporter:\n  postgres:\n    - url: postgresql://u@db/orders\n"
    cfg = config(
        text,
        overrides=Overrides(listen=":9999", postgres=("host=127.0.0.1 dbname=x",), rabbitmq_management="http://h:1"),
    )
    assert cfg.listen == ("127.0.0.1", 9999)
    assert [t.name for t in cfg.postgres] == ["x"]
    assert cfg.rabbitmq is not None and cfg.rabbitmq.management_url == "http://h:1"


def test_configured_sagas_attach_to_their_schema() -> None:
    text = """
exporter:
  postgres:
    - url: host=127.0.0.1 dbname=orders
      schemas: [{schema: orders, service: orders-api}, {schema: billing, service: billing-api}]
  sagas:
    Order: {state: Status, idle_after: 10m, schema: orders}
    Invoice: {service: billing-api, table: mt_doc_billing_invoice}
"""
    schemas = {s.schema: s for s in config(text).postgres[0].schemas}
    assert [(g.name, g.table, g.state_member, g.idle_after_s) for g in schemas["orders"].sagas] == [
        ("Order", "mt_doc_order", "Status", 600.0)
    ]
    assert [(g.name, g.table, g.state_member) for g in schemas["billing"].sagas] == [
        ("Invoice", "mt_doc_billing_invoice", None)
    ]


def test_two_databases_without_a_model_keep_their_series_apart() -> None:
    cfg = config("", overrides=Overrides(postgres=("host=127.0.0.1 dbname=shop", "host=127.0.0.1 dbname=billing")))
    assert [(t.name, [s.service for s in t.schemas]) for t in cfg.postgres] == [
        ("shop", ["shop"]),
        ("billing", ["billing"]),
    ]


def test_database_names_cannot_inject_connection_parameters() -> None:
    text = """
exporter:
  postgres:
    - url: host=127.0.0.1 user=u dbname={database}
      schemas: [{schema: a, service: a, database: 'my db host=evil.example'}]
"""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(config(text).postgres[0].conninfo)
    assert params["dbname"] == "my db host=evil.example" and params["host"] == "127.0.0.1"


def test_without_a_model_one_connection_reads_the_public_schema() -> None:
    cfg = config("", overrides=Overrides(postgres=("postgresql://u@127.0.0.1/shop",)))
    assert [(s.schema, s.service, s.events, s.wolverine) for s in cfg.postgres[0].schemas] == [
        ("public", "shop", None, None)
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("exporter:\n  listen: 127.0.0.1:99999\n  postgres: [{url: 'host=a'}]\n", "listen: '99999' is not a port"),
        ("exporter:\n  timeout: soon\n  postgres: [{url: 'host=a dbname=b'}]\n", "exporter.timeout"),
        ("exporter:\n  postgress: []\n", "did you mean 'postgres'"),
        ("exporter:\n  postgres: [{url: 'not a conninfo'}]\n", "not a PostgreSQL connection string"),
        ("exporter:\n  postgres: [{url: 'dbname=b'}]\n", "names no host"),
        ("exporter:\n  postgres: [{url: 'host=a', password_env: NOPE}]\n", "NOPE is not set"),
        ("exporter:\n  rabbitmq: {management: 'ftp://h'}\n", "is not an http(s) URL"),
        ("exporter:\n  rabbitmq: {management: 'http://u:p@h:15672'}\n", "holds credentials"),
        ("exporter:\n  rabbitmq: {user: x}\n", "neither management nor prometheus"),
        ("exporter:\n  postgres: [{url: 'host=a/{database}'}]\n", "no database is known"),
        ("exporter:\n  postgres: [{url: 'host=a', schemas: [{schema: 'a;drop'}]}]\n", "not a valid schema name"),
        ("exporter:\n  limits: {projection_lag: -1}\n  postgres: [{url: 'host=a'}]\n", "out of range"),
        ("exporter: {}\n", "no source to read"),
        ("exporter:\n  sagas: {Order: {state: Status}}\n  postgres: [{url: 'host=a'}]\n", "which schema holds"),
        ("exporter:\n  sagas: {O: {schema: o, limits: {A: soon}}}\n  postgres: [{url: 'host=a'}]\n", "not a duration"),
        ("exporter:\n  timeout: 10h\n  postgres: [{url: 'host=a'}]\n", "longer than 5 minutes"),
        ("exporter:\n  listen: ':²'\n  postgres: [{url: 'host=a'}]\n", "is not a port"),
        ("exporter:\n  postgres: [{url: 'host=a', schemas: 5}]\n", "expected a list"),
        ("exporter:\n  rabbitmq: {management: 'http://[::1:15672'}\n", "is not a URL"),
        ("exporter:\n  postgres: [{url: 'postgresql://u:s3cr%zz@h/db'}]\n", "not a PostgreSQL connection string"),
        ("exporter:\n  rabbitmq: {management: 'http://h:1', queues: [a]}\n", "expected a mapping of queue names"),
        ("exporter:\n  rabbitmq: {management: 'http://h:1', queues: {q: {svc: a}}}\n", "did you mean 'service'"),
        ("", "no source to read"),
    ],
)
def test_bad_configuration_is_a_clear_error(text: str, fragment: str) -> None:
    message = error_of(text)
    assert fragment in message and "s3cr" not in message
    assert message.startswith(("critterops.yaml:", "critterops.yaml"))


def test_the_policy_file_with_an_exporter_section_still_loads(tmp_path: Path) -> None:
    from critterops.plan.policy import load_policy

    (tmp_path / "critterops.yaml").write_text(
        "thresholds: {projection_lag_events: 50}\nexporter:\n  postgres: [{url: 'host=127.0.0.1 dbname=o'}]\n"
    )
    assert load_policy(tmp_path).thresholds.projection_lag_events == 50
    cfg = load_config(tmp_path / "critterops.yaml", environ={})
    assert cfg.postgres[0].name == "o" and cfg.source == str(tmp_path / "critterops.yaml")


CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))


@pytest.mark.parametrize(
    "which",
    [
        "example",
        pytest.param(
            "crittersupply",
            marks=pytest.mark.skipif(not CRITTERSUPPLY.is_dir(), reason=f"no CritterSupply clone at {CRITTERSUPPLY}"),
        ),
    ],
)
def test_the_kits_exporter_file_reads_back_to_the_same_targets_as_repo(which: str, pawmart: Path) -> None:
    """observability/critterops-exporter.yaml runs without --repo and reads what --repo would."""
    system = discover(str(pawmart if which == "example" else CRITTERSUPPLY))
    environ = {PG_PASSWORD_ENV: "x", RABBITMQ_PASSWORD_ENV: "y"}
    text = yaml.safe_dump(config_document(system), sort_keys=False)
    standalone = parse_config(text, "critterops-exporter.yaml", None, Overrides(), environ)
    with_repo = parse_config(
        "exporter:\n  postgres: [{url: 'postgresql://critterops@postgres:5432/{database}'}]\n"
        "  rabbitmq: {management: 'http://rabbitmq:15672'}\n",
        "critterops.yaml",
        system,
        Overrides(),
        {},
    )

    def shape(cfg: ExporterConfig) -> list[tuple[object, ...]]:
        return sorted(
            (
                t.name,
                t.conninfo,
                s.schema,
                s.service,
                s.bounded_context,
                tuple((g.name, g.table, g.state_member) for g in s.sagas),
            )
            for t in cfg.postgres
            for s in t.schemas
        )

    assert shape(standalone) == shape(with_repo) and len(shape(standalone)) >= 4
    assert standalone.rabbitmq is not None and standalone.rabbitmq.password == "y"
    assert with_repo.rabbitmq is not None and standalone.rabbitmq.owners == with_repo.rabbitmq.owners != ()
    assert standalone.listen == ("0.0.0.0", 9180)
    assert set(standalone.limits.saga_state_limits) == set(with_repo.limits.saga_state_limits), "status agrees"


def test_the_exporter_finds_its_file_like_the_policy_does(tmp_path: Path) -> None:
    from critterops.watch.config import find_config

    assert find_config(tmp_path, None) is None
    (tmp_path / ".critterops.yaml").write_text("exporter: {}\n")
    assert find_config(tmp_path, None) == tmp_path / ".critterops.yaml"
    (tmp_path / "critterops.yaml").write_text("exporter: {}\n")
    with pytest.raises(ConfigError, match=r"both .* exist"):
        find_config(tmp_path, None)
    with pytest.raises(ConfigError, match="given with --config"):
        find_config(None, tmp_path / "missing.yaml")
