"""Render a :class:`~critterops.watch.status.Status` as one terminal screen (rich) or JSON.

Problems come first, then one table per area; a cell that is a problem is red (critical) or yellow
(warning), so the eye finds it without reading every number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from critterops.watch.status import Status, human_duration

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow"}
MAX_QUEUES = 25


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}/s"


def _age(value: float | None) -> str:
    return "—" if value is None else human_duration(value)


def _cell(text: str, problem: bool, severity: str = "warning") -> Text:
    return Text(text, style=_SEVERITY_STYLE[severity]) if problem else Text(text)


class _Table(Table):
    """Cells are text, never rich markup: a queue or state named ``x[/y]`` prints as it is."""

    def add_row(self, *cells: Any, **kwargs: Any) -> None:
        super().add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in cells), **kwargs)


def _table(title: str, *columns: str) -> Table:
    table = _Table(title=Text(title, style="bold"), title_justify="left", expand=False, pad_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 2 else "right", no_wrap=i < 2)
    return table


def render_status(status: Status) -> RenderableType:
    parts: list[RenderableType] = [_header(status)]
    if status.problems:
        problems = Table.grid(padding=(0, 1))
        for problem in status.problems:
            problems.add_row(
                Text(problem.severity.upper(), style=_SEVERITY_STYLE[problem.severity]),
                Text(problem.subject, style="bold"),
                Text(problem.message),
            )
        parts.append(problems)
    else:
        parts.append(Text("No problems.", style="green"))
    subjects = {p.subject for p in status.problems}
    parts.append(_sources(status))
    if status.projections:
        parts.append(_projections(status, subjects))
    if status.stores:
        parts.append(_stores(status, subjects))
    if status.sagas:
        parts.append(_sagas(status, subjects))
    if status.queues:
        parts.append(_queues(status, subjects))
    return Group(*parts)


def _header(status: Status) -> Text:
    when = dt.datetime.fromtimestamp(status.at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    worst = status.worst
    summary = (
        f"{len(status.problems)} problem{'s' if len(status.problems) != 1 else ''}" if status.problems else "healthy"
    )
    text = Text(f"critterops status · {when} · {status.origin} · ", style="bold")
    text.append(summary, style=_SEVERITY_STYLE[worst] if worst else "green")
    return text


def _sources(status: Status) -> Table:
    table = _table("Sources", "target", "state", "read", "errors")
    for row in status.sources:
        state = "up" if row.up else f"DOWN{': ' + row.error if row.error else ''}"
        table.add_row(
            row.target,
            _cell(state, not row.up, "critical"),
            "—" if row.duration_s is None else f"{row.duration_s * 1000:.0f} ms",
            _num(row.errors),
        )
    return table


def _projections(status: Status, subjects: set[str]) -> Table:
    table = _table(
        "Async projections",
        "service",
        "projection",
        "position",
        "behind HWM",
        "behind head",
        "oldest",
        "stalled",
        "poison",
    )
    for r in status.projections:
        bad = r.subject in subjects
        table.add_row(
            r.service,
            r.projection,
            _num(r.last_sequence),
            _cell(_num(r.lag), bad),
            _num(r.head_lag),
            _age(r.oldest_unprocessed_s),
            _cell(_age(r.stalled_s), bad and bool(r.stalled_s), "critical"),
            _cell(_num(r.dead_letter_events), bool(r.dead_letter_events)),
        )
    return table


def _stores(status: Status, subjects: set[str]) -> Table:
    table = _table(
        "Wolverine message stores",
        "service",
        "schema",
        "inbox",
        "scheduled",
        "outbox",
        "orphaned",
        "dead letters",
        "nodes",
        "leader",
    )
    for r in status.stores:
        bad = r.subject in subjects
        nodes = f"{r.nodes}" + (f" ({r.stale_nodes} stale)" if r.stale_nodes else "")
        table.add_row(
            r.service,
            r.schema,
            _num(r.inbox_incoming),
            _num(r.inbox_scheduled),
            _num(r.outbox),
            _cell(_num(r.orphaned), bad and r.orphaned > 0),
            _cell(_num(r.dead_letters), bad and r.dead_letters > 0),
            _cell(nodes, bool(r.stale_nodes)),
            _cell(
                "—" if r.leaders is None else ("yes" if r.leaders == 1 else _num(r.leaders)),
                r.leader_problem,
                "critical",
            ),
        )
    return table


def _sagas(status: Status, subjects: set[str]) -> Table:
    table = _table("Sagas", "service", "saga / state", "instances", "idle", "oldest in state", "limit")
    for r in status.sagas:
        bad = r.subject in subjects
        table.add_row(
            r.service,
            f"{r.saga} / {r.state or '(no state member)'}",
            _num(r.instances),
            _num(r.idle),
            _cell(_age(r.oldest_in_state_s), bad),
            _age(r.limit_s) if r.limit_s != float("inf") else "terminal",
        )
    return table


def _queues(status: Status, subjects: set[str]) -> Table:
    busy = [q for q in status.queues if q.messages or q.queue in subjects]
    shown = busy[:MAX_QUEUES]
    cut, empty = len(busy) - len(shown), len(status.queues) - len(busy)
    notes = [f"{cut} more with messages not shown" if cut else "", f"{empty} empty not shown" if empty else ""]
    title = "RabbitMQ queues" + (f" ({', '.join(n for n in notes if n)})" if cut or empty else "")
    table = _table(title, "queue", "consumer", "ready", "unacked", "consumers", "in", "out")
    for r in shown:
        bad = r.queue in subjects
        table.add_row(
            r.queue,
            r.service or "—",
            _cell(_num(r.ready), bad),
            _num(r.unacked),
            _cell(_num(r.consumers), bad and r.consumers == 0),
            _rate(r.publish_rate),
            _rate(r.ack_rate),
        )
    return table
