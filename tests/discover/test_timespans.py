"""``TimeSpan`` expressions evaluated like constants (the delays of scheduled saga timeouts)."""

from __future__ import annotations

import pytest

from critterops.discover.csharp import syntax
from critterops.discover.csharp.codeindex import CodeIndex
from critterops.discover.csharp.timespans import TimeSpans

CONSTANTS = """
public static class Policies {
    public const int ReturnDays = 30;
    public static readonly TimeSpan ReturnWindow = TimeSpan.FromDays(ReturnDays);
    public static TimeSpan Grace => TimeSpan.FromHours(1);
    public static TimeSpan FromConfig { get; set; } = TimeSpan.Zero;
}
"""


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        pytest.param("TimeSpan.FromMinutes(15)", 900, id="from-minutes"),
        pytest.param("TimeSpan.FromSeconds(1.5)", 1.5, id="fraction"),
        pytest.param("15.Minutes()", 900, id="jasperfx-minutes"),
        pytest.param("2.Days()", 172800, id="jasperfx-days"),
        pytest.param("new TimeSpan(1, 30, 0)", 5400, id="constructor-hms"),
        pytest.param("new TimeSpan(2, 0, 0, 0)", 172800, id="constructor-dhms"),
        pytest.param("Policies.ReturnWindow", 30 * 86400, id="static-readonly-naming-a-const"),
        pytest.param("Policies.ReturnWindow + Policies.Grace", 30 * 86400 + 3600, id="sum-with-a-property"),
        pytest.param("TimeSpan.FromMinutes(5) * 3", 900, id="product"),
        pytest.param("TimeSpan.FromMinutes(Local)", 600, id="const-of-the-enclosing-type"),
        pytest.param("Policies.FromConfig", None, id="not-a-constant"),
        pytest.param("options.Value.Timeout", None, id="configuration"),
        pytest.param("DateTimeOffset.UtcNow.AddDays(3)", None, id="a-point-in-time"),
        pytest.param("TimeSpan.FromDays(Missing.Days)", None, id="unknown-name"),
    ],
)
def test_timespans(expression: str, seconds: float | None) -> None:
    code = CONSTANTS + f"public class Order {{ const int Local = 10; TimeSpan Delay = {expression}; }}"
    tree = syntax.parse(code.encode())
    index = CodeIndex(["X.cs"], lambda rel: code.encode(), lambda rel: tree.root_node)
    (_, declarator), *_ = index.members("Order", "Delay")
    assert TimeSpans(index).seconds(declarator.named_children[-1], "Order") == seconds


def test_a_constant_that_names_itself_ends() -> None:
    code = "public static class Loop { public static readonly TimeSpan A = B; public static readonly TimeSpan B = A; }"
    tree = syntax.parse(code.encode())
    index = CodeIndex(["X.cs"], lambda rel: code.encode(), lambda rel: tree.root_node)
    (_, declarator), *_ = index.members("Loop", "A")
    assert TimeSpans(index).seconds(declarator.named_children[-1], "Loop") is None
