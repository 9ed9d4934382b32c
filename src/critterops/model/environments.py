"""ASP.NET Core environments: which one each critterops environment runs as, and whether code guarded by
``app.Environment.IsDevelopment()`` (and the like) runs there.

Discovery records a guard as a condition string: ``all``, ``Development``, ``!Development``, several
enclosing guards joined by `` & `` and alternatives (one statement found under different guards) by `` | ``.
"""

from __future__ import annotations

from typing import Final

ASPNET_ENVIRONMENT: Final = {"dev": "Development", "staging": "Staging", "production": "Production"}


def aspnet_environment(env: str) -> str:
    """``dev`` → ``Development``; other names are capitalised (``qa`` → ``Qa``)."""
    return ASPNET_ENVIRONMENT.get(env, env[:1].upper() + env[1:])


def applies_in(condition: str, aspnet_env: str) -> bool:
    """Whether code under ``condition`` runs when ``ASPNETCORE_ENVIRONMENT`` is ``aspnet_env``."""
    return any(
        all(_one(term.strip(), aspnet_env) for term in alternative.split("&")) for alternative in condition.split("|")
    )


def _one(term: str, aspnet_env: str) -> bool:
    if term in ("all", ""):
        return True
    if term.startswith("!"):
        return term[1:] != aspnet_env
    return term == aspnet_env
