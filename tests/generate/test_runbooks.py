"""Runbooks: one page per alert, linked from the rules, with commands and SQL for the real tables."""

from __future__ import annotations

import os
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.generate.alerts import alerts
from critterops.generate.context import KitContext, system_name
from critterops.generate.observability import observability_files
from critterops.generate.runbooks import runbook_files
from critterops.model import System
from critterops.plan.policy import default_policy

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))
GOLDEN = Path(__file__).parent / "golden"
SECTIONS = ("## Symptoms", "## Impact", "## Diagnosis", "## Remediation", "## Rollback", "## Escalation")


@cache
def _system(root: str) -> System:
    return discover(Path(root))


def context(root: Path, **kwargs: Any) -> KitContext:
    system = _system(str(root))
    return KitContext(
        system, default_policy(), name=system_name(system), registry="ghcr.io/acme/x", tag="abc", **kwargs
    )


def example(**kwargs: Any) -> KitContext:
    return context(example_path(), **kwargs)


SYSTEMS = [
    pytest.param(lambda: example(), id="example"),
    pytest.param(
        lambda: context(CRITTERSUPPLY),
        id="crittersupply",
        marks=pytest.mark.skipif(not CRITTERSUPPLY.is_dir(), reason=f"CritterSupply clone missing at {CRITTERSUPPLY}"),
    ),
]


@pytest.mark.parametrize("build", SYSTEMS)
def test_every_alert_has_a_runbook_its_url_points_at(build: Any) -> None:
    ctx = build()
    pages = runbook_files(ctx)
    names = {a.name for a in alerts(ctx)}
    assert set(pages) == {f"runbooks/{name}.md" for name in names} | {"runbooks/README.md"}
    for alert in alerts(ctx):
        assert alert.runbook_url == f"{ctx.runbook_base_url}/{alert.name}.md"
        assert pages[f"runbooks/{alert.name}.md"].startswith(f"# {alert.name}\n")
    index = pages["runbooks/README.md"]
    for name in names:
        assert f"[{name}]({name}.md)" in index


def test_the_base_url_is_the_contexts() -> None:
    ctx = example(runbook_base_url="https://git.example.com/ops/blob/main/deploy/runbooks/")
    rules = observability_files(ctx)["observability/prometheus/alerts.yaml"]
    assert "runbook_url: https://git.example.com/ops/blob/main/deploy/runbooks/RabbitMqDown.md" in rules


@pytest.mark.parametrize("build", SYSTEMS)
def test_the_observability_readme_links_every_page_within_the_kit(build: Any) -> None:
    ctx = build()
    pages, readme = runbook_files(ctx), observability_files(ctx)["observability/README.md"]
    links = re.findall(r"\]\(\.\./(runbooks/[A-Za-z]+\.md)\)", readme)
    assert sorted(links) == sorted(f"runbooks/{name}.md" for name in {a.name for a in alerts(ctx)})
    assert all(link in pages for link in links), "observability/../runbooks/<alert>.md is a page of the kit"
    assert "](https://" not in readme.split("## Alerts")[1].split("##")[0], "no link leaves the kit"


@pytest.mark.parametrize(
    ("base", "says_relative"),
    [
        pytest.param("deploy/runbooks", True, id="relative-default"),
        pytest.param("https://github.com/acme/pawmart/blob/main/deploy/runbooks", False, id="github"),
    ],
)
def test_the_readme_says_when_runbook_urls_are_relative_paths(base: str, says_relative: bool) -> None:
    readme = observability_files(example(runbook_base_url=base))["observability/README.md"]
    assert ("`deploy/runbooks/<alert>.md`, a relative path rather than a link" in readme) == says_relative
    assert ("--runbook-url" in readme) == says_relative


@pytest.mark.parametrize("build", SYSTEMS)
def test_pages_have_every_section_in_order_and_valid_markdown(build: Any) -> None:
    ctx = build()
    for path, text in runbook_files(ctx).items():
        assert text.endswith("\n") and "\n\n\n" not in text, path
        assert text.count("```") % 2 == 0, f"{path}: unbalanced code fence"
        links = re.findall(r"\]\(([A-Za-z]+\.md)\)", text)
        assert all(f"runbooks/{link}" in runbook_files(ctx) for link in links), (path, links)
        if path.endswith("README.md"):
            continue
        positions = [text.find(section) for section in SECTIONS]
        assert -1 not in positions and positions == sorted(positions), path
        assert "NS=" in text and "$NS" in text


def test_diagnosis_queries_the_services_own_tables() -> None:
    pages = runbook_files(example())
    lag = pages["runbooks/MartenProjectionLagHigh.md"]
    assert "FROM inventory.mt_event_progression p, hwm, head" in lag
    assert "SELECT last_value  AS seq  FROM inventory.mt_events_sequence" in lag
    assert "q 'critterops_projection_lag_events{service=\"inventory-api\"}'" in lag
    assert "`DaemonMode.HotCold`" in lag

    dead = pages["runbooks/WolverineDeadLettersHigh.md"]
    for schema in ("fulfillment", "inventory", "orders", "payments"):  # payments keeps envelopes in its own schema
        assert f"FROM {schema}.wolverine_dead_letters GROUP BY 1, 2, 3" in dead
    assert "storefront" not in dead, "no durable storage there"
    assert "UPDATE orders.wolverine_dead_letters SET replayable = true" in dead

    saga = pages["runbooks/SagaStuckInState.md"]
    assert "FROM orders.mt_doc_order GROUP BY 1 ORDER BY 1;" in saga and "data->>'Status'" in saga
    assert "- 20m: `Placed`" in saga and "`PaymentAuthorized`" in saga
    assert "- never: `Delivered`, `PaymentFailed`, `OutOfStock`, `Cancelled`" in saga
    orphaned = pages["runbooks/WolverineEnvelopesOrphaned.md"]
    assert "UPDATE payments.wolverine_outgoing_envelopes SET owner_id = 0" in orphaned
    assert "-- storage release" in orphaned and 'dotnet run --project "src/Payments/Payments.Api"' in orphaned


def test_remediation_and_rollback_commands() -> None:
    pages = runbook_files(example())
    lag = pages["runbooks/MartenProjectionLagHigh.md"]
    assert (
        'ConnectionStrings__postgres="$CONNECTION_STRING" dotnet run --project "src/Inventory/Inventory.Api" '
        "-- projections --rebuild -p StockLevelViewProjection"
    ) in lag
    assert "kubectl -n $NS scale rollout/inventory-api --replicas=0" in lag
    assert 'kubectl -n $NS scale rollout/inventory-api --replicas="$REPLICAS"' in lag
    for path, text in pages.items():
        if "Roll back `$SVC`" in text:
            assert "kubectl argo rollouts abort $SVC -n $NS" in text and "kubectl argo rollouts undo $SVC" in text, path
    without_argo = runbook_files(example(argo=False))["runbooks/HttpErrorRateHigh.md"]
    assert "kubectl -n $NS rollout undo deployment/$SVC" in without_argo and "argo" not in without_argo
    consumers = pages["runbooks/RabbitMqQueueWithoutConsumers.md"]
    assert "- `orders-api` consumes `orders-fulfillment-events`, `orders-inventory-events`" in consumers
    assert "kubectl argo rollouts restart $SVC -n $NS" in consumers
    assert "NS=pawmart-production" in consumers and "pawmart-dev" in consumers


def test_pages_name_the_services_they_cover() -> None:
    ctx = example()
    pages = runbook_files(ctx)
    for name in {a.name for a in alerts(ctx)}:
        covered = {a.service for a in alerts(ctx) if a.name == name}
        head = pages[f"runbooks/{name}.md"].split("## Before you start")[0]
        assert all(f"`{service}`" in head for service in covered), name


def test_golden_files() -> None:
    """The example's runbooks, byte for byte. CRITTEROPS_UPDATE_GOLDEN=1 rewrites them."""
    expected = runbook_files(example())
    folder = GOLDEN / "runbooks"
    if os.environ.get("CRITTEROPS_UPDATE_GOLDEN") == "1":
        shutil.rmtree(folder, ignore_errors=True)
        for rel, text in expected.items():
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            (GOLDEN / rel).write_text(text, encoding="utf-8")
    actual = {str(p.relative_to(GOLDEN)): p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md"))}
    assert actual.keys() == expected.keys(), "run with CRITTEROPS_UPDATE_GOLDEN=1 after an intended change"
    for rel, text in expected.items():
        assert actual[rel] == text, f"{rel} differs from the golden file (CRITTEROPS_UPDATE_GOLDEN=1 to accept)"
