"""The real RabbitMQ of the watch tests, for the consumer rollouts (started by ``scripts/servers.py``)."""

from tests.watch.conftest import rabbit, rabbit_server, unique

__all__ = ["rabbit", "rabbit_server", "unique"]
