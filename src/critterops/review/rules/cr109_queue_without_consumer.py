"""CR109 queue-without-consumer.

Bad: ``opts.PublishMessage<ShipmentRequested>().ToRabbitQueue("fulfillment-requests")`` when no service of
the repository listens to ``fulfillment-requests``. Good: a ``ListenToRabbitQueue("fulfillment-requests")``
somewhere, or the consumer documented as external (suppress with a reason).

Messages sent to a queue nobody consumes pile up in the broker until it runs out of memory or disk, and the
work they ask for never happens. Discovery computes the message flows and warns about such queues; this
rule reports that warning at the sending code.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

MARKER = "which no service in this repository listens to"


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for w in ctx.system.warnings:
        if MARKER in w.message:
            yield Hit(w.file, w.line, w.message.split(":")[0], anchor=w.message.split(":")[0])


_PROGRAM = """builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.PublishMessage<ShipmentRequested>().ToRabbitQueue("fulfillment-requests");
});
var app = builder.Build();
app.Run();

public record ShipmentRequested(Guid OrderId);
"""
_CONSUMER = """builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.ListenToRabbitQueue("fulfillment-requests");
});
var app = builder.Build();
app.Run();

public static class ShipmentRequestedHandler { public static void Handle(ShipmentRequested m) { } }
"""

RULE = Rule(
    id="CR109",
    name="queue-without-consumer",
    severity="warning",
    summary="messages sent to a RabbitMQ queue that no service of the repository listens to",
    why="they pile up in the broker and the work they ask for never happens",
    fix="add the listener (ListenToRabbitQueue) in the consuming service, or suppress with the name of the "
    "external consumer as the reason",
    check=check,
    cases=(
        Case(
            "nobody-listens",
            service(program=_PROGRAM),
            (("src/Orders/Orders.Api/Program.cs", program_line(_PROGRAM, "ToRabbitQueue")),),
        ),
        Case("consumed", {**service(program=_PROGRAM), **service("Fulfillment", program=_CONSUMER)}),
    ),
)
