"""What every generator needs: the system, the policy, per-environment deploy decisions, names.

Decisions come from a plan (``--plan plan.json``, ``critterops.plan/v2``) for the environment it
was made for; for the other environments, and without a plan, from the policy and what the
service is: saga hosts and services whose async projections run under ``DaemonMode.Solo`` go
blue/green, customer-facing front ends canary, everything else canary with analysis in
production-like environments; environments that collapse to rolling roll.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from critterops.generate.traits import serves_http
from critterops.model import Service, System
from critterops.plan.policy import Environment, Policy, Thresholds

_DNS = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str, limit: int = 63) -> str:
    """A DNS-1123 label: lower case, digits and dashes, no leading/trailing dash."""
    label = _DNS.sub("-", text.lower()).strip("-")
    label = re.sub(r"-{2,}", "-", label)[:limit].strip("-")
    return label or "app"


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
        if strategy == "blue-green" and not serves_http(service):
            # Argo's blue/green switches a Service (activeService must exist, or the Rollout is InvalidSpec:
            # proven in the lab); a worker has none, so it gets a canary by replica ratio, judged on its handlers
            strategy = "canary"
            reason = f"{reason}; canary instead: no HTTP, so no Service for blue/green to switch"
            warning = (
                f"[{env.name}] {service.name}: {'the plan says' if planned else 'the policy says'} blue/green, but it "
                "serves no HTTP, so Argo Rollouts has no Service to switch; it gets a canary by replica ratio, judged "
                "on its handlers (its new pods consume live messages from the start)"
            )
            if warning not in self.warnings:
                self.warnings.append(warning)
        if env.collapse_to_rolling and strategy != "rolling":
            reason = f"{env.name} collapses every strategy to rolling (policy)"
            strategy = "rolling"
        approval = env.approval == "always" or (env.approval == "high-risk" and strategy == "blue-green")
        return Deploy(strategy, env.canary_steps, env.pause, env.replicas, thresholds, approval, reason)

    def _planned(self, service: str, env: str) -> tuple[str, str] | None:
        if not self.plan or self.plan.get("environment") != env:
            return None
        for entry in self.plan.get("services", []):
            if entry.get("service") == service and entry.get("strategy") in ("blue-green", "canary", "rolling"):
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
