"""Kubernetes: a kustomize base with ``dev``, ``staging`` and ``production`` overlays.

Per service: a dedicated ServiceAccount (token not mounted), a ConfigMap for non-secret settings,
Services (the main one that callers use, plus ``-preview`` for blue/green, or ``-stable`` and
``-canary`` for a canary, which Argo pins to one version each; a consumer shipped blue/green gets a headless
pair without ports, only for Argo to switch), an Argo
Rollouts ``Rollout`` (or a plain ``Deployment`` with ``argo=False``), a PodDisruptionBudget, a
NetworkPolicy built from the real callers and dependencies, and an AnalysisTemplate. Secrets are
referenced, never embedded, and mounted as files for .NET's key-per-file configuration. Pods meet
Pod Security "restricted": numeric non-root UID/GID 10001, no privilege escalation, all
capabilities dropped, seccomp RuntimeDefault, read-only root filesystem with an emptyDir on /tmp.

Probes point at endpoints the service maps *in that environment* (discovery records the
``IsDevelopment()`` branches); where production has none, the service gets a TCP probe and a
warning with the code change to make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from critterops import metrics as catalog
from critterops.generate import exporter, judge, yamlio
from critterops.generate.context import Deploy, KitContext
from critterops.generate.dockerfiles import image_names
from critterops.generate.observability import COLLECTOR_PROMETHEUS_PORT, EXPORTER_PORT
from critterops.model import Service
from critterops.model.environments import applies_in, aspnet_environment
from critterops.model.plan import Job
from critterops.plan import consumers as contract
from critterops.plan.jobs import job_name, service_jobs
from critterops.plan.policy import MIN_MESSAGES, MIN_REQUESTS, Environment

PORT = 8080
UID = 10001
PROMETHEUS = "http://prometheus.monitoring.svc:9090"
PROMETHEUS_PORT = 9090  # PROMETHEUS's port: the judge's NetworkPolicy lets it reach this
OTEL_ENDPOINT = "http://otel-collector:4317"
SECRET_DIR = "/run/secrets/app"
# ASPNETCORE_ENVIRONMENT per overlay, which decides which IsDevelopment() branches run
RESOURCES = {
    "dev": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}},
    "staging": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
    "production": {"requests": {"cpu": "250m", "memory": "384Mi"}, "limits": {"cpu": "2", "memory": "768Mi"}},
}
# Managed PostgreSQL and RabbitMQ outside the cluster: egress is limited to their ports; narrow the
# address range with a patch (see README.md).
MANAGED_CIDR = "10.0.0.0/8"
# checkov waivers, as annotations on the object they concern (listed with reasons in the kit README)
WAIVER_DIGEST = "CKV_K8S_43=immutable git-SHA tags; pin digests at deploy with kustomize edit set image"
WAIVER_LIVENESS = "CKV_K8S_8=worker without an HTTP endpoint; see the generate warnings"
WAIVER_READINESS = "CKV_K8S_9=worker without an HTTP endpoint; see the generate warnings"
WAIVER_SECRET_ENV = "CKV_K8S_35=the code reads configuration from environment variables; files would need a code change"
# consumers (critterops.plan.consumers): the role file, the drain, the handling-time limit
ROLE_DIR = "/etc/critterops"
ROLE_FILE = f"{ROLE_DIR}/role"  # CRITTEROPS_ROLE_FILE: the downward API keeps it equal to the pod's role label
GRACE_S = 45  # terminationGracePeriodSeconds of a pod that consumes nothing
DRAIN_MARGIN_S = 15  # beyond the drain timeout: the host's own shutdown after its listeners drained
# After a consumer blue/green's full promotion the new pods learn they are active from the role file, which the
# kubelet rewrites on its periodic pod sync (--sync-frequency, 1 m by default), not at once: the old version keeps
# consuming (scaleDownDelaySeconds) until the new one has surely started its listeners.
ROLE_REFRESH_S = 120


def waivers(*reasons: str) -> dict[str, str]:
    return {f"checkov.io/skip{i}": reason for i, reason in enumerate(reasons, 1)}


def labels(ctx: KitContext, name: str, component: str = "service") -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": ctx.name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "critterops",
    }


def pod_security() -> dict[str, Any]:
    """Pod Security "restricted" at pod level: numeric non-root UID/GID, seccomp RuntimeDefault."""
    return {
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "fsGroup": UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security(seccomp: bool = True) -> dict[str, Any]:
    """No privilege escalation, every capability dropped, read-only root filesystem."""
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": UID,
        "runAsGroup": UID,
        "capabilities": {"drop": ["ALL"]},
    }
    if seccomp:
        context["seccompProfile"] = {"type": "RuntimeDefault"}
    return context


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


env_name = aspnet_environment


@dataclass(frozen=True, slots=True)
class Probes:
    readiness: dict[str, Any] | None
    liveness: dict[str, Any] | None
    startup: dict[str, Any] | None
    warning: str | None = None


def probes(service: Service, env: str) -> Probes:
    """Probes on the endpoints this service maps when ASPNETCORE_ENVIRONMENT is the overlay's."""
    if not _serves_http(service):
        return Probes(
            None,
            None,
            None,
            f"{service.name}: no HTTP endpoint, so no probes. Add health checks served on a port "
            '(e.g. a minimal WebApplication with app.MapHealthChecks("/health")) to let Kubernetes see a '
            "hung worker; until then the checkov waivers on this Rollout apply.",
        )
    if is_static(service):
        # nginx serves index.html at / as soon as it listens: the static site's readiness and liveness
        root = {"httpGet": {"path": "/", "port": "http"}, "timeoutSeconds": 3}
        return Probes(
            {**root, "periodSeconds": 10, "failureThreshold": 3},
            {**root, "periodSeconds": 20, "failureThreshold": 3},
            None,
        )
    aspnet_env = env_name(env)
    mapped = [h.path for h in service.health if applies_in(h.environments, aspnet_env)]
    ready_path = next((p for p in mapped if "ready" in p), None) or next(
        (p for p in mapped if p.rstrip("/").endswith("health")), None
    )
    live_path = next((p for p in mapped if "alive" in p or "live" in p), None) or ready_path
    warning = None
    if ready_path is None:
        dev_only = sorted({h.path for h in service.health})
        warning = (
            f"{service.name}: no health endpoint is mapped when ASPNETCORE_ENVIRONMENT={aspnet_env}"
            + (f" ({', '.join(dev_only)} only in other environments)" if dev_only else "")
            + "; using TCP probes. Map them outside the IsDevelopment() branch: "
            'app.MapHealthChecks("/health"); app.MapHealthChecks("/alive", new() { Predicate = r => '
            'r.Tags.Contains("live") });'
        )

    def check(path: str | None) -> dict[str, Any]:
        if path is None:
            return {"tcpSocket": {"port": "http"}}
        return {"httpGet": {"path": path, "port": "http"}}

    readiness = {**check(ready_path), "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    liveness = {**check(live_path), "periodSeconds": 20, "timeoutSeconds": 3, "failureThreshold": 3}
    startup = {**check(live_path), "periodSeconds": 5, "timeoutSeconds": 3, "failureThreshold": 30}
    return Probes(readiness, liveness, startup, warning)


def _serves_http(service: Service) -> bool:
    return service.kind in ("api", "web") or service.http_port is not None


DEV_BROKER = {"hostname": "rabbitmq", "port": "5672", "username": "critterops", "virtualhost": "/"}
"""What the dev overlay's RabbitMQ (generate/infra.py) answers to; staging and production reach a managed
broker whose address comes with its credentials, from the Secret."""


def _secret_keys(service: Service, env: str = "production") -> list[str]:
    """The environment variables the service's Secret must hold: the secret configuration keys its code
    reads (connection strings, passwords, signing keys) and, outside dev, every broker setting."""
    if is_static(service):
        return []
    keys = [st.env_var for st in service.settings if st.secret and not st.file]
    keys += [st.env_var for st in service.settings if st.kind == "broker" and env != "dev"]
    if not service.settings:  # a model without settings (older JSON): the connection names discovery saw
        keys += [f"ConnectionStrings__{name}" for name in service.connection_strings]
    return sorted(dict.fromkeys(keys))


def settings_config(ctx: KitContext, service: Service, env: str) -> dict[str, str]:
    """The non-secret keys the code reads that the kit knows the value of in this environment: base URLs of
    the services it calls (their in-cluster Service on port 80) and, in dev, the dev broker. Keys with an
    appsettings.json default keep it (the file ships in the image)."""
    data: dict[str, str] = {}
    for st in service.settings:
        if st.secret or st.file:
            continue
        if st.kind in ("http-base-url", "aspire-reference") and st.target and ctx.system.service(st.target):
            data[st.env_var] = f"http://{st.target}"
        elif st.kind == "broker" and env == "dev":
            leaf = st.key.rsplit(":", 1)[-1].lower()
            if leaf in DEV_BROKER:
                data[st.env_var] = DEV_BROKER[leaf]
    return dict(sorted(data.items()))


def _pod(ctx: KitContext, service: Service, env: str) -> dict[str, Any]:
    probe = probes(service, env)
    container: dict[str, Any] = {
        "name": service.name,
        "image": f"{ctx.image(service)}:{ctx.tag}",
        "imagePullPolicy": "Always",
    }
    if _serves_http(service):
        container["ports"] = [{"name": "http", "containerPort": PORT, "protocol": "TCP"}]
    if is_static(service):
        return _static_pod(ctx, service, container, env)
    container["envFrom"] = [{"configMapRef": {"name": f"{service.name}-config"}}]
    # one series per pod: service.instance.id is the pod's name (the collector's exporter makes it the
    # instance label), service.version the pod-template hash that Argo's analyses select on
    variables: list[dict[str, Any]] = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    version = ctx.tag
    if ctx.argo:
        label = "metadata.labels['rollouts-pod-template-hash']"
        variables.append({"name": "POD_TEMPLATE_HASH", "valueFrom": {"fieldRef": {"fieldPath": label}}})
        version = "$(POD_TEMPLATE_HASH)"
    variables.append(
        {
            "name": "OTEL_RESOURCE_ATTRIBUTES",
            # k8s.namespace.name (OpenTelemetry semantic conventions) becomes the k8s_namespace_name label
            # the analyses select on, so two overlays that share a pod-template hash never mix
            "value": f"service.instance.id=$(POD_NAME),service.version={version},k8s.namespace.name=$(POD_NAMESPACE)",
        }
    )
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}}]
    if holds_role(ctx, service):
        # the contract of critterops.plan.consumers: the role at start in CRITTEROPS_ROLE, the current role in the
        # file CRITTEROPS_ROLE_FILE. Both come from the label Argo's previewMetadata/activeMetadata set on the pods;
        # the kubelet rewrites a downward API file when a label changes, never a variable.
        role = {"fieldRef": {"fieldPath": f"metadata.labels['{contract.ROLE_LABEL}']"}}
        variables.append({"name": contract.ROLE_ENV, "valueFrom": role})
        variables.append({"name": contract.ROLE_FILE_ENV, "value": ROLE_FILE})
        mounts.append({"name": "critterops-role", "mountPath": ROLE_DIR, "readOnly": True})
        volumes.append({"name": "critterops-role", "downwardAPI": {"items": [{"path": "role", **role}]}})
    container["env"] = variables
    for key, value in (("readinessProbe", probe.readiness), ("livenessProbe", probe.liveness)):
        if value:
            container[key] = value
    if probe.startup:
        container["startupProbe"] = probe.startup
    container["resources"] = RESOURCES.get(env, RESOURCES["production"])
    container["securityContext"] = container_security()
    if _secret_keys(service, env):
        # as environment variables, which the default configuration providers read: today's code runs unchanged
        container["envFrom"].append({"secretRef": {"name": f"{service.name}-secrets"}})
    container["volumeMounts"] = mounts
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(service.name)},
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    return _pod_template(
        ctx,
        service,
        container,
        volumes,
        topologySpreadConstraints=spread,
        terminationGracePeriodSeconds=grace(ctx, service),
    )


def consumes(service: Service) -> bool:
    """The service takes messages from a broker or a local queue (the drain on scale-down concerns it)."""
    return "messages" in contract.traffic(service)


def grace(ctx: KitContext, service: Service) -> int:
    """terminationGracePeriodSeconds: a consumer's drain timeout (the plan's consumers block, else the contract's)
    and a margin.

    On SIGTERM Wolverine stops its listeners and lets in-flight messages finish (critterops.plan.consumers);
    the kubelet kills the container when the grace period ends, so it must outlast the drain. The pod template
    is shared by the overlays: the longest drain of any environment."""
    if not consumes(service):
        return GRACE_S
    drains = [c.drain_timeout_s for env in ctx.environments if (c := ctx.consumers(service, env)) is not None]
    drain = max(drains, default=contract.DRAIN_TIMEOUT_S)
    return max(GRACE_S, math.ceil(drain) + DRAIN_MARGIN_S)


def holds_role(ctx: KitContext, service: Service) -> bool:
    """The pods get the role variable and file: a consumer whose preview holds its listeners in some environment."""
    return ctx.argo and any(
        (c := ctx.deploy(service, env).consumers) is not None and c.preview == "held" for env in ctx.environments
    )


def consumer_blue_green(ctx: KitContext, service: Service) -> bool:
    """Some environment ships this consumer blue/green (its preview holds its listeners)."""
    return ctx.argo and any(
        (d := ctx.deploy(service, env)).strategy == "blue-green" and d.consumers is not None for env in ctx.environments
    )


def _pod_template(
    ctx: KitContext, service: Service, container: dict[str, Any], volumes: list[dict[str, Any]], **placement: Any
) -> dict[str, Any]:
    """A service's pod template: its ServiceAccount without a token, the restricted pod security context,
    then ``placement`` (spread, grace period), the one container and its volumes."""
    return {
        "metadata": {"labels": labels(ctx, service.name)},
        "spec": {
            "serviceAccountName": service.name,
            "automountServiceAccountToken": False,
            "securityContext": pod_security(),
            **placement,
            "containers": [container],
            "volumes": volumes,
        },
    }


def _static_pod(ctx: KitContext, service: Service, container: dict[str, Any], env: str) -> dict[str, Any]:
    """nginx-unprivileged (the kit's Dockerfile for Blazor WebAssembly) as an unprivileged static server:
    read-only root file system, its pid and temp files in /tmp (nginx-unprivileged's nginx.conf) and its
    cache in /var/cache/nginx, both writable emptyDirs; no .NET, so no telemetry variables or secrets."""
    probe = probes(service, env)
    container["readinessProbe"] = probe.readiness
    container["livenessProbe"] = probe.liveness
    container["resources"] = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"cpu": "200m", "memory": "64Mi"}}
    container["securityContext"] = container_security()
    container["volumeMounts"] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "cache", "mountPath": "/var/cache/nginx"},
    ]
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}, {"name": "cache", "emptyDir": {"sizeLimit": "64Mi"}}]
    return _pod_template(ctx, service, container, volumes)


SMOKE_IMAGE = "curlimages/curl:8.11.1"
SMOKE_INTERVAL_S = 0.5  # two requests a second: MIN_REQUESTS within the analyses' 2-minute windows, many times over


def smoke_seconds(env: Environment) -> int:
    """How long the preview gets smoke traffic: the pre-promotion analysis' whole run and 30 s more."""
    a = env.analysis
    return int(a.initial_delay_seconds() + a.interval_seconds() * a.count + 30)


def _smoke_paths(service: Service) -> list[str]:
    """The root and the health endpoints the service maps in production (requests that reach the app)."""
    paths = ["/", *sorted({h.path for h in service.health if applies_in(h.environments, "Production")})]
    return list(dict.fromkeys(paths))


def uses_blue_green(ctx: KitContext, service: Service) -> bool:
    """Some environment ships this HTTP service blue/green (it gets the smoke traffic)."""
    return (
        ctx.argo
        and _serves_http(service)
        and not is_static(service)
        and any(ctx.deploy(service, env).strategy == "blue-green" for env in ctx.environments)
    )


def smoke_template(ctx: KitContext, service: Service) -> dict[str, Any]:
    """An Argo ``job`` metric that exercises the preview Service: a curl loop for ``{{args.duration}}`` seconds
    over the root and the health endpoints. It fails only when the preview never answers; what the answers
    say (5xx share, latency) is the Prometheus metrics' job, which now have requests of the new version."""
    smoke = f"{service.name}-smoke"
    urls = " ".join(f"http://{service.name}-preview{path}" for path in _smoke_paths(service))
    script = (
        "end=$(( $(date +%s) + DURATION )); ok=0; failed=0\n"
        'while [ "$(date +%s)" -lt "$end" ]; do\n'
        "  for url in $URLS; do\n"
        '    if curl -s -o /dev/null --max-time 5 "$url"; then ok=$((ok + 1)); else failed=$((failed + 1)); fi\n'
        f"    sleep {SMOKE_INTERVAL_S}\n"
        "  done\n"
        "done\n"
        'echo "smoke traffic: $ok answered, $failed without an answer"\n'
        '[ "$ok" -gt 0 ]\n'
    )
    pod_labels = {**labels(ctx, smoke, "smoke"), "app.kubernetes.io/instance": service.name}
    container = {
        "name": "smoke",
        "image": SMOKE_IMAGE,
        "command": ["sh", "-c", script],
        "env": [{"name": "DURATION", "value": "{{args.duration}}"}, {"name": "URLS", "value": urls}],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"cpu": "100m", "memory": "32Mi"}},
        "securityContext": container_security(),
    }
    job = {
        "metadata": {"labels": pod_labels},
        "spec": {
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": 3600,
            "template": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": pod_security(),
                    "containers": [container],
                },
            },
        },
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": smoke, "labels": labels(ctx, service.name)},
        "spec": {"args": [{"name": "duration"}], "metrics": [{"name": "smoke-traffic", "provider": {"job": job}}]},
    }


def smoke_policy(ctx: KitContext, service: Service) -> dict[str, Any]:
    """The smoke pods may reach the service's pods on its HTTP port and nothing else (DNS: allow-dns)."""
    egress = [{"to": [{"podSelector": {"matchLabels": selector(service.name)}}], "ports": _tcp(PORT)}]
    return policy_document(ctx, f"{service.name}-smoke", [], egress, "smoke")


def ingress(ctx: KitContext, service: Service) -> dict[str, Any]:
    """Browsers reach a static front end (and the APIs it calls) through the ingress controller. The host is
    a placeholder each overlay patches to its real name (see the kit README)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": service.name, "labels": labels(ctx, service.name)},
        "spec": {
            "ingressClassName": INGRESS_CLASS,
            "rules": [
                {
                    "host": f"{service.name}.{ctx.name}.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": service.name, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def strategy(ctx: KitContext, service: Service, deploy: Deploy, env: Environment) -> dict[str, Any]:
    """The Rollout's ``spec.strategy`` for one environment."""
    name = service.name
    if is_static(service):
        # static files: no .NET metrics to analyse, and the old and new files are interchangeable per request
        return {"canary": {"maxSurge": "25%", "maxUnavailable": 0}}
    analysis_args = [
        {"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        # the Rollout's own namespace (utils/analysis/factory.go: metadata.* field paths of the Rollout)
        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    template = [{"templateName": f"{name}-analysis"}]
    if judge.enabled(ctx):  # the critterops judge decides instead of the thresholds (generate/judge.py)
        analysis_args = judge.analysis_args()
        template = [{"templateName": judge.template_name(service)}]
    if deploy.strategy == "blue-green" and deploy.consumers is not None:
        return {"blueGreen": consumer_blue_green_strategy(service, deploy, env)}
    if deploy.strategy == "blue-green":
        blue: dict[str, Any] = {
            "activeService": name,
            "previewService": f"{name}-preview",
            "autoPromotionEnabled": not deploy.approval,
            "scaleDownDelaySeconds": int(env.scale_down_delay_seconds()),
            # nobody uses the preview yet: the smoke job sends it requests for as long as the analysis
            # measures, so the pre-promotion analysis judges the new version on traffic it really served
            "prePromotionAnalysis": {
                "templates": [{"templateName": f"{name}-smoke"}, *template],
                "args": [*analysis_args, {"name": "duration", "value": str(smoke_seconds(env))}],
            },
            "postPromotionAnalysis": {"templates": template, "args": analysis_args},
        }
        return {"blueGreen": blue}
    if deploy.strategy == "canary":
        steps: list[dict[str, Any]] = []
        for i, weight in enumerate(deploy.steps):
            if weight >= 100:
                break
            steps.append({"setWeight": weight})
            steps.append({"pause": {"duration": deploy.pause}})
            steps.append({"analysis": {"templates": template, "args": analysis_args}})
            if deploy.approval and i == len(deploy.steps) - 2:
                steps.append({"pause": {}})
        canary: dict[str, Any] = {}
        if _serves_http(service):
            # a worker has no Service: naming one makes the Rollout InvalidSpec (proven in the lab). Without traffic
            # routing Argo scales the ReplicaSets to the weight (critterops.plan.consumers.replica_split), which is a
            # consumer's share of messages; scaleDownDelaySeconds is ignored by such a canary (argo-rollouts v1.9.1
            # pkg/apis/rollouts/v1alpha1/types.go:311-317), so a consumer's drain is its grace period alone
            canary = {"stableService": f"{name}-stable", "canaryService": f"{name}-canary"}
        return {"canary": {**canary, "maxSurge": "25%", "maxUnavailable": 0, "steps": steps}}
    # rolling: a canary without steps (Argo Rollouts' own definition of a rolling update)
    return {"canary": {"maxSurge": "25%", "maxUnavailable": 0}}


def consumer_blue_green_strategy(service: Service, deploy: Deploy, env: Environment) -> dict[str, Any]:
    """Blue/green of a consumer whose preview holds its listeners (critterops.plan.consumers).

    Argo labels the preview's pods with ``previewMetadata`` from their creation (rollout/sync.go:169-187 at
    v1.9.1) and the active ones with ``activeMetadata``; pods follow their ReplicaSet's metadata
    (rollout/ephemeralmetadata.go:72-110). The new pods turn ``active`` only when the Rollout is fully promoted,
    i.e. when ``status.stableRS`` becomes their hash (ephemeralmetadata.go:41-52; promoteStable, sync.go:1034).
    With a ``postPromotionAnalysis`` that happens only after the analysis succeeds (shouldFullPromote,
    sync.go:991-1000): the new version would still hold its listeners while it is judged, so a handler analysis
    there has no data and ends Inconclusive. So the kit writes none: the pre-promotion analysis proves the preview
    consumed nothing, and after promotion the old version keeps consuming for ``scaleDownDelaySeconds``
    (types.go:196-202, at least ROLE_REFRESH_S: the kubelet's refresh of the role file) while the new one starts.
    A rollback within that delay is immediate (sync.go:994, HasScaleDownDeadline).
    """
    name = service.name
    args = [
        {"name": "hash", "valueFrom": {"podTemplateHashValue": "Latest"}},
        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    # activeService/previewService must exist or the Rollout is InvalidSpec: headless Services without ports
    # (_services), which Argo's selector switch needs and nobody calls
    return {
        "activeService": name,
        "previewService": f"{name}-preview",
        "autoPromotionEnabled": not deploy.approval,
        "scaleDownDelaySeconds": max(int(env.scale_down_delay_seconds()), ROLE_REFRESH_S),
        "previewMetadata": {"labels": {contract.ROLE_LABEL: contract.PREVIEW}},
        "activeMetadata": {"labels": {contract.ROLE_LABEL: contract.ACTIVE}},
        "prePromotionAnalysis": {"templates": [{"templateName": preview_idle_name(service)}], "args": args},
    }


def preview_idle_name(service: Service) -> str:
    return f"{service.name}-preview-idle"


def preview_idle_template(ctx: KitContext, service: Service, env: Environment) -> dict[str, Any]:
    """The pre-promotion analysis of a consumer blue/green: the preview consumed nothing.

    It sums, over the preview's pods, the largest value each of Wolverine's received, succeeded and failed
    counters reached during the analysis (the counters are cumulative from the process' start, so any message
    ever taken shows). Here, and only here, an absent counter counts as zero: a held listener records nothing,
    and an OpenTelemetry counter that was never incremented exports no series, so absence is exactly what
    "consumed nothing" looks like. To keep broken telemetry from passing as idleness, the sum is returned only
    while the preview's pods report some series at all (``count(...) > 0``); without any, the measurement is
    empty, which is Inconclusive, and the Rollout pauses for a person. One message consumed fails the run
    (``failureLimit: 0``) and Argo aborts the update.
    """
    a = env.analysis
    version = (
        f'\n    job="{service.name}",\n    environment="{env.name}",\n'
        '    k8s_namespace_name="{{args.namespace}}",\n    service_version="{{args.hash}}"\n  '
    )
    span = f"{int(a.initial_delay_seconds() + a.interval_seconds() * a.count + 60)}s"
    counters = [catalog.WOLVERINE_RECEIVED, ctx.policy.metrics.handler_succeeded, ctx.policy.metrics.handler_failed]
    consumed = "\n  + ".join(f"(sum(max_over_time({c}{{{version}}}[{span}])) or on() vector(0))" for c in counters)
    query = f"(\n  {consumed}\n)\nand on() (\n  count({{{version}}}) > 0\n)"
    value = "len(result) > 0 && !isNaN(result[0])"
    metric = {
        "name": "preview-consumed-nothing",
        "interval": a.interval,
        "count": a.count,
        "initialDelay": a.initial_delay,
        "failureLimit": 0,
        "consecutiveErrorLimit": 4,
        "successCondition": f"{value} && result[0] == 0",
        "failureCondition": f"{value} && result[0] > 0",
        "inconclusiveLimit": a.count,
        "consecutiveSuccessLimit": min(3, a.count),
        "provider": {"prometheus": {"address": PROMETHEUS, "timeout": 30, "query": query}},
    }
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": preview_idle_name(service), "labels": labels(ctx, service.name)},
        "spec": {"args": [{"name": "hash"}, {"name": "namespace"}], "metrics": [metric]},
    }


def _workload(ctx: KitContext, service: Service, env: Environment) -> dict[str, Any]:
    deploy = ctx.deploy(service, env)
    meta: dict[str, Any] = {"name": service.name, "labels": {**labels(ctx, service.name), STAGE_LABEL: "rollout"}}
    reasons = [WAIVER_DIGEST] if _serves_http(service) else [WAIVER_DIGEST, WAIVER_LIVENESS, WAIVER_READINESS]
    if _secret_keys(service, env.name):
        reasons.append(WAIVER_SECRET_ENV)
    meta["annotations"] = waivers(*reasons)
    meta["annotations"][SYNC_WAVE] = _WAVES["rollout"]
    spec: dict[str, Any] = {
        "replicas": deploy.replicas,
        "revisionHistoryLimit": 5,
        "selector": {"matchLabels": selector(service.name)},
        "template": _pod(ctx, service, env.name),
    }
    if ctx.argo:
        spec["strategy"] = strategy(ctx, service, deploy, env)
        spec["progressDeadlineSeconds"] = 600
        return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": meta, "spec": spec}
    spec["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def _services(ctx: KitContext, service: Service) -> list[dict[str, Any]]:
    if not _serves_http(service) and consumer_blue_green(ctx, service):
        # Argo's blue/green needs an active and a preview Service to switch (InvalidSpec without them); a consumer
        # serves nothing, so they are headless and without ports: no address, no traffic, only a selector
        return [
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": n,
                    "labels": labels(ctx, service.name),
                    "annotations": {"critterops.dev/purpose": "the Service Argo Rollouts' blue/green switches"},
                },
                "spec": {"clusterIP": "None", "selector": selector(service.name)},
            }
            for n in (service.name, f"{service.name}-preview")
        ]
    if not _serves_http(service):
        return []
    names = [service.name]
    if ctx.argo and not is_static(service):
        strategies = {ctx.deploy(service, env).strategy for env in ctx.environments}
        if "blue-green" in strategies:
            names.append(f"{service.name}-preview")
        if "canary" in strategies:
            # Argo's basic canary (no trafficRouting) pins stableService and canaryService to one version
            # each (it rewrites their selectors); callers keep the main Service, whose selector spans both
            # versions, so the canary's share of their requests follows its share of the pods.
            names += [f"{service.name}-stable", f"{service.name}-canary"]
    return [
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": n, "labels": labels(ctx, service.name)},
            "spec": {
                "type": "ClusterIP",
                "selector": selector(service.name),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        }
        for n in names
    ]


def _config(ctx: KitContext, service: Service, env: str) -> dict[str, Any]:
    data = {
        "ASPNETCORE_ENVIRONMENT": env_name(env),
        "DOTNET_ENVIRONMENT": env_name(env),
        "OTEL_SERVICE_NAME": service.name,
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTEL_ENDPOINT,
    }
    if _serves_http(service):
        data["ASPNETCORE_HTTP_PORTS"] = str(PORT)
    if "rabbitmq" in service.uses and env == "dev" and not service.settings:
        # staging/production reach a managed broker: its host name comes with the credentials (Secret)
        data["RabbitMQ__hostname"] = "rabbitmq"
    data.update(settings_config(ctx, service, env))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{service.name}-config", "labels": labels(ctx, service.name)},
        "data": data,
    }


INGRESS_NAMESPACE = "ingress-nginx"  # where the ingress controller runs (its namespace's metadata.name label)
INGRESS_CLASS = "nginx"
_FROM_INGRESS: dict[str, Any] = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": INGRESS_NAMESPACE}}
}


def is_static(service: Service) -> bool:
    """A browser front end shipped as static files (Blazor WebAssembly): served by nginx, no .NET at run time."""
    return (service.sdk or "").lower().endswith("blazorwebassembly")


def browser_called(ctx: KitContext, service: Service) -> bool:
    """An API that a static front end calls: the browser calls it, through the ingress controller."""
    return any(
        is_static(other) and any(call.target == service.name for call in other.http_calls)
        for other in ctx.system.services
    )


def _callers(ctx: KitContext, service: Service) -> list[str]:
    out = set()
    for other in ctx.system.services:
        if other.name == service.name or is_static(other):
            continue  # a static front end's calls come from browsers, through the ingress controller
        if any(call.target == service.name for call in other.http_calls):
            out.add(other.name)
        if service.aspire_name and service.aspire_name in other.aspire_references:
            out.add(other.name)
        if service.name in other.aspire_references:
            out.add(other.name)
    return sorted(out)


def _public(ctx: KitContext, service: Service) -> bool:
    facing = ctx.policy.service(service.name).customer_facing
    return facing if facing is not None else service.kind == "web"


def network_policy(ctx: KitContext, service: Service) -> dict[str, Any]:
    ingress: list[dict[str, Any]] = []
    if _serves_http(service):
        sources: list[dict[str, Any]] = [{"podSelector": {"matchLabels": selector(c)}} for c in _callers(ctx, service)]
        if uses_blue_green(ctx, service):
            sources.append({"podSelector": {"matchLabels": selector(f"{service.name}-smoke")}})
        if _public(ctx, service) or is_static(service) or browser_called(ctx, service):
            sources.append(_FROM_INGRESS)
        if sources:
            ingress.append({"from": sources, "ports": [{"protocol": "TCP", "port": PORT}]})
    egress: list[dict[str, Any]] = []
    if not is_static(service):
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "otel-collector"}}}],
                "ports": [{"protocol": "TCP", "port": 4317}, {"protocol": "TCP", "port": 4318}],
            }
        )
    for kind, port in (("postgres", 5432), ("rabbitmq", 5672)):
        if kind in service.uses:
            egress.append(
                {
                    "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": kind}}}],
                    "ports": [{"protocol": "TCP", "port": port}],
                }
            )
    targets = sorted({c.target for c in service.http_calls if c.target and c.target != service.name})
    if targets and not is_static(service):
        egress.append(
            {
                "to": [{"podSelector": {"matchLabels": selector(t)}} for t in targets],
                "ports": [{"protocol": "TCP", "port": PORT}],
            }
        )
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": service.name, "labels": labels(ctx, service.name)},
        "spec": {
            "podSelector": {"matchLabels": selector(service.name)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def _handles_messages(service: Service) -> bool:
    wolverine = service.wolverine
    return wolverine is not None and bool(service.listens or wolverine.handled_messages or wolverine.local_queues)


def analysis_template(ctx: KitContext, service: Service, deploy: Deploy, env: Environment) -> dict[str, Any]:
    """Prometheus checks of the new version only (``service_version`` = its pod-template hash).

    No data is never a pass. Each query yields nothing until the new version has ``MIN_REQUESTS``
    requests (or ``MIN_MESSAGES`` handled messages) in the window; a measurement without a value
    satisfies neither condition, which Argo Rollouts records as Inconclusive (analysis/analysis.go
    at v1.9.1). Inconclusive measurements are tolerated while data arrives (``inconclusiveLimit`` =
    ``count``), but the run only succeeds after ``consecutiveSuccessLimit`` successes in a row; a
    run that reaches ``count`` without them ends Inconclusive, which pauses the Rollout for a person
    (assessMetricStatus, analysis.go:606-633). A value over the limit fails as before.
    """
    m = ctx.policy.metrics
    t = deploy.thresholds
    a = env.analysis
    # the overlay's environment too: staging and production can share a pod-template hash
    version = (
        f'\n    job="{service.name}",\n    environment="{env.name}",\n'
        '    k8s_namespace_name="{{args.namespace}}",\n    service_version="{{args.hash}}"\n  '
    )

    def metric(name: str, query: str, limit: float, wait: bool = False) -> dict[str, Any]:
        value = "len(result) > 0 && !isNaN(result[0])"
        spec: dict[str, Any] = {
            "name": name,
            "interval": a.interval,
            "count": a.count,
            "initialDelay": a.initial_delay,
            "failureLimit": a.failure_limit,
            "consecutiveErrorLimit": 4,
            "successCondition": f"{value} && result[0] <= {limit:g}",
            "failureCondition": f"{value} && result[0] > {limit:g}",
            "inconclusiveLimit": a.count,
            "consecutiveSuccessLimit": min(3, a.count),
        }
        if wait:
            # a catch-up gate waits: over the limit is Inconclusive, not Failed (EvaluateResult in
            # utils/evaluate/evaluate.go, v1.9.1: neither condition true); it passes as soon as the lag is
            # under the limit, and a run that never gets there ends Inconclusive, which pauses the Rollout
            spec["failureCondition"] = "false"
            spec["consecutiveSuccessLimit"] = 1
        spec["provider"] = {"prometheus": {"address": PROMETHEUS, "timeout": 30, "query": query}}
        return spec

    requests = f"sum(increase({m.http_requests}{{{version}}}[2m])) >= {MIN_REQUESTS}"
    failed = f"(sum(rate({m.handler_failed}{{{version}}}[2m])) or on() vector(0))"
    succeeded = f"(sum(rate({m.handler_succeeded}{{{version}}}[2m])) or on() vector(0))"
    handled = (
        f"(sum(increase({m.handler_succeeded}{{{version}}}[2m])) or on() vector(0))\n"
        f"  + (sum(increase({m.handler_failed}{{{version}}}[2m])) or on() vector(0))\n  >= {MIN_MESSAGES}"
    )
    metrics: list[dict[str, Any]] = []
    if _serves_http(service):
        metrics.append(
            metric(
                "http-error-rate",
                f"(\n  (sum(rate({m.http_requests}{{{version.rstrip()},\n"
                f'    http_response_status_code=~"5.."\n  }}[2m]))'
                f" or on() vector(0))\n  /\n  sum(rate({m.http_requests}{{{version}}}[2m]))\n)\n"
                f"and on() (\n  {requests}\n)",
                t.http_error_rate,
            )
        )
        metrics.append(
            metric(
                "http-latency-p95-ms",
                "(\n  1000 * histogram_quantile(\n    0.95,\n"
                f"    sum by (le) (rate({m.http_duration_bucket}{{{version}}}[2m]))\n  )\n)\n"
                f"and on() (\n  {requests}\n)",
                t.http_latency_p95_ms,
            )
        )
    if _handles_messages(service):
        metrics.append(
            metric(
                "handler-failure-rate",
                f"(\n  {failed}\n  / ({succeeded} + {failed})\n)\nand on() (\n  {handled}\n)",
                t.handler_failure_rate,
            )
        )
        metrics.append(
            metric(
                "dead-letters",
                f"(sum(increase({m.dead_letters}{{{version}}}[{a.interval}])) or on() vector(0))\n"
                f"and on() (\n  {handled}\n)",
                t.dead_letters,
            )
        )
    if contract.traffic(service) == "messages":
        # a consumer has no HTTP to judge: its handling time too (Wolverine's wolverine-execution-time)
        bucket = getattr(m, "handler_duration_bucket", catalog.WOLVERINE_EXECUTION_TIME + "_bucket")
        limit = t.handler_latency_p95_ms
        metrics.append(
            metric(
                "handler-latency-p95-ms",
                "(\n  histogram_quantile(\n    0.95,\n"
                f"    sum by (le) (rate({bucket}{{{version}}}[2m]))\n  )\n)\n"
                f"and on() (\n  {handled}\n)",
                limit,
            )
        )
    if service.marten and any(p.lifecycle == "Async" for p in service.marten.projections):
        metrics.append(
            metric(
                "projection-lag",
                f'max({m.projection_lag}{{service="{service.name}",environment="{env.name}"}})',
                t.projection_lag_events,
                wait=True,
            )
        )
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": f"{service.name}-analysis", "labels": labels(ctx, service.name)},
        "spec": {"args": [{"name": "hash"}, {"name": "namespace"}], "metrics": metrics},
    }


def service_documents(ctx: KitContext, service: Service, env: Environment) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service.name, "labels": labels(ctx, service.name)},
            "automountServiceAccountToken": False,
        },
        _config(ctx, service, env.name),
        *_services(ctx, service),
        _workload(ctx, service, env),
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": service.name, "labels": labels(ctx, service.name)},
            "spec": {
                "maxUnavailable": 1,
                "unhealthyPodEvictionPolicy": "AlwaysAllow",
                "selector": {"matchLabels": selector(service.name)},
            },
        },
        network_policy(ctx, service),
    ]
    if is_static(service):
        docs = [d for d in docs if d["kind"] != "ConfigMap"]
    if is_static(service) or browser_called(ctx, service):
        docs.append(ingress(ctx, service))
    if ctx.argo and not is_static(service):
        docs.append(analysis_template(ctx, service, ctx.deploy(service, env), env))
        if judge.enabled(ctx):
            gates = [m for m in docs[-1]["spec"]["metrics"] if m["name"] == "projection-lag"]
            docs.append(judge.analysis_template(ctx, service, env, labels(ctx, service.name), gates))
    if uses_blue_green(ctx, service):
        docs += [smoke_template(ctx, service), smoke_policy(ctx, service)]
    if consumer_blue_green(ctx, service):
        docs.append(preview_idle_template(ctx, service, env))
    return docs


MONITORING_NAMESPACE = "monitoring"  # where PROMETHEUS lives
_FROM_MONITORING: dict[str, Any] = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORING_NAMESPACE}}
}
EXPORTER_NAME = "critterops-exporter"
COLLECTOR_NAME = "otel-collector"


def policy_document(
    ctx: KitContext,
    name: str,
    ingress: list[dict[str, Any]],
    egress: list[dict[str, Any]],
    component: str = "network",
) -> dict[str, Any]:
    """A NetworkPolicy for the pods named ``name`` (``app.kubernetes.io/name``), both directions governed."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "labels": labels(ctx, name, component)},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def _observability_policies(ctx: KitContext) -> list[dict[str, Any]]:
    """The namespace's default deny covers the collector and the critterops exporter too: what they need.

    The collector takes OTLP from every pod of the system and is scraped by Prometheus (namespace
    ``monitoring``, where the analyses' address points); it exports traces on OTLP/gRPC to a backend
    outside the namespace. The exporter is scraped by Prometheus and reads PostgreSQL and RabbitMQ's
    management API (overlays with managed services add their addresses, as for the services)."""
    app = {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": ctx.name}}}
    collector = policy_document(
        ctx,
        COLLECTOR_NAME,
        [
            {"from": [app], "ports": _tcp(4317, 4318)},
            {"from": [_FROM_MONITORING], "ports": _tcp(COLLECTOR_PROMETHEUS_PORT)},
        ],
        [{"ports": _tcp(4317)}],
    )
    egress = []
    for kind, ports in (("postgres", (5432,)), ("rabbitmq", (15672, 15692))):
        if any(kind in s.uses for s in ctx.system.services):
            egress.append(
                {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": kind}}}], "ports": _tcp(*ports)}
            )
    exporter = policy_document(ctx, EXPORTER_NAME, [{"from": [_FROM_MONITORING], "ports": _tcp(EXPORTER_PORT)}], egress)
    if judge.enabled(ctx):
        ingress, to_prometheus = judge.network_policy_rules(PROMETHEUS_PORT)
        return [collector, exporter, policy_document(ctx, judge.JUDGE_NAME, ingress, to_prometheus)]
    return [collector, exporter]


def _namespace_policies(ctx: KitContext) -> list[dict[str, Any]]:
    common = labels(ctx, "default-deny", "network")
    return [
        *_observability_policies(ctx),
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny", "labels": common},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": "allow-dns", "labels": labels(ctx, "allow-dns", "network")},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        },
    ]


# -- kustomize ------------------------------------------------------------------------------------


def _kustomization(resources: list[str], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}
    doc.update(extra)
    doc["resources"] = resources
    return doc


def _managed_rules(policy: dict[str, Any]) -> list[int]:
    """Indices of a policy's egress rules to PostgreSQL and RabbitMQ (the in-cluster dev servers)."""
    return [
        i
        for i, rule in enumerate(policy["spec"]["egress"])
        if rule.get("to", [{}])[0].get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/name")
        in ("postgres", "rabbitmq")
    ]


def _managed_egress(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The patch (none or one) that lets a policy's egress to PostgreSQL and RabbitMQ reach managed services."""
    managed = _managed_rules(policy)
    if not managed:
        return []
    ops = [
        {"op": "add", "path": f"/spec/egress/{i}/to/-", "value": {"ipBlock": {"cidr": MANAGED_CIDR}}} for i in managed
    ]
    target = {
        "group": "networking.k8s.io",
        "version": "v1",
        "kind": "NetworkPolicy",
        "name": policy["metadata"]["name"],
    }
    return [{"target": target, "patch": yamlio.dump(ops)}]


def _overlay_patches(ctx: KitContext, env: Environment) -> list[dict[str, Any]]:
    """What differs from the base (which is production): strategy, replicas, resources, settings."""
    patches: list[dict[str, Any]] = []
    production = next((e for e in ctx.environments if e.name == "production"), ctx.environments[-1])
    for service in ctx.deployable():
        ops: list[dict[str, Any]] = []
        base_workload = _workload(ctx, service, production)
        workload = _workload(ctx, service, env)
        if workload["spec"]["replicas"] != base_workload["spec"]["replicas"]:
            ops.append({"op": "replace", "path": "/spec/replicas", "value": workload["spec"]["replicas"]})
        if workload["spec"].get("strategy") != base_workload["spec"].get("strategy"):
            ops.append({"op": "replace", "path": "/spec/strategy", "value": workload["spec"]["strategy"]})
        base_container = base_workload["spec"]["template"]["spec"]["containers"][0]
        container = workload["spec"]["template"]["spec"]["containers"][0]
        for key in ("resources", "readinessProbe", "livenessProbe", "startupProbe"):
            if container.get(key) != base_container.get(key):
                path = f"/spec/template/spec/containers/0/{key}"
                if key in container:
                    ops.append(
                        {"op": "replace" if key in base_container else "add", "path": path, "value": container[key]}
                    )
                else:
                    ops.append({"op": "remove", "path": path})
        kind = workload["kind"]
        api = workload["apiVersion"]
        group, _, version = api.rpartition("/")
        if ops:
            patches.append(
                {
                    "target": {"group": group, "version": version, "kind": kind, "name": service.name},
                    "patch": yamlio.dump(ops),
                }
            )
        config = _config(ctx, service, env.name)
        base_config = _config(ctx, service, production.name)
        changed = {k: v for k, v in config["data"].items() if base_config["data"].get(k) != v}
        if changed:
            ops = [
                {"op": "replace" if k in base_config["data"] else "add", "path": f"/data/{k}", "value": v}
                for k, v in changed.items()
            ]
            patches.append(
                {
                    "target": {"version": "v1", "kind": "ConfigMap", "name": f"{service.name}-config"},
                    "patch": yamlio.dump(ops),
                }
            )
        if ctx.argo:
            template = analysis_template(ctx, service, ctx.deploy(service, env), env)
            base_template = analysis_template(ctx, service, ctx.deploy(service, production), production)
            if template["spec"] != base_template["spec"]:
                patches.append(
                    {
                        "target": {
                            "group": "argoproj.io",
                            "version": "v1alpha1",
                            "kind": "AnalysisTemplate",
                            "name": f"{service.name}-analysis",
                        },
                        "patch": yamlio.dump(
                            [{"op": "replace", "path": "/spec/metrics", "value": template["spec"]["metrics"]}]
                        ),
                    }
                )
        if consumer_blue_green(ctx, service):
            idle, base_idle = preview_idle_template(ctx, service, env), preview_idle_template(ctx, service, production)
            if idle["spec"] != base_idle["spec"]:
                target = {"group": "argoproj.io", "version": "v1alpha1", "kind": "AnalysisTemplate"}
                patches.append(
                    {
                        "target": {**target, "name": preview_idle_name(service)},
                        "patch": yamlio.dump(
                            [{"op": "replace", "path": "/spec/metrics", "value": idle["spec"]["metrics"]}]
                        ),
                    }
                )
        if env.name != "dev":
            patches += _managed_egress(network_policy(ctx, service))
    if env.name != "dev":
        exporter = next(p for p in _observability_policies(ctx) if p["metadata"]["name"] == EXPORTER_NAME)
        patches += _managed_egress(exporter)
    return patches


POD_SECURITY_VERSION = "v1.30"  # the Pod Security Standards release the manifests are checked against


def namespace(ctx: KitContext, env: Environment) -> dict[str, Any]:
    """The overlay's namespace, created by the overlay itself, enforcing the restricted Pod Security
    Standard every generated pod meets (proven by the lab's admission test)."""
    psa = {f"pod-security.kubernetes.io/{mode}": "restricted" for mode in ("enforce", "audit", "warn")} | {
        "pod-security.kubernetes.io/enforce-version": POD_SECURITY_VERSION
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": f"{ctx.name}-{env.name}",
            "labels": {"app.kubernetes.io/part-of": ctx.name, "critterops.dev/environment": env.name, **psa},
        },
    }


def kubernetes_files(ctx: KitContext) -> dict[str, str]:
    """``kubernetes/base`` (the production shape) and one overlay per policy environment."""
    files: dict[str, str] = {}
    production = next((e for e in ctx.environments if e.name == "production"), ctx.environments[-1])
    base_resources = ["network-policies.yaml", "critterops-exporter.yaml"]
    files["kubernetes/base/network-policies.yaml"] = yamlio.dump_all(_namespace_policies(ctx))
    files["kubernetes/base/critterops-exporter.yaml"] = yamlio.dump_all(
        exporter.documents(
            ctx,
            waivers(WAIVER_DIGEST, WAIVER_SECRET_ENV),
            labels(ctx, exporter.EXPORTER_NAME, "monitoring"),
            pod_security(),
            container_security(),
            exporter.config_text(ctx),
        )
    )
    if judge.enabled(ctx):
        base_resources.append("critterops-judge.yaml")
        files["kubernetes/base/critterops-judge.yaml"] = yamlio.dump_all(
            judge.documents(
                ctx,
                waivers(WAIVER_DIGEST, judge.WAIVER_TOKEN),
                labels(ctx, judge.JUDGE_NAME, "monitoring"),
                pod_security(),
                container_security(),
                PROMETHEUS,
            )
        )
    for service in ctx.deployable():
        rel = f"services/{service.name}.yaml"
        files[f"kubernetes/base/{rel}"] = yamlio.dump_all(service_documents(ctx, service, production))
        base_resources.append(rel)
    files["kubernetes/base/kustomization.yaml"] = yamlio.dump_file(
        _kustomization(base_resources, labels=[{"pairs": {"app.kubernetes.io/part-of": ctx.name}}])
    )
    for env in ctx.environments:
        resources = ["namespace.yaml", "../../base"]
        files[f"kubernetes/overlays/{env.name}/namespace.yaml"] = yamlio.dump_file(namespace(ctx, env))
        if env.name == "dev":
            from critterops.generate.infra import dev_infrastructure  # infra builds on this module's pod helpers

            infra = dev_infrastructure(ctx)
            if infra:
                files["kubernetes/overlays/dev/infrastructure.yaml"] = yamlio.dump_all(infra)
                resources.append("infrastructure.yaml")
        jobs = _jobs(ctx, env)
        if jobs:
            files[f"kubernetes/overlays/{env.name}/jobs.yaml"] = yamlio.dump_all(jobs)
            resources.append("jobs.yaml")
        overlay = _kustomization(
            resources,
            namespace=f"{ctx.name}-{env.name}",
            images=[{"name": name, "newTag": ctx.tag} for name in kit_images(ctx)],
        )
        patches = _overlay_patches(ctx, env)
        if patches:
            overlay["patches"] = patches
        files[f"kubernetes/overlays/{env.name}/kustomization.yaml"] = yamlio.dump_file(overlay)
    return files


STAGE_LABEL = "critterops.dev/stage"  # before-rollout | rollout | after-rollout: the deploy applies them in turn
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
_WAVES = {"before-rollout": "0", "rollout": "1", "after-rollout": "2"}


def planned_jobs(ctx: KitContext, service: Service, env: Environment) -> list[Job]:
    """The service's standing jobs (EF Core migrations the app does not apply itself) and, for the plan's
    environment, the plan's jobs (projection rebuilds of this change)."""
    jobs = service_jobs(service, env.name)
    if ctx.plan and ctx.plan.get("environment") == env.name:
        entry = next((e for e in ctx.plan.get("services", []) if e.get("service") == service.name), None)
        kinds = {j.kind for j in jobs}
        for raw in (entry or {}).get("jobs", []):
            if isinstance(raw, dict) and raw.get("kind") not in kinds:
                fields = {k: v for k, v in raw.items() if k in Job.__dataclass_fields__}
                fields["command"] = tuple(fields.get("command", ()))
                jobs.append(Job(**fields))
    return jobs


def kit_images(ctx: KitContext) -> list[str]:
    """Every image the overlays pull (without tag): one per service, and the migrations images."""
    return [f"{ctx.registry}/{name}" for name in image_names(ctx)]


def _jobs(ctx: KitContext, env: Environment) -> list[dict[str, Any]]:
    """Jobs of this environment: migrations before the Rollouts, projection rebuilds after them (see
    critterops.plan.jobs for the commands and the order)."""
    docs: list[dict[str, Any]] = []
    for service in ctx.deployable():
        jobs = [j for j in planned_jobs(ctx, service, env) if j.command]
        for job in jobs:
            pod = _pod(ctx, service, env.name)
            container = pod["spec"]["containers"][0]
            for key in ("readinessProbe", "livenessProbe", "startupProbe", "ports"):
                container.pop(key, None)
            container["name"] = "job"
            if job.image == "migrations":
                container["image"] = f"{migrations_image(ctx, service)}:{ctx.tag}"
                container["command"] = list(job.command)
            else:
                container["args"] = list(job.command)  # after the image's ENTRYPOINT (dotnet <Service>.dll)
            container["env"] = [
                {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": f"service.version=job,critterops.job={job.kind}"}
            ]
            pod["spec"]["restartPolicy"] = "Never"
            del pod["spec"]["topologySpreadConstraints"]
            # its own name label, so the service's Services never route traffic to a job pod
            job_labels = {**labels(ctx, f"{service.name}-job", "job"), "app.kubernetes.io/instance": service.name}
            pod["metadata"]["labels"] = job_labels
            docs.append(
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "metadata": {
                        "name": job_name(service, job),
                        "labels": {**job_labels, STAGE_LABEL: job.when},
                        "annotations": {
                            **waivers(WAIVER_DIGEST, WAIVER_SECRET_ENV),
                            "critterops.dev/purpose": f"{job.kind} {job.target or ''}".strip(),
                            SYNC_WAVE: _WAVES[job.when],
                            # a Job's template is immutable: Argo CD replaces it on every sync
                            "argocd.argoproj.io/sync-options": "Force=true,Replace=true",
                        },
                    },
                    "spec": {
                        "backoffLimit": 1,
                        "activeDeadlineSeconds": job.timeout_s,
                        "ttlSecondsAfterFinished": 86400,
                        "template": pod,
                    },
                }
            )
        if jobs:
            policy = network_policy(ctx, service)
            policy["metadata"] = {"name": f"{service.name}-job", "labels": job_labels}
            policy["spec"]["podSelector"] = {"matchLabels": selector(f"{service.name}-job")}
            policy["spec"]["ingress"] = []
            if env.name != "dev":
                # jobs.yaml is the overlay's own: the managed database's address goes in directly (the services'
                # base policies get it from a patch, _managed_egress); proven by the lab's cyclonus verdicts
                for i in _managed_rules(policy):
                    policy["spec"]["egress"][i]["to"].append({"ipBlock": {"cidr": MANAGED_CIDR}})
            docs.append(policy)
    return docs


def job_warnings(ctx: KitContext) -> list[str]:
    """Jobs a deploy needs that the service's image cannot run, with the code change that fixes it."""
    found = {
        job.warning: None
        for env in ctx.environments
        for service in ctx.deployable()
        for job in planned_jobs(ctx, service, env)
        if job.warning
    }
    return list(found)


def migrations_image(ctx: KitContext, service: Service) -> str:
    return f"{ctx.image(service)}-migrations"


def unset_settings(ctx: KitContext, service: Service, env: str) -> list[str]:
    """Keys the code reads that nothing in the kit sets: no value the kit knows, not secret, no default in
    appsettings.json. The user sets them (a ConfigMap patch in their own overlay)."""
    if is_static(service):
        return []
    data = _config(ctx, service, env)["data"]
    secret = set(_secret_keys(service, env))
    return [
        st.key
        for st in service.settings
        if st.env_var not in data and st.env_var not in secret and st.default is None and not st.file
    ]


def workload_warnings(ctx: KitContext) -> list[str]:
    """Probe problems and configuration keys left to the user, once per service and message, naming the
    environments they apply to."""
    seen: dict[str, list[str]] = {}
    for service in ctx.deployable():
        for env in ctx.environments:
            warning = probes(service, env.name).warning
            if warning:
                seen.setdefault(warning, []).append(env.name)
            unset = unset_settings(ctx, service, env.name)
            if unset:
                keys = ", ".join(k.replace(":", "__") for k in unset)
                message = (
                    f"{service.name}: its code reads {keys} and nothing sets them (no appsettings.json default): "
                    f"add them to {service.name}-config in your overlay"
                )
                seen.setdefault(message, []).append(env.name)
    return [f"[{', '.join(envs)}] {warning}" for warning, envs in seen.items()]


def deployment_equivalent(rollout: dict[str, Any]) -> dict[str, Any]:
    """An apps/v1 Deployment with the Rollout's pod template, for scanners that skip Rollouts."""
    spec = {k: v for k, v in rollout["spec"].items() if k not in ("strategy", "progressDeadlineSeconds")}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": rollout["metadata"], "spec": spec}
