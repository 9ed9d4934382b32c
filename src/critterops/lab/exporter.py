"""A stand-in for the critterops exporter of a system whose stores are healthy, for the lab.

The kit's analyses and the plan's gates read the exporter's series (an async projection's lag, a
service's outbox): ``critterops_projection_lag_events`` and ``critterops_outbox_pending``. In the lab
no PostgreSQL holds the services' Marten stores, so this runs the real exporter (its HTTP server,
scrape bookkeeping and catalog labels: critterops.watch.exporter) over a collector that reports every
async projection of the system caught up and every outbox empty — what the real one reports for a
system at rest. ``tests/lab/test_queries.py`` proves the real exporter against real tables.
"""

from __future__ import annotations

from critterops import metrics as m
from critterops.model import System
from critterops.watch.exporter import Exporter, ExporterServer, bind
from critterops.watch.samples import Sample, SourceResult, sample


class AtRest:
    """Every async projection caught up (lag 0), every outbox empty."""

    target = "lab:at-rest"

    def __init__(self, system: System) -> None:
        self.samples: list[Sample] = []
        for service in system.services:
            marten = service.marten
            store = {"service": service.name, "bounded_context": service.bounded_context or "", "schema": "public"}
            if marten is not None:
                for projection in marten.projections:
                    if projection.lifecycle == "Async":
                        shard = f"{projection.name}:All"
                        self.samples.append(sample(m.PROJECTION_LAG, 0, **store, projection=shard))
            if service.wolverine is not None:
                self.samples.append(sample(m.OUTBOX_PENDING, 0, **store, destination="", owner=""))

    def collect(self) -> SourceResult:
        return SourceResult(self.target, True, 0.0, tuple(self.samples))

    def close(self) -> None:
        pass


def serve(system: System, host: str = "127.0.0.1", port: int = 0) -> ExporterServer:
    """The exporter on ``host:port`` (0: a free port), serving in a thread; ``server_address`` says where."""
    import threading

    exporter = Exporter([AtRest(system)])
    exporter.start()
    server = bind(exporter, host, port)
    threading.Thread(target=server.serve_forever, daemon=True, name="lab-exporter").start()
    return server
