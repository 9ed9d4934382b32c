"""The deployment policy: defaults, overrides, mirroring, every kind of invalid file, explanations."""

from __future__ import annotations

import dataclasses
import json
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from critterops import configfile
from critterops.errors import ConfigError
from critterops.plan import policy as policy_module
from critterops.plan.policy import (
    POLICY_SCHEMA,
    Analysis,
    Environment,
    Metrics,
    Policy,
    RiskLevels,
    ServicePolicy,
    Thresholds,
    default_policy,
    explain_policy,
    load_policy,
    parse_policy,
    policy_to_dict,
    seconds,
    unknown_services,
)
from tests.conftest import WriteRepo


def docstring_example() -> str:
    """The example ``critterops.yaml`` in the module docstring, so the documentation cannot rot."""
    doc = policy_module.__doc__
    assert doc is not None
    after = doc.split("Example ``critterops.yaml``::\n\n", 1)[1]
    block = []
    for line in after.splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line)
    return textwrap.dedent("\n".join(block)).strip() + "\n"


EXAMPLE = docstring_example()


def load_text(write_repo: WriteRepo, text: str, name: str = "critterops.yaml") -> Policy:
    return load_policy(write_repo({name: text}))


# ---------------------------------------------------------------------------------------------
# Defaults


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "dev",
            Environment(
                name="dev",
                appetite="fast",
                canary_steps=(50, 100),
                pause="30s",
                analysis=Analysis(interval="30s", count=2, failure_limit=1, initial_delay="1m"),
                approval="never",
                collapse_to_rolling=True,
                mirror=None,
                replicas=1,
                blue_green_scale_down_delay="30s",
            ),
            id="dev",
        ),
        pytest.param(
            "staging",
            Environment(
                name="staging",
                appetite="automatic",
                canary_steps=(10, 50, 100),
                pause="5m",
                analysis=Analysis(interval="1m", count=5, failure_limit=1, initial_delay="1m"),
                approval="never",
                collapse_to_rolling=False,
                mirror="production",
                replicas=2,
                blue_green_scale_down_delay="10m",
            ),
            id="staging",
        ),
        pytest.param(
            "production",
            Environment(
                name="production",
                appetite="conservative",
                canary_steps=(10, 50, 100),
                pause="5m",
                analysis=Analysis(interval="1m", count=5, failure_limit=1, initial_delay="1m"),
                approval="high-risk",
                collapse_to_rolling=False,
                mirror=None,
                replicas=3,
                blue_green_scale_down_delay="10m",
            ),
            id="production",
        ),
    ],
)
def test_built_in_environments(name: str, expected: Environment) -> None:
    assert default_policy().environment(name) == expected


def test_defaults_match_the_spec() -> None:
    policy = default_policy()
    assert [environment.name for environment in policy.environments] == ["dev", "staging", "production"]
    assert policy.thresholds == Thresholds(
        http_error_rate=0.01,
        http_latency_p95_ms=500.0,
        handler_failure_rate=0.02,
        dead_letters=0.0,
        projection_lag_events=100.0,
        outbox_backlog=1000.0,
    )
    assert policy.metrics == Metrics(
        http_requests="http_server_request_duration_seconds_count",
        http_duration_bucket="http_server_request_duration_seconds_bucket",
        handler_succeeded="wolverine_messages_succeeded_Messages_total",
        handler_failed="wolverine_execution_failure_Messages_total",
        dead_letters="wolverine_dead_letter_queue_Messages_total",
        projection_lag="critterops_projection_lag_events",
        outbox_backlog="critterops_outbox_pending",
    )
    assert policy.risk == RiskLevels(medium=0.3, high=0.6)
    assert (policy.saga_hosts, policy.customer_facing) == ("blue-green", "canary")
    assert policy.services == ()
    assert policy.source is None
    assert set(policy.provenance.values()) == {"default", "mirrored from production: default"}


def test_no_file_means_defaults(tmp_path: Path) -> None:
    assert load_policy(tmp_path) == default_policy()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("# nothing configured yet\n", id="only-comments"),
        pytest.param("---\n", id="empty-document"),
        pytest.param("null\n", id="null"),
        pytest.param("version: 1\n", id="only-version"),
        pytest.param("environments:\nthresholds:\nservices:\n", id="empty-sections"),
    ],
)
def test_an_empty_file_means_defaults(write_repo: WriteRepo, text: str) -> None:
    policy = load_text(write_repo, text)
    assert policy.source is not None and policy.source.endswith("critterops.yaml")
    assert dataclasses.replace(policy, source=None) == default_policy()
    assert set(policy.provenance.values()) <= {"default", "mirrored from production: default"}


def test_the_hidden_file_name_is_read(write_repo: WriteRepo) -> None:
    policy = load_text(write_repo, "risk: {high: 0.9}\n", name=".critterops.yaml")
    assert policy.risk.high == 0.9
    assert policy.source is not None and policy.source.endswith(".critterops.yaml")


def test_an_explicit_file_wins_over_the_repository_one(write_repo: WriteRepo, tmp_path: Path) -> None:
    root = write_repo({"critterops.yaml": "risk: {high: 0.9}\n"})
    explicit = tmp_path / "elsewhere.yaml"
    explicit.write_text("risk: {high: 0.8}\n", encoding="utf-8")
    assert load_policy(root, explicit).risk.high == 0.8
    assert load_policy(root).risk.high == 0.9


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        pytest.param("500ms", 0.5, id="ms"),
        pytest.param("30s", 30.0, id="s"),
        pytest.param("5m", 300.0, id="m"),
        pytest.param("2h", 7200.0, id="h"),
        pytest.param("0s", 0.0, id="zero"),
    ],
)
def test_seconds(duration: str, expected: float) -> None:
    assert seconds(duration) == expected


@pytest.mark.parametrize("duration", ["5", "5 m", "1m30s", "-1s", "5d", "m", "5m\n", "٣s"])
def test_seconds_rejects_what_is_not_a_duration(duration: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        seconds(duration)


def test_duration_helpers() -> None:
    production = default_policy().environment("production")
    assert production.pause_seconds() == 300.0
    assert production.scale_down_delay_seconds() == 600.0
    assert production.analysis.interval_seconds() == 60.0
    assert production.analysis.initial_delay_seconds() == 60.0


# ---------------------------------------------------------------------------------------------
# Overrides


def test_the_docstring_example_loads(write_repo: WriteRepo) -> None:
    policy = load_text(write_repo, EXAMPLE)
    production = policy.environment("production")
    assert production.canary_steps == (5, 25, 50, 100)
    assert production.pause == "10m"
    assert production.approval == "always"
    assert production.analysis == Analysis(interval="2m", count=10, failure_limit=1, initial_delay="1m")
    assert production.replicas == 3  # not in the file: still the default
    assert policy.thresholds.http_error_rate == 0.005
    assert policy.thresholds.handler_failure_rate == 0.02
    assert policy.risk == RiskLevels(0.25, 0.5)
    assert policy.service("storefront-web") == ServicePolicy("storefront-web", customer_facing=True)
    orders = policy.service("orders-api")
    assert orders.strategy == "blue-green"
    assert policy.thresholds_for("orders-api") == dataclasses.replace(policy.thresholds, handler_failure_rate=0.01)
    assert policy.thresholds_for("payments-api") == policy.thresholds


@pytest.mark.parametrize(
    ("text", "environment", "attribute", "expected"),
    [
        pytest.param(
            "environments: {production: {canary: {steps: [25, 100]}}}",
            "production",
            "pause",
            "5m",
            id="steps-only-keeps-pause",
        ),
        pytest.param(
            "environments: {production: {canary: {steps: [25, 100]}}}",
            "production",
            "canary_steps",
            (25, 100),
            id="steps-only-sets-steps",
        ),
        pytest.param(
            "environments: {production: {analysis: {interval: 2m}}}",
            "production",
            "analysis",
            Analysis(interval="2m", count=5, failure_limit=1, initial_delay="1m"),
            id="analysis-interval-only",
        ),
        pytest.param(
            "environments: {dev: {replicas: 2}}",
            "dev",
            "canary_steps",
            (50, 100),
            id="dev-replicas-keeps-steps",
        ),
        pytest.param(
            "environments: {dev: {collapse_to_rolling: false}}", "dev", "collapse_to_rolling", False, id="dev-collapse"
        ),
        pytest.param(
            "environments: {production: {blue_green: {scale_down_delay: 1h}}}",
            "production",
            "blue_green_scale_down_delay",
            "1h",
            id="scale-down-delay",
        ),
        pytest.param(
            "environments: {staging: {mirror: null}}", "staging", "mirror", None, id="staging-mirrors-nothing"
        ),
        pytest.param(
            "environments: {staging: {approval: always}}",
            "staging",
            "approval",
            "always",
            id="mirror-keeps-own-approval",
        ),
    ],
)
def test_partial_overrides_merge_field_by_field(
    write_repo: WriteRepo, text: str, environment: str, attribute: str, expected: object
) -> None:
    assert getattr(load_text(write_repo, text).environment(environment), attribute) == expected


def test_other_environments_are_untouched_by_an_override(write_repo: WriteRepo) -> None:
    policy = load_text(write_repo, "environments: {production: {replicas: 5}}")
    assert policy.environment("dev") == default_policy().environment("dev")
    assert policy.environment("staging").replicas == 2


def test_staging_mirrors_production_after_production_is_overridden(write_repo: WriteRepo) -> None:
    text = """
environments:
  production:
    canary: {steps: [5, 25, 100], pause: 15m}
    analysis: {interval: 2m, count: 8, failure_limit: 2, initial_delay: 3m}
    blue_green: {scale_down_delay: 30m}
    approval: always
    replicas: 6
  staging:
    analysis: {count: 4}
"""
    policy = load_text(write_repo, text)
    production, staging = policy.environment("production"), policy.environment("staging")
    assert staging.canary_steps == (5, 25, 100)
    assert staging.pause == "15m"
    assert staging.blue_green_scale_down_delay == "30m"
    assert staging.analysis == Analysis(interval="2m", count=4, failure_limit=2, initial_delay="3m")
    assert staging.approval == "never"  # approvals are dropped in a mirror
    assert staging.replicas == 2  # replicas are not a strategy: not copied
    assert production.analysis.count == 8
    source = policy.source
    assert policy.provenance["environments.staging.canary.steps"] == f"mirrored from production: {source}"
    assert policy.provenance["environments.staging.analysis.count"] == source
    assert policy.provenance["environments.staging.replicas"] == "default"


def test_a_mirror_chain_copies_through(write_repo: WriteRepo) -> None:
    text = """
promotion: [dev, qa, staging, production]
environments:
  qa: {appetite: automatic, mirror: staging}
  production: {canary: {steps: [20, 100]}}
"""
    policy = load_text(write_repo, text)
    assert policy.environment("qa").canary_steps == (20, 100)
    assert policy.environment("qa").approval == "never"  # production's template says high-risk; a mirror drops it
    assert policy.provenance["environments.qa.canary.steps"] == (
        f"mirrored from staging: mirrored from production: {policy.source}"
    )


def test_a_new_environment_starts_from_production(write_repo: WriteRepo) -> None:
    text = """
promotion: [dev, qa, staging, production]
environments:
  qa: {appetite: fast, replicas: 1}
  production: {canary: {steps: [20, 100]}}
"""
    policy = load_text(write_repo, text)
    assert [environment.name for environment in policy.environments] == ["dev", "qa", "staging", "production"]
    qa = policy.environment("qa")
    assert (qa.appetite, qa.replicas, qa.mirror) == ("fast", 1, None)
    # production's *built-in* settings, not the file's override of production
    assert (qa.canary_steps, qa.pause, qa.approval) == ((10, 50, 100), "5m", "high-risk")
    assert qa.analysis == Analysis()


@pytest.mark.parametrize(
    ("promotion", "expected"),
    [
        pytest.param("[production, staging, dev]", ["production", "staging", "dev"], id="reordered"),
        pytest.param("[dev, production]", ["dev", "production"], id="staging-dropped"),
        pytest.param("[production]", ["production"], id="only-production"),
    ],
)
def test_promotion_orders_and_selects(write_repo: WriteRepo, promotion: str, expected: list[str]) -> None:
    policy = load_text(write_repo, f"promotion: {promotion}\n")
    assert [environment.name for environment in policy.environments] == expected


def test_services_thresholds_and_defaults(write_repo: WriteRepo) -> None:
    text = """
thresholds: {http_latency_p95_ms: 800, dead_letters: 2}
defaults: {saga_hosts: canary}
services:
  orders-api: {thresholds: {dead_letters: 0}, approval: always}
  inventory-worker: {strategy: rolling, customer_facing: false}
  payments-api: {thresholds: {}}
"""
    policy = load_text(write_repo, text)
    assert policy.thresholds_for("orders-api") == Thresholds(http_latency_p95_ms=800.0, dead_letters=0.0)
    assert policy.thresholds_for("payments-api") == policy.thresholds
    assert policy.service("payments-api").thresholds is None
    assert policy.service("inventory-worker") == ServicePolicy("inventory-worker", "rolling", False)
    assert policy.service("nobody") == ServicePolicy("nobody")
    assert (policy.saga_hosts, policy.customer_facing) == ("canary", "canary")
    assert isinstance(policy.thresholds.dead_letters, float)


def test_unknown_services() -> None:
    policy = parse_policy("services: {orders-api: {}, ghost: {}, storefront-web: {}}\n", "critterops.yaml")
    assert unknown_services(policy, {"orders-api", "storefront-web"}) == ["ghost"]
    assert unknown_services(policy, {"orders-api", "ghost", "storefront-web"}) == []


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"'prodution' \(did you mean 'production'\?\).*dev, staging, production"):
        default_policy().environment("prodution")


def test_anchors_and_merge_keys(write_repo: WriteRepo) -> None:
    text = """
environments:
  production: &slow
    canary: {steps: [5, 100]}
    replicas: 4
  dev:
    <<: *slow
    replicas: 1
"""
    policy = load_text(write_repo, text)
    assert policy.environment("dev").canary_steps == (5, 100)
    assert policy.environment("dev").replicas == 1


def test_the_policy_is_frozen_and_hashable() -> None:
    policy = default_policy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.source = "x"  # type: ignore[misc]
    assert hash(policy) == hash(default_policy())


def test_provenance_is_not_part_of_equality() -> None:
    policy = parse_policy(EXAMPLE, "critterops.yaml")
    assert dataclasses.replace(policy, provenance={}) == policy
    assert hash(dataclasses.replace(policy, provenance={})) == hash(policy)


# ---------------------------------------------------------------------------------------------
# Invalid files: ConfigError with the file, the line, the key path and what is allowed

INVALID = [
    pytest.param("environments:\n  production:\n  canary: [\n", "", 4, "invalid YAML", id="bad-yaml"),
    pytest.param("a: 1\n---\nb: 2\n", "", 2, "single document", id="two-documents"),
    pytest.param("- dev\n- production\n", "top level", None, "got a list", id="top-level-list"),
    pytest.param("just text\n", "top level", None, "got the text 'just text'", id="top-level-scalar"),
    pytest.param("version: 2\n", "version", 1, "Allowed: 1", id="version-2"),
    pytest.param("version: '1'\n", "version", 1, "the text '1'", id="version-as-text"),
    pytest.param("thresholds: 0.01\n", "thresholds", 1, "expected a mapping", id="section-not-mapping"),
    pytest.param(
        "thresholds: {http_error_rate: high}\n",
        "thresholds.http_error_rate",
        1,
        "expected a number, got the text 'high'",
        id="wrong-type",
    ),
    pytest.param(
        "environments:\n  production:\n    replicas: true\n",
        "environments.production.replicas",
        3,
        "expected a whole number, got true",
        id="bool-is-not-a-number",
    ),
    pytest.param(
        "environments:\n  production:\n    analysis: {count: 2.5}\n",
        "environments.production.analysis.count",
        3,
        "whole number",
        id="float-count",
    ),
    pytest.param(
        "environments:\n  production:\n    canray: {steps: [10, 100]}\n",
        "environments.production.canray",
        3,
        "did you mean 'canary'?",
        id="unknown-key-suggestion",
    ),
    pytest.param("thresolds: {}\n", "thresolds", 1, "did you mean 'thresholds'?", id="unknown-top-level-key"),
    pytest.param(
        "services:\n  orders-api: {stratgy: canary}\n",
        "services.orders-api.stratgy",
        2,
        "did you mean 'strategy'?",
        id="unknown-service-key",
    ),
    pytest.param(
        "environments:\n  production:\n    canary:\n      steps: [10, 50, 25, 100]\n",
        "environments.production.canary.steps[2]",
        4,
        "25 is not above the step before it (50)",
        id="steps-not-ascending",
    ),
    pytest.param(
        "environments:\n  production:\n    canary:\n      steps: [10, 10, 100]\n",
        "environments.production.canary.steps[1]",
        4,
        "not above",
        id="steps-repeated",
    ),
    pytest.param(
        "environments:\n  production:\n    canary:\n      steps:\n        - 10\n        - 50\n",
        "environments.production.canary.steps[1]",
        6,
        "the last step is 50",
        id="steps-not-ending-in-100",
    ),
    pytest.param(
        "environments: {production: {canary: {steps: [0, 100]}}}\n",
        "environments.production.canary.steps[0]",
        1,
        "0 is out of range",
        id="step-zero",
    ),
    pytest.param(
        "environments: {production: {canary: {steps: [50, 150]}}}\n",
        "environments.production.canary.steps[1]",
        1,
        "150 is out of range",
        id="step-above-100",
    ),
    pytest.param(
        "environments: {production: {canary: {steps: []}}}\n",
        "environments.production.canary.steps",
        1,
        "expected a list of weights",
        id="steps-empty",
    ),
    pytest.param(
        "environments:\n  production:\n    canary: {pause: 10}\n",
        "environments.production.canary.pause",
        3,
        "the number 10 is not a duration",
        id="duration-without-unit",
    ),
    pytest.param(
        "environments:\n  production:\n    canary: {pause: 5 minutes}\n",
        "environments.production.canary.pause",
        3,
        "e.g. 30s, 5m, 1h",
        id="duration-in-words",
    ),
    pytest.param(
        "environments:\n  dev:\n    analysis: {interval: 0s}\n",
        "environments.dev.analysis.interval",
        3,
        "0s is zero",
        id="zero-interval",
    ),
    pytest.param(
        "environments:\n  dev:\n    analysis: {count: 1}\n",
        "environments.dev.analysis.count",
        3,
        "failure_limit (1, default) is not below count (1",
        id="failure-limit-not-below-count",
    ),
    pytest.param("risk: {medium: 0.7}\n", "risk.medium", 1, "Allowed: 0 < medium < high < 1", id="medium-above-high"),
    pytest.param(
        "risk:\n  medium: 0.5\n  high: 0.5\n", "risk.medium", 2, "is not below high (0.5", id="medium-equals-high"
    ),
    pytest.param("risk: {high: 1.0}\n", "risk.high", 1, "1.0 is out of range", id="high-is-one"),
    pytest.param(
        "thresholds: {http_error_rate: 1.5}\n",
        "thresholds.http_error_rate",
        1,
        "a share from 0 to 1",
        id="rate-above-one",
    ),
    pytest.param(
        "thresholds: {dead_letters: -1}\n", "thresholds.dead_letters", 1, "-1 is out of range", id="negative-count"
    ),
    pytest.param(
        "thresholds: {http_latency_p95_ms: .nan}\n", "thresholds.http_latency_p95_ms", 1, "nan", id="not-a-number"
    ),
    pytest.param(
        "thresholds: {outbox_backlog: .inf}\n", "thresholds.outbox_backlog", 1, "inf is out of range", id="infinite"
    ),
    pytest.param(
        "environments:\n  production: {mirror: staging}\n",
        "environments.production.mirror",
        2,
        "mirror cycle staging → production → staging",
        id="mirror-cycle",
    ),
    pytest.param(
        "environments:\n  dev: {mirror: dev}\n",
        "environments.dev.mirror",
        2,
        "mirror cycle dev → dev",
        id="mirror-self",
    ),
    pytest.param(
        "environments:\n  staging: {mirror: prod}\n",
        "environments.staging.mirror",
        2,
        "mirrors 'prod', which is not in promotion",
        id="unknown-mirror-target",
    ),
    pytest.param(
        "promotion: [dev, staging]\n",
        "environments.staging.mirror",
        None,
        "mirrors 'production' (default)",
        id="mirror-target-dropped",
    ),
    pytest.param(
        "thresholds:\n  http_error_rate: 0.1\n  http_error_rate: 0.2\n",
        "thresholds.http_error_rate",
        3,
        "duplicate key (first on line 2)",
        id="duplicate-key",
    ),
    pytest.param(
        "environments: {dev: {}}\nenvironments: {}\n",
        "environments",
        2,
        "duplicate key (first on line 1)",
        id="duplicate-top-level-key",
    ),
    pytest.param(
        "environments:\n  qa: {replicas: 2}\n",
        "environments.qa",
        2,
        "must set its appetite",
        id="new-environment-without-appetite",
    ),
    pytest.param(
        "environments:\n  prodution: {replicas: 2}\n",
        "environments.prodution",
        2,
        "did you mean 'production'?",
        id="misspelt-environment",
    ),
    pytest.param(
        "environments:\n  qa: {appetite: fast}\n",
        "environments.qa",
        2,
        "promotion: [dev, staging, qa, production]",
        id="new-environment-without-promotion",
    ),
    pytest.param(
        "promotion: [dev, production]\nenvironments:\n  staging: {replicas: 1}\n",
        "environments.staging",
        3,
        "missing from promotion",
        id="configured-but-not-promoted",
    ),
    pytest.param("promotion: [dev, prod]\n", "promotion[1]", 1, "did you mean", id="unknown-in-promotion"),
    pytest.param("promotion: [dev, dev]\n", "promotion[1]", 1, "listed twice", id="twice-in-promotion"),
    pytest.param("promotion: []\n", "promotion", 1, "non-empty list", id="empty-promotion"),
    pytest.param(
        "environments: {production: {appetite: reckless}}\n",
        "environments.production.appetite",
        1,
        "fast, automatic, conservative",
        id="bad-appetite",
    ),
    pytest.param(
        "environments: {production: {approval: sometimes}}\n",
        "environments.production.approval",
        1,
        "never, high-risk, always",
        id="bad-approval",
    ),
    pytest.param(
        "services: {orders-api: {strategy: blue_green}}\n",
        "services.orders-api.strategy",
        1,
        "did you mean 'blue-green'?",
        id="bad-strategy",
    ),
    pytest.param(
        "defaults: {saga_hosts: big-bang}\n", "defaults.saga_hosts", 1, "canary, blue-green", id="bad-default"
    ),
    pytest.param("services: {Orders.Api: {}}\n", "services.Orders.Api", 1, "not a valid service name", id="bad-name"),
    pytest.param(
        "services: {orders-api: {customer_facing: maybe}}\n",
        "services.orders-api.customer_facing",
        1,
        "expected true or false",
        id="bad-bool",
    ),
    pytest.param(
        "metrics: {http_requests: 'http requests'}\n", "metrics.http_requests", 1, "metric name", id="bad-metric"
    ),
    pytest.param("1: x\n", "top level", 1, "not text", id="number-key"),
    pytest.param("x: !foo bar\n", "", 1, "tag '!foo'", id="unknown-tag"),
    pytest.param("risk: {high: !!float abc}\n", "risk.high", 1, "not a valid float", id="bad-tagged-value"),
    pytest.param("a: &a [*a]\n", "a[0][0]", 1, "too large or nested too deeply", id="recursive-alias"),
]


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Thresholds)])
def test_no_threshold_may_be_negative(name: str) -> None:
    with pytest.raises(ConfigError, match=rf"critterops\.yaml:1: thresholds\.{name}: -1 is out of range\. Allowed: "):
        parse_policy(f"thresholds: {{{name}: -1}}\n", "critterops.yaml")


@pytest.mark.parametrize(("text", "path", "line", "fragment"), INVALID)
def test_invalid_policy_is_a_config_error(
    write_repo: WriteRepo, text: str, path: str, line: int | None, fragment: str
) -> None:
    root = write_repo({"critterops.yaml": text})
    with pytest.raises(ConfigError) as caught:
        load_policy(root)
    message = str(caught.value)
    where = f"{root / 'critterops.yaml'}:{line}" if line is not None else f"{root / 'critterops.yaml'}"
    assert message.startswith(f"{where}:"), message
    if path:
        assert f": {path}: " in message, message
        assert "Allowed: " in message, message
    assert fragment in message, message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("a: 1\na: 2\n", "a: duplicate key (first on line 1)", id="duplicate-key"),
        pytest.param("a: [\n", "invalid YAML", id="bad-yaml"),
        pytest.param("risk: {high: 0.1}\n", "risk.high", id="medium-above-high"),
    ],
)
def test_the_pure_python_loader_gives_the_same_errors(
    monkeypatch: pytest.MonkeyPatch, text: str, fragment: str
) -> None:
    monkeypatch.setattr(configfile, "_LOADER", yaml.SafeLoader)
    with pytest.raises(ConfigError) as caught:
        parse_policy(text, "critterops.yaml")
    assert str(caught.value).startswith("critterops.yaml:") and fragment in str(caught.value)


def test_the_pure_python_loader_reads_the_example(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = parse_policy(EXAMPLE, "critterops.yaml")
    monkeypatch.setattr(configfile, "_LOADER", yaml.SafeLoader)
    assert parse_policy(EXAMPLE, "critterops.yaml") == expected


def test_both_policy_files_is_an_error(write_repo: WriteRepo) -> None:
    root = write_repo({"critterops.yaml": "", ".critterops.yaml": ""})
    with pytest.raises(ConfigError, match=r"both .*critterops\.yaml and .*\.critterops\.yaml exist"):
        load_policy(root)


def test_both_files_do_not_matter_with_an_explicit_policy(write_repo: WriteRepo) -> None:
    root = write_repo({"critterops.yaml": "", ".critterops.yaml": "", "ci/policy.yaml": "risk: {high: 0.7}\n"})
    assert load_policy(root, root / "ci/policy.yaml").risk.high == 0.7


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        pytest.param(lambda root: root / "missing.yaml", "does not exist", id="missing"),
        pytest.param(lambda root: root, "is a folder", id="folder"),
    ],
)
def test_an_explicit_policy_must_be_a_file(tmp_path: Path, make: Callable[[Path], Path], fragment: str) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError, match=fragment) as caught:
        load_policy(tmp_path, path)
    assert str(path) in str(caught.value) and "--policy" in str(caught.value)


def test_a_file_that_is_not_utf8(write_repo: WriteRepo) -> None:
    root = write_repo({"critterops.yaml": b"risk: {high: 0.5}\n# \xff\xfe\n"})
    with pytest.raises(ConfigError, match=r"critterops\.yaml: not UTF-8 text"):
        load_policy(root)


def test_a_control_character_names_its_line(write_repo: WriteRepo) -> None:
    root = write_repo({"critterops.yaml": "version: 1\nrisk: \x07\n"})
    with pytest.raises(ConfigError, match=r"critterops\.yaml:2: invalid YAML: character U\+0007"):
        load_policy(root)


def test_a_byte_order_mark_is_accepted(write_repo: WriteRepo) -> None:
    root = write_repo({"critterops.yaml": "\ufeffrisk: {high: 0.7}\n".encode()})
    assert load_policy(root).risk.high == 0.7


# ---------------------------------------------------------------------------------------------
# Explaining and serialising


def block(text: str, heading: str) -> list[str]:
    """The rows under ``heading`` in explain_policy's text."""
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


def row(text: str, heading: str, label: str) -> tuple[str, str]:
    """(value, provenance) of the row ``label`` under ``heading``; columns are two or more spaces apart."""
    for line in block(text, heading):
        columns = re.split(r" {2,}", line.strip())
        if columns[0] == label:
            assert len(columns) == 3, line
            return columns[1], columns[2]
    raise AssertionError(f"no row {label!r} under {heading!r}")


def test_explain_names_the_provenance_of_each_value(write_repo: WriteRepo) -> None:
    policy = load_text(write_repo, EXAMPLE)
    source = str(policy.source)
    text = explain_policy(policy)
    assert text.startswith(f"Deployment policy: {source}\n")
    production, thresholds = "Environment production", "Thresholds (analysis gates fail above these)"
    assert row(text, production, "canary.steps") == ("5% → 25% → 50% → 100%", source)
    assert row(text, production, "replicas") == ("3", "default")
    assert row(text, production, "approval") == ("always (ask before every full promotion)", source)
    assert row(text, "Environment staging", "canary.steps") == (
        "5% → 25% → 50% → 100%",
        f"mirrored from production: {source}",
    )
    assert row(text, "Environment staging", "approval")[1] == "default"
    assert row(text, "Environment dev", "canary.steps") == ("50% → 100%", "default")
    assert row(text, thresholds, "http_error_rate") == ("0.005", source)
    assert row(text, thresholds, "dead_letters") == ("0", "default")
    assert row(text, "Metric names (Prometheus)", "handler_failed") == ("wolverine_execution_failure_total", source)
    assert row(
        text, "Risk levels (calibrated p at or above; only when set here, else the repository's own)", "medium"
    ) == ("0.25", source)
    assert row(text, "Service orders-api", "strategy") == ("blue-green", source)
    assert row(text, "Service orders-api", "thresholds.handler_failure_rate") == ("0.01", source)
    assert row(text, "Service storefront-web", "strategy") == ("chosen from risk", "default")
    assert row(text, "Service storefront-web", "customer_facing") == ("yes", source)
    # every environment block lists all of its settings
    for heading in ("Environment dev", "Environment staging", "Environment production"):
        labels = [line.split()[0] for line in block(text, heading)]
        assert labels == [
            "appetite",
            "canary.steps",
            "canary.pause",
            "analysis.interval",
            "analysis.count",
            "analysis.failure_limit",
            "analysis.initial_delay",
            "approval",
            "mirror",
            "collapse_to_rolling",
            "replicas",
            "blue_green.scale_down_delay",
        ]


def test_explain_the_defaults() -> None:
    text = explain_policy(default_policy())
    assert text.startswith("Deployment policy: built-in defaults (no critterops.yaml)\n")
    assert "Services: no overrides" in text
    assert row(text, "Environment dev", "collapse_to_rolling") == ("yes (every strategy becomes rolling)", "default")
    assert all(
        line.endswith(("default", "mirrored from production: default"))
        for line in text.splitlines()
        if line.startswith("  ")
    )


def test_policy_to_dict_is_json_with_a_stable_shape() -> None:
    policy = parse_policy(EXAMPLE, "critterops.yaml")
    data = policy_to_dict(policy)
    assert json.loads(json.dumps(data)) == data
    assert list(data) == [
        "schema",
        "source",
        "version",
        "promotion",
        "environments",
        "thresholds",
        "metrics",
        "risk",
        "defaults",
        "services",
        "provenance",
    ]
    assert data["schema"] == POLICY_SCHEMA
    assert data["source"] == "critterops.yaml"
    assert data["promotion"] == ["dev", "staging", "production"]
    assert data["environments"]["production"] == {
        "appetite": "conservative",
        "canary": {"steps": [5, 25, 50, 100], "pause": "10m"},
        "analysis": {"interval": "2m", "count": 10, "failure_limit": 1, "initial_delay": "1m"},
        "approval": "always",
        "mirror": None,
        "collapse_to_rolling": False,
        "replicas": 3,
        "blue_green": {"scale_down_delay": "10m"},
    }
    assert data["environments"]["staging"]["canary"]["steps"] == [5, 25, 50, 100]
    assert data["thresholds"]["http_error_rate"] == 0.005
    assert data["risk"] == {"medium": 0.25, "high": 0.5}
    assert data["services"]["orders-api"]["thresholds"]["handler_failure_rate"] == 0.01
    assert data["services"]["storefront-web"] == {
        "strategy": None,
        "customer_facing": True,
        "approval": None,
        "thresholds": None,
    }
    assert data["provenance"]["environments.production.canary.steps"] == "critterops.yaml"
    assert data["provenance"]["environments.dev.canary.steps"] == "default"


POLICIES = [
    pytest.param("", id="defaults"),
    pytest.param(EXAMPLE, id="docstring-example"),
    pytest.param(
        """
promotion: [production, qa, dev]
environments:
  qa: {appetite: automatic, mirror: production, replicas: 1, approval: always}
  dev: {collapse_to_rolling: false, analysis: {count: 9, failure_limit: 3, initial_delay: 0s}}
services:
  worker: {strategy: rolling, customer_facing: false, approval: never, thresholds: {outbox_backlog: 5}}
""",
        id="new-environment-and-services",
    ),
]


@pytest.mark.parametrize("text", POLICIES)
def test_policy_to_dict_round_trips(text: str) -> None:
    policy = parse_policy(text, "critterops.yaml")
    data = json.loads(json.dumps(policy_to_dict(policy)))
    as_file = {key: value for key, value in data.items() if key not in ("schema", "source", "provenance")}
    again = parse_policy(yaml.safe_dump(as_file, sort_keys=False), "again.yaml")
    assert dataclasses.replace(again, source=policy.source) == policy
    assert policy_to_dict(again)["environments"] == data["environments"]
