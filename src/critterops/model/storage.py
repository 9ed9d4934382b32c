"""Where a service keeps its Marten and Wolverine tables, as the model says: shared by the alert rules,
the runbooks and the exporter, so they all read the same schemas."""

from __future__ import annotations

from critterops.model.system import Service


def events_schema(service: Service) -> str:
    """Marten's ``DatabaseSchemaName`` (``public`` when not set)."""
    return service.schema or "public"


def message_schema(service: Service) -> str:
    """Where Wolverine's envelope tables live: the schema the code names; else, for PostgreSQL persistence
    of its own (``PersistMessagesWithPostgresql`` without a schema), ``wolverine``
    (``EnvelopeStorageSchemaName = settings.MessageStorageSchemaName ?? "wolverine"``,
    src/Persistence/Wolverine.Postgresql/PostgresqlBackedPersistence.cs, V6.29.2); else, integrated with
    Marten, Marten's schema (MartenIntegration), else ``public``."""
    w = service.wolverine
    if w is not None and w.message_schema:
        return w.message_schema
    if w is not None and w.message_storage == "postgresql":
        return "wolverine"
    return service.schema or "public"


def durable_storage(service: Service) -> bool:
    """Wolverine keeps envelopes in PostgreSQL (the tables the exporter reads)."""
    w = service.wolverine
    if w is None or not w.message_storage:
        return False
    if w.message_storage == "efcore":
        return service.ef_core is not None and service.ef_core.provider == "npgsql"
    return w.message_storage in ("marten", "postgresql")


def stores_in_postgres(service: Service) -> bool:
    """Marten, or Wolverine's durable storage, keeps tables of this service in PostgreSQL."""
    return service.marten is not None or durable_storage(service)
