"""The plan executed on a cluster: Argo Rollouts moves each service, critterops moves the system.

``critterops deploy --backend kubernetes --plan plan.json`` runs the plan phase by phase. In each
phase: the services' ``before-rollout`` Jobs (EF Core migration bundles, ``db-apply``) are created
and waited for; each service's new image is set on its Rollout (a JSON patch that first tests the
image it replaces, so a concurrent change is never overwritten); the Rollouts are watched until
Argo promotes or aborts them (a pause for approval waits for ``critterops deploy promote``); then
the ``after-rollout`` Jobs (projection rebuilds) run and the phase's gates (projection catch-up,
outbox drain) are checked before the next phase starts.

**The cluster is the source of truth.** What the deploy is (the plan, each service's image before
and after) is written once, before anything changes, to the ConfigMap ``critterops-deploy`` of the
namespace; everything else is read back from the Rollouts' and Jobs' status on every step. A run
that was killed at any point is continued by ``deploy resume``: a Job that exists is never created
again (its name is derived from the deploy), an image already set is not set again, a Rollout
already promoted is passed.

**When a service fails** (Argo aborted it: analysis failed, ``deploy abort``, or its pods never
became ready before the deadline) the phases after it never start, the other Rollouts of its phase
are aborted, and the services already deployed get the plan's rollback decision in reverse order:
``rollback`` sets the previous image back and promotes it fully (Argo's ``status.promoteFull``,
rollout/sync.go:422 keeps it only while the new pod hash differs from the stable one, so it is set
after the controller saw the change); ``roll-forward`` and ``freeze`` keep the new version and say
why. The run ends with a table of what runs where.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from critterops.errors import EXIT_FINDINGS, UserError
from critterops.rollout.kubernetes.cluster import Cluster, ClusterError, Watch
from critterops.rollout.kubernetes.gates import wait_for_gate
from critterops.rollout.kubernetes.plan import DeployPlan, PlannedJob, parse

RECORD = "critterops-deploy"
DEPLOY_LABEL = "critterops.dev/deploy"
FINISHED = ("succeeded", "failed", "aborted")
WATCH_WINDOW_S = 10


@dataclass(frozen=True, slots=True)
class ServiceState:
    """One service as the cluster shows it."""

    name: str
    kind: str  # Rollout | Deployment
    image: str
    state: str  # pending | progressing | paused | healthy | failed
    message: str = ""
    waiting_for: str = ""  # approval | inconclusive (for paused)


@dataclass(slots=True)
class Record:
    """What the deploy is, as stored in the namespace's ConfigMap ``critterops-deploy``."""

    plan: DeployPlan
    targets: dict[str, str]
    previous: dict[str, str]
    kinds: dict[str, str]
    state: str = "running"
    reason: str = ""
    started: float = 0.0

    @property
    def id(self) -> str:
        """The deploy: this plan with these images (a second deploy of the same plan with a fix is another)."""
        digest = hashlib.sha256(f"{self.plan.id}/{json.dumps(self.targets, sort_keys=True)}".encode())
        return digest.hexdigest()[:8]

    def data(self) -> dict[str, str]:
        return {
            "id": self.id,
            "plan.json": self.plan.text,
            "targets.json": json.dumps(self.targets, sort_keys=True),
            "previous.json": json.dumps(self.previous, sort_keys=True),
            "kinds.json": json.dumps(self.kinds, sort_keys=True),
            "state": self.state,
            "reason": self.reason,
            "started": f"{self.started:.0f}",
        }

    @classmethod
    def from_data(cls, data: Mapping[str, str]) -> Record:
        try:
            return cls(
                plan=parse(data["plan.json"], f"ConfigMap {RECORD}"),
                targets=json.loads(data["targets.json"]),
                previous=json.loads(data["previous.json"]),
                kinds=json.loads(data["kinds.json"]),
                state=data.get("state", "running"),
                reason=data.get("reason", ""),
                started=float(data.get("started") or 0),
            )
        except (KeyError, ValueError) as error:
            raise UserError(f"ConfigMap {RECORD} is not a critterops deploy record ({error}): delete it") from None


def container_of(obj: Mapping[str, Any], service: str) -> tuple[int, dict[str, Any]]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    for i, c in enumerate(containers):
        if c.get("name") == service:
            return i, c
    return 0, containers[0]


def retag(image: str, tag: str) -> str:
    """``registry:5000/name:old`` → ``registry:5000/name:tag`` (a digest is dropped)."""
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return f"{name}:{tag}"


def service_state(name: str, kind: str, obj: Mapping[str, Any]) -> ServiceState:
    """Argo's (or the Deployment controller's) view of one service, in the engine's words."""
    _, container = container_of(obj, name)
    image = container.get("image", "")
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    generation = str(meta.get("generation", ""))
    if kind == "Deployment":
        observed = str(status.get("observedGeneration", "")) == generation
        replicas = spec.get("replicas", 1)
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
                return ServiceState(name, kind, image, "failed", cond.get("message", "progress deadline exceeded"))
        done = status.get("updatedReplicas", 0) == replicas and status.get("availableReplicas", 0) == replicas
        return ServiceState(name, kind, image, "healthy" if observed and done else "progressing")
    phase, message = status.get("phase", ""), status.get("message", "")
    if status.get("abort") or phase == "Degraded":
        return ServiceState(name, kind, image, "failed", message or "aborted")
    if str(status.get("observedGeneration", "")) != generation:
        return ServiceState(name, kind, image, "progressing", "the controller has not seen the change yet")
    if phase == "Healthy" and status.get("stableRS") and status.get("stableRS") == status.get("currentPodHash"):
        return ServiceState(name, kind, image, "healthy", message)
    if phase == "Paused":
        waiting = _waiting_for(spec, status)
        if waiting:
            return ServiceState(name, kind, image, "paused", message, waiting)
    return ServiceState(name, kind, image, "progressing", message)


def _waiting_for(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str:
    """Why a Paused Rollout waits for a person: "approval", "inconclusive", or "" when it goes on by itself
    (a timed pause step, or blue/green with auto promotion waiting for its pre-promotion analysis)."""
    reasons = {c.get("reason") for c in status.get("pauseConditions") or []}
    if "InconclusiveAnalysisRun" in reasons or "InconclusiveExperiment" in reasons:
        return "inconclusive"
    strategy = spec.get("strategy") or {}
    if "BlueGreenPause" in reasons:
        blue_green = strategy.get("blueGreen") or {}
        manual = blue_green.get("autoPromotionEnabled") is False and not blue_green.get("autoPromotionSeconds")
        return "approval" if manual else ""
    if "CanaryPauseStep" in reasons:
        steps = (strategy.get("canary") or {}).get("steps") or []
        index = status.get("currentStepIndex")
        step = steps[index] if isinstance(index, int) and 0 <= index < len(steps) else {}
        pause = step.get("pause")
        return "approval" if isinstance(pause, dict) and not pause.get("duration") else ""
    return "approval" if spec.get("paused") else ""


def _mid_rollout(kind: str, obj: Mapping[str, Any]) -> bool:
    status = obj.get("status") or {}
    if kind != "Rollout":
        return False
    return bool(status.get("currentPodHash")) and status.get("currentPodHash") != status.get("stableRS")


class KubernetesDeploy:
    """Executes one plan in one namespace; every method is safe to run again after a crash."""

    def __init__(self, cluster: Cluster, out: TextIO, *, timeout_s: float = 1800.0) -> None:
        self.cluster = cluster
        self.out = out
        self.timeout_s = timeout_s
        self._said: dict[str, str] = {}

    # --- output ---------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def _note(self, key: str, text: str) -> None:
        """Print a service's line only when it changed."""
        if self._said.get(key) != text:
            self._said[key] = text
            self.say(text)

    # --- the record -----------------------------------------------------------------------------

    def record(self) -> Record | None:
        cm = self.cluster.get("ConfigMap", RECORD)
        return Record.from_data(cm.get("data") or {}) if cm else None

    def _save(self, record: Record, **changes: str) -> None:
        for key, value in changes.items():
            setattr(record, key, value)
        self.cluster.patch("ConfigMap", RECORD, {"data": {"state": record.state, "reason": record.reason}})

    # --- start ----------------------------------------------------------------------------------

    def start(self, plan: DeployPlan, tag: str | None, images: Mapping[str, str]) -> int:
        self.cluster.check()
        existing = self.record()
        if existing is not None and existing.state not in FINISHED:
            if existing.plan.id == plan.id:
                raise UserError(
                    f"this plan's deploy ({plan.id}) is already running or was interrupted in {self.cluster.where}: "
                    "use `critterops deploy resume --backend kubernetes` (or status, abort)"
                )
            raise UserError(
                f"another deploy ({existing.plan.id}, head {existing.plan.head[:12]}) is {existing.state} in "
                f"{self.cluster.where}: wait for it, or `critterops deploy abort --backend kubernetes`"
            )
        unknown = sorted(set(images) - set(plan.services))
        if unknown:
            raise UserError(f"--image for {', '.join(unknown)}: not in the plan (it has {', '.join(plan.services)})")
        tag = tag or plan.head
        if not tag and len(images) < len(plan.services):
            raise UserError("the plan names no head commit: pass --tag (the images' tag) or --image SERVICE=IMAGE")
        record = self._preflight(plan, tag, images)
        record.started = time.time()
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": RECORD, "labels": {"app.kubernetes.io/managed-by": "critterops"}},
            "data": record.data(),
        }
        if existing is not None:
            self.cluster.patch("ConfigMap", RECORD, {"data": record.data()})
        elif not self.cluster.create(obj):
            raise UserError(f"another deploy started in {self.cluster.where} just now: see `deploy status`")
        self.say(
            f"deploy {record.id} of {plan.head[:12] or 'the plan'} to {plan.environment} in {self.cluster.where}: "
            f"{len(plan.services)} services in {len(plan.phases)} phases"
        )
        return self._run(record)

    def _preflight(self, plan: DeployPlan, tag: str, images: Mapping[str, str]) -> Record:
        """Everything checked before anything changes: each service there, none mid-rollout from someone else."""
        targets, previous, kinds, missing, busy = {}, {}, {}, [], []
        for name in plan.services:
            found = self.cluster.workload(name)
            if found is None:
                missing.append(name)
                continue
            kind, obj = found
            _, container = container_of(obj, name)
            kinds[name] = kind
            previous[name] = container.get("image", "")
            targets[name] = images.get(name) or retag(previous[name], tag)
            if _mid_rollout(kind, obj) and previous[name] != targets[name]:
                busy.append(f"{name} ({(obj.get('status') or {}).get('phase', 'progressing')})")
        if missing:
            there = sorted(o["metadata"]["name"] for o in self.cluster.list("Rollout"))
            raise UserError(
                f"the plan's {', '.join(missing)} not found as a Rollout or Deployment in {self.cluster.where} "
                f"(Rollouts there: {', '.join(there) or 'none'}): is this the plan of another system, or the wrong "
                "--namespace? Nothing was changed."
            )
        if busy:
            raise UserError(
                f"already rolling out from someone else: {', '.join(busy)}; finish or abort it first "
                "(kubectl argo rollouts status/abort). Nothing was changed."
            )
        return Record(plan=plan, targets=targets, previous=previous, kinds=kinds)

    # --- resume ---------------------------------------------------------------------------------

    def resume(self) -> int:
        self.cluster.check()
        record = self.record()
        if record is None:
            raise UserError(f"no critterops deploy in {self.cluster.where}")
        if record.state == "succeeded":
            self.say(f"deploy {record.id}: already succeeded")
            return 0
        self.say(f"resuming deploy {record.id} ({record.state}) in {self.cluster.where}")
        if record.state in ("failed", "aborted"):
            return self._fail(record, [], record.reason)
        return self._run(record)

    # --- the run --------------------------------------------------------------------------------

    def _run(self, record: Record) -> int:
        plan = record.plan
        deadline = time.monotonic() + self.timeout_s
        for number, names in enumerate(plan.phases, start=1):
            self.say(f"phase {number}/{len(plan.phases)}: {', '.join(names)}")
            failed = self._jobs(record, names, "before-rollout", deadline)
            if failed:
                return self._fail(record, [], failed)
            for name in names:
                self._set_image(record, name)
            broken = self._wait(record, names, deadline)
            if broken:
                return self._fail(
                    record, broken, "; ".join(f"{s.name}: {s.message}" for s in self._states(record, broken))
                )
            failed = self._jobs(record, names, "after-rollout", deadline)
            if failed:
                return self._fail(record, [], failed)
            failed = self._gates(record, names) if number < len(plan.phases) else ""
            if failed:
                return self._fail(record, [], failed)
        self._save(record, state="succeeded", reason="every phase deployed")
        self.say(f"deploy {record.id}: succeeded")
        self._where(record)
        return 0

    def _states(self, record: Record, names: Iterable[str]) -> list[ServiceState]:
        states = []
        for name in names:
            obj = self.cluster.get(record.kinds[name], name)
            if obj is None:
                states.append(ServiceState(name, record.kinds[name], "", "failed", "deleted during the deploy"))
            else:
                states.append(service_state(name, record.kinds[name], obj))
        return states

    def _set_image(self, record: Record, name: str) -> None:
        kind = record.kinds[name]
        obj = self.cluster.get(kind, name)
        if obj is None:
            raise ClusterError(f"{kind} {name} was deleted during the deploy")
        index, container = container_of(obj, name)
        target = record.targets[name]
        if container.get("image") == target:
            return
        if _mid_rollout(kind, obj):
            raise UserError(f"{name} started rolling out from someone else during the deploy; nothing more was changed")
        path = f"/spec/template/spec/containers/{index}/image"
        ops: list[dict[str, Any]] = [
            {"op": "test", "path": path, "value": container.get("image")},
            {"op": "replace", "path": path, "value": target},
        ]
        annotations = obj["metadata"].get("annotations")
        if annotations is None:
            ops.append({"op": "add", "path": "/metadata/annotations", "value": {}})
        ops.append({"op": "add", "path": "/metadata/annotations/critterops.dev~1deploy", "value": record.id})
        self.cluster.patch(kind, name, ops, json_patch=True)
        self.say(f"  {name}: image {target}")

    def _wait(self, record: Record, names: tuple[str, ...] | list[str], deadline: float) -> list[str]:
        """Watch until every service is healthy (→ []) or one failed (→ the failed ones). The state is read
        again after each batch of changes the watch brings (or every WATCH_WINDOW_S when nothing changes,
        to see a ``deploy abort`` from another terminal and the deadline)."""
        kinds = {record.kinds[n] for n in names}
        with self.cluster.watch("Rollout" if "Rollout" in kinds else "Deployment") as watch:
            while True:
                states = {s.name: s for s in self._states(record, names)}
                current = self.record()
                if current is not None and current.state == "aborted":
                    return [n for n, s in states.items() if s.state != "healthy"] or list(names)
                verdict = self._judge(states)
                if verdict is not None:
                    return verdict
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    stuck = [n for n, s in states.items() if s.state != "healthy"]
                    for n in stuck:
                        self._note(n, f"  {n}: not healthy within the deploy's timeout ({self.timeout_s:.0f} s)")
                    return stuck
                watch.next(min(WATCH_WINDOW_S, remaining))

    def _judge(self, states: Mapping[str, ServiceState]) -> list[str] | None:
        for s in states.values():
            if s.state == "paused" and s.waiting_for == "approval":
                self._note(
                    s.name,
                    f"  {s.name}: paused for approval: critterops deploy promote --backend kubernetes "
                    f"--service {s.name}",
                )
            elif s.state == "paused":
                self._note(s.name, f"  {s.name}: paused, the analysis was inconclusive ({s.message}): promote or abort")
            else:
                self._note(s.name, f"  {s.name}: {s.state}" + (f" — {s.message}" if s.message else ""))
        failed = [n for n, s in states.items() if s.state == "failed"]
        if failed:
            return failed
        if all(s.state == "healthy" for s in states.values()):
            return []
        return None

    # --- jobs -----------------------------------------------------------------------------------

    def _jobs(self, record: Record, names: Iterable[str], when: str, deadline: float) -> str:
        """Create the phase's jobs of this stage (never twice) and wait for them; "" or why one failed."""
        jobs = [j for n in names for j in record.plan.services[n].jobs if j.when == when and j.command]
        if not jobs:
            return ""
        selector = {DEPLOY_LABEL: record.id}
        for job in jobs:
            if self.cluster.create(self._job_object(record, job)):
                self.say(f"  job {job.name(record.id)}: created ({job.kind}{' ' + job.target if job.target else ''})")
        wanted = {j.name(record.id): j for j in jobs}
        limit = min(deadline, time.monotonic() + max(j.timeout_s for j in jobs) + 60)
        with self.cluster.watch("Job", selector) as watch:
            return self._wait_jobs(record, wanted, selector, limit, watch)

    def _wait_jobs(
        self, record: Record, wanted: Mapping[str, PlannedJob], selector: Mapping[str, str], limit: float, watch: Watch
    ) -> str:
        while True:
            seen = {o["metadata"]["name"]: o for o in self.cluster.list("Job", selector)}
            pending = []
            for name, job in wanted.items():
                state, message = _job_state(seen.get(name))
                self._note(name, f"  job {name}: {state}" + (f" — {message}" if message else ""))
                if state == "failed":
                    return f"job {name} ({job.kind} of {job.service}) failed: {message}"
                if state != "complete":
                    pending.append(name)
            if not pending:
                return ""
            remaining = limit - time.monotonic()
            if remaining <= 0:
                return f"jobs {', '.join(pending)} did not finish in time"
            watch.next(min(WATCH_WINDOW_S, remaining))

    def _job_object(self, record: Record, job: PlannedJob) -> dict[str, Any]:
        """The Job, built from the service's own pod template (its security context, settings and service
        account), as the kit's jobs.yaml builds it: critterops.generate.kubernetes._jobs."""
        kind = record.kinds[job.service]
        obj = self.cluster.get(kind, job.service)
        if obj is None:
            raise ClusterError(f"{kind} {job.service} was deleted during the deploy")
        template = json.loads(json.dumps(obj["spec"]["template"]))
        index, container = container_of(obj, job.service)
        container = dict(template["spec"]["containers"][index])
        for key in ("readinessProbe", "livenessProbe", "startupProbe", "ports", "lifecycle"):
            container.pop(key, None)
        container["name"] = "job"
        target = record.targets[job.service]
        if job.image == "migrations":
            repo, _, tag = target.rpartition(":")
            container["image"] = f"{repo}-migrations:{tag}"
            container["command"] = list(job.command)
        else:
            container["image"] = target
            container["args"] = list(job.command)
        container["env"] = [
            {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": f"service.version=job,critterops.job={job.kind}"}
        ]
        labels = {
            "app.kubernetes.io/name": f"{job.service}-job",
            "app.kubernetes.io/instance": job.service,
            "app.kubernetes.io/managed-by": "critterops",
            DEPLOY_LABEL: record.id,
            "critterops.dev/stage": job.when,
        }
        spec = template["spec"]
        spec["containers"] = [container]
        spec["restartPolicy"] = "Never"
        spec.pop("topologySpreadConstraints", None)
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": job.name(record.id), "labels": labels},
            "spec": {
                "backoffLimit": 1,
                "activeDeadlineSeconds": job.timeout_s,
                "ttlSecondsAfterFinished": 86400,
                "template": {"metadata": {"labels": labels}, "spec": spec},
            },
        }

    # --- gates ---------------------------------------------------------------------------------

    prometheus: str | None = None
    gate_timeout_s: float = 600.0

    def _gates(self, record: Record, names: Iterable[str]) -> str:
        """The phase's projection catch-up and outbox drain gates, before the next phase; "" or why one
        did not hold in time. Without Prometheus each is named as not checked."""
        for name in names:
            for gate in record.plan.services[name].gates:
                label = f"gate {gate['name']} of {name}"
                if not self.prometheus or not gate.get("query"):
                    self._note(label, f"  {label}: not checked (no --prometheus): {gate.get('description', '')}")
                    continue

                def note(text: str, key: str = label) -> None:
                    self._note(key, text)

                failure = wait_for_gate(self.prometheus, gate, self.gate_timeout_s, note)
                if failure:
                    return f"{label}: {failure}"
        return ""

    # --- failure --------------------------------------------------------------------------------

    def _fail(self, record: Record, failed: list[str], reason: str) -> int:
        plan = record.plan
        stored = self.record()  # a `deploy abort` from another terminal may have said why first
        if stored is not None and stored.state in ("failed", "aborted"):
            record.state, record.reason = stored.state, stored.reason
            reason = stored.reason
        elif record.state not in ("failed", "aborted"):
            self._save(record, state="failed", reason=reason)
        self.say(f"deploy {record.id}: FAILED — {reason}")
        all_names = [n for phase in plan.phases for n in phase]
        states = {s.name: s for s in self._states(record, all_names)}
        # stop everything still moving, then undo what is done, publishers first (reverse phase order)
        for name, s in states.items():
            if (
                record.kinds[name] == "Rollout"
                and s.image == record.targets[name]
                and s.state in ("progressing", "paused")
            ):
                self.cluster.patch("Rollout", name, {"status": {"abort": True}}, status=True)
                self.say(f"  {name}: aborted (stopped before promotion)")
        for name in reversed(all_names):
            s, service = states[name], plan.services[name]
            if s.image != record.targets[name] or record.targets[name] == record.previous[name]:
                continue  # never changed
            if s.state != "healthy" or service.rollback_safe:
                self._roll_back(record, name)  # an aborted Rollout already serves the previous version
            else:
                self.say(f"  {name}: kept at {s.image} ({service.rollback_action}: {service.rollback_reason})")
        self._settle(record, all_names)
        self._where(record)
        return EXIT_FINDINGS

    def _roll_back(self, record: Record, name: str) -> None:
        """Set the previous image back (a JSON patch that tests the image it replaces). Another process may do
        the same at the same time (``deploy abort`` while the deploy runs): a failed test is read again."""
        kind, previous = record.kinds[name], record.previous[name]
        for _attempt in range(3):
            obj = self.cluster.get(kind, name)
            if obj is None:
                return
            index, container = container_of(obj, name)
            if container.get("image") == previous:
                break
            path = f"/spec/template/spec/containers/{index}/image"
            ops = [
                {"op": "test", "path": path, "value": container.get("image")},
                {"op": "replace", "path": path, "value": previous},
            ]
            try:
                self.cluster.patch(kind, name, ops, json_patch=True)
            except ClusterError as error:
                if "HTTP 422" in str(error):  # the image changed under us: read it again
                    continue
                raise
            self.say(f"  {name}: rolling back to {previous}")
            break
        if kind == "Rollout":
            self.cluster.patch("Rollout", name, {"status": {"abort": False}}, status=True)

    def _settle(self, record: Record, names: list[str]) -> None:
        """Wait (bounded) for rolled-back Rollouts to run their previous version again, promoting them fully:
        a rollback is not judged again (Argo's ``status.promoteFull``, set once the controller saw the change)."""
        deadline = time.monotonic() + 120
        targets = [n for n in names if record.kinds[n] == "Rollout"]
        with self.cluster.watch("Rollout") as watch:
            if self._settled(record, targets, deadline, watch):
                return
        self.say("  some rollbacks are still in progress: see `critterops deploy status --backend kubernetes`")

    def _settled(self, record: Record, targets: list[str], deadline: float, watch: Watch) -> bool:
        while time.monotonic() < deadline:
            pending = []
            for name in targets:
                obj = self.cluster.get("Rollout", name)
                if obj is None:
                    continue
                _, container = container_of(obj, name)
                if container.get("image") != record.previous[name]:
                    continue
                status = obj.get("status") or {}
                state = service_state(name, "Rollout", obj)
                if state.state == "healthy":
                    continue
                pending.append(name)
                if _mid_rollout("Rollout", obj) and not status.get("promoteFull") and not status.get("abort"):
                    self.cluster.patch("Rollout", name, {"status": {"promoteFull": True}}, status=True)
            if not pending:
                return True
            watch.next(min(WATCH_WINDOW_S, deadline - time.monotonic()))
        return False

    # --- status ---------------------------------------------------------------------------------

    def _where(self, record: Record) -> None:
        self.say("what runs where:")
        for row in self.rows(record):
            self.say(f"  {row['service']:<24} {row['running']:<10} {row['image']}  ({row['state']})")

    def rows(self, record: Record) -> list[dict[str, str]]:
        rows = []
        for name in (n for phase in record.plan.phases for n in phase):
            s = self._states(record, [name])[0]
            running = (
                "new"
                if s.image == record.targets[name] and s.state == "healthy"
                else "previous"
                if s.image == record.previous[name] and s.state == "healthy"
                else "previous"
                if s.state == "failed"
                else s.state
            )
            rows.append(
                {
                    "service": name,
                    "phase": str(record.plan.phase_of(name) + 1),
                    "running": running,
                    "image": s.image,
                    "state": s.state + (f": {s.message}" if s.message else ""),
                }
            )
        return rows

    def status(self) -> dict[str, Any]:
        record = self.record()
        if record is None:
            raise UserError(f"no critterops deploy in {self.cluster.where}")
        return {
            "deploy": record.id,
            "environment": record.plan.environment,
            "head": record.plan.head,
            "state": record.state,
            "reason": record.reason,
            "services": self.rows(record),
            "jobs": [
                {"job": name, "state": _job_state(obj)[0], "created": obj["metadata"].get("creationTimestamp", "")}
                for name, obj in sorted(
                    (o["metadata"]["name"], o) for o in self.cluster.list("Job", {DEPLOY_LABEL: record.id})
                )
            ],
        }

    # --- promote / abort ------------------------------------------------------------------------

    def promote(self, service: str | None, full: bool = False) -> str:
        """Argo's ``promote`` for the paused Rollout of the deploy (promote.go getPatches at v1.9.1: the default
        branch clears the pause; ``full`` sets ``status.promoteFull``, skipping the remaining steps and analyses).

        On a blue/green paused by an inconclusive pre-promotion analysis, a plain promote makes Argo run that
        analysis again (rollout/analysis.go needsNewAnalysisRun: controllerPause with the last run Inconclusive);
        only ``full`` promotes without it."""
        record = self.record()
        if record is None:
            raise UserError(f"no critterops deploy in {self.cluster.where}")
        names = [n for n in record.plan.services if record.kinds.get(n) == "Rollout"]
        paused = [s for s in self._states(record, names) if s.state == "paused"]
        if service is not None:
            if service not in record.plan.services:
                raise UserError(f"--service {service}: not in the deploy (it has {', '.join(record.plan.services)})")
            paused = [s for s in paused if s.name == service]
            if not paused:
                raise UserError(f"{service} is not paused: nothing to promote")
        elif len(paused) != 1:
            raise UserError(
                "--service is needed: "
                + (f"paused: {', '.join(s.name for s in paused)}" if paused else "no Rollout of the deploy is paused")
            )
        target = paused[0].name
        obj = self.cluster.get("Rollout", target) or {}
        status = obj.get("status") or {}
        if obj.get("spec", {}).get("paused"):
            self.cluster.patch("Rollout", target, {"spec": {"paused": False}})
        index = status.get("currentStepIndex")
        steps = ((obj.get("spec", {}).get("strategy") or {}).get("canary") or {}).get("steps") or []
        if full:
            if status.get("currentPodHash") != status.get("stableRS"):
                self.cluster.patch("Rollout", target, {"status": {"promoteFull": True}}, status=True)
            return target
        if paused[0].waiting_for == "inconclusive" and status.get("controllerPause") and index is not None:
            patch = {"pauseConditions": None, "controllerPause": False, "currentStepIndex": min(index + 1, len(steps))}
        else:
            patch = {"pauseConditions": None}
        self.cluster.patch("Rollout", target, {"status": patch}, status=True)
        return target

    def abort(self, service: str | None) -> int:
        record = self.record()
        if record is None:
            raise UserError(f"no critterops deploy in {self.cluster.where}")
        if service is not None and service not in record.plan.services:
            raise UserError(f"--service {service}: not in the deploy (it has {', '.join(record.plan.services)})")
        if record.state == "succeeded":
            raise UserError(f"deploy {record.id} has finished: deploy a plan of the previous version instead")
        reason = f"aborted by a user{' at ' + service if service else ''}"
        self._save(record, state="aborted", reason=reason)
        return self._fail(record, [service] if service else [], reason)


def _job_state(obj: Mapping[str, Any] | None) -> tuple[str, str]:
    if obj is None:
        return "missing", "deleted before it finished"
    status = obj.get("status") or {}
    for cond in status.get("conditions") or []:
        if cond.get("status") != "True":
            continue
        if cond.get("type") == "Complete":
            return "complete", ""
        if cond.get("type") == "Failed":
            return "failed", cond.get("message") or cond.get("reason", "")
    return "running", ""
