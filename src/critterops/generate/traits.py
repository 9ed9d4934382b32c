"""What a service has, which decides the alerts, dashboard panels and scrape jobs it gets.

Read from the system model only, so the alert records, the dashboards and the collector's scrape
configuration agree on which service has async projections, handles messages, serves HTTP or
listens to RabbitMQ queues.
"""

from __future__ import annotations

from critterops.model import Service, System


def async_projections(service: Service) -> list[str]:
    """The names of the service's Marten projections that the async daemon runs."""
    if service.marten is None:
        return []
    return [p.name for p in service.marten.projections if p.lifecycle == "Async"]


def handles_messages(service: Service) -> bool:
    """Whether Wolverine handles messages in the service (handlers, handled types or listeners)."""
    w = service.wolverine
    return w is not None and bool(w.handlers or w.handled_messages or service.listens)


def serves_http(service: Service) -> bool:
    """Whether the service answers HTTP (a port, or an API or web project)."""
    return service.http_port is not None or service.kind in ("api", "web")


def rabbit_queues(service: Service) -> list[str]:
    """The RabbitMQ queues the service listens to, sorted."""
    return sorted({listen.queue for listen in service.listens if listen.transport == "rabbitmq"})


def rabbitmq_name(system: System) -> str | None:
    """The broker's name (its compose/AppHost name), when any service talks to RabbitMQ."""
    if not any(s.wolverine and "rabbitmq" in s.wolverine.transports for s in system.services) and not any(
        rabbit_queues(s) for s in system.services
    ):
        return None
    return next((i.name for i in system.infrastructure if i.kind == "rabbitmq"), "rabbitmq")
