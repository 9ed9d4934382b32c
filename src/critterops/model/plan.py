"""The deployment plan: per service a strategy, gates and a rollback plan, and the order of phases."""

from __future__ import annotations

from dataclasses import dataclass

PLAN_SCHEMA = "critterops.plan/v2"
STRATEGIES = ("blue-green", "canary", "rolling", "no-deploy")


@dataclass(frozen=True, slots=True)
class Gate:
    """A check that must pass before the rollout moves on.

    ``kind``: analysis (a metric against a threshold over a window), approval (a person promotes),
    projection-catch-up (async projections within ``threshold`` events of the high-water mark),
    drain (the old version's outbox and unacknowledged messages reach the threshold), migration
    (a job that must finish first).
    """

    kind: str
    name: str
    description: str
    metric: str | None = None
    query: str | None = None
    condition: str | None = None  # "<= 0.01"
    threshold: float | None = None
    interval: str | None = None
    count: int | None = None
    failure_limit: int | None = None
    when: str = "each-step"  # each-step | before-promotion | before-scale-down | before-rollout | after-promotion


@dataclass(frozen=True, slots=True)
class Job:
    """Work that runs once per deploy, in the service's image (or the migrations image), ordered by ``when``.

    ``kind``: ``ef-migrations`` (the EF Core migration bundle the kit builds), ``db-apply`` (Weasel's
    command: Marten and Wolverine schema), ``resources-setup`` (JasperFx's ``resources setup``: broker
    queues and exchanges, databases), ``projection-rebuild`` (JasperFx's ``projections rebuild``).
    ``command`` is empty when the service cannot run it (no ``RunJasperFxCommands``): ``warning`` then
    says which code change makes it possible. ``order`` says how the order is enforced.
    """

    kind: str
    when: str  # before-rollout | after-rollout
    description: str
    command: tuple[str, ...] = ()
    image: str = "service"  # service | migrations
    target: str | None = None  # the DbContext or projection it is about
    timeout_s: int = 600  # how long the deploy waits for it (a rebuild waits for the catch-up)
    order: str = ""
    warning: str | None = None

    def __str__(self) -> str:
        return f"{self.when}: {self.description}"


@dataclass(frozen=True, slots=True)
class Step:
    """One canary step: shift ``weight`` percent, then wait (``pause``; "" waits for a person)."""

    weight: int
    pause: str | None = None
    analysis: bool = False
    approval: bool = False


@dataclass(frozen=True, slots=True)
class Rollback:
    safe: bool
    action: str  # rollback | roll-forward | freeze
    reason: str
    steps: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ConsumerPlan:
    """How a service that consumes messages shares, isolates and drains them (critterops.plan.consumers)."""

    queues: tuple[str, ...]  # the RabbitMQ queues it listens to
    share: str = "replica-ratio"  # a canary's share of each queue = its share of the queue's consumers
    preview: str = "none"  # held: a blue/green preview consumes nothing until promoted; none: it would
    drain_timeout_s: float = 60.0  # a stopping version may take this long to finish what it holds


@dataclass(frozen=True, slots=True)
class ServicePlan:
    service: str
    strategy: str
    phase: int
    why: tuple[str, ...]
    risk: float
    level: str
    steps: tuple[Step, ...] = ()
    gates: tuple[Gate, ...] = ()
    rollback: Rollback | None = None
    replicas: int = 1
    jobs: tuple[Job, ...] = ()  # work before or after the rollout: migrations, projection rebuilds
    warnings: tuple[str, ...] = ()
    traffic: str = "http"  # http | messages | http+messages | none: what a canary weight shifts
    consumers: ConsumerPlan | None = None  # when it consumes messages: share, preview isolation, drain


@dataclass(frozen=True, slots=True)
class Phase:
    number: int
    name: str
    services: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class ExpandContract:
    """A change that cannot ship in one deploy; the deploys it must be split into."""

    reason: str
    services: tuple[str, ...]
    steps: tuple[str, ...]
    rule: str


@dataclass(frozen=True, slots=True)
class Plan:
    environment: str
    base: str
    head: str
    base_commit: str
    head_commit: str
    deploy: bool
    phases: tuple[Phase, ...]
    services: tuple[ServicePlan, ...]
    expand_contract: tuple[ExpandContract, ...] = ()
    warnings: tuple[str, ...] = ()
    policy: str = "built-in defaults"

    def service(self, name: str) -> ServicePlan | None:
        return next((s for s in self.services if s.service == name), None)
