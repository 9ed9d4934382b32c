"""What a collector returns: samples of catalogued metrics, and how one source's read went."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from critterops import metrics as m


@dataclass(frozen=True, slots=True)
class Sample:
    """One series value. ``name`` must be a ``critterops_*`` metric of the catalog; labels are
    ``(name, value)`` pairs in the catalog's label order (empty values are left out on output)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float

    def label(self, key: str) -> str:
        return next((v for k, v in self.labels if k == key), "")


_LABELS: dict[str, tuple[tuple[str, ...], frozenset[str]]] = {
    spec.name: (spec.labels, frozenset(spec.labels)) for spec in m.CATALOG
}


def sample(name: str, value: float, **labels: str) -> Sample:
    """A sample whose labels are ordered as the catalog lists them; unknown labels are a bug.
    Called for every series of every read, so the catalog's label order is looked up once."""
    try:
        order, known = _LABELS[name]
    except KeyError:
        m.spec(name)  # raises the catalog's own KeyError
        raise
    if not known.issuperset(labels):
        unknown = sorted(set(labels) - known)
        raise ValueError(f"{name} has no label(s) {unknown}; the catalog lists {order}")
    return Sample(name, tuple((key, labels.get(key, "")) for key in order), float(value))


@dataclass(frozen=True, slots=True)
class SourceResult:
    """One read of one source (a PostgreSQL database, the RabbitMQ broker).

    ``target`` names the source in ``critterops_up``, ``critterops_scrape_duration_seconds`` and
    ``critterops_scrape_errors_total`` (``postgres:orders``, ``rabbitmq``). ``up`` is False when the
    source could not be read at all; ``samples`` may then still hold what was read before the failure
    in other parts (never stale values from an earlier read). ``error`` is a one-line reason that holds
    no credentials. ``notes`` are one-time remarks (a schema without Wolverine tables): a collector returns each
    one once, the exporter logs what it gets."""

    target: str
    up: bool
    duration_s: float
    samples: tuple[Sample, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()
    partial: tuple[str, ...] = field(default=())  # parts that failed while the source was up
    warming: bool = False  # its first read is still running (the exporter's warm-up): neither up nor down


class Collector(Protocol):
    """Reads one source. ``collect`` never raises for a source that is down or misbehaving: it returns
    ``up=False`` with the reason. It may keep state across calls (stall and time-in-state tracking)."""

    @property
    def target(self) -> str: ...

    def collect(self) -> SourceResult: ...

    def close(self) -> None: ...
