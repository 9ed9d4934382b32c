"""What the collectors read, resolved from ``critterops.yaml`` and the system model (frozen data)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SagaTarget:
    """Saga documents in ``{schema}.{table}``; ``state_member`` is the JSON field holding the state
    (``Status``); None counts all instances under state ``""``."""

    name: str  # the saga type's name, e.g. Order
    table: str  # e.g. mt_doc_order
    state_member: str | None
    idle_after_s: float = 300.0  # "not saved for longer than": critterops_saga_idle_instances


@dataclass(frozen=True, slots=True)
class SchemaTarget:
    """One PostgreSQL schema that holds a service's Marten and/or Wolverine tables.

    ``events`` and ``wolverine`` are True/False when known from the model or config, None to detect
    from ``information_schema`` (a schema without the tables is then skipped with one note)."""

    schema: str
    service: str
    bounded_context: str = ""
    events: bool | None = None
    wolverine: bool | None = None
    sagas: tuple[SagaTarget, ...] = ()


@dataclass(frozen=True, slots=True)
class PostgresTarget:
    """One database. ``conninfo`` is a libpq connection string or URI **without** the password;
    the password comes from ``password`` (read from an environment variable at start) or libpq's own
    sources (``PGPASSWORD``, ``~/.pgpass``). ``name`` is the ``target`` label: ``postgres:<name>``."""

    name: str
    conninfo: str
    schemas: tuple[SchemaTarget, ...]
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 2.0  # connect timeout and statement_timeout

    @property
    def target(self) -> str:
        return f"postgres:{self.name}"


@dataclass(frozen=True, slots=True)
class QueueOwner:
    """Which service consumes a queue (from the model's listeners), for the service labels."""

    queue: str
    service: str
    bounded_context: str = ""


@dataclass(frozen=True, slots=True)
class RabbitTarget:
    """The broker. ``management_url`` (``http://host:15672``) and/or ``prometheus_url``
    (``http://host:15692``); ``vhost`` limits the queues read (None: all vhosts)."""

    management_url: str | None
    prometheus_url: str | None = None
    user: str = "guest"
    password: str | None = field(default=None, repr=False)
    vhost: str | None = "/"
    owners: tuple[QueueOwner, ...] = ()
    timeout_s: float = 2.0

    @property
    def target(self) -> str:
        return "rabbitmq"
