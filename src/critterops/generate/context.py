"""What every generator needs: the system, the policy, per-environment deploy decisions, names.

Decisions come from a plan (``--plan plan.json``, ``critterops.plan/v2``) for the environment it
was made for; for the other environments, and without a plan, from the policy and what the
service is: saga hosts and services whose async projections run under ``DaemonMode.Solo`` go
blue/green, customer-facing front ends canary, everything else canary with analysis in
production-like environments; environments that collapse to rolling roll.

A service that only consumes messages (``critterops.plan.consumers.traffic`` is ``messages``) ships by the
contract of :mod:`critterops.plan.consumers`: its canary share is its share of the pods (Argo's replica ratio),
and it goes blue/green only when its preview can hold its listeners (the plan's ``consumers.preview`` is
``held``, or, without a plan entry, Program.cs binds ``DisableAllExternalListeners`` to configuration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from critterops.errors import UserError
from critterops.generate.traits import serves_http
from critterops.model import Service, System
from critterops.plan import consumers as contract
from critterops.plan.policy import Environment, Policy, Thresholds

_DNS = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str, limit: int = 63) -> str:
    """A DNS-1123 label: lower case, digits and dashes, no leading/trailing dash."""
    label = _DNS.sub("-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)[:limit].strip("-")
    return label or "app"


@dataclass(frozen=True, slots=True)
class Consumers:
    """How a service that consumes messages ships in one environment (the plan's ``consumers`` object, or the
    model's answer without one): its share of messages by replica ratio, whether its preview holds its
    listeners (``held``) or would consume live messages (``none``), and how long a stopping pod may drain."""

    share: str  # "replica-ratio"
    preview: str  # "held" | "none"
    drain_timeout_s: float
    source: str  # "plan" | "model"


SHARES = ("replica-ratio",)
PREVIEWS = ("held", "none")


@dataclass(frozen=True, slots=True)
class Deploy:
    """How one service ships in one environment."""

    strategy: str  # blue-green | canary | rolling
    steps: tuple[int, ...]
    pause: str
    replicas: int
    thresholds: Thresholds
    approval: bool
    reason: str
    consumers: Consumers | None = None  # set for a service whose traffic is messages only


@dataclass(frozen=True)
class KitContext:
    system: System
    policy: Policy
    name: str  # the system's DNS name, used as namespace and label
    registry: str  # image prefix, e.g. ghcr.io/acme/pawmart
    tag: str  # immutable image tag for every overlay (the git commit when known)
    argo: bool = True
    github_enterprise: bool = False  # reusable workflows as ./ (GitHub Enterprise Server has no $/ form)
    plan: dict[str, Any] | None = None  # critterops.plan/v2 document
    runbook_base_url: str = "deploy/runbooks"  # a URL, or a path from the repository root (generate.links)
    judge: str = "threshold"  # "critterops": the Rollouts' analyses ask `critterops judge serve` (generate.judge)
    warnings: list[str] = field(default_factory=list)

    @property
    def environments(self) -> tuple[Environment, ...]:
        return self.policy.environments

    def deployable(self) -> list[Service]:
        return sorted(self.system.services, key=lambda s: s.name)

    def image(self, service: Service) -> str:
        return f"{self.registry}/{service.name}"

    def deploy(self, service: Service, env: Environment) -> Deploy:
        thresholds = self.policy.thresholds_for(service.name)
        planned = self._planned(service.name, env.name)
        strategy, reason = planned if planned else _default_strategy(self.policy, service)
        consumers = self.consumers(service, env) if contract.traffic(service) == "messages" else None
        said = "the plan says" if planned else "the policy says"
        if strategy == "blue-green" and consumers is not None and consumers.preview == "held":
            reason = f"{reason}; the preview holds its listeners until promotion ({contract.ROLE_LABEL} label)"
        elif strategy == "blue-green" and not serves_http(service):
            # Argo's blue/green switches a Service; a worker that consumes from its first second would consume live
            # messages as a preview, so it gets a canary by replica ratio, judged on its handlers
            strategy = "canary"
            if consumers is not None:
                reason = f"{reason}; canary by replica ratio instead: its preview would consume live messages"
                warning = (
                    f"[{env.name}] {service.name}: {said} blue/green, but its preview would consume live messages "
                    "before promotion, so it gets a canary by replica ratio, judged on its handlers. To get "
                    "blue/green, hold its listeners while it is a preview: in Program.cs, "
                    f'opts.DisableAllExternalListeners = Environment.GetEnvironmentVariable("{contract.ROLE_ENV}") '
                    f'== "{contract.PREVIEW}"; and when the file named by {contract.ROLE_FILE_ENV} reads '
                    f'"{contract.ACTIVE}", start them (IEndpointCollection.StartListenerAsync per listener). '
                    "critterops then generates the blue/green with the role label, the variable and the file"
                )
            else:
                reason = f"{reason}; canary instead: no HTTP, so no Service for blue/green to switch"
                warning = (
                    f"[{env.name}] {service.name}: {said} blue/green, but it serves no HTTP and consumes no "
                    "messages, so Argo Rollouts has nothing to switch; it gets a canary by replica ratio"
                )
            if warning not in self.warnings:
                self.warnings.append(warning)
        if env.collapse_to_rolling and strategy != "rolling":
            reason = f"{env.name} collapses every strategy to rolling (policy)"
            strategy = "rolling"
        approval = env.approval == "always" or (env.approval == "high-risk" and strategy == "blue-green")
        return Deploy(strategy, env.canary_steps, env.pause, env.replicas, thresholds, approval, reason, consumers)

    def consumers(self, service: Service, env: Environment) -> Consumers | None:
        """The consumer semantics of a service that consumes messages; None for one that consumes none. Only a
        service whose traffic is messages alone ships by them (``Deploy.consumers``); any consumer drains.

        The plan's ``consumers`` object for its environment when present (``critterops.plan/v2``), otherwise the
        model: share by replica ratio, the preview held when Program.cs binds DisableAllExternalListeners to
        configuration (``holds_listeners``), the contract's drain timeout."""
        if "messages" not in contract.traffic(service):
            return None
        raw = (self._plan_entry(service.name, env.name) or {}).get("consumers")
        if raw is None:
            held = "held" if contract.holds_listeners(service) else "none"
            return Consumers("replica-ratio", held, contract.DRAIN_TIMEOUT_S, "model")
        where = f"the plan's consumers for {service.name} in {env.name}"
        if not isinstance(raw, dict):
            raise UserError(f"{where}: expected an object with share, preview and drain_timeout_s, got {raw!r}")
        share = raw.get("share", "replica-ratio")
        preview = raw.get("preview", "held" if contract.holds_listeners(service) else "none")
        drain = raw.get("drain_timeout_s", contract.DRAIN_TIMEOUT_S)
        if share not in SHARES:
            raise UserError(f"{where}: share {share!r} is not one of {', '.join(SHARES)}")
        if preview not in PREVIEWS:
            raise UserError(f"{where}: preview {preview!r} is not one of {', '.join(PREVIEWS)}")
        if isinstance(drain, bool) or not isinstance(drain, int | float) or not 0 < drain <= 3600:
            raise UserError(f"{where}: drain_timeout_s {drain!r} is not a number of seconds from 1 to 3600")
        return Consumers(share, preview, float(drain), "plan")

    def _plan_entry(self, service: str, env: str) -> dict[str, Any] | None:
        if not self.plan or self.plan.get("environment") != env:
            return None
        for entry in self.plan.get("services", []):
            if isinstance(entry, dict) and entry.get("service") == service:
                return entry
        return None

    def _planned(self, service: str, env: str) -> tuple[str, str] | None:
        entry = self._plan_entry(service, env)
        if entry and entry.get("strategy") in ("blue-green", "canary", "rolling"):
            why = "; ".join(entry.get("why", [])) or "from the plan"
            return entry["strategy"], why
        return None


def _default_strategy(policy: Policy, service: Service) -> tuple[str, str]:
    configured = policy.service(service.name).strategy
    if configured:
        return configured, "set for this service in the policy"
    if service.sagas:
        return policy.saga_hosts, f"hosts saga {', '.join(s.name for s in service.sagas)}"
    marten = service.marten
    if marten and marten.daemon_mode == "Solo" and any(p.lifecycle == "Async" for p in marten.projections):
        return "blue-green", "async projections under DaemonMode.Solo must not run in two versions at once"
    facing = policy.service(service.name).customer_facing
    if facing or (facing is None and service.kind == "web"):
        return policy.customer_facing, "customer-facing"
    return "canary", "canary with analysis (default without a plan)"


def system_name(system: System) -> str:
    if system.solution:
        return dns_label(PurePosixPath(system.solution).stem)
    return dns_label(PurePosixPath(system.root).name)
