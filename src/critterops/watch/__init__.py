"""Watching the running system: collectors that read PostgreSQL (Marten, Wolverine, sagas) and RabbitMQ
and turn what they find into the ``critterops_*`` metrics of :mod:`critterops.metrics`; the exporter
that serves them and the status screen that shows them."""
