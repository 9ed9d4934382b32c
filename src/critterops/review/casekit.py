"""Small Critter Stack repositories for the rules' labelled cases: a service is a Web SDK project with its
``Program.cs`` (and, when given, ``appsettings.json`` and a Dockerfile), laid out as CritterSupply does
(``src/<Context>/<Context>.Api/``)."""

from __future__ import annotations

PACKAGES = ("Marten", "WolverineFx.Marten", "WolverineFx.RabbitMQ", "WolverineFx.Http")

CSPROJ = """<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net10.0</TargetFramework></PropertyGroup>
  <ItemGroup>
{packages}
  </ItemGroup>
</Project>
"""

PROGRAM_HEAD = """using Marten;
using JasperFx;
using Wolverine;
using Wolverine.Marten;
using Wolverine.RabbitMQ;

var builder = WebApplication.CreateBuilder(args);
var connectionString = builder.Configuration.GetConnectionString("marten")!;
"""


def api_dir(context: str) -> str:
    return f"src/{context}/{context}.Api"


def service(
    context: str = "Orders",
    program: str = "",
    *,
    appsettings: str | None = None,
    dockerfile: str | None = None,
    packages: tuple[str, ...] = PACKAGES,
) -> dict[str, str]:
    """``{path: text}`` for one service; ``program`` is the body after the builder lines."""
    folder = api_dir(context)
    files = {
        f"{folder}/{context}.Api.csproj": CSPROJ.format(
            packages="\n".join(f'    <PackageReference Include="{p}" />' for p in packages)
        ),
        f"{folder}/Program.cs": PROGRAM_HEAD + program,
    }
    if appsettings is not None:
        files[f"{folder}/appsettings.json"] = appsettings
    if dockerfile is not None:
        files[f"{folder}/Dockerfile"] = dockerfile
    return files


def line_of(text: str, needle: str, offset: int = 0) -> int:
    """1-based line of ``needle`` in ``text`` plus ``offset`` lines of a preceding header."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number + offset
    raise ValueError(f"{needle!r} not in the case's text")


HEAD_LINES = len(PROGRAM_HEAD.splitlines())


def program_line(program: str, needle: str) -> int:
    """The line of ``needle`` in the ``Program.cs`` that :func:`service` writes."""
    return line_of(program, needle, HEAD_LINES)
