"""CR104 publisher-without-durable-outbox.

Bad: ``opts.PublishMessage<OrderPlaced>().ToRabbitExchange("orders")`` in a service whose Wolverine keeps
envelopes in PostgreSQL, with no outbox on that endpoint.

Good: ``...ToRabbitExchange("orders").UseDurableOutbox()``, or
``opts.Policies.UseDurableOutboxOnAllSendingEndpoints()``.

Without the outbox a handler commits its Marten session and then sends: a crash or a broker outage in
between loses the message although the state change that caused it is stored (``IPolicies``,
Wolverine V6.29.2 src/Wolverine/IPolicies.cs ``UseDurableOutboxOnAllSendingEndpoints``).
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.model.storage import durable_storage
from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule


def _statement(ctx: ReviewContext, file: str, line: int) -> str:
    """The text from ``line`` to the end of its statement (a ';' at the end of a line), at most 8 lines."""
    out = []
    for text in ctx.lines(file)[line - 1 : line + 7]:
        out.append(text)
        if text.rstrip().endswith(";"):
            break
    return "\n".join(out)


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for s in ctx.system.services:
        w = s.wolverine
        if w is None or w.durable_outbox_all or not durable_storage(s):
            continue
        seen: set[tuple[str, int]] = set()
        for pub in s.publishes:
            if pub.transport != "rabbitmq" or pub.library or pub.kind == "local" or pub.location is None:
                continue
            key = (pub.location.file, pub.location.line)
            if key in seen or "UseDurableOutbox" in _statement(ctx, *key):
                continue
            seen.add(key)
            yield Hit(
                pub.location.file,
                pub.location.line,
                f"{s.name} publishes {pub.message} to RabbitMQ {pub.kind} '{pub.to}' without the durable outbox, "
                "although it keeps envelopes in PostgreSQL",
            )


_BAD = """builder.Services.AddMarten(opts => opts.Connection(connectionString)).IntegrateWithWolverine();
builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.PublishMessage<OrderPlaced>().ToRabbitExchange("orders-placed");
});
var app = builder.Build();
app.Run();

public record OrderPlaced(Guid OrderId);
"""
_GOOD = _BAD.replace('ToRabbitExchange("orders-placed")', 'ToRabbitExchange("orders-placed").UseDurableOutbox()')
_POLICY = _BAD.replace(
    'opts.PublishMessage<OrderPlaced>().ToRabbitExchange("orders-placed");',
    "opts.Policies.UseDurableOutboxOnAllSendingEndpoints();\n"
    '    opts.PublishMessage<OrderPlaced>().ToRabbitExchange("orders-placed");',
)

RULE = Rule(
    id="CR104",
    name="publisher-without-durable-outbox",
    severity="warning",
    summary="a RabbitMQ publisher without the durable outbox in a service with PostgreSQL message storage",
    why="the handler's state change is committed but the message it sends is lost if the process or broker fails",
    fix="add .UseDurableOutbox() to the publishing rule, or opts.Policies.UseDurableOutboxOnAllSendingEndpoints()",
    check=check,
    cases=(
        Case(
            "plain-publisher",
            service(program=_BAD),
            (("src/Orders/Orders.Api/Program.cs", program_line(_BAD, "PublishMessage")),),
        ),
        Case("durable-publisher", service(program=_GOOD)),
        Case("durable-policy", service(program=_POLICY)),
    ),
)
