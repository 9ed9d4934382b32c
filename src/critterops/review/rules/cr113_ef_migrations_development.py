"""CR113 ef-migrations-only-in-development.

Bad::

    if (app.Environment.IsDevelopment()) { db.Database.Migrate(); }

with nothing else applying the migrations. Good: a migration step in the pipeline (``dotnet ef database
update``, a bundle, the kit's migration job) or ``Migrate()`` in every environment with a single runner.

Discovery records where the application applies its EF Core migrations at startup. Applied only in
Development, a deploy to production runs new code against the old schema unless something else applies
them.
"""

from __future__ import annotations

from collections.abc import Iterator

from critterops.model.environments import applies_in
from critterops.review.casekit import line_of
from critterops.review.context import ReviewContext
from critterops.review.model import Case, Hit, Rule


def check(ctx: ReviewContext) -> Iterator[Hit]:
    for s in ctx.system.services:
        ef = s.ef_core
        if ef is None or ef.applied_at_startup is None or applies_in(ef.applied_at_startup, "Production"):
            continue
        file, line = s.project, 0
        for rel in ctx.code_files():
            if ctx.service_of(rel) is s or rel.startswith(s.project.rsplit("/", 1)[0]):
                found = next(
                    (n for n, t in enumerate(ctx.lines(rel), 1) if ".Migrate(" in t or ".MigrateAsync(" in t), 0
                )
                if found:
                    file, line = rel, found
                    break
        yield Hit(
            file,
            line,
            f"{s.name} applies its EF Core migrations at startup only under {ef.applied_at_startup}: "
            "production starts new code on the old schema unless the pipeline migrates",
        )


_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Npgsql.EntityFrameworkCore.PostgreSQL" />
    <PackageReference Include="Microsoft.EntityFrameworkCore.Design" />
  </ItemGroup>
</Project>
"""
_PROGRAM = """using Microsoft.EntityFrameworkCore;

var builder = WebApplication.CreateBuilder(args);
var identity = builder.Configuration.GetConnectionString("identity");
builder.Services.AddDbContext<IdentityDbContext>(o => o.UseNpgsql(identity));
var app = builder.Build();
if (app.Environment.IsDevelopment())
{
    using var scope = app.Services.CreateScope();
    var db = scope.ServiceProvider.GetRequiredService<IdentityDbContext>();
    await db.Database.MigrateAsync();
}
app.Run();

public class IdentityDbContext(DbContextOptions<IdentityDbContext> options) : DbContext(options) { }
"""
_EVERYWHERE = _PROGRAM.replace("if (app.Environment.IsDevelopment())\n", "")
_DIR = "src/Identity/Identity.Api"


def _repo(program: str) -> dict[str, str]:
    return {f"{_DIR}/Identity.Api.csproj": _CSPROJ, f"{_DIR}/Program.cs": program}


RULE = Rule(
    id="CR113",
    name="ef-migrations-only-in-development",
    severity="warning",
    summary="EF Core migrations are applied at startup only in Development",
    why="a production deploy starts the new code against the old schema unless something else migrates",
    fix="apply the migrations in the pipeline (dotnet ef migrations bundle, the kit's migration job) before the "
    "new version starts",
    check=check,
    cases=(
        Case("development-only", _repo(_PROGRAM), ((f"{_DIR}/Program.cs", line_of(_PROGRAM, "MigrateAsync")),)),
        Case("every-environment", _repo(_EVERYWHERE)),
    ),
)
