"""CR108 hardcoded-address.

Bad: ``opts.UseRabbitMq(new Uri("amqp://rabbitmq.internal:5672"))``; a connection string literal
``"Host=db01;Database=orders"`` in code; ``rabbit.HostName = config["hostname"] ?? "localhost"``; listening
to RabbitMQ without any ``UseRabbitMq...`` (Wolverine then connects to localhost:5672).

Good: ``opts.UseRabbitMqUsingNamedConnection("rabbitmq")`` and
``builder.Configuration.GetConnectionString("marten")`` with the value supplied per environment.

An address in code is the same in every environment: the service either cannot be pointed elsewhere
without a rebuild, or (a fallback behind ``??``) silently connects to the wrong host when the setting is
missing, instead of failing at startup. Fallbacks are reported as notes. A class implementing
``IDesignTimeDbContextFactory`` is skipped: EF Core's tools call it (``dotnet ef migrations add``), the running
service never does, so its address is a developer's local one by purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

_CONN = re.compile(r'"[^"]*\b(?:Host|Server|Data Source)\s*=\s*([^;"]+)[^"]*"', re.IGNORECASE)
_AMQP = re.compile(r'"(amqps?://[^"]+)"')
_HOSTNAME = re.compile(r'\bHostName\s*=\s*(?:[^;]*\?\?\s*)?"([^"]+)"')
NO_BROKER = "never says where the broker is"


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for rel in ctx.code_files():
        if any("IDesignTimeDbContextFactory" in text for text in ctx.lines(rel)):
            continue
        for number, text in enumerate(ctx.lines(rel), 1):
            if ctx.is_comment(text):
                continue
            fallback = "??" in text or text.lstrip().startswith("??")
            for pattern, what in ((_CONN, "database"), (_AMQP, "broker"), (_HOSTNAME, "broker")):
                found = pattern.search(text)
                if found:
                    how = "as a fallback when the setting is missing" if fallback else "in code"
                    yield Hit(
                        rel,
                        number,
                        f"{what} address '{found.group(1)}' written {how}",
                        severity="note" if fallback else None,
                    )
                    break
    for w in ctx.system.warnings:
        if NO_BROKER in w.message:
            yield Hit(w.file, w.line, "RabbitMQ used without UseRabbitMq...: Wolverine connects to localhost:5672")


_LITERAL = """builder.Services.AddMarten("Host=db01.internal;Database=orders;Username=orders").IntegrateWithWolverine();
builder.Host.UseWolverine(opts => opts.UseRabbitMq(new Uri("amqp://rabbitmq.internal:5672")).AutoProvision());
var app = builder.Build();
app.Run();
"""
_CONFIGURED = """builder.Services.AddMarten(connectionString).IntegrateWithWolverine();
builder.Host.UseWolverine(opts => opts.UseRabbitMqUsingNamedConnection("rabbitmq").AutoProvision());
var app = builder.Build();
app.Run();
"""
_FALLBACK = """builder.Host.UseWolverine(opts =>
{
    opts.UseRabbitMq(rabbit =>
    {
        rabbit.HostName = builder.Configuration["RabbitMQ:hostname"] ?? "localhost";
    });
});
var app = builder.Build();
app.Run();
"""
_DESIGN_TIME = """using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Orders;

public class OrdersDbContextFactory : IDesignTimeDbContextFactory<OrdersDbContext>
{
    public OrdersDbContext CreateDbContext(string[] args)
    {
        var options = new DbContextOptionsBuilder<OrdersDbContext>();
        return new(options.UseNpgsql("Host=localhost;Port=5433;Database=orders").Options);
    }
}
"""
_PROGRAM = "src/Orders/Orders.Api/Program.cs"

RULE = Rule(
    id="CR108",
    name="hardcoded-address",
    severity="warning",
    summary="a broker or database address written in code",
    why="the address is the same in every environment: a rebuild to move it, or a silent connection to the "
    "wrong host when the setting is missing",
    fix='read it from configuration (UseRabbitMqUsingNamedConnection("rabbitmq"), GetConnectionString("marten")) '
    "and fail at startup when it is missing",
    check=check,
    cases=(
        Case(
            "literals",
            service(program=_LITERAL),
            ((_PROGRAM, program_line(_LITERAL, "AddMarten")), (_PROGRAM, program_line(_LITERAL, "amqp://"))),
        ),
        Case("configured", service(program=_CONFIGURED)),
        Case("fallback", service(program=_FALLBACK), ((_PROGRAM, program_line(_FALLBACK, "HostName")),)),
        Case(
            "design-time-factory",
            {**service(program=_CONFIGURED), "src/Orders/Orders.Api/OrdersDbContextFactory.cs": _DESIGN_TIME},
        ),
        Case(
            "same-literal-in-runtime-code",
            {
                **service(program=_CONFIGURED),
                "src/Orders/Orders.Api/Db.cs": _DESIGN_TIME.replace(
                    " : IDesignTimeDbContextFactory<OrdersDbContext>", ""
                ),
            },
            (("src/Orders/Orders.Api/Db.cs", 11),),
        ),
    ),
)
