"""An inline projection has no progression row and no daemon catch-up: the projection-changed finding says
so, and says how stored documents get the new shape (a rebuild, or a new event on their stream).

Ground truth (the bundled example): OrderSummaryProjection is registered ``ProjectionLifecycle.Inline`` in
Orders.Api/Program.cs; StockLevelViewProjection is ``ProjectionLifecycle.Async`` in Inventory.Api.
"""

from __future__ import annotations

from critterops.change.rules import findings_for
from critterops.change.versions import load_change
from critterops.model import Finding
from tests.change.conftest import MakeChange

ORDER_SUMMARY = "src/Orders/Orders/Placement/OrderSummaryProjection.cs"
STOCK_VIEW = "src/Inventory/Inventory/Stock/StockLevelViewProjection.cs"


def _projection_findings(make_change: MakeChange, path: str, old: str, new: str) -> list[Finding]:
    repo = make_change([{"path": path, "replace": old, "with": new}])
    findings, *_ = findings_for(load_change(repo, "main", "HEAD"))
    return [f for f in findings if f.rule == "projection-changed"]


def test_an_inline_projection_change_says_rebuild_or_new_event_and_no_progression_row(
    make_change: MakeChange,
) -> None:
    (finding,) = _projection_findings(
        make_change, ORDER_SUMMARY, "summary.LifetimeSpend += e.Total;", "summary.LifetimeSpend += 2 * e.Total;"
    )
    name = finding.fact("projection")
    assert finding.fact("lifecycle") == "Inline" and finding.fact("rebuild") == "true"
    assert "no progression row and no daemon catch-up" in finding.detail
    assert f"`projections rebuild --projection {name}`" in finding.detail
    assert "until their stream gets a new event" in finding.detail
    assert "share one progression row" not in finding.detail  # an async projection's concern


def test_an_async_projection_change_keeps_the_progression_row_note(make_change: MakeChange) -> None:
    (finding,) = _projection_findings(make_change, STOCK_VIEW, "view.OnHand += e.Quantity;", "view.OnHand += 0;")
    assert finding.fact("lifecycle") == "Async"
    assert "share one progression row" in finding.detail
    assert "inline:" not in finding.detail
