"""Proof 5: every query the kit writes has a target while the system runs.

The running system: one stand-in per service of the bundled example (the instruments of ASP.NET Core
and Wolverine, through the kit's collector), and the critterops exporter run from the kit's own
``critterops-exporter.yaml`` against the test PostgreSQL (every database and schema it lists, with
Marten and Wolverine tables filled, sagas in every state) and the test RabbitMQ (every queue it lists,
in a vhost of this test). The lab's Prometheus scrapes them with the kit's production scrape jobs.

Then every selector of every expression — AnalysisTemplates, alert rules, dashboards, the plan's
gates — must return at least one series. Those that cannot are listed by file and line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pika
import psycopg
import pytest
import yaml

from critterops.commands._common import example_path
from critterops.discover import discover
from tests.watch import critter_tables as ct
from tests.watch.conftest import SERVERS, Rabbit
from tests.watch.test_exporter_e2e import free_port

from .cluster import wait_for
from .kits import generate, render
from .queries import Query, alert_queries, analysis_queries, dashboard_queries, plan_queries, selectors
from .telemetry import query, restore_lab_observability, use_kit_observability

NAMESPACE = "pawmart-production"  # the production overlay's namespace, which the pods report as k8s.namespace.name
VERSION = "labhash0001"  # the service.version every stand-in reports: what {{args.hash}} resolves to


def _management(rabbit: Rabbit, method: str, path: str, body: object | None = None) -> None:
    request = urllib.request.Request(
        rabbit.management_url + path,
        method=method,
        data=json.dumps(body or {}).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def fill_database(
    dsn: str, database: str, targets: list[dict[str, Any]], sagas: dict[str, Any], projections: dict[str, list[str]]
) -> None:
    """Marten and Wolverine tables for every schema of one database, with something in each."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    with psycopg.connect(dsn.replace("dbname=postgres", f"dbname={database}"), autocommit=True) as conn:
        for target in targets:
            schema = target["schema"]
            ct.create_marten(conn, schema)
            last = ct.append_events(conn, schema, 300, ago_s=600, step_s=1)
            ct.set_progression(conn, schema, "HighWaterMark", last)
            for index, projection in enumerate(projections.get(target["service"], [])):
                ct.set_progression(conn, schema, f"{projection}:All", last - 40 * index)
                ct.add_dead_letter_events(conn, schema, f"{projection}:All", 1)
            ct.create_wolverine(conn, schema)
            node, number = ct.add_node(conn, schema, version="5.40.1", heartbeat_ago_s=2)
            ct.assign(conn, schema, ct.LEADER + "/", node)
            ct.add_incoming(conn, schema, 3, owner_id=number)
            ct.add_incoming(conn, schema, 1, status="Scheduled")
            ct.add_outgoing(conn, schema, 2, destination="rabbitmq://queue/lab", owner_id=number)
            ct.add_dead_letters(conn, schema, 2, message_type="Lab.Message", exception_type="TimeoutException")
            for saga in sagas.values():
                if saga.get("schema") == schema:
                    ct.create_document_table(conn, schema, saga["table"])
                    for state in saga.get("limits", {"Started": None}):
                        ct.add_sagas(conn, schema, saga["table"], 2, state=state, ago_s=120, member=saga["state"])


@dataclass
class RunningSystem:
    kit: Path
    queries: list[Query]


@pytest.fixture(scope="module")
def running_system(lab: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    for name in ("postgres", "rabbitmq"):
        if not SERVERS.status()[name]:
            (SERVERS.pg_start if name == "postgres" else SERVERS.rmq_start)()
    rabbit = Rabbit(
        SERVERS.AMQP_PORT, f"http://{SERVERS.HOST}:{SERVERS.MGMT_PORT}", f"http://{SERVERS.HOST}:{SERVERS.PROM_PORT}"
    )
    dsn = f"host={SERVERS.HOST} port={SERVERS.PG_PORT} user=postgres dbname=postgres"
    kit = generate(None, tmp_path_factory.mktemp("example-kit"), "kubernetes", "observability")
    suffix = uuid.uuid4().hex[:6]
    system = discover(example_path())

    # the exporter, from the kit's own file with the addresses of this machine
    doc = yaml.safe_load((kit / "observability" / "critterops-exporter.yaml").read_text())
    settings = doc["exporter"]
    pg = settings["postgres"][0]
    pg["url"] = f"postgresql://postgres@{SERVERS.HOST}:{SERVERS.PG_PORT}/{{database}}"
    by_database: dict[str, list[dict[str, Any]]] = {}
    for target in pg["schemas"]:
        target["database"] = f"{target['database']}_{suffix}"
        by_database.setdefault(target["database"], []).append(target)
    projections = {
        s.name: [p.name for p in s.marten.projections if p.lifecycle == "Async"] for s in system.services if s.marten
    }
    for database, targets in by_database.items():
        fill_database(dsn, database, targets, settings.get("sagas", {}), projections)
    vhost = f"lab-{suffix}"
    _management(rabbit, "PUT", f"/api/vhosts/{vhost}")
    _management(rabbit, "PUT", f"/api/permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"})
    amqp = pika.BlockingConnection(pika.ConnectionParameters(SERVERS.HOST, SERVERS.AMQP_PORT, virtual_host=vhost))
    channel = amqp.channel()
    for queue in [*settings["rabbitmq"].get("queues", {}), "wolverine-dead-letter-queue"]:
        channel.queue_declare(queue, durable=True)
        for i in range(3):
            channel.basic_publish("", queue, f"m{i}".encode())
    settings["rabbitmq"].update(
        management=rabbit.management_url, prometheus=rabbit.prometheus_url, user="guest", vhost=vhost
    )
    port = free_port()
    settings["listen"] = f"127.0.0.1:{port}"
    config = kit / "lab-exporter.yaml"
    config.write_text(yaml.safe_dump(doc))
    env = {**os.environ, pg["password_env"]: "unused", settings["rabbitmq"]["password_env"]: "guest"}
    exporter = subprocess.Popen(
        [sys.executable, "-m", "critterops", "exporter", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    docs = render(kit, "production")
    services = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Rollout")
    standins = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "critterops.lab.standin",
                "--service",
                name,
                "--instance",
                f"{name}-0",
                "--version",
                VERSION,
                "--resource",
                f"k8s.namespace.name={NAMESPACE}",
                "--errors",
                "0.05",
                "--handler-failures",
                "0.1",
                "--dead-letters",
                "0.05",
                "--endpoint",
                f"http://{lab.HOST}:{lab.PORTS['otlp-http']}",
            ]
        )
        for name in services
    ]
    try:
        use_kit_observability(
            kit,
            lab,
            "production",
            {"critterops-exporter": f"127.0.0.1:{port}", "rabbitmq": f"{SERVERS.HOST}:{SERVERS.PROM_PORT}"},
        )
        wait_for(
            "the exporter and every stand-in scraped",
            lambda: (
                query(lab, 'up{job="critterops-exporter"} == 1')
                and len(query(lab, f'http_server_request_duration_seconds_count{{service_version="{VERSION}"}}'))
                >= len(services)
            ),
            timeout=60,
            every=1,
        )
        time.sleep(8)  # rates and increases need a few scrapes
        plan = json.loads(
            subprocess.run(
                [sys.executable, "-m", "critterops", "plan", "--example", "--env", "production", "--format", "json"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        queries = [
            *analysis_queries(kit, docs, VERSION, NAMESPACE),
            *alert_queries(kit),
            *dashboard_queries(kit, "production"),
            *plan_queries(plan),
        ]
        yield RunningSystem(kit, queries)
    finally:
        for proc in [*standins, exporter]:
            proc.terminate()
        for proc in [*standins, exporter]:
            proc.wait(timeout=20)
        amqp.close()
        _management(rabbit, "DELETE", f"/api/vhosts/{vhost}")
        with psycopg.connect(dsn, autocommit=True) as conn:
            for database in by_database:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        restore_lab_observability(lab)


def test_the_kit_writes_queries_of_every_kind(running_system: RunningSystem) -> None:
    kinds = {q.where.split(":")[0].split("/")[0] for q in running_system.queries}
    assert {"kubernetes", "observability"} <= kinds and any(k.startswith("plan") for k in kinds), kinds
    assert all(selectors(q.expr) for q in running_system.queries)


def test_exporter_series_have_targets(lab: ModuleType, running_system: RunningSystem) -> None:
    """The critterops_* selectors (the exporter's catalogue) all match: the exporter serves what the kit queries."""
    missing = _missing(lab, running_system.queries, lambda s: s.startswith("critterops_"))
    assert not missing, "\n".join(missing)


def test_every_query_has_a_target(lab: ModuleType, running_system: RunningSystem) -> None:
    missing = _missing(lab, running_system.queries, lambda s: True)
    assert not missing, f"{len(missing)} selectors match no series:\n" + "\n".join(missing)


def _missing(lab: ModuleType, queries: list[Query], which: Any) -> list[str]:
    cache: dict[str, bool] = {}
    missing = []
    for q in queries:
        for selector in selectors(q.expr):
            if not which(selector):
                continue
            if selector not in cache:
                cache[selector] = bool(query(lab, f"count({selector})"))
            if not cache[selector]:
                missing.append(f"{q.where}: {selector}")
    return sorted(dict.fromkeys(missing))
