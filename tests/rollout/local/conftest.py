"""The real RabbitMQ and PostgreSQL of the watch tests, for consumer rollouts (``scripts/servers.py``)."""

from tests.watch.conftest import pg_database, postgres_dsn, postgres_server, rabbit, rabbit_server, unique

__all__ = ["pg_database", "postgres_dsn", "postgres_server", "rabbit", "rabbit_server", "unique"]
