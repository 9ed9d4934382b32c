"""Arguments and configuration shared by ``critterops exporter`` and ``critterops status``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from critterops.errors import UserError


def add_source_arguments(parser: Any) -> None:
    parser.add_argument("--config", type=Path, help="critterops.yaml with an exporter: section (default: in --repo)")
    parser.add_argument(
        "--repo", type=Path, help="the system's repository: its model names the databases, schemas, sagas and queues"
    )
    parser.add_argument(
        "--postgres",
        action="append",
        default=[],
        metavar="URL",
        help="a PostgreSQL connection (repeatable; {database} expands per database of the model); "
        "replaces exporter.postgres. Passwords: PGPASSWORD or ~/.pgpass",
    )
    parser.add_argument("--rabbitmq-management", metavar="URL", help="RabbitMQ management API, e.g. http://host:15672")
    parser.add_argument(
        "--rabbitmq-prometheus", metavar="URL", help="rabbitmq_prometheus endpoint, e.g. http://host:15692"
    )


def load(args: argparse.Namespace, listen: str | None = None, require_sources: bool = True) -> Any:
    """The exporter configuration for the arguments (ConfigError/UserError, exit 2, when it is wrong)."""
    from critterops.watch.config import Overrides, find_config, load_config

    system = None
    if args.repo is not None:
        if not args.repo.is_dir():
            raise UserError(f"--repo {args.repo}: not a folder; give the root of the system's repository")
        from critterops.discover import discover

        system = discover(str(args.repo))
    path = find_config(args.repo, args.config)
    overrides = Overrides(
        listen=listen,
        postgres=tuple(args.postgres),
        rabbitmq_management=args.rabbitmq_management,
        rabbitmq_prometheus=args.rabbitmq_prometheus,
    )
    return load_config(path, system, overrides, require_sources=require_sources)
