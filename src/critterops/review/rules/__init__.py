"""The review rules, listed here and nowhere else (no registration by import side effect).

Rule ids are stable: SARIF ``ruleId``, inline suppressions and baselines refer to them. A rule that is
retired keeps its id unused; a new rule takes the next free number.
"""

from __future__ import annotations

from typing import Final

from critterops.review.model import Rule
from critterops.review.rules import (
    cr101_autocreate,
    cr102_solo_daemon_replicas,
    cr103_listener_durable_inbox,
    cr104_publisher_durable_outbox,
    cr105_wolverine_meter,
    cr106_health_development_only,
    cr107_credentials,
    cr108_hardcoded_address,
    cr109_queue_without_consumer,
    cr110_exchange_without_queue,
    cr111_projection_version,
    cr112_event_renamed,
    cr113_ef_migrations_development,
    cr114_dockerfile_root,
    cr115_floating_image_tag,
    cr116_manifest_resources,
    cr117_manifest_probes,
    cr118_manifest_pdb,
    cr119_daemon_with_managed_distribution,
)

RULES: Final[tuple[Rule, ...]] = (
    cr101_autocreate.RULE,
    cr102_solo_daemon_replicas.RULE,
    cr103_listener_durable_inbox.RULE,
    cr104_publisher_durable_outbox.RULE,
    cr105_wolverine_meter.RULE,
    cr106_health_development_only.RULE,
    cr107_credentials.RULE,
    cr108_hardcoded_address.RULE,
    cr109_queue_without_consumer.RULE,
    cr110_exchange_without_queue.RULE,
    cr111_projection_version.RULE,
    cr112_event_renamed.RULE,
    cr113_ef_migrations_development.RULE,
    cr114_dockerfile_root.RULE,
    cr115_floating_image_tag.RULE,
    cr116_manifest_resources.RULE,
    cr117_manifest_probes.RULE,
    cr118_manifest_pdb.RULE,
    cr119_daemon_with_managed_distribution.RULE,
)
RULES_BY_ID: Final[dict[str, Rule]] = {r.id: r for r in RULES}
