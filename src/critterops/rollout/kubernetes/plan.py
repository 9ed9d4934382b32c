"""The plan as the Kubernetes backend executes it: phases of services, their jobs, approvals and rollback.

Reads a ``critterops.plan/v2`` document (``critterops plan --format json``). Issue 14 says ``/v1``;
the planner has written ``/v2`` since jobs joined the plan (issue 12), and v1 plans have no jobs, so
they are refused with the command that writes a current one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from critterops.errors import UserError

SCHEMA = "critterops.plan/v2"


@dataclass(frozen=True, slots=True)
class PlannedJob:
    service: str
    kind: str  # ef-migrations | db-apply | resources-setup | projection-rebuild
    when: str  # before-rollout | after-rollout
    command: tuple[str, ...]
    image: str  # "migrations": the service's migrations image; else the service's own image
    target: str | None
    timeout_s: int

    def name(self, deploy_id: str) -> str:
        """A DNS-1123 name that is the same on every run of this deploy (so a resume never runs it twice)."""
        suffix = hashlib.sha256(f"{self.kind}/{self.target or ''}".encode()).hexdigest()[:5]
        base = f"{self.service}-{self.kind}"[: 63 - len(deploy_id) - len(suffix) - 2].rstrip("-")
        return f"{base}-{deploy_id}-{suffix}"


@dataclass(frozen=True, slots=True)
class PlannedService:
    name: str
    phase: int
    strategy: str
    approval: bool
    jobs: tuple[PlannedJob, ...]
    rollback_action: str  # rollback | roll-forward | freeze
    rollback_reason: str
    gates: tuple[dict[str, Any], ...]

    @property
    def rollback_safe(self) -> bool:
        return self.rollback_action == "rollback"


@dataclass(frozen=True, slots=True)
class DeployPlan:
    id: str
    environment: str
    head: str
    phases: tuple[tuple[str, ...], ...]
    services: dict[str, PlannedService]
    text: str  # the plan as given, kept on the cluster so status and resume need no file

    def phase_of(self, service: str) -> int:
        return next(i for i, names in enumerate(self.phases) if service in names)


def load(path: Path) -> DeployPlan:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"--plan {path}: cannot be read ({error})") from error
    return parse(text, str(path))


def parse(text: str, where: str = "the plan") -> DeployPlan:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise UserError(f"{where}: not JSON ({error})") from error
    if not isinstance(data, dict) or not str(data.get("schema", "")).startswith("critterops.plan/"):
        raise UserError(f"{where}: not a critterops plan (write one with `critterops plan --format json`)")
    if data["schema"] != SCHEMA:
        raise UserError(
            f"{where}: {data['schema']} is not supported (this critterops executes {SCHEMA}); write the plan again "
            "with `critterops plan --format json`"
        )
    try:
        return _read(data, text)
    except (KeyError, TypeError, ValueError) as error:
        raise UserError(f"{where}: malformed plan ({type(error).__name__}: {error})") from error


def _read(data: dict[str, Any], text: str) -> DeployPlan:
    services: dict[str, PlannedService] = {}
    for entry in data["services"]:
        if entry["strategy"] == "no-deploy":
            continue
        name = str(entry["service"])
        steps = entry.get("steps") or []
        approval = any(s.get("approval") for s in steps) or any(
            g.get("kind") == "approval" for g in entry.get("gates") or []
        )
        jobs = tuple(
            PlannedJob(
                service=name,
                kind=str(j["kind"]),
                when=str(j["when"]),
                command=tuple(str(c) for c in j.get("command") or ()),
                image=str(j.get("image") or "service"),
                target=j.get("target"),
                timeout_s=int(j.get("timeout_s") or 600),
            )
            for j in entry.get("jobs") or []
        )
        rollback = entry.get("rollback") or {}
        services[name] = PlannedService(
            name=name,
            phase=int(entry["phase"]),
            strategy=str(entry["strategy"]),
            approval=approval,
            jobs=jobs,
            rollback_action=str(rollback.get("action", "rollback")),
            rollback_reason=str(rollback.get("reason", "")),
            gates=tuple(g for g in entry.get("gates") or [] if g.get("kind") in ("projection-catch-up", "drain")),
        )
    phases = tuple(
        tuple(s for s in phase["services"] if s in services)
        for phase in sorted(data["phases"], key=lambda p: int(p["number"]))
    )
    phases = tuple(p for p in phases if p)
    head = str((data.get("head") or {}).get("commit") or "")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:8]
    return DeployPlan(
        id=digest,
        environment=str(data["environment"]),
        head=head,
        phases=phases,
        services=services,
        text=text,
    )
