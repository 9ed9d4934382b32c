"""The system as terminal tables (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from critterops.model import System
from critterops.report.summary import (
    SERVICE_COLUMNS,
    SETTING_COLUMNS,
    count_line,
    flow_rows,
    other_transports,
    plural,
    service_row,
    setting_rows,
)


def print_system(system: System, console: Console, verbose: bool = False) -> None:
    console.print(f"[bold]{system.root}[/bold]: {count_line(system)}")
    table = Table(*SERVICE_COLUMNS, title="Services", title_justify="left", show_lines=False)
    for s in system.services:
        table.add_row(*service_row(s))
    console.print(table)
    others = other_transports(system)
    if others:
        console.print(f"Other infrastructure used by services: {', '.join(others)}")
    if system.infrastructure:
        infra = Table("name", "kind", "image", "ports", title="Infrastructure", title_justify="left")
        for i in system.infrastructure:
            infra.add_row(i.name, i.kind, i.image or "-", ", ".join(i.ports) or "-")
        console.print(infra)
    if system.flows:
        flows = Table("from", "to", "message", "via", title="Message flows", title_justify="left")
        for row in flow_rows(system):
            flows.add_row(*row)
        console.print(flows)
    settings = setting_rows(system)
    if settings and verbose:
        keys = Table(*SETTING_COLUMNS, title="Configuration the code reads", title_justify="left")
        for setting in settings:
            keys.add_row(*setting)
        console.print(keys)
    elif settings:
        console.print(
            f"{plural(len(settings), 'configuration key')} read by the services (use --verbose or --format json)"
        )
    if system.warnings:
        shown = system.warnings if verbose else system.warnings[:15]
        console.print(f"[yellow]{plural(len(system.warnings), 'warning')}[/yellow]")
        for w in shown:
            where = f"{w.file}:{w.line}" if w.line else w.file
            console.print(f"  [yellow]![/yellow] {where}: {w.message}", soft_wrap=True, highlight=False)
        if len(shown) < len(system.warnings):
            console.print(f"  ... {len(system.warnings) - len(shown)} more (use --verbose or --format json)")
