"""What exists in one schema (tables, their columns and types, sequences), read from ``information_schema``.

Marten and Wolverine create their tables on first use and add columns only when a feature is switched
on (extended progression tracking, stale times, dead-letter expiry), so the collector asks the database
what is there instead of assuming. The answer is cached per schema by the caller and read again after a
query error or once a minute, which is how tables created after the exporter started are picked up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

Connection = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class Statement:
    """One query the collector runs: ``part`` names what it reads (``wolverine_dead_letters``), for the
    ``partial`` list when it fails and for ``EXPLAIN`` in the benchmark."""

    part: str
    query: sql.Composed
    params: Mapping[str, object]

    def run(self, conn: Connection) -> list[tuple[Any, ...]]:
        return conn.execute(self.query, self.params).fetchall()


@dataclass(frozen=True, slots=True)
class Layout:
    """The tables (column name → ``information_schema`` data type) and sequences found in a schema,
    and when they were read (collector clock)."""

    columns: Mapping[str, Mapping[str, str]]
    sequences: frozenset[str]
    read_at: float

    def has(self, table: str) -> bool:
        return table in self.columns or table in self.sequences

    def missing(self, needs: Mapping[str, Iterable[str]]) -> list[str]:
        """What of ``needs`` (table → required columns; a sequence needs none) is not there, as
        ``table`` or ``table.column``."""
        gone: list[str] = []
        for table, columns in needs.items():
            if not self.has(table):
                gone.append(table)
                continue
            present = self.columns.get(table, {})
            gone.extend(f"{table}.{column}" for column in columns if column not in present)
        return gone


_INTROSPECT = sql.SQL(
    "SELECT c.table_name::text, c.column_name::text, c.data_type::text FROM information_schema.columns AS c"
    " WHERE c.table_schema = %(schema)s AND c.table_name::text = ANY(%(tables)s)"
    " UNION ALL"
    " SELECT s.sequence_name::text, NULL, NULL FROM information_schema.sequences AS s"
    " WHERE s.sequence_schema = %(schema)s AND s.sequence_name::text = ANY(%(sequences)s)"
)


def introspect(conn: Connection, schema: str, tables: Iterable[str], sequences: Iterable[str], at: float) -> Layout:
    """Read which of ``tables`` and ``sequences`` exist in ``schema`` (only those the connecting role
    may see: a table without privileges counts as absent)."""
    params = {"schema": schema, "tables": sorted(set(tables)), "sequences": sorted(set(sequences))}
    columns: dict[str, dict[str, str]] = {}
    found: set[str] = set()
    for table, column, data_type in conn.execute(_INTROSPECT, params).fetchall():
        if column is None:
            found.add(table)
        else:
            columns.setdefault(table, {})[column] = data_type
    return Layout(columns=columns, sequences=frozenset(found), read_at=at)
