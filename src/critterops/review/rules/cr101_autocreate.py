"""CR101 marten-autocreate-outside-development.

Bad::

    builder.Services.AddMarten(opts => { opts.AutoCreateSchemaObjects = AutoCreate.All; });

Good::

    opts.AutoCreateSchemaObjects = builder.Environment.IsDevelopment() ? AutoCreate.All : AutoCreate.None;
    // and apply the schema in the pipeline: `dotnet run -- db-apply`

Marten changes the database schema itself when it meets a document or event type it has not created yet
(``AutoCreate.All`` even drops and recreates tables whose shape differs). Outside Development that turns a
deploy into an unreviewed schema migration, run by whichever pod starts first, under the application's
credentials. Marten's default when nothing is set is ``CreateOrUpdate`` ("for more efficient development,
but can be set to lower values for production usage": Marten V9.29.0 src/Marten/StoreOptions.cs,
``AutoCreateSchemaObjects``); this rule reports what the code sets explicitly.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from critterops.model.environments import applies_in
from critterops.review.casekit import program_line, service
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule

_DEPLOYED = ("Staging", "Production")
_NOT_DEVELOPMENT = re.compile(r"!\s*\(?\s*[\w.]*IsDevelopment\(\)|IsDevelopment\(\)\s*==\s*false")


def _guarded_by_development(ctx: ReviewContext, file: str, line: int) -> bool:
    """A single assignment discovery recorded without a condition, under an ``IsDevelopment()`` guard
    on one of the three lines before it (``if (env.IsDevelopment())``, a ternary on the line itself)."""
    window = ctx.lines(file)[max(line - 4, 0) : line]
    return any("IsDevelopment()" in text and not _NOT_DEVELOPMENT.search(text) for text in window)


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for s in ctx.system.services:
        marten = s.marten
        if marten is None or marten.location is None:
            continue
        conditional = bool(marten.auto_create_by_environment)
        values = list(marten.auto_create_by_environment) or (
            [("all", marten.auto_create)] if marten.auto_create else []
        )
        file = marten.location.file
        for env, value in values:
            if value == "None" or not any(applies_in(env, e) for e in _DEPLOYED):
                continue
            line = ctx.find_line(file, f"AutoCreate.{value}", 1, 0)
            if line == 0:
                line = marten.location.line
            elif not conditional and _guarded_by_development(ctx, file, line):
                continue
            where = "outside Development" if env != "all" else "in every environment"
            yield Hit(
                file,
                line,
                f"{s.name}: Marten AutoCreateSchemaObjects = {value} {where}: a deploy changes the schema itself",
                severity="error" if value == "All" else "warning",
            )


_BAD = """builder.Services.AddMarten(opts =>
{
    opts.Connection(connectionString);
    opts.AutoCreateSchemaObjects = AutoCreate.All;
}).IntegrateWithWolverine();
var app = builder.Build();
app.Run();
"""
_GOOD = _BAD.replace("AutoCreate.All", "AutoCreate.None")
_BY_ENV = """builder.Services.AddMarten(opts =>
{
    opts.Connection(connectionString);
    if (builder.Environment.IsDevelopment())
    {
        opts.AutoCreateSchemaObjects = AutoCreate.All;
    }
    else
    {
        opts.AutoCreateSchemaObjects = AutoCreate.CreateOrUpdate;
    }
}).IntegrateWithWolverine();
var app = builder.Build();
app.Run();
"""
_DEV_ONLY = """builder.Services.AddMarten(opts =>
{
    opts.Connection(connectionString);
    if (builder.Environment.IsDevelopment())
    {
        opts.AutoCreateSchemaObjects = AutoCreate.All;
    }
}).IntegrateWithWolverine();
var app = builder.Build();
app.Run();
"""
_NOT_DEV = _DEV_ONLY.replace("if (builder.Environment.IsDevelopment())", "if (!builder.Environment.IsDevelopment())")
_PROGRAM = "src/Orders/Orders.Api/Program.cs"

RULE = Rule(
    id="CR101",
    name="marten-autocreate-outside-development",
    severity="error",
    summary="Marten creates or changes the database schema by itself outside Development",
    why=(
        "AutoCreateSchemaObjects other than None lets the first pod of a deploy migrate the schema, unreviewed, "
        "with the application's credentials; All may drop and recreate tables"
    ),
    fix=(
        "set AutoCreateSchemaObjects = AutoCreate.None outside Development (IsDevelopment() ? All : None) and "
        "apply the schema in the pipeline (`dotnet run -- db-apply` or the kit's migration job)"
    ),
    check=check,
    cases=(
        Case("all-everywhere", service(program=_BAD), ((_PROGRAM, program_line(_BAD, "AutoCreate.All")),)),
        Case("none", service(program=_GOOD)),
        Case(
            "create-or-update-outside-development",
            service(program=_BY_ENV),
            ((_PROGRAM, program_line(_BY_ENV, "AutoCreate.CreateOrUpdate")),),
        ),
        Case("only-in-development", service(program=_DEV_ONLY)),
        Case(
            "only-outside-development",
            service(program=_NOT_DEV),
            ((_PROGRAM, program_line(_NOT_DEV, "AutoCreate.All")),),
        ),
    ),
)
