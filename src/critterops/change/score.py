"""Turn findings and change metrics into one risk score per service, with its reasons.

score = 1 − (1 − p_model) · Π (1 − w_rule)

``p_model`` is the calibrated probability, from the statistical model, that the riskiest commit
of the range touching the service will need a later fix (the range's 1 − Π(1 − p_i) of risk.md
§5B is reported for the whole range, not used per service, because it grows with the number of
commits a change happens to be split into). ``w_rule`` is the weight of each rule that fired for the service: the rules
encode failure modes the change metrics cannot see (cross-version data and contract
incompatibility, the main cause of upgrade failures: risk.md §4), so one breaking contract
change alone makes a service high risk. Every term becomes a reason; reasons are sorted by
their weight so the most important comes first.
"""

from __future__ import annotations

from dataclasses import dataclass

from critterops.model import CommitRisk, Finding, Location, Reason, ServiceRisk

RULE_WEIGHTS: dict[str, float] = {
    "contract-breaking": 0.7,
    "event-breaking": 0.85,
    "saga-state-changed": 0.2,
    "migration-destructive": 0.7,
    "migration-additive": 0.2,
    "projection-changed": 0.35,
    "wiring-changed": 0.35,
    "service-added": 0.35,
    "service-removed": 0.5,
    "contract-additive": 0.1,
    "event-additive": 0.1,
    "config-changed": 0.15,
    "infra-changed": 0.15,
    "code-changed": 0.05,
    "no-deploy": 0.0,
}


def rule_weight(finding: Finding) -> float:
    """The weight of one finding, refined by what the rule learnt about it."""
    rule = finding.rule
    if rule == "event-breaking" and finding.fact("mitigated") == "true":
        return 0.45
    if rule == "saga-state-changed" and finding.fact("breaking") == "true":
        return 0.6
    if rule == "projection-changed":
        if finding.fact("bumped") == "true":
            return 0.3
        if finding.fact("rebuild") == "true":
            return 0.5 if finding.fact("lifecycle") == "Inline" else 0.45
    if rule == "code-changed":
        files = int(finding.fact("files", "1") or 1)
        return min(0.05 + 0.01 * files, 0.2)
    return RULE_WEIGHTS.get(rule, 0.1)


def level(score: float, medium: float, high: float) -> str:
    return "high" if score >= high else "medium" if score >= medium else "low"


@dataclass(frozen=True, slots=True)
class Levels:
    medium: float = 0.3
    high: float = 0.6


def service_risk(
    service: str,
    affected_by: tuple[str, ...],
    findings: list[Finding],
    commits: list[CommitRisk],
    levels: Levels,
) -> ServiceRisk:
    reasons: list[Reason] = []
    remaining = 1.0
    reference_only = affected_by == ("reference",)
    for finding in findings:
        weight = rule_weight(finding)
        if reference_only and finding.rule in ("code-changed", "infra-changed", "config-changed"):
            weight /= 2
        remaining *= 1 - weight
        reasons.append(Reason(f"{finding.rule}: {finding.detail}", weight, finding.rule, finding.files[:5]))
    p_model: float | None = None
    if commits:
        # The riskiest commit, not 1 − Π(1 − pᵢ): the product grows with the number of commits, so the
        # same change would score higher as ten commits than squashed into one.
        top = max(commits, key=lambda c: c.probability)
        p_model = top.probability
        remaining *= 1 - p_model
        terms = ", ".join(f"{name}={_num(raw)} ({contrib:+.2f})" for name, contrib, raw in top.top_terms[:3])
        text = (
            f"change metrics: riskiest of {len(commits)} commit(s) {top.sha[:10]} {top.subject!r}, "
            f"P(needs a later fix) {p_model:.2f}" + (f" — top terms {terms}" if terms else "")
        )
        reasons.append(Reason(text, p_model, None, ()))
    score = round(1 - remaining, 4)
    reasons.sort(key=lambda r: -r.weight)
    rules = tuple(dict.fromkeys(f.rule for f in findings))
    return ServiceRisk(
        service,
        score,
        level(score, levels.medium, levels.high),
        affected_by,
        tuple(reasons),
        rules,
        tuple(c.sha for c in commits),
        round(p_model, 4) if p_model is not None else None,
    )


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def locations(findings: list[Finding]) -> tuple[Location, ...]:
    return tuple(sorted({loc for f in findings for loc in f.files}))
