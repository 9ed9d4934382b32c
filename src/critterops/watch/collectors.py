"""Building the collectors for a configuration, and reading a running exporter's ``/metrics``."""

from __future__ import annotations

import urllib.error
import urllib.request

from critterops import metrics as m
from critterops.errors import BackendError
from critterops.watch.config import ExporterConfig
from critterops.watch.promtext import parse
from critterops.watch.samples import Collector, Sample, sample


def build_collectors(config: ExporterConfig) -> list[Collector]:
    from critterops.watch.postgres import PostgresCollector
    from critterops.watch.rabbitmq import RabbitCollector

    collectors: list[Collector] = [PostgresCollector(target) for target in config.postgres]
    if config.rabbitmq is not None:
        collectors.append(RabbitCollector(config.rabbitmq))
    return collectors


def read_exporter(url: str, timeout_s: float = 10.0) -> list[Sample]:
    """The ``critterops_*`` samples a running exporter serves at ``url`` (``http://host:9180`` or its
    ``/metrics``). Labels a scrape added (``job``, ``instance``) are dropped; other metrics ignored."""
    if not url.startswith(("http://", "https://")):
        raise BackendError(f"--from {url!r}: give the exporter's http:// address, e.g. http://127.0.0.1:9180")
    full = url.rstrip("/") if url.rstrip("/").endswith("/metrics") else url.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(full, timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        raise BackendError(f"the exporter at {full} answered HTTP {error.code}; is it a critterops exporter?") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise BackendError(f"cannot read the exporter at {full}: {reason}; is `critterops exporter` running?") from None
    out: list[Sample] = []
    for item in parse(text).samples:
        if not item.name.startswith("critterops_"):
            continue
        try:
            spec = m.spec(item.name)
        except KeyError:
            continue
        labels = {k: v for k, v in item.labels.items() if k in spec.labels}
        out.append(sample(spec.name, item.value, **labels))
    if not out:
        raise BackendError(f"{full} serves no critterops_* metrics; point --from at a critterops exporter")
    return out
