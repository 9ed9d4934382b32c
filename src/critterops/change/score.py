"""A service's risk level from two visible parts: the rule findings and the model's calibrated p.

* **Rules** (deterministic): every finding has a severity (:func:`rule_severity`); the service's
  rule level is the most severe one. A breaking contract or event change, a destructive migration,
  a breaking saga-state change or a removed service is ``high`` on its own: these are the
  cross-version failures change metrics cannot see (risk.md §4).
* **Model**: the calibrated probability that the riskiest commit touching the service will later
  need a fix, compared with the thresholds of :class:`Levels`. The default thresholds are stored in
  the model artefact, chosen on out-of-sample predictions so that ``high`` is rare and precise.

The level is the higher of the two. There is no composite score: ``1 − (1 − p)·Π(1 − w)`` looked
like a probability but was none. ``ServiceRisk.score`` is the model's calibrated p (0.0 when no
commit of the service was scored), so it can be compared with the thresholds directly.
"""

from __future__ import annotations

from dataclasses import dataclass

from critterops.model import CommitRisk, Finding, Location, RangeRisk, Reason, ServiceRisk

LEVELS = ("low", "medium", "high")
_RANK = {name: i for i, name in enumerate(LEVELS)}

RULE_SEVERITY: dict[str, str] = {
    "contract-breaking": "high",
    "event-breaking": "high",
    "migration-destructive": "high",
    "service-removed": "high",
    "saga-state-changed": "medium",
    "migration-additive": "medium",
    "projection-changed": "medium",
    "wiring-changed": "medium",
    "service-added": "medium",
    "contract-additive": "low",
    "event-additive": "low",
    "config-changed": "low",
    "infra-changed": "low",
    "code-changed": "low",
    "no-deploy": "low",
}

# Order of reasons inside one severity: the rules' old weights, kept only to sort explanations.
_ORDER = {
    "event-breaking": 0,
    "contract-breaking": 1,
    "migration-destructive": 2,
    "service-removed": 3,
    "saga-state-changed": 4,
    "projection-changed": 5,
    "wiring-changed": 6,
    "service-added": 7,
    "migration-additive": 8,
}


def rule_severity(finding: Finding) -> str:
    """The severity of one finding, refined by what the rule learnt about it."""
    rule = finding.rule
    if rule == "event-breaking" and finding.fact("mitigated") == "true":
        return "medium"  # an upcaster or MapEventType covers it
    if rule == "saga-state-changed" and finding.fact("breaking") == "true":
        return "high"
    return RULE_SEVERITY.get(rule, "low")


def higher(a: str, b: str) -> str:
    return a if _RANK[a] >= _RANK[b] else b


def level(p: float, medium: float, high: float) -> str:
    """The model level of a calibrated probability."""
    return "high" if p >= high else "medium" if p >= medium else "low"


@dataclass(frozen=True, slots=True)
class Levels:
    """Thresholds on the model's calibrated p; :func:`model_levels` gives the artefact's."""

    medium: float = 0.3
    high: float = 0.6
    source: str = ""  # where the thresholds come from, for the reason text


def service_risk(
    service: str,
    affected_by: tuple[str, ...],
    findings: list[Finding],
    commits: list[CommitRisk],
    levels: Levels,
) -> ServiceRisk:
    reasons: list[tuple[tuple[int, int], Reason]] = []
    rule_level = "low"
    reference_only = affected_by == ("reference",)
    for finding in findings:
        severity = rule_severity(finding)
        rule_level = higher(rule_level, severity)
        text = f"{finding.rule} ({severity}): {finding.detail}"
        if reference_only and finding.rule in ("code-changed", "infra-changed", "config-changed"):
            text += " (via a referenced project)"
        key = (-_RANK[severity], _ORDER.get(finding.rule, 50))
        reasons.append((key, Reason(text, float(_RANK[severity]), finding.rule, finding.files[:5])))
    p_model: float | None = None
    model_level: str | None = None
    if commits:
        # The riskiest commit, not 1 − Π(1 − pᵢ): the product grows with the number of commits, so the
        # same change would score higher as ten commits than squashed into one.
        top = max(commits, key=lambda c: c.probability)
        p_model = top.probability
        model_level = level(p_model, levels.medium, levels.high)
        terms = ", ".join(f"{name}={_num(raw)} ({contrib:+.2f})" for name, contrib, raw in top.top_terms[:3])
        text = (
            f"model ({model_level}): riskiest of {len(commits)} commit(s) {top.sha[:10]} {top.subject!r}, "
            f"calibrated P(needs a later fix) {p_model:.2f} (medium ≥ {levels.medium:.2f}, high ≥ {levels.high:.2f}"
            + (f": {levels.source}" if levels.source else "")
            + ")"
            + (f" — top terms {terms}" if terms else "")
        )
        reasons.append(((-_RANK[model_level], 40), Reason(text, float(_RANK[model_level]), None, ())))
    reasons.sort(key=lambda item: item[0])
    rules = tuple(dict.fromkeys(f.rule for f in findings))
    return ServiceRisk(
        service,
        round(p_model, 4) if p_model is not None else 0.0,
        higher(rule_level, model_level or "low"),
        affected_by,
        tuple(r for _, r in reasons),
        rules,
        tuple(c.sha for c in commits),
        round(p_model, 4) if p_model is not None else None,
        rule_level,
        model_level,
    )


def range_risk(commits: list[CommitRisk], levels: Levels) -> RangeRisk | None:
    """The highest calibrated p of the range and how many commits reach ``high``; grows with nothing."""
    if not commits:
        return None
    return RangeRisk(
        max_probability=round(max(c.probability for c in commits), 4),
        commits=len(commits),
        above_high=sum(c.probability >= levels.high for c in commits),
        high_threshold=levels.high,
    )


def rank(service: ServiceRisk) -> tuple[int, float]:
    """Sort key: higher level first, then higher model p."""
    return (-_RANK[service.level], -service.score)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def locations(findings: list[Finding]) -> tuple[Location, ...]:
    return tuple(sorted({loc for f in findings for loc in f.files}))


def model_levels() -> Levels:
    """The shipped model's thresholds (chosen on out-of-sample predictions), else the built-in ones."""
    from critterops.history.model import load_default_model

    chosen = load_default_model().levels
    if chosen is None:
        return Levels()
    return Levels(chosen.medium, chosen.high, "the shipped model's, set on held-out repositories")


def levels_for(policy: object) -> Levels | None:
    """The policy's ``risk: {medium, high}`` when the file sets them; ``None`` lets ``assess`` choose
    (thresholds relative to the repository's recent commits, else the shipped model's)."""
    risk = getattr(policy, "risk", None)
    provenance = getattr(policy, "provenance", {}) or {}
    explicit = any(provenance.get(f"risk.{key}", "default") != "default" for key in ("medium", "high"))
    if risk is not None and explicit:
        return Levels(float(risk.medium), float(risk.high), "critterops.yaml")
    return None
