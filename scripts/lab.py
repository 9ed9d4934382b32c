#!/usr/bin/env python3
"""The lab: the real engines the kit targets, on loopback, to prove what generated files do in a cluster.

    python scripts/lab.py build      # build what is missing from the Go modules (cold: tens of minutes)
    python scripts/lab.py start      # start everything (idempotent); prints the environment to use
    python scripts/lab.py stop       # stop everything by PID and check nothing is left
    python scripts/lab.py status     # one line per component
    python scripts/lab.py env        # shell exports: KUBECONFIG, CRITTEROPS_LAB_PROMETHEUS, ...

What runs (all bound to 127.0.0.1, state in ``$CRITTEROPS_LAB_DIR``, default ``/tmp/critterops-lab``):

- etcd (Debian ``etcd-server``) and kube-apiserver, kube-controller-manager, kube-scheduler v1.30 built
  from ``k8s.io/kubernetes``; certificates made per start with openssl, ``kubeconfig`` in the state
  folder. PodSecurity admission is on (the 1.30 default) and enforces what namespaces label.
- KWOK: fake nodes in three zones and the pod lifecycle (pods are scheduled, get an IP and turn Ready;
  no container runs, no traffic is ever sent to a pod address).
- The Argo Rollouts controller and its CRDs (same module version).
- The OpenTelemetry Collector (OTLP in on 24317/24318, the Prometheus exporter on 28889) and
  Prometheus (Debian) on 29090, scraping the collector every 2 s; tests rewrite its configuration
  and reload it (``--web.enable-lifecycle``).

Ports move with ``CRITTEROPS_LAB_PORT_BASE`` (default 20000: etcd 23790, apiserver 26443, ...; keep every
port below Linux's ephemeral range, 32768 and up, where client connections take local ports).
Exit codes: 0 done, 2 the lab could not be built, started or stopped (the message says why, and a
failed start stops what it had started).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import labbuild
from servers import pid_alive, port_open  # one process and port probe for both scripts

HOST = "127.0.0.1"
STATE = Path(os.environ.get("CRITTEROPS_LAB_DIR", "/tmp/critterops-lab"))
BASE = int(os.environ.get("CRITTEROPS_LAB_PORT_BASE", "20000"))
PORTS = {
    "etcd": BASE + 3790,
    "etcd-peer": BASE + 3800,
    "apiserver": BASE + 6443,
    "controller-manager": BASE + 6257,
    "scheduler": BASE + 6259,
    "kwok": BASE + 6280,
    "argo-metrics": BASE + 6290,
    "argo-healthz": BASE + 6291,
    "otlp-grpc": BASE + 4317,
    "otlp-http": BASE + 4318,
    "otel-prometheus": BASE + 8889,
    "otel-health": BASE + 3133,
    "otel-telemetry": BASE + 8888,
    "prometheus": BASE + 9090,
}
ZONES = ("zone-a", "zone-b", "zone-c")
NODES_PER_ZONE = 2
SERVICE_CIDR = "10.96.0.0/16"  # allocated by the apiserver as numbers only: nothing listens there
ARGO_NAMESPACE = "argo-rollouts"


class LabError(Exception):
    pass


# --- processes -----------------------------------------------------------------------------------------------------


def _pidfile(name: str) -> Path:
    return STATE / "pids" / f"{name}.pid"


def pid_of(name: str) -> int | None:
    """The PID of a component we started, if that process still runs the same binary."""
    try:
        pid, exe = _pidfile(name).read_text().split(maxsplit=1)
    except (OSError, ValueError):
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return None
    return int(pid) if cmdline == exe.strip() and pid_alive(int(pid)) else None


def _spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> int:
    (STATE / "logs").mkdir(parents=True, exist_ok=True)
    (STATE / "pids").mkdir(parents=True, exist_ok=True)
    log = open(STATE / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        argv,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, **(env or {})},
        cwd=STATE,
    )
    log.close()
    _pidfile(name).write_text(f"{proc.pid} {argv[0]}\n")
    deadline = time.monotonic() + 5  # until exec: before it, /proc/PID/cmdline is still ours
    while time.monotonic() < deadline and proc.poll() is None and pid_of(name) is None:
        time.sleep(0.01)
    return proc.pid


def _port_taken(port: int) -> bool:
    """Whether a server could not bind the port: a listener, or any socket bound to it (a client's local
    port in the ephemeral range counts). SO_REUSEADDR as Go's and Erlang's listeners set it, so
    connections in TIME_WAIT do not count."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return True
    return False


def _log_tail(name: str, lines: int = 15) -> str:
    try:
        text = (STATE / "logs" / f"{name}.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _wait(name: str, ready: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid_of(name) is None:
            raise LabError(
                f"{name} exited during start; last lines of {STATE / 'logs' / (name + '.log')}:\n{_log_tail(name)}"
            )
        try:
            if ready():
                return
        except (OSError, urllib.error.URLError, ssl.SSLError):
            pass
        time.sleep(0.2)
    raise LabError(
        f"{name} was not ready within {timeout:.0f} s; see {STATE / 'logs' / (name + '.log')}:\n{_log_tail(name)}"
    )


def _stop(name: str, grace: float = 15) -> None:
    pid = pid_of(name)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.1)
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
        if pid_alive(pid):
            raise LabError(f"{name} (PID {pid}) did not stop")
    _pidfile(name).unlink(missing_ok=True)


# --- certificates and kubeconfig -----------------------------------------------------------------------------------


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], cwd=STATE / "pki", capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"openssl {' '.join(args[:2])} failed: {done.stderr.strip()[-300:]}")


def make_pki() -> None:
    """A CA, the apiserver's serving certificate, an admin client (O=system:masters) and the SA key pair."""
    pki = STATE / "pki"
    pki.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "7",
        "-subj",
        "/CN=critterops-lab-ca",
    )
    sans = (
        "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
        "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
    )
    (pki / "server.ext").write_text(sans + "\nextendedKeyUsage=serverAuth\n")
    (pki / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name, subject, ext in (
        ("apiserver", "/CN=kube-apiserver", "server.ext"),
        ("admin", "/O=system:masters/CN=critterops-lab-admin", "client.ext"),
    ):
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.crt",
            "-days",
            "7",
            "-extfile",
            ext,
        )
    _openssl("genrsa", "-out", "sa.key", "2048")
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub")
    for key in pki.glob("*.key"):
        key.chmod(0o600)


def kubeconfig_path() -> Path:
    return STATE / "kubeconfig"


def write_kubeconfig() -> None:
    pki = STATE / "pki"
    kubeconfig_path().write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "lab",
                        "cluster": {
                            "server": f"https://{HOST}:{PORTS['apiserver']}",
                            "certificate-authority": str(pki / "ca.crt"),
                        },
                    }
                ],
                "users": [
                    {
                        "name": "admin",
                        "user": {"client-certificate": str(pki / "admin.crt"), "client-key": str(pki / "admin.key")},
                    }
                ],
                "contexts": [{"name": "lab", "context": {"cluster": "lab", "user": "admin"}}],
                "current-context": "lab",
            },
            indent=2,
        )
    )
    kubeconfig_path().chmod(0o600)


def _api_context() -> ssl.SSLContext:
    pki = STATE / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return context


def api(method: str, path: str, body: object | None = None, timeout: float = 10) -> tuple[int, dict[str, object]]:
    """One call to the lab's apiserver as the admin user; returns (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"https://{HOST}:{PORTS['apiserver']}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=_api_context()) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload)
        except ValueError:
            return error.code, {"message": payload.decode(errors="replace")}


def _api_ready() -> bool:
    request = urllib.request.Request(f"https://{HOST}:{PORTS['apiserver']}/readyz")
    with urllib.request.urlopen(request, timeout=2, context=_api_context()) as response:
        return response.status == 200


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200

    return check


# --- components ----------------------------------------------------------------------------------------------------


def _bin(component: str, binary: str) -> str:
    comp = labbuild.COMPONENTS[component]
    if not comp.built():
        raise LabError(
            f"{component} {comp.version} is not built: run `python scripts/lab.py build` first "
            f"(cache: {labbuild.CACHE})"
        )
    return str(comp.path(binary))


def _start_etcd() -> None:
    if not Path("/usr/bin/etcd").exists():
        raise LabError("etcd is not installed: apt-get install -y etcd-server (or run `python scripts/lab.py build`)")
    _spawn(
        "etcd",
        [
            "/usr/bin/etcd",
            "--name",
            "lab",
            "--data-dir",
            str(STATE / "etcd"),
            "--listen-client-urls",
            f"http://{HOST}:{PORTS['etcd']}",
            "--advertise-client-urls",
            f"http://{HOST}:{PORTS['etcd']}",
            "--listen-peer-urls",
            f"http://{HOST}:{PORTS['etcd-peer']}",
            "--initial-advertise-peer-urls",
            f"http://{HOST}:{PORTS['etcd-peer']}",
            "--initial-cluster",
            f"lab=http://{HOST}:{PORTS['etcd-peer']}",
            "--unsafe-no-fsync",
            "--quota-backend-bytes",
            str(2 * 1024**3),
        ],
        {"ETCD_UNSUPPORTED_ARCH": ""},
    )
    _wait("etcd", _http_ok(f"http://{HOST}:{PORTS['etcd']}/health"), 30)


def _start_apiserver() -> None:
    pki = STATE / "pki"
    _spawn(
        "kube-apiserver",
        [
            _bin("kubernetes", "kube-apiserver"),
            f"--etcd-servers=http://{HOST}:{PORTS['etcd']}",
            f"--bind-address={HOST}",
            f"--secure-port={PORTS['apiserver']}",
            f"--advertise-address={HOST}",
            # the "kubernetes" Endpoints would hold 127.0.0.1, which validation rejects; nothing in the lab needs it
            "--endpoint-reconciler-type=none",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--authorization-mode=RBAC",
            # PodSecurity is on by default since 1.25; named here so the lab never runs without it
            "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,"
            "DefaultStorageClass,ResourceQuota,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
            "--allow-privileged=false",
            "--profiling=false",
            "--v=1",
        ],
    )
    _wait("kube-apiserver", _api_ready, 60)


def _start_controller_manager() -> None:
    pki = STATE / "pki"
    kc = str(kubeconfig_path())
    _spawn(
        "kube-controller-manager",
        [
            _bin("kubernetes", "kube-controller-manager"),
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--bind-address={HOST}",
            f"--secure-port={PORTS['controller-manager']}",
            "--leader-elect=false",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--controllers=*,-nodeipam,-cloud-node-lifecycle",
            "--concurrent-deployment-syncs=10",
            "--concurrent-replicaset-syncs=10",
            "--v=1",
        ],
    )
    _wait("kube-controller-manager", lambda: port_open(PORTS["controller-manager"]), 30)


def _start_scheduler() -> None:
    kc = str(kubeconfig_path())
    _spawn(
        "kube-scheduler",
        [
            _bin("kubernetes", "kube-scheduler"),
            f"--kubeconfig={kc}",
            f"--authentication-kubeconfig={kc}",
            f"--authorization-kubeconfig={kc}",
            f"--bind-address={HOST}",
            f"--secure-port={PORTS['scheduler']}",
            "--leader-elect=false",
            "--v=1",
        ],
    )
    _wait("kube-scheduler", lambda: port_open(PORTS["scheduler"]), 30)


def node_object(name: str, zone: str, index: int) -> dict[str, object]:
    """A node that KWOK manages (by annotation), with room for the kit's requests."""
    capacity = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/role": "agent",
                "type": "kwok",
                "topology.kubernetes.io/zone": zone,
                "topology.kubernetes.io/region": "lab",
            },
        },
        "spec": {},
        "status": {
            "allocatable": capacity,
            "capacity": capacity,
            "addresses": [{"type": "InternalIP", "address": f"10.240.0.{index + 10}"}],
        },
    }


def _start_kwok() -> None:
    _spawn(
        "kwok",
        [
            _bin("kwok", "kwok"),
            f"--kubeconfig={kubeconfig_path()}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            "--cidr=10.244.0.1/16",
            "--node-ip=10.240.0.1",
            # without a lease the heartbeat comes every 10-20 minutes and the node controller taints the nodes
            "--node-lease-duration-seconds=40",
            f"--server-address={HOST}:{PORTS['kwok']}",
        ],
    )
    _wait("kwok", lambda: port_open(PORTS["kwok"]), 30)
    for index in range(NODES_PER_ZONE * len(ZONES)):
        zone = ZONES[index % len(ZONES)]
        name = f"kwok-{zone}-{index // len(ZONES)}"
        code, body = api("POST", "/api/v1/nodes", node_object(name, zone, index))
        if code not in (201, 409):
            raise LabError(f"creating node {name}: {code} {body.get('message')}")

    def nodes_ready() -> bool:
        _, body = api("GET", "/api/v1/nodes")
        items = body.get("items") or []
        ready = [
            n
            for n in items
            if isinstance(n, dict)
            and any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in n.get("status", {}).get("conditions", [])
            )
        ]
        return len(ready) >= NODES_PER_ZONE * len(ZONES)

    _wait("kwok", nodes_ready, 60)
    _storage()


STORAGE_CLASS = "lab-local"


def ensure_volumes(count: int) -> None:
    """At least ``count`` unbound PersistentVolumes of the lab's default StorageClass.

    No storage provisioner runs in the lab: StatefulSets' volume claims bind to these (hostPath under
    the state folder; no container ever mounts them, KWOK runs none)."""
    code, body = api("GET", "/api/v1/persistentvolumes")
    items = [v for v in body.get("items", []) if isinstance(v, dict)]
    for volume in items:  # claims deleted with their namespace leave Released volumes: clear them away
        if volume.get("status", {}).get("phase") == "Released":
            api("DELETE", f"/api/v1/persistentvolumes/{volume['metadata']['name']}")
    free = [v for v in items if v.get("status", {}).get("phase") == "Available"]
    for index in range(count - len(free)):
        name = f"lab-pv-{int(time.time() * 1000)}-{index}"
        code, made = api(
            "POST",
            "/api/v1/persistentvolumes",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name},
                "spec": {
                    "capacity": {"storage": "100Gi"},
                    "accessModes": ["ReadWriteOnce"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": STORAGE_CLASS,
                    "hostPath": {"path": str(STATE / "volumes" / name)},
                },
            },
        )
        if code != 201:
            raise LabError(f"creating volume {name}: {code} {made.get('message')}")


def _storage() -> None:
    code, body = api(
        "POST",
        "/apis/storage.k8s.io/v1/storageclasses",
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": "kubernetes.io/no-provisioner",
            "volumeBindingMode": "Immediate",
        },
    )
    if code not in (201, 409):
        raise LabError(f"creating the StorageClass: {code} {body.get('message')}")
    ensure_volumes(12)


def _apply(path: Path) -> None:
    done = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig_path()),
            "apply",
            "--server-side",
            "--force-conflicts",
            "-f",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise LabError(f"kubectl apply -f {path} failed: {done.stderr.strip()[-400:]}")


def _start_argo() -> None:
    crds = labbuild.COMPONENTS["argo-rollouts"].bin_dir / "crds"
    _bin("argo-rollouts", "rollouts-controller")
    _apply(crds)
    api("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGO_NAMESPACE}})
    _spawn(
        "argo-rollouts",
        [
            _bin("argo-rollouts", "rollouts-controller"),
            f"--kubeconfig={kubeconfig_path()}",
            # (it binds these two on every interface: the address is hard-coded in controller/controller.go)
            f"--metricsPort={PORTS['argo-metrics']}",
            f"--healthzPort={PORTS['argo-healthz']}",
            "--leader-elect=false",
            "--loglevel=info",
        ],
        {"POD_NAMESPACE": ARGO_NAMESPACE},
    )
    _wait("argo-rollouts", lambda: port_open(PORTS["argo-metrics"]), 60)


def collector_config() -> str:
    """The lab's default collector: OTLP in, the Prometheus exporter out, as the kit's config does."""
    return json.dumps(
        {
            "extensions": {"health_check": {"endpoint": f"{HOST}:{PORTS['otel-health']}"}},
            "receivers": {
                "otlp": {
                    "protocols": {
                        "grpc": {"endpoint": f"{HOST}:{PORTS['otlp-grpc']}"},
                        "http": {"endpoint": f"{HOST}:{PORTS['otlp-http']}"},
                    }
                }
            },
            "processors": {"batch": {"timeout": "1s"}},
            "exporters": {
                "prometheus": {
                    "endpoint": f"{HOST}:{PORTS['otel-prometheus']}",
                    "resource_to_telemetry_conversion": {"enabled": True},
                    "metric_expiration": "10m",
                }
            },
            "service": {
                "extensions": ["health_check"],
                "telemetry": {"metrics": {"level": "none"}},
                "pipelines": {"metrics": {"receivers": ["otlp"], "processors": ["batch"], "exporters": ["prometheus"]}},
            },
        },
        indent=2,
    )


def start_collector(config_text: str, name: str = "otelcol") -> None:
    """(Re)start the collector with a configuration (YAML or JSON text); waits for its health endpoint."""
    _stop(name)
    path = STATE / f"{name}.yaml"
    path.write_text(config_text)
    _spawn(name, [_bin("otelcol", "otelcol"), f"--config={path}"])
    _wait(name, lambda: port_open(PORTS["otlp-grpc"]) and port_open(PORTS["otel-prometheus"]), 30)


def prometheus_config(scrape_configs: list[dict[str, object]] | None = None) -> str:
    jobs = (
        scrape_configs
        if scrape_configs is not None
        else [
            {
                "job_name": "otel-collector",
                "honor_labels": True,
                "scrape_interval": "2s",
                "static_configs": [{"targets": [f"{HOST}:{PORTS['otel-prometheus']}"]}],
            }
        ]
    )
    return json.dumps(
        {"global": {"scrape_interval": "2s", "evaluation_interval": "2s"}, "scrape_configs": jobs}, indent=2
    )


def reload_prometheus(config_text: str) -> None:
    """Rewrite the lab Prometheus' configuration and reload it (POST /-/reload)."""
    (STATE / "prometheus.yml").write_text(config_text)
    request = urllib.request.Request(f"http://{HOST}:{PORTS['prometheus']}/-/reload", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        if response.status != 200:
            raise LabError(f"Prometheus reload answered {response.status}")


def _start_prometheus() -> None:
    (STATE / "prometheus.yml").write_text(prometheus_config())
    _spawn(
        "prometheus",
        [
            "/usr/bin/prometheus",
            f"--config.file={STATE / 'prometheus.yml'}",
            f"--storage.tsdb.path={STATE / 'prometheus-data'}",
            f"--web.listen-address={HOST}:{PORTS['prometheus']}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ],
    )
    _wait("prometheus", _http_ok(f"http://{HOST}:{PORTS['prometheus']}/-/ready"), 60)


# Start order; stop runs it backwards.
@dataclass(frozen=True)
class Step:
    name: str
    start: Callable[[], None]
    ports: tuple[str, ...] = field(default=())


STEPS = (
    Step("etcd", _start_etcd, ("etcd", "etcd-peer")),
    Step("kube-apiserver", _start_apiserver, ("apiserver",)),
    Step("kube-controller-manager", _start_controller_manager, ("controller-manager",)),
    Step("kube-scheduler", _start_scheduler, ("scheduler",)),
    Step("kwok", _start_kwok, ("kwok",)),
    Step("argo-rollouts", _start_argo, ("argo-metrics", "argo-healthz")),
    Step(
        "otelcol",
        lambda: start_collector(collector_config()),
        ("otlp-grpc", "otlp-http", "otel-prometheus", "otel-health"),
    ),
    Step("prometheus", _start_prometheus, ("prometheus",)),
)


def status() -> dict[str, int | None]:
    return {step.name: pid_of(step.name) for step in STEPS}


def start(log: Callable[[str], None] = lambda _: None) -> float:
    """Start what is not running; a failure stops everything this call started. Returns the seconds taken."""
    started_at = time.monotonic()
    running = status()
    if all(pid is not None for pid in running.values()):
        return 0.0
    if any(pid is not None for pid in running.values()):
        log("lab: part of the lab is running; restarting it whole")
        stop()
    for comp in labbuild.COMPONENTS.values():
        if not comp.built():
            raise LabError(f"{comp.name} {comp.version} is not built: run `python scripts/lab.py build` first")
    taken = [f"{HOST}:{PORTS[p]} ({step.name})" for step in STEPS for p in step.ports if _port_taken(PORTS[p])]
    if taken:
        raise LabError(
            f"port in use: {', '.join(taken)}. Stop what holds it, or move the lab with "
            f"CRITTEROPS_LAB_PORT_BASE (now {BASE})"
        )
    # a stale state folder (a crash, an older lab) is cleared: the lab keeps no data between starts
    for sub in ("etcd", "pki", "pids", "logs", "prometheus-data"):
        subprocess.run(["rm", "-rf", str(STATE / sub)], check=False)
    STATE.mkdir(parents=True, exist_ok=True)
    make_pki()
    write_kubeconfig()
    try:
        for step in STEPS:
            t0 = time.monotonic()
            step.start()
            log(f"lab: {step.name} up in {time.monotonic() - t0:.1f} s")
    except BaseException:
        stop()
        raise
    return time.monotonic() - started_at


def stop() -> None:
    errors = []
    for step in reversed(STEPS):
        try:
            _stop(step.name)
        except LabError as error:
            errors.append(str(error))
    left = leftovers()
    if left:
        errors.append(f"processes left behind: {left}")
    if errors:
        raise LabError("; ".join(errors))


def leftovers() -> list[int]:
    """PIDs of any process of the lab's binaries (or Debian's etcd and Prometheus) that works on this lab's
    state folder: every component's command line names a file in it (kubeconfig, data, configuration)."""
    binaries = {str(c.path(b)) for c in labbuild.COMPONENTS.values() for b in c.binaries}
    binaries |= {"/usr/bin/etcd", "/usr/bin/prometheus"}
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = proc.joinpath("cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        exe = argv[0].decode(errors="replace")
        mine = exe in binaries and any(str(STATE).encode() in a for a in argv[1:])
        if mine and pid_alive(int(proc.name)):
            found.append(int(proc.name))
    return found


def env_lines() -> list[str]:
    return [
        f"export KUBECONFIG={kubeconfig_path()}",
        f"export CRITTEROPS_LAB_PROMETHEUS=http://{HOST}:{PORTS['prometheus']}",
        f"export CRITTEROPS_LAB_OTLP_GRPC=http://{HOST}:{PORTS['otlp-grpc']}",
        f"export CRITTEROPS_LAB_OTLP_HTTP=http://{HOST}:{PORTS['otlp-http']}",
        f"export CRITTEROPS_LAB_KUSTOMIZE={labbuild.COMPONENTS['kustomize'].path('kustomize')}",
        f"export CRITTEROPS_LAB_CYCLONUS={labbuild.COMPONENTS['cyclonus'].path('cyclonus')}",
    ]


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "status"
    try:
        if command == "build":
            times = labbuild.build(argv[2:] or None, log=lambda m: print(m, file=sys.stderr))
            total = sum(times.values())
            sizes = labbuild.cache_size()
            print(
                f"# built in {total:.0f} s; " + ", ".join(f"{k} {v / 1e9:.2f} GB" for k, v in sizes.items()),
                file=sys.stderr,
            )
        elif command == "start":
            took = start(log=lambda m: print(m, file=sys.stderr))
            print(f"# lab up in {took:.1f} s (state in {STATE})", file=sys.stderr)
            print("\n".join(env_lines()))
        elif command == "stop":
            stop()
        elif command == "status":
            for name, pid in status().items():
                print(f"{name}: {'up (PID ' + str(pid) + ')' if pid else 'down'}")
            for comp in labbuild.COMPONENTS.values():
                print(f"{comp.name} {comp.version}: {'built' if comp.built() else 'not built'}")
        elif command == "env":
            print("\n".join(env_lines()))
        else:
            print(f"usage: {argv[0]} build [component...]|start|stop|status|env", file=sys.stderr)
            return 2
    except (LabError, labbuild.BuildError, subprocess.TimeoutExpired, OSError) as error:
        print(f"lab: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
