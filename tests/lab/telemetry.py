"""The lab's telemetry helpers live in critterops.lab.telemetry (the Kubernetes demo uses them too)."""

from critterops.lab.telemetry import (
    PodStandins,
    kit_collector_config,
    kit_scrape_configs,
    query,
    resource_attributes,
    restore_lab_observability,
    use_kit_observability,
)

__all__ = [
    "PodStandins",
    "kit_collector_config",
    "kit_scrape_configs",
    "query",
    "resource_attributes",
    "restore_lab_observability",
    "use_kit_observability",
]
