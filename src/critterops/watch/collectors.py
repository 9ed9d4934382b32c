"""Building the collectors for a configuration, and reading a running exporter's ``/metrics``."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.parse
import urllib.request

from critterops import metrics as m
from critterops.errors import BackendError, UserError
from critterops.watch.config import ExporterConfig
from critterops.watch.promtext import parse
from critterops.watch.samples import Collector, Sample, sample


def build_collectors(config: ExporterConfig) -> list[Collector]:
    from critterops.watch.postgres import PostgresCollector
    from critterops.watch.rabbitmq import RabbitCollector

    collectors: list[Collector] = [
        PostgresCollector(target, deadline_s=config.deadline_s) for target in config.postgres
    ]
    if config.rabbitmq is not None:
        collectors.append(RabbitCollector(config.rabbitmq))
    return collectors


def read_exporter(url: str, timeout_s: float = 10.0) -> list[Sample]:
    """The ``critterops_*`` samples a running exporter serves at ``url`` (``http://host:9180`` or its
    ``/metrics``). Labels a scrape added (``job``, ``instance``) are dropped; other metrics ignored."""
    usage = "give the exporter's address, e.g. --from http://127.0.0.1:9180"
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number
    except ValueError:
        raise UserError(f"--from: not a URL; {usage}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--from: not an http(s) URL; {usage}")
    if parts.username or parts.password:
        raise UserError("--from: the URL holds credentials; the exporter's /metrics needs none")
    full = url.rstrip("/") if url.rstrip("/").endswith("/metrics") else url.rstrip("/") + "/metrics"
    try:
        with urllib.request.urlopen(full, timeout=timeout_s) as response:
            text = response.read().decode("utf-8", errors="replace")
    except urllib.error.HTTPError as error:
        raise BackendError(f"the exporter at {full} answered HTTP {error.code}; is it a critterops exporter?") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or type(error).__name__
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
