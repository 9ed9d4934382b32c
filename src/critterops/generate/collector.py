"""Where the telemetry goes: the OpenTelemetry Collector's configuration and Prometheus' scrape jobs.

Services send OTLP to the collector, whose Prometheus exporter Prometheus scrapes next to
``critterops exporter`` and, when the system uses RabbitMQ, the broker's ``rabbitmq_prometheus``
endpoint. The ports and the exporter's job name are here because the alerts, dashboards, runbooks and
the Kubernetes manifests (Services, NetworkPolicies) use them too.
"""

from __future__ import annotations

from typing import Any, Final

from critterops import metrics as m
from critterops.generate.context import KitContext
from critterops.generate.traits import rabbitmq_name
from critterops.model import System

EXPORTER_JOB: Final = "critterops-exporter"
EXPORTER_PORT: Final = 9180
COLLECTOR_PROMETHEUS_PORT: Final = 8889
RABBITMQ_PROMETHEUS_PORT: Final = 15692


def scrape_config(ctx: KitContext) -> dict[str, Any]:
    """A complete Prometheus configuration: the collector, the exporter and the broker, per environment."""

    def targets(host: str, port: int) -> list[dict[str, Any]]:
        # one target per environment namespace, labelled so rules and dashboards keep environments apart
        return [
            {"targets": [f"{host}.{ctx.name}-{env.name}.svc:{port}"], "labels": {"environment": env.name}}
            for env in ctx.environments
        ]

    jobs: list[dict[str, Any]] = [
        {
            # the collector exposes job="<service.name>"; honor_labels keeps it instead of "otel-collector"
            "job_name": "otel-collector",
            "honor_labels": True,
            "scrape_interval": "15s",
            "static_configs": targets("otel-collector", COLLECTOR_PROMETHEUS_PORT),
        },
        {
            "job_name": EXPORTER_JOB,
            "scrape_interval": "30s",
            "scrape_timeout": "20s",
            "static_configs": targets(EXPORTER_JOB, EXPORTER_PORT),
        },
    ]
    broker = rabbitmq_name(ctx.system)
    if broker:
        jobs.append(
            {
                "job_name": "rabbitmq",
                "scrape_interval": "30s",
                "metrics_path": "/metrics/detailed",
                "params": {"family": ["queue_coarse_metrics", "queue_consumer_count"]},
                "static_configs": targets(broker, RABBITMQ_PROMETHEUS_PORT),
            }
        )
    return {
        "global": {"scrape_interval": "30s", "evaluation_interval": "30s"},
        "rule_files": ["alerts.yaml"],
        "scrape_configs": jobs,
    }


def collector_config(ctx: KitContext) -> dict[str, Any]:
    """The collector (contrib): OTLP in, Prometheus exporter and trace backend out."""
    traces = traces_endpoint(ctx.system)
    return {
        "extensions": {"health_check": {"endpoint": "0.0.0.0:13133"}},
        "receivers": {
            "otlp": {"protocols": {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}}
        },
        "processors": {
            "memory_limiter": {"check_interval": "1s", "limit_percentage": 80, "spike_limit_percentage": 20},
            "batch": {"send_batch_size": 8192, "timeout": "5s"},
            "resource": {
                "attributes": [
                    {"key": "critterops.system", "value": ctx.name, "action": "upsert"},
                ]
            },
        },
        "exporters": {
            "prometheus": {
                "endpoint": f"0.0.0.0:{COLLECTOR_PROMETHEUS_PORT}",
                # the names critterops.metrics derives (prometheus_name): written out, not left to a default
                "translation_strategy": m.TRANSLATION_STRATEGY,
                "resource_to_telemetry_conversion": {"enabled": True},
                "metric_expiration": "10m",
            },
            "otlp/traces": {"endpoint": traces, "tls": {"insecure": True}},
        },
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"logs": {"level": "info"}, "metrics": {"level": "normal"}},
            "pipelines": {
                "metrics": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "resource", "batch"],
                    "exporters": ["prometheus"],
                },
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "resource", "batch"],
                    "exporters": ["otlp/traces"],
                },
            },
        },
    }


def traces_endpoint(system: System) -> str:
    """The repository's own trace backend when it has one (Jaeger/Tempo in compose), else a placeholder."""
    backend = next((i for i in system.infrastructure if i.kind in ("jaeger", "tempo")), None)
    return f"{backend.name}:4317" if backend else "traces-backend.invalid:4317"
