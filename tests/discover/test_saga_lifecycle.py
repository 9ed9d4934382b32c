"""Saga lifecycles from the handlers' code: one fixture per Wolverine convention, read into steps by
discovery and judged by ``critterops.model.sagas`` (terminal states, timeout limits, the name fallback)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from critterops.commands._common import example_path
from critterops.discover import discover
from critterops.discover.csharp import syntax
from critterops.discover.csharp.codeindex import CodeIndex
from critterops.discover.csharp.sagas import saga_steps
from critterops.model import Saga, System
from critterops.model.sagas import SAGA_DEFAULT_LIMIT, saga_lifecycle, saga_limits
from critterops.model.system import SagaStep

CRITTERSUPPLY = Path(os.environ.get("CRITTEROPS_CRITTERSUPPLY", "/tmp/cs"))


def read(files: dict[str, str], saga: str = "Order") -> tuple[SagaStep, ...]:
    """The steps of ``saga`` in a service made of ``files`` (path -> C#); its state member is ``Status``,
    typed with the enum ``OrderStatus`` declared among the files."""
    trees = {rel: syntax.parse(code.encode()) for rel, code in files.items()}
    index = CodeIndex(list(files), lambda rel: files[rel].encode(), lambda rel: trees[rel].root_node)
    (rel, decl), *_ = [(r, d) for r, d in index.types(saga) if d.type == "class_declaration"]
    (_, enum), *_ = index.types("OrderStatus")
    states = tuple(
        syntax.text(n) for n in syntax.captures("(enum_member_declaration name: (identifier) @n)", enum, "n")
    )
    return saga_steps(index, rel, decl, "Status", "OrderStatus", states)


def verdicts(files: dict[str, str], saga: str = "Order") -> dict[str, str]:
    """State -> ``never`` or its limit, as the generated alerts and ``critterops status`` use them."""
    steps = read(files, saga)
    states = _states(files)
    model = Saga(saga, f"Orders.{saga}", "Order.cs", 1, "Status", states=states, steps=steps)
    lifecycle = saga_lifecycle(System(root="."), model)
    assert lifecycle is not None
    return {v.state: "never" if v.terminal else str(v.limit) for v in lifecycle}


def _states(files: dict[str, str]) -> tuple[str, ...]:
    for code in files.values():
        tree = syntax.parse(code.encode())
        found = [
            syntax.text(n)
            for n in syntax.captures("(enum_member_declaration name: (identifier) @n)", tree.root_node, "n")
        ]
        if found:
            return tuple(found)
    raise AssertionError("no enum")


ENUM = "public enum OrderStatus { Placed, Paid, Shipped, Delivered, Closed }\n"


def test_a_state_no_handler_leaves_is_terminal_and_guards_name_the_states_they_leave() -> None:
    files = {
        "Order.cs": ENUM
        + """
        public class Order : Saga {
            public Guid Id { get; set; }
            public OrderStatus Status { get; set; } = OrderStatus.Placed;
            public void Handle(PaymentCaptured m) {
                if (Status != OrderStatus.Placed) return;
                Status = OrderStatus.Paid;
            }
            public void Handle(OrderShipped m) {
                if (Status is not OrderStatus.Paid) return;
                Status = OrderStatus.Shipped;
            }
            public void Handle(OrderDelivered m) {
                if (Status == OrderStatus.Shipped) { Status = OrderStatus.Delivered; }
            }
        }
        """
    }
    steps = read(files)
    delivered = next(s for s in steps if s.handler == "OrderDelivered")
    assert delivered.runs_in == ("Shipped",) and delivered.named == ("Shipped",) and delivered.states == ("Delivered",)
    assert verdicts(files) == {
        "Placed": SAGA_DEFAULT_LIMIT,
        "Paid": SAGA_DEFAULT_LIMIT,
        "Shipped": "15d",  # left by OrderDelivered (named), the limit from the well-known waiting name
        "Delivered": "never",  # no handler leaves it: not alerted after 31 days as by its name
        "Closed": "never",  # no handler assigns it: the name decides
    }


@pytest.mark.parametrize(
    ("body", "completes"),
    [
        pytest.param("Status = OrderStatus.Closed; MarkCompleted();", True, id="then-mark-completed"),
        pytest.param("Status = OrderStatus.Closed; if (Refunds == 0) { MarkCompleted(); } ", False, id="maybe"),
        pytest.param(
            "Status = OrderStatus.Closed; if (Refunds > 0) { MarkCompleted(); return; } MarkCompleted();",
            True,
            id="every-path",
        ),
        pytest.param(
            "Status = OrderStatus.Closed; if (Refunds > 0) return; MarkCompleted();", False, id="early-return"
        ),
        pytest.param("Status = OrderStatus.Closed; Finish();", True, id="through-a-helper"),
    ],
)
def test_mark_completed_after_an_assignment_means_the_state_is_never_stored(body: str, completes: bool) -> None:
    files = {
        "Order.cs": ENUM
        + """
        public class Order : Saga {
            public OrderStatus Status { get; set; }
            public int Refunds { get; set; }
            public void Handle(OrderClosed m) { BODY }
            public void Handle(OrderReopened m) { Status = OrderStatus.Placed; }
            private void Finish() { MarkCompleted(); }
        }
        """.replace("BODY", body)
    }
    (closed,) = [s for s in read(files) if s.action == "enter" and s.handler == "OrderClosed"]
    assert closed.completes is completes
    assert verdicts(files)["Closed"] == "never"  # by MarkCompleted, or by its well-known name
    files["Order.cs"] = files["Order.cs"].replace("OrderStatus.Closed", "OrderStatus.Delivered")
    # stored, Delivered could be left by the unguarded OrderReopened: the well-known waiting name decides
    assert verdicts(files)["Delivered"] == ("never" if completes else "31d")


TIMEOUTS = {  # how the saga's Start schedules PaymentTimeout; its declaration; the limit of Placed
    "timeout-message": (
        "public static (Order, PaymentTimeout) Start(OrderPlaced m) =>"
        " (new Order { Id = m.Id, Status = OrderStatus.Placed }, new PaymentTimeout(m.Id));",
        "public record PaymentTimeout(Guid Id) : TimeoutMessage(15.Minutes());",
        "20m",  # 15 minutes and the least slack, 5 minutes
    ),
    "delayed-for": (
        "public static (Order, object) Start(OrderPlaced m) =>"
        " (new Order { Status = OrderStatus.Placed }, new PaymentTimeout(m.Id).DelayedFor(TimeSpan.FromMinutes(30)));",
        "public record PaymentTimeout(Guid Id);",
        "35m",
    ),
    "outgoing-delay-with-a-constant": (
        "public static (Order, OutgoingMessages) Start(OrderPlaced m) { var o = new OutgoingMessages();"
        " o.Delay(new PaymentTimeout(m.Id), Policies.PaymentWindow);"
        " return (new Order { Status = OrderStatus.Placed }, o); }",
        "public record PaymentTimeout(Guid Id);"
        " public static class Policies { public static readonly TimeSpan PaymentWindow = new TimeSpan(2, 0, 0); }",
        "132m",  # 2 hours and a tenth of it
    ),
    "schedule-async": (
        "public static async Task<Order> Start(OrderPlaced m, IMessageBus bus) {"
        " var timeout = new PaymentTimeout(m.Id); await bus.ScheduleAsync(timeout, TimeSpan.FromDays(Days));"
        " return new Order { Status = OrderStatus.Placed }; } private const int Days = 3;",
        "public record PaymentTimeout(Guid Id);",
        "73h",  # 3 days and the most slack, an hour
    ),
}


@pytest.mark.parametrize(("start", "message", "limit"), list(TIMEOUTS.values()), ids=list(TIMEOUTS))
def test_a_state_left_only_by_a_scheduled_timeout_gets_the_delay_plus_slack(
    start: str, message: str, limit: str
) -> None:
    files = {
        "Order.cs": ENUM
        + """
        public class Order : Saga {
            public Guid Id { get; set; }
            public OrderStatus Status { get; set; }
            START
            public void Handle(PaymentCaptured m) { if (Status == OrderStatus.Placed) Status = OrderStatus.Paid; }
            public void Handle(PaymentTimeout m) {
                if (Status == OrderStatus.Placed) { Status = OrderStatus.Closed; MarkCompleted(); }
            }
        }
        """.replace("START", start),
        "Messages.cs": message,
    }
    (scheduled,) = [s for s in read(files) if s.action == "schedule"]
    assert scheduled.message == "PaymentTimeout" and scheduled.runs_in == (), "scheduled as the saga starts"
    assert verdicts(files)["Placed"] == SAGA_DEFAULT_LIMIT, "PaymentCaptured names Placed too: the default holds"

    files["Order.cs"] = files["Order.cs"].replace(
        "public void Handle(PaymentCaptured m) { if (Status == OrderStatus.Placed) Status = OrderStatus.Paid; }",
        "",
    )
    assert verdicts(files)["Placed"] == limit, "left only by the timeout"


def test_a_decider_record_a_switch_and_a_predicate_property() -> None:
    """CritterSupply's shape: the saga asks a static decider and applies its answer; guards are a
    predicate property and a switch."""
    files = {
        "Order.cs": ENUM
        + """
        public sealed class Order : Saga {
            public OrderStatus Status { get; set; }
            private bool IsDone => Status is OrderStatus.Delivered or OrderStatus.Closed;
            public void Handle(RefundCompleted m) {
                var decision = OrderDecider.Refunded(this, m);
                if (decision.Status.HasValue) Status = decision.Status.Value;
                if (decision.ShouldComplete) MarkCompleted();
            }
            public void Handle(OrderShipped m) {
                if (IsDone) return;
                switch (Status) {
                    case OrderStatus.Paid: Status = OrderStatus.Shipped; break;
                    default: break;
                }
            }
            public OutgoingMessages Handle(OrderDelivered m) {
                if (IsDone) return new OutgoingMessages();
                Status = OrderStatus.Delivered;
                var outgoing = new OutgoingMessages();
                outgoing.Delay(new ReturnWindowExpired(m.Id), OrderDecider.ReturnWindow);
                return outgoing;
            }
            public void Handle(ReturnWindowExpired m) { Status = OrderStatus.Closed; MarkCompleted(); }
        }
        """,
        "OrderDecider.cs": """
        public static class OrderDecider {
            public static readonly TimeSpan ReturnWindow = TimeSpan.FromDays(30);
            public static OrderDecision Refunded(Order current, RefundCompleted m) {
                if (current.Status is OrderStatus.Placed or OrderStatus.Paid)
                    return new OrderDecision { Status = OrderStatus.Closed, ShouldComplete = true };
                return new OrderDecision();
            }
        }
        public sealed record OrderDecision {
            public OrderStatus? Status { get; init; }
            public bool ShouldComplete { get; init; }
        }
        public sealed record ReturnWindowExpired(Guid OrderId);
        """,
    }
    steps = read(files)
    refund = next(s for s in steps if s.handler == "RefundCompleted" and s.action == "enter")
    assert refund.file == "OrderDecider.cs" and refund.runs_in == ("Placed", "Paid") and refund.completes
    shipped = next(s for s in steps if s.handler == "OrderShipped")
    assert shipped.runs_in == ("Paid",) and shipped.named == ("Paid",)
    delivered = next(s for s in steps if s.handler == "OrderDelivered" and s.action == "enter")
    assert delivered.runs_in == ("Placed", "Paid", "Shipped"), "IsDone excludes Delivered and Closed"
    (timeout,) = [s for s in steps if s.action == "schedule"]
    assert (timeout.message, timeout.delay_s) == ("ReturnWindowExpired", 30 * 86400.0)
    assert verdicts(files) == {
        "Placed": SAGA_DEFAULT_LIMIT,  # RefundCompleted names it
        "Paid": SAGA_DEFAULT_LIMIT,  # OrderShipped's case and RefundCompleted name it
        "Shipped": "15d",  # only OrderDelivered, which does not name it: the well-known name decides
        "Delivered": "721h",  # left only by the scheduled ReturnWindowExpired: 30 days and an hour of slack
        "Closed": "never",  # always followed by MarkCompleted()
    }


def test_unguarded_handlers_say_nothing_specific_and_the_names_decide() -> None:
    """Wolverine's OrderManagement sample: no guards, so any handler could move any state on."""
    files = {
        "Order.cs": """
        public enum OrderStatus { Pending, CreditReserved, Approved, Rejected, Cancelled }
        public class Order : Saga {
            public OrderStatus Status { get; set; } = OrderStatus.Pending;
            public object[] Handle(CreditReserved m) {
                Status = OrderStatus.CreditReserved;
                return [new ApproveOrder(m.Id)];
            }
            public void Handle(OrderApproved m) { Status = OrderStatus.Approved; }
            public void Handle(OrderRejected m) { Status = OrderStatus.Rejected; MarkCompleted(); }
            public void Handle(OrderCancelled m) { Status = OrderStatus.Cancelled; }
        }
        """
    }
    steps = read(files)
    assert {s.states for s in steps if s.action == "enter" and not s.runs_in} == {("Pending",)}, "the initializer"
    assert verdicts(files) == {
        "Pending": SAGA_DEFAULT_LIMIT,
        "CreditReserved": SAGA_DEFAULT_LIMIT,
        "Approved": SAGA_DEFAULT_LIMIT,
        "Rejected": "never",
        "Cancelled": "never",  # a well-known terminal name: the code does not say it ends the saga
    }
    lifecycle = saga_lifecycle(
        System(root="."), Saga("Order", "O", "Order.cs", 1, "Status", states=_states(files), steps=steps)
    )
    assert lifecycle is not None
    reasons = {v.state: (v.from_code, v.reason) for v in lifecycle}
    assert reasons["Rejected"][0] and "MarkCompleted" in reasons["Rejected"][1]
    assert not reasons["Cancelled"][0] and "well-known terminal name" in reasons["Cancelled"][1]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param(
            "public class Order : Saga { public OrderStatus Status { get; set; }"
            " public void Handle(X m) { if (Status == ) { Status = OrderStatus.Paid; } } }",
            id="syntax-error",
        ),
        pytest.param(
            "public class Order : Saga { public OrderStatus Status { get; set; }"
            " public void Handle(X m) { Loop(m); } void Loop(X m) { Loop(m); Status = OrderStatus.Paid; } }",
            id="recursion",
        ),
        pytest.param(
            "public class Order : Saga { public OrderStatus Status { get; set; }"
            " public void Handle(X m) { bus.ScheduleAsync(new T(), DateTimeOffset.UtcNow.AddDays(Config.Days)); } }",
            id="no-fixed-delay",
        ),
    ],
)
def test_odd_code_gives_a_partial_lifecycle_not_a_traceback(code: str) -> None:
    files = {"Order.cs": ENUM + code}
    steps = read(files)
    assert all(s.delay_s is None for s in steps if s.action == "schedule")
    if steps:
        assert set(verdicts(files)) == set(_states(files))


def test_saga_limits_keep_their_shape_for_the_kit() -> None:
    files = {
        "Order.cs": "public enum OrderStatus { Placed, Paid, Shipped, Closed }"
        + """
        public class Order : Saga {
            public OrderStatus Status { get; set; } = OrderStatus.Placed;
            public void Handle(PaymentCaptured m) { if (Status == OrderStatus.Placed) Status = OrderStatus.Paid; }
            public void Handle(OrderShipped m) { if (Status == OrderStatus.Paid) Status = OrderStatus.Shipped; }
        }
        """
    }
    saga = Saga("Order", "O", "Order.cs", 1, "Status", states=_states(files), steps=read(files))
    rules, terminal, known = saga_limits(System(root="."), saga)
    assert known and terminal == ("Shipped", "Closed")
    assert [(r.limit, r.states, r.excluded, r.default) for r in rules] == [
        (SAGA_DEFAULT_LIMIT, ("Placed", "Paid"), ("Shipped", "Closed"), True)
    ]
    without_code = Saga("Order", "O", "Order.cs", 1, "Status", states=saga.states)
    _, by_name, _ = saga_limits(System(root="."), without_code)
    assert by_name == ("Closed",), "without steps the name lists decide, as before"


def test_the_bundled_example() -> None:
    system = discover(example_path())
    (saga,) = [g for s in system.services for g in s.sagas]
    lifecycle = saga_lifecycle(system, saga)
    assert lifecycle is not None
    assert {v.state: "never" if v.terminal else v.limit for v in lifecycle} == {
        "Placed": "20m",  # OrderPaymentTimeout (15 minutes) is the only way out a guard does not leave open
        "PaymentAuthorized": SAGA_DEFAULT_LIMIT,
        "StockReserved": SAGA_DEFAULT_LIMIT,
        "ReadyForFulfillment": SAGA_DEFAULT_LIMIT,
        "Shipped": "15d",
        "Delivered": "never",
        "PaymentFailed": "never",
        "OutOfStock": "never",
        "Cancelled": "never",
    }


@pytest.mark.skipif(not (CRITTERSUPPLY / "src").is_dir(), reason="CritterSupply is not checked out")
def test_crittersupply_order_saga() -> None:
    system = discover(CRITTERSUPPLY)
    (saga,) = [g for s in system.services for g in s.sagas if g.name == "Order"]
    lifecycle = saga_lifecycle(system, saga)
    assert lifecycle is not None
    found = {v.state: ("never" if v.terminal else v.limit, v.from_code) for v in lifecycle}
    assert found["Delivered"] == ("721h", True), "left only by ReturnWindowExpired, scheduled 30 days ahead"
    assert found["Closed"] == ("never", True), "every assignment is followed by MarkCompleted()"
    assert found["Cancelled"] == (SAGA_DEFAULT_LIMIT, True), "RefundCompleted's decider names it"
    assert found["OutOfStock"] == (SAGA_DEFAULT_LIMIT, True), "RefundCompleted's decider names it"
    assert found["PaymentFailed"] == ("never", False)
    assert found["OnHold"] == ("2d", False), "no handler assigns it"
    assert found["Shipped"] == ("15d", False) and found["Placed"] == (SAGA_DEFAULT_LIMIT, False)
