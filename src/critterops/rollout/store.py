"""The rollout's state folder: what a killed controller needs to resume, and the command inbox.

Layout of ``<state-dir>/<service>/``: ``rollout.json`` (the spec and the runtime: commands, ports,
process ids, the proxy), ``state.json`` (the state machine, rewritten atomically after every
transition), ``control.json`` (a command from ``deploy promote|abort``, consumed once),
``controller.pid`` (the running controller, so two never drive one rollout), logs, and the
HAProxy config and admin socket.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from critterops.errors import UserError
from critterops.rollout.engine import AnalysisSpec, Event, RolloutSpec, State, Step
from critterops.rollout.judges import Counts, Look


@dataclass
class Runtime:
    """The I/O side of a rollout: how to run each version and where things live."""

    stable_command: str
    canary_command: str
    listen_port: int = 0
    health_path: str = "/health"
    load_rps: float = 0.0
    http_file: str | None = None
    ports: dict[str, int] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    prometheus: str | None = None  # base URL; None = HAProxy statistics
    queries: dict[str, str] = field(default_factory=dict)  # "<stable|canary>.<requests|errors|latency_ms>" -> PromQL
    # consumer rollouts (traffic = messages): no proxy; the share of a queue follows the listener counts
    queue: str | None = None
    amqp: str | None = None
    management: str | None = None
    stable_listeners: int = 0
    drain_timeout_s: float = 60.0
    outbox_dsn: str | None = None  # PostgreSQL holding Wolverine's envelope tables: drains wait for the outbox too
    outbox_schema: str = "wolverine"
    listeners: dict[str, int] = field(default_factory=dict)  # role -> listeners of its running process
    shares: list[dict[str, float]] = field(default_factory=list)  # per weight step: planned and realised share


def _write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(data, stream, indent=2, sort_keys=True)
        stream.write("\n")
    os.replace(temp, path)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable rollout state ({error}); remove the folder to start over") from error


class Store:
    def __init__(self, root: Path, service: str) -> None:
        self.folder = root / service
        self.service = service

    @property
    def exists(self) -> bool:
        return (self.folder / "rollout.json").is_file()

    # -- spec and runtime --------------------------------------------------------------------------

    def save_rollout(self, spec: RolloutSpec, runtime: Runtime) -> None:
        _write(self.folder / "rollout.json", {"spec": asdict(spec), "runtime": asdict(runtime)})

    def load_rollout(self) -> tuple[RolloutSpec, Runtime]:
        data = _read(self.folder / "rollout.json")
        if data is None:
            raise UserError(f"no rollout of {self.service} in {self.folder.parent}; start one with critterops deploy")
        spec = data["spec"]
        analysis = spec.pop("analysis")
        analysis["settings"] = tuple(tuple(item) for item in analysis["settings"])
        steps = tuple(Step(**s) for s in spec.pop("steps"))
        return RolloutSpec(steps=steps, analysis=AnalysisSpec(**analysis), **spec), Runtime(**data["runtime"])

    # -- state --------------------------------------------------------------------------------------

    def save_state(self, state: State) -> None:
        _write(self.folder / "state.json", asdict(state))

    def load_state(self) -> State | None:
        data = _read(self.folder / "state.json")
        if data is None:
            return None
        data["looks"] = tuple(
            Look(look["t"], Counts(**look["stable"]), Counts(**look["canary"])) for look in data["looks"]
        )
        data["events"] = tuple(Event(**event) for event in data["events"])
        return State(**data)

    # -- commands -----------------------------------------------------------------------------------

    def send(self, command: str) -> None:
        _write(self.folder / "control.json", {"command": command})

    def take_command(self) -> str | None:
        path = self.folder / "control.json"
        data = _read(path)
        if data is None:
            return None
        path.unlink(missing_ok=True)
        command = data.get("command") if isinstance(data, dict) else None
        return command if command in ("promote", "abort") else None

    # -- the controller -----------------------------------------------------------------------------

    def claim(self) -> None:
        """Record this process as the controller; refuse when another live one holds the rollout."""
        path = self.folder / "controller.pid"
        if path.is_file():
            try:
                other = int(path.read_text().strip())
                if other != os.getpid():
                    os.kill(other, 0)
                    raise UserError(
                        f"a controller (pid {other}) is already driving {self.service}; use deploy status/promote/abort"
                    )
            except (ValueError, ProcessLookupError):
                pass
            except PermissionError as error:
                raise UserError(f"controller.pid names a process of another user: {error}") from error
        self.folder.mkdir(parents=True, exist_ok=True)
        path.write_text(str(os.getpid()))

    def release(self) -> None:
        (self.folder / "controller.pid").unlink(missing_ok=True)
