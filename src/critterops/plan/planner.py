"""Choose how each affected service ships, in what order, behind which gates, and how it rolls back.

Inputs: the :class:`RiskReport` of a change, the head (and base) system model and the policy.
The rules, all overridable by policy (reference progressive-delivery.md §6, critter-ops.md §4):

- a breaking contract or event change ships as expand/contract across two deploys; consumers of
  a new or changed message deploy before its publishers; the breaking services go blue/green;
- a saga state change, a projection rebuild or a ``DaemonMode.Solo`` async daemon: blue/green,
  with a projection catch-up gate before cut-over for Async projections only (an Inline one has no
  progression row and no daemon: a rebuild job after the rollout brings its stored documents along);
- a destructive migration: expand/contract, rollback unsafe once it ran;
- high risk, a new service or a large change: canary with analysis;
- low risk: rolling;
- the environment's appetite on top (dev collapses to rolling, staging runs production's
  strategies without approvals).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from critterops.model import (
    ConsumerPlan,
    ExpandContract,
    Finding,
    Gate,
    Phase,
    Plan,
    RiskReport,
    Rollback,
    Service,
    ServicePlan,
    ServiceRisk,
    Step,
    System,
)
from critterops.plan import consumers
from critterops.plan.jobs import service_jobs
from critterops.plan.policy import MIN_MESSAGES, MIN_REQUESTS, Environment, Policy, Thresholds, unknown_services

LARGE_CHANGE_FILES = 25  # "large refactor": more source files than this in one service


@dataclass
class _Decision:
    strategy: str
    why: list[str] = field(default_factory=list)
    forced_by: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _findings_for(report: RiskReport, service: str) -> list[Finding]:
    return [f for f in report.findings if service in f.services]


def _async_projections(service: Service | None) -> list[str]:
    if service is None or service.marten is None:
        return []
    return [p.name for p in service.marten.projections if p.lifecycle == "Async"]


def _customer_facing(policy: Policy, service: Service | None, name: str) -> bool:
    configured = policy.service(name).customer_facing
    if configured is not None:
        return configured
    return service is not None and service.kind == "web"


def _traffic(service: Service | None) -> str:
    return consumers.traffic(service)


def decide(risk: ServiceRisk, findings: list[Finding], service: Service | None, policy: Policy) -> _Decision:
    """The production strategy for one service, with its reasons."""
    rules = {f.rule for f in findings}
    if service is None or "service-removed" in rules:
        return _Decision("no-deploy", ["the service no longer exists at head: decommission it after its queues drain"])
    groups: dict[str, list[str]] = defaultdict(list)
    for f in findings:
        names = [t.rsplit(".", 1)[-1] for t in f.message_types]
        if f.rule in ("contract-breaking", "event-breaking", "saga-state-changed"):
            groups[f.rule] += names
        elif f.rule == "projection-changed" and f.fact("rebuild") == "true":
            groups[f.rule].append(f.fact("projection"))
        elif f.rule == "migration-destructive":
            groups[f.rule].append(f.fact("migration"))
    labels = {
        "contract-breaking": "breaking change to message(s)",
        "event-breaking": "breaking change to stored event(s)",
        "saga-state-changed": "saga state changed:",
        "projection-changed": "projection(s) to rebuild:",
        "migration-destructive": "destructive migration(s)",
    }
    forced = [f"{labels[rule]} {', '.join(dict.fromkeys(names))}" for rule, names in groups.items()]
    decision = _Decision("rolling")
    if service.marten and service.marten.daemon_mode == "Solo" and _async_projections(service):
        forced.append("async projections run by DaemonMode.Solo")
    if forced:
        decision = _Decision("blue-green", [f"blue/green: {reason}" for reason in dict.fromkeys(forced)], forced)
    elif risk.level == "high":
        decision = _Decision("canary", [f"canary with analysis: high risk ({risk.basis})"])
    elif "service-added" in rules:
        decision = _Decision("canary", ["canary with analysis: a new service"])
    elif any(f.rule == "code-changed" and int(f.fact("files", "0") or 0) > LARGE_CHANGE_FILES for f in findings):
        decision = _Decision("canary", [f"canary with analysis: large change (more than {LARGE_CHANGE_FILES} files)"])
    elif risk.level == "medium":
        decision = _Decision("canary", [f"canary with analysis: medium risk ({risk.basis})"])
    else:
        decision = _Decision("rolling", [f"rolling: low risk ({risk.basis})"])
    if decision.strategy != "blue-green" and service.sagas:
        decision.strategy = policy.saga_hosts
        decision.why.append(f"{policy.saga_hosts}: hosts saga {', '.join(s.name for s in service.sagas)} (policy)")
    if decision.strategy == "rolling" and _customer_facing(policy, service, service.name):
        decision.strategy = policy.customer_facing
        decision.why.append(f"{policy.customer_facing}: customer-facing (policy)")
    override = policy.service(service.name).strategy
    if override and override != decision.strategy:
        if forced and override != "blue-green":
            decision.warnings.append(
                f"policy sets {override} for {service.name}, although {forced[0]} asks for blue/green"
            )
        decision.strategy = override
        decision.why.append(f"{override}: set for this service in the policy")
    if service.marten and service.marten.daemon_mode == "Solo" and _async_projections(service):
        managed = (
            " It is combined with UseWolverineManagedEventSubscriptionDistribution, whose effect on Solo is "
            "unverified: confirm on a live system that one node holds each shard."
            if service.marten.managed_distribution
            else ""
        )
        decision.warnings.append(
            "DaemonMode.Solo takes no lock: while two versions (or two replicas) run, every async projection "
            f"({', '.join(_async_projections(service))}) may be processed twice. Use HotCold or Wolverine-managed "
            "distribution, or run the preview colour without the daemon until cut-over." + managed
        )
    _consumer_strategy(decision, service, forced)
    return decision


def _consumer_strategy(decision: _Decision, service: Service, forced: list[str]) -> None:
    """Blue/green, canary and rolling for a service that consumes messages (critterops.plan.consumers)."""
    traffic = consumers.traffic(service)
    if "messages" not in traffic:
        return
    held = consumers.holds_listeners(service)
    if decision.strategy == "blue-green" and held:
        decision.why.append(
            "its preview holds its listeners until promotion (DisableAllExternalListeners bound to configuration): "
            "the new version consumes nothing before the switch"
        )
    elif decision.strategy == "blue-green" and traffic == "messages":
        decision.strategy = "canary"
        decision.why.append(
            "canary instead of blue/green: a preview of this consumer would take live messages before promotion, "
            "as Program.cs does not bind Wolverine's DisableAllExternalListeners to CRITTEROPS_ROLE"
        )
        if forced:
            decision.warnings.append(
                f"{service.name}: both versions consume its queues during the canary, so each must handle the other's "
                f"messages ({forced[0]}). For blue/green, bind opts.DisableAllExternalListeners to "
                'CRITTEROPS_ROLE == "preview" and start the listeners when CRITTEROPS_ROLE_FILE turns "active"'
            )
    elif decision.strategy == "blue-green":
        decision.warnings.append(
            f"{service.name}: its blue/green preview also consumes messages before promotion (Wolverine's listeners "
            'start with the host); bind opts.DisableAllExternalListeners to CRITTEROPS_ROLE == "preview" to hold them'
        )
    if decision.strategy == "canary" and traffic == "messages":
        decision.why.append(
            "no HTTP traffic: the canary's share of messages equals its share of consumers on each queue "
            "(listeners or replicas), not a router weight; the judge reads its handlers' outcomes"
        )


def _consumer_plan(service: Service | None, strategy: str) -> ConsumerPlan | None:
    if service is None or "messages" not in consumers.traffic(service) or strategy == "no-deploy":
        return None
    queues = tuple(dict.fromkeys(listen.queue for listen in service.listens if listen.library is None))
    preview = "held" if consumers.holds_listeners(service) else "none"
    return ConsumerPlan(queues, "replica-ratio", preview, consumers.DRAIN_TIMEOUT_S)


def _rollback(findings: list[Finding], strategy: str) -> Rollback:
    abort = {
        "blue-green": "switch the active service back to the previous colour (kubectl argo rollouts abort)",
        "canary": "abort: all traffic back to the stable version (kubectl argo rollouts abort)",
        "rolling": "roll back to the previous revision (kubectl argo rollouts undo)",
    }.get(strategy, "nothing to roll back")
    steps = (abort, "revert the commit in git so the desired state matches (Argo Rollouts never writes to git)")
    for f in findings:
        if f.rule == "migration-destructive":
            return Rollback(
                False,
                "roll-forward",
                f"the migration {f.fact('migration')} drops or rewrites data the old version needs; once it ran, "
                "the old version fails against the new schema",
                (
                    "before the migration ran: abort as usual",
                    "after: fix forward; restore from backup only as a last resort",
                ),
            )
        if f.rule == "event-breaking" and f.fact("mitigated") != "true":
            return Rollback(
                False,
                "freeze",
                "events appended in the new shape cannot be read by the old version (no upcaster); rolling back "
                "breaks every stream the new version wrote to",
                ("stop the rollout and freeze deploys", "roll forward with an upcaster or MapEventType"),
            )
        if f.rule == "saga-state-changed" and f.fact("breaking") == "true":
            return Rollback(
                False,
                "roll-forward",
                "sagas saved by the new version have a state the old version cannot deserialize",
                ("pause the saga's listeners", "roll forward with a state upcaster"),
            )
    notes: list[str] = []
    for f in findings:
        if f.rule == "contract-breaking":
            notes.append("roll back the publishers before the consumers (the reverse of the phases)")
        if f.rule == "projection-changed" and f.fact("bumped") == "true":
            notes.append(f"projection {f.fact('projection')} v{f.fact('version_base')} tables stay: rollback is safe")
        elif f.rule == "projection-changed" and f.fact("rebuild") == "true" and f.fact("lifecycle") == "Inline":
            name = f.fact("projection")
            notes.append(
                f"inline projection {name} has no progression row and no daemon to catch it up: after rollback, "
                f"documents the new version wrote keep its shape until `projections rebuild --projection {name}` "
                "runs again or their stream gets a new event"
            )
        elif f.rule == "projection-changed" and f.fact("rebuild") == "true":
            notes.append(f"after rollback rebuild projection {f.fact('projection')} again (no version bump)")
        if f.rule == "migration-additive":
            notes.append("the additive migration stays: the old version ignores new tables and columns")
    return Rollback(
        True, "rollback", "; ".join(dict.fromkeys(notes)) or "no state change the old version cannot read", steps
    )


def _gates(
    name: str, service: Service | None, strategy: str, env: Environment, thr: Thresholds, policy: Policy, approve: bool
) -> list[Gate]:
    if service is None or strategy == "no-deploy":
        return []
    m = policy.metrics
    a = env.analysis
    # scoped to the environment (the scrape config's label) and, like the kit's analyses, empty until the
    # new version has MIN_REQUESTS requests (MIN_MESSAGES handled messages) in the window: no data is never a pass
    job = f'job="{name}",environment="{env.name}"'
    enough_requests = f" and on() (sum(increase({m.http_requests}{{{job}}}[2m])) >= {MIN_REQUESTS})"
    enough_messages = (
        f" and on() ((sum(increase({m.handler_succeeded}{{{job}}}[2m])) or on() vector(0))"
        f" + (sum(increase({m.handler_failed}{{{job}}}[2m])) or on() vector(0)) >= {MIN_MESSAGES})"
    )
    gates: list[Gate] = []
    traffic = _traffic(service)

    def analysis(name: str, description: str, metric: str, query: str, threshold: float) -> Gate:
        condition = f"<= {threshold:g}"
        return Gate(
            "analysis", name, description, metric, query, condition, threshold, a.interval, a.count, a.failure_limit
        )

    if "http" in traffic:
        gates.append(
            analysis(
                "http-error-rate",
                f"share of HTTP 5xx responses of the new version stays at or below {thr.http_error_rate:g}",
                m.http_requests,
                f'(sum(rate({m.http_requests}{{{job},http_response_status_code=~"5.."}}[2m])) or on() vector(0))'
                f" / sum(rate({m.http_requests}{{{job}}}[2m])){enough_requests}",
                thr.http_error_rate,
            )
        )
        gates.append(
            analysis(
                "http-latency-p95",
                f"95th percentile request duration stays at or below {thr.http_latency_p95_ms:g} ms",
                m.http_duration_bucket,
                f"histogram_quantile(0.95, sum by (le) (rate({m.http_duration_bucket}{{{job}}}[2m]))) * 1000"
                f"{enough_requests}",
                thr.http_latency_p95_ms,
            )
        )
    if "messages" in traffic or (service.wolverine and service.wolverine.handlers):
        gates.append(
            analysis(
                "handler-failure-rate",
                f"Wolverine handler failures per handled message stay at or below {thr.handler_failure_rate:g}",
                m.handler_failed,
                f"(sum(rate({m.handler_failed}{{{job}}}[2m])) or on() vector(0)) / clamp_min("
                f"(sum(rate({m.handler_succeeded}{{{job}}}[2m])) or on() vector(0))"
                f" + (sum(rate({m.handler_failed}{{{job}}}[2m])) or on() vector(0)), 1e-9){enough_messages}",
                thr.handler_failure_rate,
            )
        )
        gates.append(
            analysis(
                "dead-letters",
                f"at most {thr.dead_letters:g} new dead letters during the window",
                m.dead_letters,
                f"(sum(increase({m.dead_letters}{{{job}}}[{a.interval}])) or on() vector(0)){enough_messages}",
                thr.dead_letters,
            )
        )
    projections = _async_projections(service)
    if projections and strategy == "blue-green":
        gates.append(
            Gate(
                "projection-catch-up",
                "projection-lag",
                f"async projections ({', '.join(projections)}) within {thr.projection_lag_events:g} events of the "
                "high-water mark before traffic moves; the gate waits for the catch-up (a rebuild included) "
                "and pauses the rollout if it never comes, it does not abort",
                m.projection_lag,
                f'max({m.projection_lag}{{service="{name}",environment="{env.name}"}})',
                f"<= {thr.projection_lag_events:g}",
                thr.projection_lag_events,
                a.interval,
                None,
                None,
                "before-promotion",
            )
        )
    if service.wolverine and (service.wolverine.message_storage or service.wolverine.durable_outbox_all):
        gates.append(
            Gate(
                "drain",
                "outbox-drained",
                f"the old version's outbox holds at most {thr.outbox_backlog:g} pending envelopes before it stops",
                m.outbox_backlog,
                f'sum({m.outbox_backlog}{{service="{name}",environment="{env.name}"}})',
                f"<= {thr.outbox_backlog:g}",
                thr.outbox_backlog,
                a.interval,
                None,
                None,
                "before-scale-down",
            )
        )
    if approve:
        gates.append(
            Gate(
                "approval",
                "manual-approval",
                f"a person promotes {name} to 100% in {env.name}",
                when="before-promotion",
            )
        )
    return gates


def _steps(strategy: str, env: Environment, approve: bool) -> list[Step]:
    if strategy != "canary":
        return []
    steps: list[Step] = []
    weights = list(env.canary_steps)
    for i, weight in enumerate(weights):
        last = i == len(weights) - 1
        if last:
            steps.append(Step(weight))
            break
        final_before_full = i == len(weights) - 2
        steps.append(Step(weight, env.pause, analysis=True, approval=approve and final_before_full))
    return steps


def _phases(report: RiskReport, head: System, base: System, deploying: set[str]) -> tuple[dict[str, int], list[str]]:
    """Consumers of new or changed messages before their publishers: a layered topological order."""
    before: dict[str, set[str]] = defaultdict(set)  # service -> services that must deploy first
    for f in report.findings:
        if f.rule not in ("contract-breaking", "contract-additive"):
            continue
        for full in f.message_types:
            short = full.rsplit(".", 1)[-1]
            consumers = {x.target for s in (base, head) for x in s.flows if x.message == short}
            consumers |= {s.name for s in head.services if s.wolverine and short in s.wolverine.handled_messages}
            publishers = {x.source for s in (base, head) for x in s.flows if x.message == short}
            for p in publishers & deploying:
                for c in consumers & deploying:
                    if c != p:
                        before[p].add(c)
    phase: dict[str, int] = {}
    warnings: list[str] = []
    remaining = set(deploying)
    number = 1
    while remaining:
        ready = {s for s in remaining if not (before[s] & remaining)}
        if not ready:
            cycle = sorted(remaining)
            warnings.append(
                "message dependencies form a cycle between "
                + ", ".join(cycle)
                + ": they deploy together; keep both old and new message shapes readable by all of them"
            )
            ready = remaining
        for s in ready:
            phase[s] = number
        remaining -= ready
        number += 1
    return phase, warnings


def _expand_contract(report: RiskReport) -> list[ExpandContract]:
    out: list[ExpandContract] = []
    for f in report.findings:
        if f.rule == "contract-breaking":
            consumers = f.fact("consumers") or "the consumers"
            publishers = f.fact("publishers") or "the publishers"
            types = ", ".join(t.rsplit(".", 1)[-1] for t in f.message_types)
            out.append(
                ExpandContract(
                    f"{types}: {f.detail}",
                    f.services,
                    (
                        "expand: add the new shape next to the old (a new member with a default, or a new message "
                        f"type or [MessageIdentity] version) and make {consumers} accept both; deploy them first",
                        f"switch: deploy {publishers} sending the new shape",
                        "contract: once no old message is left in the queues (and none are scheduled), remove the old "
                        "shape in a later deploy",
                    ),
                    f.rule,
                )
            )
        elif f.rule == "migration-destructive":
            out.append(
                ExpandContract(
                    f.detail,
                    f.services,
                    (
                        "expand: deploy code that no longer reads the dropped or renamed columns, with only additive "
                        "migrations",
                        "contract: after every old instance is gone, ship the destructive migration in its own deploy",
                    ),
                    f.rule,
                )
            )
        elif f.rule == "event-breaking" and f.fact("mitigated") != "true":
            out.append(
                ExpandContract(
                    f.detail,
                    f.services,
                    (
                        "expand: add the new event shape as a new event type (or add an upcaster / MapEventType) while "
                        "the old type stays readable",
                        "contract: stop appending the old type; keep its class (streams hold it forever)",
                    ),
                    f.rule,
                )
            )
    return out


def build_plan(report: RiskReport, head: System, base: System, policy: Policy, environment: str) -> Plan:
    env = policy.environment(environment)
    warnings: list[str] = list(dict.fromkeys(w.message for w in report.warnings))
    for unknown in unknown_services(policy, {s.name for s in head.services} | {s.name for s in base.services}):
        warnings.append(f"policy names service {unknown!r}, which this repository does not have")
    decisions: dict[str, _Decision] = {}
    for risk in report.services:
        service = head.service(risk.service)
        decisions[risk.service] = decide(risk, _findings_for(report, risk.service), service, policy)
    deploying = {name for name, d in decisions.items() if d.strategy != "no-deploy"}
    phase_of, cycle_warnings = _phases(report, head, base, deploying)
    warnings += cycle_warnings
    plans: list[ServicePlan] = []
    for risk in report.services:
        name = risk.service
        decision = decisions[name]
        findings = _findings_for(report, name)
        service = head.service(name)
        strategy = decision.strategy
        why = list(decision.why)
        if env.collapse_to_rolling and strategy in ("canary", "blue-green"):
            why.append(f"rolling in {env.name}: this environment collapses every strategy to rolling")
            strategy = "rolling"
        service_policy = policy.service(name)
        approval = service_policy.approval or env.approval
        approve = strategy in ("canary", "blue-green") and (
            approval == "always" or (approval == "high-risk" and (risk.level == "high" or bool(decision.forced_by)))
        )
        thresholds = policy.thresholds_for(name)
        gates = _gates(name, service, strategy, env, thresholds, policy, approve)
        jobs = service_jobs(service, env.name, findings) if service is not None and strategy != "no-deploy" else []
        plans.append(
            ServicePlan(
                name,
                strategy,
                phase_of.get(name, 0),
                tuple(why),
                risk.score,
                risk.level,
                tuple(_steps(strategy, env, approve)),
                tuple(gates),
                _rollback(findings, strategy) if strategy != "no-deploy" else None,
                env.replicas,
                tuple(jobs),
                tuple(decision.warnings) + tuple(j.warning for j in jobs if j.warning),
                _traffic(service),
                _consumer_plan(service, strategy),
            )
        )
    plans.sort(key=lambda p: (p.phase or 99, -p.risk, p.service))
    phases = _phase_list(plans, report, head, base)
    expand = _expand_contract(report)
    return Plan(
        env.name,
        report.base,
        report.head,
        report.base_commit,
        report.head_commit,
        report.deploy and bool(deploying),
        tuple(phases),
        tuple(plans),
        tuple(expand),
        tuple(warnings),
        policy.source or "built-in defaults",
    )


def _phase_list(plans: list[ServicePlan], report: RiskReport, head: System, base: System) -> list[Phase]:
    by_phase: dict[int, list[str]] = defaultdict(list)
    for p in plans:
        if p.phase:
            by_phase[p.phase].append(p.service)
    out: list[Phase] = []
    ordered = len(by_phase) > 1
    for number in sorted(by_phase):
        services = tuple(by_phase[number])
        if not ordered:
            reason = "no ordering constraint between these services: they deploy in parallel"
            name = "deploy"
        elif number == 1:
            reason = "consumers of new or changed messages, and services nothing waits on: they go first"
            name = "consumers first"
        else:
            reason = "publishers of messages whose consumers deployed in the previous phase"
            name = f"publishers (after phase {number - 1})"
        out.append(Phase(number, name, services, reason))
    return out
