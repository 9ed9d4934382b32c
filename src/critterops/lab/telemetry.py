"""Telemetry in the lab: the kit's collector and scrape configuration on loopback, and one stand-in per pod.

``use_kit_observability`` starts the lab's collector with the kit's ``otel-collector.yaml`` and reloads
the lab's Prometheus with the kit's ``scrape-config.yaml``; the only changes are addresses (loopback
ports for ``0.0.0.0:...`` and for the in-cluster targets) and the traces pipeline, which is dropped
because no trace backend runs in the lab. ``PodStandins`` watches a namespace and runs a
``critterops.lab.standin`` process for every Ready pod, with that pod's name and pod-template hash, behaving as
the pod's image tag says.

A pod whose container has ``CRITTEROPS_ROLE_FILE`` (a consumer whose preview holds its listeners,
critterops.plan.consumers) gets that file too: KWOK runs no kubelet, so ``PodStandins`` plays the downward API and
writes the pod's ``critterops.dev/role`` label, read through the API, into a file its stand-in watches
(``--role-file``); Argo's previewMetadata/activeMetadata change the label, the stand-in follows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROLE_LABEL = "critterops.dev/role"  # critterops.plan.consumers.ROLE_LABEL
ROLE_FILE_ENV = "CRITTEROPS_ROLE_FILE"


def kit_collector_config(kit: Path, lab: ModuleType) -> str:
    config = yaml.safe_load((kit / "observability" / "otel-collector.yaml").read_text())
    ports = lab.PORTS
    config["receivers"]["otlp"]["protocols"] = {
        "grpc": {"endpoint": f"{lab.HOST}:{ports['otlp-grpc']}"},
        "http": {"endpoint": f"{lab.HOST}:{ports['otlp-http']}"},
    }
    config["exporters"]["prometheus"]["endpoint"] = f"{lab.HOST}:{ports['otel-prometheus']}"
    if "health_check" in config.get("extensions", {}):
        config["extensions"]["health_check"]["endpoint"] = f"{lab.HOST}:{ports['otel-health']}"
    for name in [n for n in config["exporters"] if n.startswith("otlp")]:
        del config["exporters"][name]
    config["service"]["pipelines"] = {
        k: v for k, v in config["service"]["pipelines"].items() if not k.startswith("traces")
    }
    config["service"].setdefault("telemetry", {})["metrics"] = {"level": "none"}
    return yaml.safe_dump(config)


def kit_scrape_configs(
    kit: Path, lab: ModuleType, env: str, targets: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """The kit's scrape jobs for one environment with their targets on loopback: the collector, and each
    job named in ``targets`` (job name -> host:port: the critterops exporter, the broker's endpoint).
    Jobs without a target here are dropped; the lab has one collector, so it plays the environment."""
    config = yaml.safe_load((kit / "observability" / "prometheus" / "scrape-config.yaml").read_text())
    where = {"otel-collector": f"{lab.HOST}:{lab.PORTS['otel-prometheus']}", **(targets or {})}
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in where:
            continue
        job = dict(job, scrape_interval="2s", scrape_timeout="2s")
        job["static_configs"] = [
            dict(sc, targets=[where[job["job_name"]]])
            for sc in job["static_configs"]
            if sc.get("labels", {}).get("environment") == env
        ]
        if not job["static_configs"]:
            raise ValueError(f"the kit scrapes no {job['job_name']} in {env}")
        jobs.append(job)
    return jobs


def use_kit_observability(kit: Path, lab: ModuleType, env: str, targets: dict[str, str] | None = None) -> None:
    lab.start_collector(kit_collector_config(kit, lab))
    lab.reload_prometheus(lab.prometheus_config(kit_scrape_configs(kit, lab, env, targets)))


def restore_lab_observability(lab: ModuleType) -> None:
    lab.start_collector(lab.collector_config())
    lab.reload_prometheus(lab.prometheus_config())


def query(lab: ModuleType, promql: str) -> list[dict[str, Any]]:
    url = f"http://{lab.HOST}:{lab.PORTS['prometheus']}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise ValueError(f"Prometheus: {body}")
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _field(pod: dict[str, Any], path: str) -> str:
    """A Downward API fieldRef of the pod: metadata.name, metadata.namespace, metadata.labels['key']."""
    meta = pod["metadata"]
    if path.startswith("metadata.labels['"):
        return str(meta.get("labels", {}).get(path[len("metadata.labels['") : -2], ""))
    return str(meta.get(path.split(".", 1)[1], "")) if path.startswith("metadata.") else ""


def resource_attributes(pod: dict[str, Any]) -> str:
    """The pod's OTEL_RESOURCE_ATTRIBUTES as its container would see it: the kit's Downward API variables
    resolved from the pod the apiserver created, and $(VAR) references expanded as the kubelet does."""
    values: dict[str, str] = {}
    for var in pod["spec"]["containers"][0].get("env", []):
        if "valueFrom" in var and "fieldRef" in var["valueFrom"]:
            values[var["name"]] = _field(pod, var["valueFrom"]["fieldRef"]["fieldPath"])
        elif "value" in var:
            values[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: values.get(m.group(1), m.group(0)), var["value"])
    return values.get("OTEL_RESOURCE_ATTRIBUTES", "")


class PodStandins:
    """One stand-in process per Ready pod of a namespace; ``behaviour[image tag]`` gives its flags
    (a tag mapped to None gets no stand-in: a version that sends nothing)."""

    def __init__(
        self, lab: ModuleType, namespace: str, behaviour: dict[str, list[str] | None], default: list[str] | None = None
    ) -> None:
        self.lab, self.namespace, self.behaviour, self.default = lab, namespace, behaviour, default or []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.started: dict[str, str] = {}  # pod -> version hash
        self.roles: dict[str, str] = {}  # pod -> the role its file holds now
        self._files = tempfile.TemporaryDirectory(prefix="critterops-roles-")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> PodStandins:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._files.cleanup()

    def role_file(self, pod: str) -> Path:
        return Path(self._files.name) / pod / "role"

    def _write_role(self, pod: dict[str, Any]) -> list[str]:
        """The pod's role file as the kubelet keeps it (the label's value, empty without one): the flag for its
        stand-in, or nothing for a pod whose container reads no role file."""
        env = pod["spec"]["containers"][0].get("env", [])
        if not any(v.get("name") == ROLE_FILE_ENV for v in env):
            return []
        name = pod["metadata"]["name"]
        role = pod["metadata"].get("labels", {}).get(ROLE_LABEL, "")
        path = self.role_file(name)
        if self.roles.get(name) != role:
            path.parent.mkdir(parents=True, exist_ok=True)
            staged = path.with_suffix(".new")
            staged.write_text(role)
            staged.replace(path)  # atomic, as the kubelet's symlink swap
            self.roles[name] = role
        return ["--role-file", str(path)]

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._sync()
            except Exception as error:
                print(f"standins: {error}", file=sys.stderr)
            time.sleep(0.5)

    def _sync(self) -> None:
        code, body = self.lab.api("GET", f"/api/v1/namespaces/{self.namespace}/pods")
        if code != 200:
            return
        live = set()
        for pod in body.get("items", []):
            meta, spec = pod["metadata"], pod["spec"]
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", [])
            )
            if not ready or meta.get("deletionTimestamp"):
                continue
            name = meta["name"]
            live.add(name)
            role_flags = self._write_role(pod)
            if name in self.procs or name in self.started:
                continue
            tag = spec["containers"][0]["image"].rsplit(":", 1)[-1]
            flags = self.behaviour.get(tag, self.default)
            version = meta["labels"].get("rollouts-pod-template-hash", "none")
            self.started[name] = version
            if flags is None:
                continue
            service = meta["labels"]["app.kubernetes.io/name"]
            self.procs[name] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "critterops.lab.standin",
                    "--service",
                    service,
                    "--instance",
                    name,
                    "--version",
                    version,
                    "--resource",
                    resource_attributes(pod),
                    "--endpoint",
                    f"http://{self.lab.HOST}:{self.lab.PORTS['otlp-http']}",
                    *role_flags,
                    *flags,  # after the role file: a behaviour may override it (a version that ignores its role)
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        for name in [n for n in self.procs if n not in live]:
            self.procs.pop(name).terminate()
