"""Is a stopped version's outbox drained? Wolverine's durable outbox in PostgreSQL, read during a drain.

A Wolverine node registers in ``wolverine_nodes`` (``node_number``), owns the rows it writes to
``wolverine_outgoing_envelopes`` (``owner_id`` = its ``node_number``) until they are sent, and on a graceful
stop sends or releases them and leaves the table; a crashed node leaves rows owned by a number no live node
has (orphaned, recovered later by another node's durability agent). Names: ../shared/reference critter-ops.md
§2 (Wolverine V5.29.0), the same the exporter reads (critterops.watch.pg_wolverine).

So a drain takes the node numbers before SIGTERM, and after the process ended waits (bounded) until the nodes
that left own no outgoing row.
"""

from __future__ import annotations

import time
from typing import Any

from critterops.errors import BackendError


class OutboxWatch:
    def __init__(self, dsn: str, schema: str = "wolverine", timeout: float = 3.0) -> None:
        self.dsn, self.schema, self.timeout = dsn, schema, timeout

    def _query(self, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
        import psycopg
        from psycopg import sql

        try:
            with psycopg.connect(self.dsn, autocommit=True, connect_timeout=max(1, int(self.timeout))) as conn:
                query = sql.SQL(statement).format(sql.Identifier(self.schema))
                return list(conn.execute(query, params).fetchall())
        except psycopg.Error as error:
            raise BackendError(f"outbox check ({self.schema}): {str(error).strip().splitlines()[0]}") from error

    def nodes(self) -> set[int]:
        return {int(row[0]) for row in self._query("SELECT node_number FROM {}.wolverine_nodes")}

    def owned_by(self, nodes: set[int]) -> int:
        if not nodes:
            return 0
        rows = self._query(
            "SELECT count(*) FROM {}.wolverine_outgoing_envelopes WHERE owner_id = ANY(%s)", (sorted(nodes),)
        )
        return int(rows[0][0])

    def wait_released(self, before: set[int], timeout: float) -> tuple[set[int], int, float]:
        """After a stop: (the nodes that left, outgoing rows they still own, seconds waited)."""
        started = time.monotonic()
        while True:
            gone = before - self.nodes()
            left = self.owned_by(gone)
            waited = time.monotonic() - started
            if left == 0 or waited >= timeout:
                return gone, left, waited
            time.sleep(0.25)


__all__ = ["OutboxWatch"]
