"""The deployment policy: ``critterops.yaml`` read, validated once and frozen.

The planner (``critterops plan``) reads a :class:`Policy`: per environment how fast to go (canary
steps, pauses, analysis, approvals), the limits the analysis gates use, the Prometheus metric
names they query, the risk scores that make a change medium or high risk, and per-service
overrides. Everything has a built-in default, so the file is optional; a file overrides only what
it names, field by field.

Where it is read from: ``critterops.yaml`` at the repository root, or ``.critterops.yaml`` (having
both is an error), or the file given with ``--policy``.

Built-in environments, in promotion order:

- ``dev``: appetite ``fast``, every strategy collapses to rolling (expand/contract ordering is
  still honoured), no approval, canary steps 50 → 100 with 30s pauses, analysis every 30s × 2,
  1 replica, blue/green scale-down delay 30s.
- ``staging``: appetite ``automatic``, mirrors ``production`` (runs production's strategy
  automatically: its canary steps, pause, analysis and scale-down delay are copied, approvals are
  dropped), 2 replicas.
- ``production``: appetite ``conservative``, canary steps 10 → 50 → 100 with 5m pauses, analysis
  every 1m × 5 (fails when more than 1 measurement fails, after a 1m initial delay), manual
  approval for high-risk changes, 3 replicas, blue/green scale-down delay 10m.

How a value is chosen for an environment: the file's value if it sets one; otherwise, for an
environment that mirrors another, the mirrored environment's value (canary steps, pause, analysis,
scale-down delay; approval becomes ``never``); otherwise the built-in value. A new environment must
set ``appetite`` and starts from production's *built-in* settings (not mirroring anything), and
needs a place in a top-level ``promotion`` list. ``promotion`` names every environment in order;
built-in environments left out of it are dropped.

Durations are a whole number and a unit, Go style as Argo Rollouts writes them: ``500ms``,
``30s``, ``5m``, ``1h``.

Example ``critterops.yaml``::

    version: 1
    promotion: [dev, staging, production]
    environments:
      production: {canary: {steps: [5, 25, 50, 100], pause: 10m}, approval: always, analysis: {interval: 2m, count: 10}}
    thresholds: {http_error_rate: 0.005}
    metrics: {handler_failed: wolverine_execution_failure_total}
    risk: {medium: 0.25, high: 0.5}
    defaults: {saga_hosts: blue-green, customer_facing: canary}
    services:
      storefront-web: {customer_facing: true}
      orders-api: {strategy: blue-green, thresholds: {handler_failure_rate: 0.01}}

All keys of an environment: ``appetite``, ``canary: {steps, pause}``,
``analysis: {interval, count, failure_limit, initial_delay}``, ``approval``, ``mirror``,
``collapse_to_rolling``, ``replicas``, ``blue_green: {scale_down_delay}``. Of a service:
``strategy``, ``customer_facing``, ``approval``, ``thresholds``. ``defaults.judge``: ``threshold`` (the
default: Argo's analyses compare Prometheus queries with the thresholds) or ``critterops`` (the kit runs
``critterops judge serve`` and its analyses ask it; ``generate --judge`` overrides).

Every value remembers where it came from (:attr:`Policy.provenance`), which
:func:`explain_policy` prints. An invalid file raises :class:`~critterops.errors.ConfigError`
naming the file, the line, the key path, what is wrong and what is allowed.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

from critterops import metrics as m
from critterops.configfile import (
    CONFIG_FILE_NAMES,
    find_config_file,
    read_config_text,
    seconds,
)
from critterops.configfile import (
    Doc as _Doc,
)
from critterops.configfile import (
    KeyPath as _Path,
)
from critterops.configfile import (
    check_bool as _bool,
)
from critterops.configfile import (
    check_choice as _choice,
)
from critterops.configfile import (
    check_duration as _duration,
)
from critterops.configfile import (
    check_number as _number,
)
from critterops.configfile import (
    compose as _compose,
)
from critterops.configfile import (
    describe as _describe,
)
from critterops.configfile import (
    section as _section,
)
from critterops.configfile import (
    suggest as _suggest,
)
from critterops.errors import ConfigError

POLICY_FILE_NAMES: Final = CONFIG_FILE_NAMES
POLICY_SCHEMA: Final = "critterops.policy/v1"
STRATEGIES: Final = ("canary", "blue-green", "rolling")
APPETITES: Final = ("fast", "automatic", "conservative")
APPROVALS: Final = ("never", "high-risk", "always")
DEFAULT: Final = "default"
"""The provenance of a built-in value."""


MIN_REQUESTS: Final = 20  # requests of the new version in the window before an HTTP measurement counts
MIN_MESSAGES: Final = 10  # handled messages of the new version in the window before a handler measurement counts


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The analysis gates' limits; a measurement above a limit fails."""

    http_error_rate: float = 0.01  # share of 5xx responses, 0..1
    http_latency_p95_ms: float = 500.0
    handler_failure_rate: float = 0.02  # Wolverine execution failures / messages handled, 0..1
    handler_latency_p95_ms: float = 1000.0  # Wolverine execution time, 95th percentile (consumer canaries)
    dead_letters: float = 0.0  # new dead letters allowed during the analysis window
    projection_lag_events: float = 100.0  # Marten async projection lag (events) allowed at cut-over
    outbox_backlog: float = 1000.0  # pending outbox envelopes


@dataclass(frozen=True, slots=True)
class Metrics:
    """Prometheus metric names the gates query; overridable because exporters differ."""

    http_requests: str = m.HTTP_SERVER_DURATION + "_count"
    http_duration_bucket: str = m.HTTP_SERVER_DURATION + "_bucket"
    handler_succeeded: str = m.WOLVERINE_SUCCEEDED
    handler_failed: str = m.WOLVERINE_FAILURES
    dead_letters: str = m.WOLVERINE_DEAD_LETTERED
    projection_lag: str = "critterops_projection_lag_events"
    outbox_backlog: str = "critterops_outbox_pending"


@dataclass(frozen=True, slots=True)
class Analysis:
    """One analysis run, with Argo Rollouts' semantics: ``count`` measurements ``interval`` apart
    after ``initial_delay``; the run fails when more than ``failure_limit`` measurements fail."""

    interval: str = "1m"
    count: int = 5
    failure_limit: int = 1
    initial_delay: str = "1m"

    def interval_seconds(self) -> float:
        return seconds(self.interval)

    def initial_delay_seconds(self) -> float:
        return seconds(self.initial_delay)


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    appetite: str  # "fast" | "automatic" | "conservative"
    canary_steps: tuple[int, ...]  # ascending traffic weights (percent) ending in 100, each 1..100
    pause: str  # pause between canary steps, a duration
    analysis: Analysis
    approval: str  # "never" | "high-risk" | "always": manual approval before full promotion
    collapse_to_rolling: bool  # every strategy becomes rolling (expand/contract ordering still honoured)
    mirror: str | None  # the environment whose strategies this one runs automatically (approvals dropped)
    replicas: int
    blue_green_scale_down_delay: str  # how long the old colour is kept after promotion

    def pause_seconds(self) -> float:
        return seconds(self.pause)

    def scale_down_delay_seconds(self) -> float:
        return seconds(self.blue_green_scale_down_delay)


@dataclass(frozen=True, slots=True)
class ServicePolicy:
    """A service's overrides. ``thresholds``, when set, is already the global thresholds merged with
    the service's partial override (use :meth:`Policy.thresholds_for`)."""

    name: str
    strategy: str | None = None  # "canary" | "blue-green" | "rolling"; None = let risk decide
    customer_facing: bool | None = None  # None = infer (front ends, public APIs)
    approval: str | None = None  # None = the environment's approval
    thresholds: Thresholds | None = None


@dataclass(frozen=True, slots=True)
class RiskLevels:
    """Levels of the model's calibrated probability that a commit is later fixed: ``>= medium`` is medium,
    ``>= high`` high. Used only when ``critterops.yaml`` sets them; otherwise ``risk`` takes the repository's
    own thresholds (its riskiest 25 % / 8 % of recent commits, critterops.change.score.levels_for)."""

    medium: float = 0.3
    high: float = 0.6


@dataclass(frozen=True, slots=True)
class Policy:
    environments: tuple[Environment, ...]  # in promotion order
    services: tuple[ServicePolicy, ...]
    thresholds: Thresholds
    metrics: Metrics
    risk: RiskLevels
    saga_hosts: str  # strategy for services that host sagas
    customer_facing: str  # strategy for customer-facing services
    source: str | None  # the file it came from; None = built-in defaults
    provenance: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Dotted key path as written in the file (``environments.production.canary.steps``) → ``"default"``,
    the file's path, or ``"mirrored from <env>: <origin>"``."""
    judge: str = "threshold"  # defaults.judge: "critterops" makes generate write the judge's analyses

    def environment(self, name: str) -> Environment:
        for environment in self.environments:
            if environment.name == name:
                return environment
        names = [environment.name for environment in self.environments]
        raise ConfigError(
            f"unknown environment {name!r}{_suggest(name, names)}; the policy "
            f"({self.source or 'built-in defaults'}) defines: {', '.join(names)}"
        )

    def service(self, name: str) -> ServicePolicy:
        """The service's overrides; ``ServicePolicy(name)`` (no overrides) when it has none."""
        return next((service for service in self.services if service.name == name), ServicePolicy(name))

    def thresholds_for(self, service: str) -> Thresholds:
        """The global thresholds merged with the service's override."""
        own = self.service(service).thresholds
        return own if own is not None else self.thresholds


def unknown_services(policy: Policy, known: set[str]) -> list[str]:
    """Services configured in the policy that the system does not have (for the planner to warn)."""
    return [service.name for service in policy.services if service.name not in known]


# ---------------------------------------------------------------------------------------------
# Loading


def load_policy(repo_root: Path, explicit: Path | None = None) -> Policy:
    """The policy for the repository at ``repo_root``: the ``--policy`` file if given (it must exist),
    else ``critterops.yaml`` or ``.critterops.yaml`` at the root, else :func:`default_policy`."""
    path = find_config_file(repo_root, explicit, "--policy")
    if path is None:
        return default_policy()
    return parse_policy(read_config_text(path), str(path))


def parse_policy(text: str, source: str) -> Policy:
    """The policy in ``text`` (YAML); ``source`` names it in messages and provenance."""
    doc = _Doc(source)
    return _build(doc, _compose(text, doc), source)


def default_policy() -> Policy:
    """The built-in policy (what an absent or empty ``critterops.yaml`` means)."""
    return _build(_Doc("built-in defaults"), None, None)


# ---------------------------------------------------------------------------------------------
# Checking values

_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_NAME_ALLOWED = "lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters"


def _named(doc: _Doc, value: Any, path: _Path, what: str) -> dict[str, Any]:
    """A mapping of names (DNS-1123 labels, like service names) to settings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise doc.error(path, f"expected a mapping of {what} names to settings, got {_describe(value)}", None)
    for key in value:
        _name(doc, key, (*path, key), what)
    return value


def _name(doc: _Doc, value: Any, path: _Path, what: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise doc.error(path, f"{_describe(value)} is not a valid {what} name", f"{_NAME_ALLOWED}, e.g. orders-api")
    return value


_STEPS_ALLOWED = "a list of traffic weights from 1 to 100, strictly ascending and ending in 100, e.g. [10, 50, 100]"


def _steps(doc: _Doc, value: Any, path: _Path) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise doc.error(path, f"expected a list of weights, got {_describe(value)}", _STEPS_ALLOWED)
    previous = 0
    for index, step in enumerate(value):
        _number(doc, step, (*path, index), _STEPS_ALLOWED, low=1, high=100, integer=True)
        if step <= previous:
            raise doc.error((*path, index), f"{step} is not above the step before it ({previous})", _STEPS_ALLOWED)
        previous = step
    if previous != 100:
        problem = f"the last step is {previous}, so the new version would never take all traffic"
        raise doc.error((*path, len(value) - 1), problem, _STEPS_ALLOWED)
    return tuple(value)


_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _metric(doc: _Doc, value: Any, path: _Path) -> str:
    if not isinstance(value, str) or not _METRIC_NAME.fullmatch(value):
        allowed = "a Prometheus metric name: letters, digits, '_' and ':', not starting with a digit"
        raise doc.error(path, f"{_describe(value)} is not a metric name", allowed)
    return value


# ---------------------------------------------------------------------------------------------
# Building the policy

_TOP_KEYS = (
    "version",
    "promotion",
    "environments",
    "thresholds",
    "metrics",
    "risk",
    "defaults",
    "services",
    "exporter",  # read by critterops.watch.config
)
_ENV_GROUPS: Final[dict[str, tuple[str, ...]]] = {
    "canary": ("steps", "pause"),
    "analysis": ("interval", "count", "failure_limit", "initial_delay"),
    "blue_green": ("scale_down_delay",),
}
_ENV_KEYS = ("appetite", "canary", "analysis", "approval", "mirror", "collapse_to_rolling", "replicas", "blue_green")
_Leaf = Callable[[_Doc, Any, _Path], object]
# Every setting of an environment, by its dotted key in the file, in the order explanations list them.
_LEAVES: Final[dict[str, _Leaf]] = {
    "appetite": lambda doc, value, path: _choice(doc, value, path, APPETITES),
    "canary.steps": _steps,
    "canary.pause": _duration,
    "analysis.interval": lambda doc, value, path: _duration(doc, value, path, positive=True),
    "analysis.count": lambda doc, value, path: _number(doc, value, path, "a whole number from 1", low=1, integer=True),
    "analysis.failure_limit": lambda doc, value, path: _number(
        doc, value, path, "a whole number from 0, below count", low=0, integer=True
    ),
    "analysis.initial_delay": _duration,
    "approval": lambda doc, value, path: _choice(doc, value, path, APPROVALS),
    "mirror": lambda doc, value, path: None if value is None else _name(doc, value, path, "environment"),
    "collapse_to_rolling": _bool,
    "replicas": lambda doc, value, path: _number(doc, value, path, "a whole number from 1", low=1, integer=True),
    "blue_green.scale_down_delay": _duration,
}
# What an environment copies from the one it mirrors (unless it sets them itself).
_MIRRORED = frozenset(leaf for leaf in _LEAVES if leaf.split(".")[0] in _ENV_GROUPS)

_PRODUCTION: Final[dict[str, object]] = {
    "appetite": "conservative",
    "canary.steps": (10, 50, 100),
    "canary.pause": "5m",
    "analysis.interval": "1m",
    "analysis.count": 5,
    "analysis.failure_limit": 1,
    "analysis.initial_delay": "1m",
    "approval": "high-risk",
    "mirror": None,
    "collapse_to_rolling": False,
    "replicas": 3,
    "blue_green.scale_down_delay": "10m",
}
_BUILT_IN: Final[dict[str, dict[str, object]]] = {
    "dev": {
        **_PRODUCTION,
        "appetite": "fast",
        "canary.steps": (50, 100),
        "canary.pause": "30s",
        "analysis.interval": "30s",
        "analysis.count": 2,
        "approval": "never",
        "collapse_to_rolling": True,
        "replicas": 1,
        "blue_green.scale_down_delay": "30s",
    },
    "staging": {**_PRODUCTION, "appetite": "automatic", "mirror": "production", "approval": "never", "replicas": 2},
    "production": _PRODUCTION,
}

_THRESHOLD_RULES: Final[dict[str, dict[str, Any]]] = {
    "http_error_rate": {"low": 0, "high": 1, "allowed": "a share from 0 to 1, e.g. 0.01 for 1 %"},
    "http_latency_p95_ms": {"low": 0, "low_open": True, "allowed": "milliseconds above 0"},
    "handler_failure_rate": {"low": 0, "high": 1, "allowed": "a share from 0 to 1, e.g. 0.02 for 2 %"},
    "handler_latency_p95_ms": {"low": 0, "low_open": True, "allowed": "milliseconds above 0"},
    "dead_letters": {"low": 0, "allowed": "a count from 0"},
    "projection_lag_events": {"low": 0, "allowed": "a number of events from 0"},
    "outbox_backlog": {"low": 0, "allowed": "a number of messages from 0"},
}
_SERVICE_KEYS = ("strategy", "customer_facing", "approval", "thresholds")
_DEFAULTS_KEYS = ("saga_hosts", "customer_facing", "judge")
JUDGES: Final = ("threshold", "critterops")  # who decides the kit's Argo analyses (generate --judge)


def _build(doc: _Doc, data: Any, source: str | None) -> Policy:
    origin = source or DEFAULT
    provenance: dict[str, str] = {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        allowed = f"a mapping with keys {', '.join(_TOP_KEYS)}"
        raise doc.error((), f"expected a mapping of settings, got {_describe(data)}", allowed)
    version = data.get("version", 1)
    if isinstance(version, bool) or version != 1:
        raise doc.error(("version",), f"{_describe(version)} is not a policy version this critterops reads", "1")
    top = _section(doc, data, (), _TOP_KEYS)

    provenance["promotion"] = origin if top.get("promotion") is not None else DEFAULT
    environments = _environments(doc, top.get("environments"), top.get("promotion"), origin, provenance)

    thresholds, overrides = _thresholds(doc, top.get("thresholds"), ("thresholds",), Thresholds())
    for name in _THRESHOLD_RULES:
        provenance[f"thresholds.{name}"] = origin if name in overrides else DEFAULT

    metrics_section = _section(doc, top.get("metrics"), ("metrics",), [f.name for f in dataclasses.fields(Metrics)])
    metric_names = {key: _metric(doc, value, ("metrics", key)) for key, value in metrics_section.items()}
    metrics = dataclasses.replace(Metrics(), **metric_names)
    for f in dataclasses.fields(Metrics):
        provenance[f"metrics.{f.name}"] = origin if f.name in metric_names else DEFAULT

    risk = _risk(doc, top.get("risk"), origin, provenance)

    defaults = _section(doc, top.get("defaults"), ("defaults",), _DEFAULTS_KEYS)
    strategies = {
        key: _choice(doc, value, ("defaults", key), JUDGES if key == "judge" else STRATEGIES)
        for key, value in defaults.items()
    }
    for key in _DEFAULTS_KEYS:
        provenance[f"defaults.{key}"] = origin if key in strategies else DEFAULT

    services = _services(doc, top.get("services"), thresholds, origin, provenance)
    return Policy(
        environments=environments,
        services=services,
        thresholds=thresholds,
        metrics=metrics,
        risk=risk,
        saga_hosts=strategies.get("saga_hosts", "blue-green"),
        customer_facing=strategies.get("customer_facing", "canary"),
        source=source,
        provenance=provenance,
        judge=strategies.get("judge", "threshold"),
    )


def _thresholds(doc: _Doc, value: Any, path: _Path, base: Thresholds) -> tuple[Thresholds, dict[str, float]]:
    section = _section(doc, value, path, list(_THRESHOLD_RULES))
    overrides = {key: _number(doc, item, (*path, key), **_THRESHOLD_RULES[key]) for key, item in section.items()}
    return dataclasses.replace(base, **overrides), overrides


def _risk(doc: _Doc, value: Any, origin: str, provenance: dict[str, str]) -> RiskLevels:
    section = _section(doc, value, ("risk",), ("medium", "high"))
    allowed = "a score between 0 and 1 (exclusive), with medium below high"
    levels = {
        key: _number(doc, item, ("risk", key), allowed, low=0, high=1, low_open=True, high_open=True)
        for key, item in section.items()
    }
    risk = dataclasses.replace(RiskLevels(), **levels)
    for key in ("medium", "high"):
        provenance[f"risk.{key}"] = origin if key in levels else DEFAULT
    if risk.medium >= risk.high:
        key = "medium" if "medium" in levels else "high"
        medium, high = provenance["risk.medium"], provenance["risk.high"]
        problem = f"medium ({risk.medium}, {medium}) is not below high ({risk.high}, {high})"
        raise doc.error(("risk", key), problem, "0 < medium < high < 1")
    return risk


def _services(
    doc: _Doc, value: Any, thresholds: Thresholds, origin: str, provenance: dict[str, str]
) -> tuple[ServicePolicy, ...]:
    services = []
    for name, settings in _named(doc, value, ("services",), "service").items():
        path: _Path = ("services", name)
        section = _section(doc, settings, path, _SERVICE_KEYS)
        own, overrides = _thresholds(doc, section.get("thresholds"), (*path, "thresholds"), thresholds)
        services.append(
            ServicePolicy(
                name=name,
                strategy=_choice(doc, section.get("strategy"), (*path, "strategy"), STRATEGIES, nullable=True),
                customer_facing=_bool(doc, section.get("customer_facing"), (*path, "customer_facing"), nullable=True),
                approval=_choice(doc, section.get("approval"), (*path, "approval"), APPROVALS, nullable=True),
                thresholds=own if overrides else None,
            )
        )
        for key in _SERVICE_KEYS[:3]:
            provenance[f"services.{name}.{key}"] = origin if key in section else DEFAULT
        for key in overrides:
            provenance[f"services.{name}.thresholds.{key}"] = origin
    return tuple(services)


def _environment_settings(doc: _Doc, value: Any, path: _Path) -> dict[str, object]:
    """The settings an environment's mapping sets, by dotted key (``canary.steps``), checked."""
    out: dict[str, object] = {}
    for key, item in _section(doc, value, path, _ENV_KEYS).items():
        if key in _ENV_GROUPS:
            for sub, sub_item in _section(doc, item, (*path, key), _ENV_GROUPS[key]).items():
                out[f"{key}.{sub}"] = _LEAVES[f"{key}.{sub}"](doc, sub_item, (*path, key, sub))
        else:
            out[key] = _LEAVES[key](doc, item, (*path, key))
    return out


def _promotion(doc: _Doc, value: Any, configured: Mapping[str, object]) -> tuple[str, ...]:
    new = [name for name in configured if name not in _BUILT_IN]
    if value is None:
        if new:
            example = ", ".join(["dev", "staging", *new, "production"])
            problem = f"the new environment {new[0]!r} needs a place in the promotion order"
            raise doc.error(("environments", new[0]), problem, f"a top-level list such as promotion: [{example}]")
        return tuple(_BUILT_IN)
    known = [*_BUILT_IN, *new]
    allowed = f"a list of environment names in promotion order, each once, from {', '.join(known)}"
    if not isinstance(value, list) or not value:
        raise doc.error(("promotion",), f"expected a non-empty list, got {_describe(value)}", allowed)
    order: list[str] = []
    for index, name in enumerate(value):
        if name not in known:
            problem = f"{_describe(name)} is not an environment{_suggest(name, known)}"
            raise doc.error(("promotion", index), problem, allowed + " (define new ones under environments)")
        if name in order:
            raise doc.error(("promotion", index), f"{name!r} is listed twice", allowed)
        order.append(name)
    for name in configured:
        if name not in order:
            problem = f"{name!r} is configured but missing from promotion: [{', '.join(order)}]"
            raise doc.error(("environments", name), problem, "add it to promotion, or delete its settings")
    return tuple(order)


def _environments(
    doc: _Doc, value: Any, promotion: Any, origin: str, provenance: dict[str, str]
) -> tuple[Environment, ...]:
    configured = {
        name: _environment_settings(doc, settings, ("environments", name))
        for name, settings in _named(doc, value, ("environments",), "environment").items()
    }
    for name, settings in configured.items():
        if name not in _BUILT_IN and "appetite" not in settings:
            problem = f"{name!r} is not a built-in environment{_suggest(name, _BUILT_IN)}, so it must set its appetite"
            allowed = f"appetite: one of {', '.join(APPETITES)} (its other settings start from production's)"
            raise doc.error(("environments", name), problem, allowed)
    order = _promotion(doc, promotion, configured)
    resolved: dict[str, dict[str, tuple[object, str]]] = {}

    def resolve(name: str, chain: tuple[str, ...]) -> dict[str, tuple[object, str]]:
        if name in resolved:
            return resolved[name]
        own = configured.get(name, {})
        template = _BUILT_IN.get(name, _PRODUCTION)
        mirror = cast("str | None", own.get("mirror", template["mirror"]))
        target: dict[str, tuple[object, str]] | None = None
        if mirror is not None:
            path: _Path = ("environments", name, "mirror")
            given = "" if "mirror" in own else " (default)"
            if mirror not in order:
                others = ", ".join(other for other in order if other != name)
                problem = f"mirrors {mirror!r}{given}, which is not in promotion{_suggest(mirror, order)}"
                raise doc.error(path, problem, f"another environment in promotion ({others}), or null")
            walked = (*chain, name)
            if mirror in walked:
                cycle = " → ".join((*walked[walked.index(mirror) :], mirror))
                problem = f"mirror cycle {cycle}"
                raise doc.error(path, problem, "mirrors that end in an environment that mirrors nothing (mirror: null)")
            target = resolve(mirror, walked)
        settings: dict[str, tuple[object, str]] = {}
        for leaf in _LEAVES:
            if leaf in own:
                settings[leaf] = (own[leaf], origin)
            elif target is not None and leaf in _MIRRORED:
                settings[leaf] = (target[leaf][0], f"mirrored from {mirror}: {target[leaf][1]}")
            elif target is not None and leaf == "approval":
                settings[leaf] = ("never", DEFAULT)  # a mirror runs the strategy automatically
            else:
                settings[leaf] = (template[leaf], DEFAULT)
        (count, count_from), (limit, limit_from) = settings["analysis.count"], settings["analysis.failure_limit"]
        if cast(int, limit) >= cast(int, count):
            key = "failure_limit" if "analysis.failure_limit" in own else "count"
            problem = (
                f"failure_limit ({limit}, {limit_from}) is not below count ({count}, {count_from}), "
                "so the analysis could never fail"
            )
            raise doc.error(("environments", name, "analysis", key), problem, "0 <= failure_limit < count")
        resolved[name] = settings
        return settings

    environments = []
    for name in order:
        chosen = resolve(name, ())
        for leaf, (_, source) in chosen.items():
            provenance[f"environments.{name}.{leaf}"] = source
        value_of = {leaf: setting[0] for leaf, setting in chosen.items()}
        environments.append(
            Environment(
                name=name,
                appetite=cast(str, value_of["appetite"]),
                canary_steps=cast("tuple[int, ...]", value_of["canary.steps"]),
                pause=cast(str, value_of["canary.pause"]),
                analysis=Analysis(
                    interval=cast(str, value_of["analysis.interval"]),
                    count=cast(int, value_of["analysis.count"]),
                    failure_limit=cast(int, value_of["analysis.failure_limit"]),
                    initial_delay=cast(str, value_of["analysis.initial_delay"]),
                ),
                approval=cast(str, value_of["approval"]),
                collapse_to_rolling=cast(bool, value_of["collapse_to_rolling"]),
                mirror=cast("str | None", value_of["mirror"]),
                replicas=cast(int, value_of["replicas"]),
                blue_green_scale_down_delay=cast(str, value_of["blue_green.scale_down_delay"]),
            )
        )
    return tuple(environments)


# ---------------------------------------------------------------------------------------------
# Showing the policy


def _environment_dict(environment: Environment) -> dict[str, Any]:
    analysis = environment.analysis
    return {
        "appetite": environment.appetite,
        "canary": {"steps": list(environment.canary_steps), "pause": environment.pause},
        "analysis": {
            "interval": analysis.interval,
            "count": analysis.count,
            "failure_limit": analysis.failure_limit,
            "initial_delay": analysis.initial_delay,
        },
        "approval": environment.approval,
        "mirror": environment.mirror,
        "collapse_to_rolling": environment.collapse_to_rolling,
        "replicas": environment.replicas,
        "blue_green": {"scale_down_delay": environment.blue_green_scale_down_delay},
    }


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def policy_to_dict(policy: Policy) -> dict[str, Any]:
    """The policy as JSON-able data. Apart from ``schema``, ``source`` and ``provenance``, it has the
    shape of ``critterops.yaml`` with every value spelled out, so it can be loaded back."""
    return {
        "schema": POLICY_SCHEMA,
        "source": policy.source,
        "version": 1,
        "promotion": [environment.name for environment in policy.environments],
        "environments": {environment.name: _environment_dict(environment) for environment in policy.environments},
        "thresholds": _fields(policy.thresholds),
        "metrics": _fields(policy.metrics),
        "risk": _fields(policy.risk),
        "defaults": {
            "saga_hosts": policy.saga_hosts,
            "customer_facing": policy.customer_facing,
            **({"judge": policy.judge} if policy.judge != "threshold" else {}),
        },
        "services": {
            service.name: {
                "strategy": service.strategy,
                "customer_facing": service.customer_facing,
                "approval": service.approval,
                "thresholds": None if service.thresholds is None else _fields(service.thresholds),
            }
            for service in policy.services
        },
        "provenance": dict(policy.provenance),
    }


_APPETITE_TEXT = {"fast": "deploy on push", "automatic": "promote without people", "conservative": "staged and gated"}
_APPROVAL_TEXT = {
    "never": "never ask",
    "high-risk": "ask before full promotion of high-risk changes",
    "always": "ask before every full promotion",
}


def _environment_rows(environment: Environment) -> list[tuple[str, str]]:
    analysis = environment.analysis
    mirror = environment.mirror
    return [
        ("appetite", f"{environment.appetite} ({_APPETITE_TEXT[environment.appetite]})"),
        ("canary.steps", " → ".join(f"{step}%" for step in environment.canary_steps)),
        ("canary.pause", f"{environment.pause} between steps"),
        ("analysis.interval", f"every {analysis.interval}"),
        ("analysis.count", f"{analysis.count} measurements"),
        ("analysis.failure_limit", f"{analysis.failure_limit} (fails when more than this many fail)"),
        ("analysis.initial_delay", analysis.initial_delay),
        ("approval", f"{environment.approval} ({_APPROVAL_TEXT[environment.approval]})"),
        ("mirror", f"{mirror} (runs its strategies; copies steps, pause, analysis)" if mirror else "none"),
        ("collapse_to_rolling", "yes (every strategy becomes rolling)" if environment.collapse_to_rolling else "no"),
        ("replicas", str(environment.replicas)),
        ("blue_green.scale_down_delay", f"{environment.blue_green_scale_down_delay} (old colour kept after promotion)"),
    ]


def _show(value: object) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def explain_policy(policy: Policy) -> str:
    """The policy as text for people: every value with where it came from."""
    lines: list[str | tuple[str, str, str]] = []  # headings, or (label, value, provenance) rows

    def row(key: str, label: str, value: str) -> None:
        lines.append((label, value, policy.provenance.get(key, DEFAULT)))

    source = policy.source or "built-in defaults (no critterops.yaml)"
    lines += [
        f"Deployment policy: {source}",
        "The last column says where each value came from: 'default' (built in) or the file that set it.",
        "",
    ]
    row("promotion", "promotion", " → ".join(environment.name for environment in policy.environments))
    for environment in policy.environments:
        lines += ["", f"Environment {environment.name}"]
        for leaf, text in _environment_rows(environment):
            row(f"environments.{environment.name}.{leaf}", leaf, text)
    for title, section, obj in (
        ("Thresholds (analysis gates fail above these)", "thresholds", policy.thresholds),
        ("Metric names (Prometheus)", "metrics", policy.metrics),
        ("Risk levels (calibrated p at or above; only when set here, else the repository's own)", "risk", policy.risk),
    ):
        lines += ["", title]
        for key, value in _fields(obj).items():
            row(f"{section}.{key}", key, _show(value))
    lines += ["", "Default strategies"]
    row("defaults.saga_hosts", "saga_hosts", policy.saga_hosts)
    row("defaults.customer_facing", "customer_facing", policy.customer_facing)
    if policy.judge != "threshold":
        row("defaults.judge", "judge", policy.judge)
    if not policy.services:
        lines += ["", "Services: no overrides (each service's strategy follows the risk of its change)"]
    for service in policy.services:
        lines += ["", f"Service {service.name}"]
        prefix = f"services.{service.name}"
        row(f"{prefix}.strategy", "strategy", service.strategy or "chosen from risk")
        facing = "inferred" if service.customer_facing is None else _show(service.customer_facing)
        row(f"{prefix}.customer_facing", "customer_facing", facing)
        row(f"{prefix}.approval", "approval", service.approval or "the environment's")
        if service.thresholds is not None:
            for key, value in _fields(service.thresholds).items():
                if f"{prefix}.thresholds.{key}" in policy.provenance:
                    row(f"{prefix}.thresholds.{key}", f"thresholds.{key}", _show(value))
    rows = [line for line in lines if isinstance(line, tuple)]
    label_width = max(len(label) for label, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return "".join(
        f"{line}\n" if isinstance(line, str) else f"  {line[0]:<{label_width}}  {line[1]:<{value_width}}  {line[2]}\n"
        for line in lines
    )
