"""The critterops judge in the kit (``generate --judge critterops``): its Deployment and the analyses that ask it.

The judge is ``critterops judge serve`` in the exporter's image (which installs critterops; see
:mod:`critterops.generate.exporter`), one per namespace, stateless: every answer is rebuilt from
Prometheus, so a restarted or rescheduled pod answers the same. It reads Prometheus (egress to the
``monitoring`` namespace) and is called by the Argo Rollouts controller (ingress from the
``argo-rollouts`` namespace, pods ``app.kubernetes.io/name: argo-rollouts`` as Argo's own
``manifests/install.yaml`` labels them, v1.9.1). It reads one thing from the Kubernetes API: the asking
AnalysisRun's start (``get, list analysisruns`` in its namespace, a Role and RoleBinding; its token is
mounted for that), so each canary step is judged on the data since its own analysis began.

Each service's AnalysisTemplate ``<service>-judge`` uses Argo's ``web`` provider. The verdict is read
with ``jsonPath: {$.verdict}``; the limits make Argo do what the judge means (the reasons, with
Argo's source lines, are in :mod:`critterops.rollout.provider`):

- ``successCondition: result == "pass"``, ``consecutiveSuccessLimit: 1``: the judge's proof passes;
- ``failureCondition: result == "fail"``, ``failureLimit: 0``: the judge's fail aborts;
- ``continue`` (still gathering) and ``inconclusive`` match neither: Inconclusive measurements, tolerated
  up to ``inconclusiveLimit`` = ``count``; a run that reaches ``count`` undecided ends Inconclusive,
  which pauses the Rollout for a person. ``count`` covers the judge's longest analysis
  (``max_duration_s``, 20 minutes by default) at the environment's interval;
- Prometheus unreachable: the judge answers 503, an Error measurement; the fifth in a row
  (``consecutiveErrorLimit: 4``) ends the run in Error, which aborts. Never a pass.

The threshold templates (``<service>-analysis``) are still written: ``kubectl`` users can switch a
Rollout back by naming them; only the Rollout's steps point at the judge.
"""

from __future__ import annotations

import math
from typing import Any, Final

from critterops.generate.context import KitContext
from critterops.generate.exporter import tool_container, tool_workload
from critterops.model import Service
from critterops.plan.policy import Environment

JUDGE_NAME: Final = "critterops-judge"
JUDGE_PORT: Final = 8080
JUDGE_STEP_S: Final = 30  # one look per 30 s (the server's --step)
MAX_DURATION_S: Final = 1200  # the sequential judge's max_duration_s (critterops.rollout.judges.make_judge)
ARGO_NAMESPACE: Final = "argo-rollouts"  # Argo Rollouts' install.yaml (v1.9.1) installs the controller there
ARGO_CONTROLLER: Final = {"app.kubernetes.io/name": "argo-rollouts"}
WAIVER_TOKEN: Final = "CKV_K8S_38=the judge lists its namespace's analysisruns (Role critterops-judge) for their start"


def enabled(ctx: KitContext) -> bool:
    return ctx.argo and ctx.judge == "critterops"


def template_name(service: Service) -> str:
    return f"{service.name}-judge"


def analysis_args() -> list[dict[str, Any]]:
    """The Rollout's arguments for the judge: both versions' pod-template hashes and the namespace.

    ``podTemplateHashValue: Stable|Latest`` and ``fieldRef`` of ``metadata.*`` are what
    utils/analysis/factory.go (v1.9.1, BuildArgumentsForRolloutAnalysisRun) resolves; an AnalysisRun's
    own name and start are not template variables (utils/template/template.go only knows ``args.*``),
    so the judge finds the asking run through the API (the Role below) by the canary's hash.
    """
    return [
        {"name": "canary-hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "stable-hash", "valueFrom": {"podTemplateHashValue": "Stable"}},
        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]


def web_provider(service: Service) -> dict[str, Any]:
    """POST with a JSON body: Argo substitutes ``{{args.*}}`` in the whole metric, body included
    (utils/analysis/factory.go:112-128, ResolveMetricArgs, v1.9.1), and ``jsonBody`` may only go with
    POST or PUT (metricproviders/webmetric/webmetric.go:72-76)."""
    return {
        "method": "POST",
        "url": f"http://{JUDGE_NAME}.{{{{args.namespace}}}}.svc:{JUDGE_PORT}/v1/argo",
        "jsonBody": {
            "namespace": "{{args.namespace}}",
            "canary": "{{args.canary-hash}}",
            "stable": "{{args.stable-hash}}",
            "service": service.name,
            "rollout": service.name,
        },
        "jsonPath": "{$.verdict}",
        "timeoutSeconds": 20,
    }


def verdict_metric(web: dict[str, Any], interval: str, count: int, initial_delay: str | None) -> dict[str, Any]:
    """The ``web`` metric that turns the judge's verdict into Argo's phases (see the module docstring)."""
    metric: dict[str, Any] = {
        "name": "critterops-judge",
        "interval": interval,
        "count": count,
        "successCondition": 'result == "pass"',
        "failureCondition": 'result == "fail"',
        "failureLimit": 0,
        "inconclusiveLimit": count,
        "consecutiveSuccessLimit": 1,
        "consecutiveErrorLimit": 4,
        "provider": {"web": web},
    }
    if initial_delay:
        metric["initialDelay"] = initial_delay
    return metric


def analysis_template(
    ctx: KitContext, service: Service, env: Environment, labels: dict[str, str], extra_metrics: list[dict[str, Any]]
) -> dict[str, Any]:
    """``<service>-judge``: one ``web`` metric asking the judge, plus ``extra_metrics`` (catch-up gates)."""
    a = env.analysis
    count = math.ceil(MAX_DURATION_S / a.interval_seconds()) + 1
    metric = verdict_metric(web_provider(service), a.interval, count, a.initial_delay)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": template_name(service), "labels": labels},
        "spec": {
            "args": [{"name": "canary-hash"}, {"name": "stable-hash"}, {"name": "namespace"}],
            "metrics": [metric, *extra_metrics],
        },
    }


def documents(
    ctx: KitContext,
    annotations: dict[str, str],
    labels: dict[str, str],
    pod_security: dict[str, Any],
    container_security: dict[str, Any],
    prometheus: str,
) -> list[dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding (list analysisruns), Deployment and Service of the judge."""
    container = tool_container(
        ctx,
        JUDGE_NAME,
        [
            "judge",
            "serve",
            "--host",
            "0.0.0.0",  # a pod listens on its own address; the NetworkPolicy admits only the controller
            "--port",
            str(JUDGE_PORT),
            "--prometheus",
            prometheus,
            "--step",
            str(JUDGE_STEP_S),
        ],
        ("http", JUDGE_PORT),
        10,
        container_security,
        volumeMounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    account, deployment, service = tool_workload(
        JUDGE_NAME,
        labels,
        annotations,
        pod_security,
        container,
        replicas=2,  # stateless: either replica gives the same answer
        automount=True,  # the Role below: list analysisruns
        volumes=[{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
    )
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": JUDGE_NAME, "labels": labels},
        "rules": [{"apiGroups": ["argoproj.io"], "resources": ["analysisruns"], "verbs": ["get", "list"]}],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": JUDGE_NAME, "labels": labels},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": JUDGE_NAME},
        "subjects": [{"kind": "ServiceAccount", "name": JUDGE_NAME}],
    }
    return [account, role, binding, deployment, service]


def network_policy_rules(prometheus_port: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Ingress from the Argo Rollouts controller, egress to Prometheus in ``monitoring``."""
    ingress = [
        {
            "from": [
                {
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ARGO_NAMESPACE}},
                    "podSelector": {"matchLabels": dict(ARGO_CONTROLLER)},
                }
            ],
            "ports": [{"protocol": "TCP", "port": JUDGE_PORT}],
        }
    ]
    egress = [
        {
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"protocol": "TCP", "port": prometheus_port}],
        }
    ]
    return ingress, egress
