"""The rows people read: one per service, infrastructure and flow (shared by text and Markdown)."""

from __future__ import annotations

from critterops.model import Service, System

SERVICE_COLUMNS = (
    "service",
    "context",
    "kind",
    "port",
    "database / schema",
    "pg",
    "rmq",
    "ES",
    "daemon",
    "sagas",
    "queues in",
    "out",
)


def _yes(flag: bool) -> str:
    return "yes" if flag else "-"


def service_row(s: Service) -> tuple[str, ...]:
    db = s.database or "-"
    if s.schema and s.schema != s.database:
        db = f"{db} / {s.schema}"
    marten = s.marten
    listens = [listen.queue for listen in s.listens if listen.transport != "local"]
    out = sorted({p.to for p in s.publishes if p.kind != "local"})
    return (
        s.name,
        s.bounded_context,
        s.kind,
        str(s.http_port) if s.http_port else "-",
        db,
        _yes("postgres" in s.uses),
        _yes("rabbitmq" in s.uses),
        _yes(bool(marten and marten.event_sourcing)),
        (marten.daemon_mode or "-") if marten else "-",
        ", ".join(g.name for g in s.sagas) or "-",
        str(len(listens)) if listens else "-",
        str(len(out)) if out else "-",
    )


SETTING_COLUMNS = ("service", "key", "environment variable", "kind", "points at", "default", "read at")


def setting_rows(system: System) -> list[tuple[str, ...]]:
    """Every configuration key each service reads; secrets' defaults are not shown."""
    rows: list[tuple[str, ...]] = []
    for s in system.services:
        for setting in s.settings:
            default = "(secret)" if setting.secret and setting.default else (setting.default or "-")
            kind = setting.kind + (", file" if setting.file else "") + (", secret" if setting.secret else "")
            where = str(setting.location) if setting.location else setting.via
            rows.append((s.name, setting.key, setting.env_var, kind, setting.target or "-", default, where))
    return rows


def other_transports(system: System) -> list[str]:
    found = sorted({t for s in system.services for t in s.uses if t not in ("postgres", "rabbitmq")})
    return found


def flow_rows(system: System) -> list[tuple[str, str, str, str]]:
    return [
        (f.source, f.target, f.message, f.via + ("" if f.resolution != "conventional" else " (inferred)"))
        for f in system.flows
    ]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``1 saga``, ``2 sagas``: reports never print "1 sagas"."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"


def count_line(system: System, services: str = "service") -> str:
    """The one-line census shared by the text and Markdown reports."""
    c = counts(system)
    return ", ".join(
        (
            plural(c["services"], services),
            plural(c["flows"], "message flow"),
            plural(c["contracts"], "message contract"),
            plural(c["sagas"], "saga"),
            plural(c["async projections"], "async projection"),
        )
    )


def counts(system: System) -> dict[str, int]:
    return {
        "services": len(system.services),
        "flows": len(system.flows),
        "contracts": len(system.contracts),
        "sagas": sum(len(s.sagas) for s in system.services),
        "async projections": sum(
            1 for s in system.services if s.marten for p in s.marten.projections if p.lifecycle == "Async"
        ),
        "warnings": len(system.warnings),
    }
