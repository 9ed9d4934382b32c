"""The registry: stable, unique ids in order, each rule documented in its module."""

from __future__ import annotations

import re
import sys

from critterops.review import RULES, RULES_BY_ID
from critterops.review.model import SEVERITIES

# Ids are part of the interface (SARIF ruleId, suppressions, baselines): this list changes only by appending.
STABLE = {
    "CR101": "marten-autocreate-outside-development",
    "CR102": "solo-daemon-with-replicas",
    "CR103": "listener-without-durable-inbox",
    "CR104": "publisher-without-durable-outbox",
    "CR105": "wolverine-meter-name",
    "CR106": "health-only-in-development",
    "CR107": "credentials-in-configuration",
    "CR108": "hardcoded-address",
    "CR109": "queue-without-consumer",
    "CR110": "exchange-without-bound-queue",
    "CR111": "projection-changed-without-version-bump",
    "CR112": "event-renamed-without-mapeventtype",
    "CR113": "ef-migrations-only-in-development",
    "CR114": "dockerfile-runs-as-root",
    "CR115": "floating-image-tag",
    "CR116": "manifest-missing-resources",
    "CR117": "manifest-missing-probes",
    "CR118": "manifest-missing-pdb",
    "CR119": "daemon-mode-with-managed-distribution",
}


def test_ids_and_names_are_stable() -> None:
    assert {r.id: r.name for r in RULES} == STABLE
    assert list(RULES_BY_ID) == sorted(RULES_BY_ID)


def test_each_rule_is_documented_where_it_lives() -> None:
    for rule in RULES:
        module = sys.modules[rule.check.__module__]
        doc = module.__doc__ or ""
        assert doc.startswith(f"{rule.id} {rule.name}"), rule.id
        assert "Bad" in doc and "Good" in doc, rule.id
        assert rule.severity in SEVERITIES
        assert rule.why and rule.fix and rule.summary
        assert re.fullmatch(r"[a-z0-9-]+", rule.name)
