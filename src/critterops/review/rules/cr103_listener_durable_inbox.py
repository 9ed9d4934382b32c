"""CR103 listener-without-durable-inbox.

Bad: ``opts.ListenToRabbitQueue("orders-payments")`` in a service whose Wolverine keeps its envelopes
in PostgreSQL (``IntegrateWithWolverine()``, ``PersistMessagesWithPostgresql``).

Good: ``opts.ListenToRabbitQueue("orders-payments").UseDurableInbox()``, or
``opts.Policies.UseDurableInboxOnAllListeners()``.

A RabbitMQ endpoint is ``EndpointMode.Inline`` unless configured (Wolverine V6.29.2
src/Transports/RabbitMQ/Wolverine.RabbitMQ/Internal/RabbitMqEndpoint.cs); ``BufferedInMemory`` acknowledges
a message once it is in memory, so a crash loses what was buffered; inline acknowledges after the handler, so
a crash between the handler's commit and the ack runs the handler again. The durable inbox writes the
envelope in the same PostgreSQL the service already uses, then acknowledges: no loss, and duplicates are
recognised. The service has the storage; only the switch is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.model.storage import durable_storage
from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

_MODES = {
    "buffered": "buffered in memory: acknowledged on receipt, lost if the process dies",
    "inline": "inline: a crash after the handler's commit and before the ack runs it twice",
    None: "inline by default: a crash after the handler's commit and before the ack runs it twice",
}


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for s in ctx.system.services:
        w = s.wolverine
        if w is None or w.durable_inbox_all or not durable_storage(s):
            continue
        for listen in s.listens:
            if listen.transport != "rabbitmq" or listen.library or listen.mode == "durable" or not listen.location:
                continue
            yield Hit(
                listen.location.file,
                listen.location.line,
                f"{s.name} listens to RabbitMQ queue '{listen.queue}' without the durable inbox "
                f"({_MODES.get(listen.mode, str(listen.mode))}), although it keeps envelopes in PostgreSQL",
            )


_BAD = """builder.Services.AddMarten(opts => opts.Connection(connectionString)).IntegrateWithWolverine();
builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision();
    opts.ListenToRabbitQueue("orders-payments");
});
var app = builder.Build();
app.Run();
"""
_GOOD = _BAD.replace(
    'ListenToRabbitQueue("orders-payments")', 'ListenToRabbitQueue("orders-payments").UseDurableInbox()'
)
_POLICY = _BAD.replace(
    'opts.ListenToRabbitQueue("orders-payments");',
    'opts.ListenToRabbitQueue("orders-payments");\n    opts.Policies.UseDurableInboxOnAllListeners();',
)
_NO_STORAGE = _BAD.replace(".IntegrateWithWolverine()", "")

RULE = Rule(
    id="CR103",
    name="listener-without-durable-inbox",
    severity="warning",
    summary="a RabbitMQ listener without the durable inbox in a service with PostgreSQL message storage",
    why="without the inbox a crash loses buffered messages or runs a handler twice; the storage is already there",
    fix="add .UseDurableInbox() to the listener, or opts.Policies.UseDurableInboxOnAllListeners()",
    check=check,
    cases=(
        Case(
            "plain-listener",
            service(program=_BAD),
            (("src/Orders/Orders.Api/Program.cs", program_line(_BAD, "ListenToRabbitQueue")),),
        ),
        Case("durable-listener", service(program=_GOOD)),
        Case("durable-policy", service(program=_POLICY)),
        Case("no-message-storage", service(program=_NO_STORAGE)),
    ),
)
