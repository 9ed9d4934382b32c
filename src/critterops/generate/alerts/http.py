"""HTTP endpoints: the share of 5xx responses and the p95 latency.

Applies to services that answer HTTP; the series are ASP.NET Core's ``http.server.request.duration``
histogram over OTLP, with names and limits from the policy.
"""

from __future__ import annotations

from critterops.generate.alerts.fixtures import app_labels, items, sel, shares
from critterops.generate.alerts.record import AlertRecord, Case, Covered, Rule, Runbook, Sample
from critterops.generate.alerts.snippets import heading, logs, pods, queries, roll_back, sh, sql
from critterops.generate.context import KitContext
from critterops.generate.promql import agg, num, percent, wrap
from critterops.generate.traits import serves_http
from critterops.model import Service


def _ok(service: Service) -> dict[str, str]:
    """A successful request's labels in the test series."""
    return {**app_labels(service), "http_route": "/api/{id}", "http_response_status_code": "200"}


# -- HttpErrorRateHigh ------------------------------------------------------------------------------------------


def _errors_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not serves_http(service):
        return []
    name, limit = service.name, ctx.policy.thresholds_for(service.name).http_error_rate
    count = ctx.policy.metrics.http_requests
    ok = _ok(service)
    bad = {**ok, "http_response_status_code": "500"}
    fire, calm = shares(limit)
    return [
        Rule(
            name,
            agg("sum by (environment, job)", f'rate({count}{{job="{name}",http_response_status_code=~"5.."}}[5m])')
            + "\n/\n"
            + agg("sum by (environment, job)", f'rate({count}{{job="{name}"}}[5m])')
            + f"\n> {num(limit)}",
            f"{name}: {{{{ $value | humanizePercentage }}}} of HTTP requests fail",
            wrap(
                f"{{{{ $value | humanizePercentage }}}} of {name}'s HTTP responses over the last 5 minutes were 5xx "
                f"(limit {percent(limit)})."
            ),
            Case(
                (Sample(sel(count, ok), f"0+{100 - fire}x40"), Sample(sel(count, bad), f"0+{fire}x40")),
                "15m",
                items(app_labels(service)),
                fire / 100,
            ),
            Case((Sample(sel(count, ok), f"0+{100 - calm}x40"), Sample(sel(count, bad), f"0+{calm}x40")), "15m"),
        )
    ]


def _errors_diagnosis(covered: Covered) -> list[str]:
    count = covered.ctx.policy.metrics.http_requests
    out: list[str] = []
    for service in covered.services:
        failing = f'{count}{{job="{service.name}",http_response_status_code=~"5.."}}'
        out += [
            heading(service),
            "",
            *queries(
                f"sum by (http_route, http_response_status_code) (rate({failing}[5m]))",
                f"sum by (service_version) (rate({failing}[5m]))",
            ),
            *sh(
                f"kubectl -n $NS get pods {pods(service.name)}",
                logs(service.name, "fail|Exception|Error"),
            ),
        ]
    return out


ERROR_RATE_HIGH = AlertRecord(
    name="HttpErrorRateHigh",
    concern="http",
    severity="critical",
    for_="5m",
    pending_at="3m",
    per_service=_errors_rule,
    runbook=Runbook(
        meaning="More than the policy's share of HTTP responses are 5xx over 5 minutes.",
        symptoms=(
            "- Users or calling services get errors; the routes and status codes above show where.",
            "- A split by `service_version` shows whether only the new version fails.",
        ),
        impact=("- Requests on the failing routes fail for users; callers may retry and add load.",),
        diagnosis=_errors_diagnosis,
        remediation=(
            "- **Only the new version fails** (canary or preview): abort the rollout (below).",
            "- **A dependency fails** (database, another service, broker for endpoints that publish): fix the "
            "dependency; check its own alerts.",
            "- **Pods restarting or out of memory**: `kubectl -n $NS describe pod ...`, raise limits or scale out.",
        ),
        rollback=roll_back("Abort first, investigate after: 5xx are user-visible."),
        escalation=lambda c: [f"- Not resolved within 15 minutes: {c.owners}."],
    ),
)


# -- HttpLatencyHigh --------------------------------------------------------------------------------------------


def _latency_rule(ctx: KitContext, service: Service) -> list[Rule]:
    if not serves_http(service):
        return []
    name, limit_ms = service.name, ctx.policy.thresholds_for(service.name).http_latency_p95_ms
    bucket = ctx.policy.metrics.http_duration_bucket
    ok = _ok(service)
    # bucket bounds around the limit L: p95 of the slow case is L + (95 - 80) / (100 - 80) × L = 1.75 L
    limit_s = limit_ms / 1000
    bounds = (num(limit_s / 5), num(limit_s), num(limit_s * 2), "+Inf")
    slow = tuple(zip(bounds, (50, 80, 100, 100), strict=True))
    fast = tuple(zip(bounds, (96, 100, 100, 100), strict=True))
    return [
        Rule(
            name,
            "histogram_quantile(0.95,\n"
            f'  sum by (environment, job, le) (rate({bucket}{{job="{name}"}}[5m]))\n'
            f") * 1000 > {num(limit_ms)}",
            f"{name}: p95 HTTP latency is {{{{ $value | humanize }}}} ms",
            wrap(
                f"95% of {name}'s HTTP requests over the last 5 minutes took up to {{{{ $value | humanize }}}} ms "
                f"(limit {num(limit_ms)} ms)."
            ),
            Case(
                tuple(Sample(sel(bucket, {**ok, "le": le}), f"0+{n}x40") for le, n in slow),
                "20m",
                items(app_labels(service)),
                limit_ms * 1.75,
            ),
            Case(tuple(Sample(sel(bucket, {**ok, "le": le}), f"0+{n}x40") for le, n in fast), "20m"),
        )
    ]


def _latency_diagnosis(covered: Covered) -> list[str]:
    bucket = covered.ctx.policy.metrics.http_duration_bucket
    out: list[str] = []
    for service in covered.services:
        out += [
            heading(service),
            "",
            *queries(
                f'histogram_quantile(0.95, sum by (le, http_route) (rate({bucket}{{job="{service.name}"}}[5m])))',
            ),
        ]
        if service.database:
            out += sql(
                "-- slow or blocked queries right now",
                "SELECT pid, now() - query_start AS running, state, wait_event_type, left(query, 120)",
                f"FROM pg_stat_activity WHERE datname = '{service.database}' AND state <> 'idle'",
                "ORDER BY running DESC LIMIT 10;",
            )
    return out


LATENCY_HIGH = AlertRecord(
    name="HttpLatencyHigh",
    concern="http",
    severity="warning",
    for_="10m",
    pending_at="5m",
    per_service=_latency_rule,
    runbook=Runbook(
        meaning="The 95th percentile of HTTP request duration is above the policy's limit for 10 minutes.",
        symptoms=("- Pages and API calls are slow on the routes above; timeouts in callers may follow.",),
        impact=("- Slow responses for users; callers with short timeouts start failing.",),
        diagnosis=_latency_diagnosis,
        remediation=(
            "- **Database queries slow or blocked**: end runaway queries (`SELECT pg_cancel_backend(<pid>);`), "
            "check missing indexes on new queries.",
            "- **CPU-throttled pods**: `kubectl -n $NS top pods` ; scale out or raise limits.",
            "- **A slow downstream service**: check its alerts.",
        ),
        rollback=roll_back("Roll back when latency rose with the deploy."),
        escalation=lambda c: [f"- Latency keeps rising or errors follow: {c.owners}."],
    ),
)

RECORDS = (ERROR_RATE_HIGH, LATENCY_HIGH)
