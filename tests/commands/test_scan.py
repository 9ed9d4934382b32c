"""``critterops scan`` end to end, through ``main()`` and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from critterops.cli import main


def test_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--example", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "critterops.system/v1"
    orders = next(s for s in data["services"] if s["name"] == "orders-api")
    assert orders["project"] == "src/Orders/Orders.Api/Orders.Api.csproj"
    assert orders["sagas"] == ["Order"]
    assert orders["marten"]["daemon_mode"] == "Solo"
    assert {"transport": "rabbitmq", "queue": "orders-payment-events"}.items() <= orders["listens"][0].items()
    assert all(set(f) >= {"from", "to", "message", "via"} for f in data["flows"])
    assert all(not Path(s["project"]).is_absolute() and "\\" not in s["project"] for s in data["services"])
    placed = next(c for c in data["contracts"] if c["name"] == "OrderPlaced")
    assert placed["members"][0] == {
        "name": "OrderId",
        "type": "Guid",
        "optional": False,
        "has_default": False,
        "line": placed["members"][0]["line"],
        "positional": True,
    }


def test_markdown_report_has_table_and_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--example", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "| orders-api | Orders | api | 5301 |" in out
    assert "```mermaid\nflowchart LR" in out


def test_diagram_is_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--example", "--diagram"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("flowchart LR\n")
    assert 'svc_orders_api -- "OrderPlaced" --> x_orders_order_placed' in out
    assert "x_orders_order_placed -.-> q_inventory_order_placed" in out
    assert "q_inventory_order_placed --> svc_inventory_api" in out


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--example"]) == 0
    out = capsys.readouterr().out
    assert "5 services, 13 message flows, 14 message contracts, 1 saga," in out
    assert "fulfillment-worker" in out and "HotCold" in out


def test_strict_exits_1_on_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--example", "--strict", "--format", "json"]) == 1


def test_path_and_example_together_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", ".", "--example"]) == 2
    assert "either PATH or --example" in capsys.readouterr().err


def test_unknown_format_is_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["scan", "--format", "yaml"])
    assert exit_info.value.code == 2


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "critterops", "scan", "--example", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"] == "critterops.system/v1"
    missing = subprocess.run(
        [sys.executable, "-m", "critterops", "scan", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "Traceback" not in missing.stderr
