"""CR110 exchange-without-bound-queue.

Bad: ``opts.PublishMessage<ProductAdded>().ToRabbitExchange("product-added")`` when no queue of the
repository is bound to ``product-added``. Good: a listener that binds its queue
(``ListenToRabbitQueue("pricing-product-added", q => q.BindExchange("product-added"))``).

RabbitMQ drops a message published to an exchange with no bound queue: nothing errors, the message is
gone. Discovery resolves the bindings and warns; this rule reports that warning at the publishing code.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

MARKER = "but no queue is bound to it"


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for w in ctx.system.warnings:
        if MARKER in w.message:
            yield Hit(w.file, w.line, w.message.split(":")[0].replace(", but", ":"), anchor=w.message.split(",")[0])


_PROGRAM = """builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.PublishMessage<ProductAdded>().ToRabbitExchange("product-added");
});
var app = builder.Build();
app.Run();

public record ProductAdded(string Sku);
"""
_BOUND = """builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.ListenToRabbitQueue("pricing-product-added", q => q.BindExchange("product-added"));
});
var app = builder.Build();
app.Run();

public static class ProductAddedHandler { public static void Handle(ProductAdded m) { } }
"""

RULE = Rule(
    id="CR110",
    name="exchange-without-bound-queue",
    severity="warning",
    summary="messages published to a RabbitMQ exchange that no queue of the repository is bound to",
    why="RabbitMQ silently drops messages published to an exchange without bindings",
    fix="bind the consumer's queue to the exchange (BindExchange), or suppress naming the external binding",
    check=check,
    cases=(
        Case(
            "unbound",
            service(program=_PROGRAM),
            (("src/Orders/Orders.Api/Program.cs", program_line(_PROGRAM, "ToRabbitExchange")),),
        ),
        Case("bound", {**service(program=_PROGRAM), **service("Pricing", program=_BOUND)}),
    ),
)
