"""Model objects → plain JSON-ready data."""

from __future__ import annotations

import dataclasses
from typing import Any

from critterops.model import Location, Service, System
from critterops.model.system import SCHEMA


def plain(value: Any) -> Any:
    """Dataclasses become dicts (a ``location`` field is flattened into ``file``/``line``)."""
    if isinstance(value, Location):
        return {"file": value.file, "line": value.line}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if f.name == "location":
                out["file"] = item.file if item else None
                out["line"] = item.line if item else None
            else:
                out[f.name] = plain(item)
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def service_dict(service: Service) -> dict[str, Any]:
    data: dict[str, Any] = plain(service)
    data["sagas"] = [s.name for s in service.sagas]
    data["saga_details"] = plain(service.sagas)
    data["tests"] = [t.project for t in service.tests]
    data["test_details"] = plain(service.tests)
    # a setting's own ``file`` flag (mount a file) would collide with a flattened location
    data["settings"] = [
        {
            **{f.name: plain(getattr(s, f.name)) for f in dataclasses.fields(s) if f.name != "location"},
            "env_var": s.env_var,
            "location": plain(s.location) if s.location else None,
        }
        for s in service.settings
    ]
    if service.marten is not None:
        data["marten"]["auto_create_by_environment"] = dict(service.marten.auto_create_by_environment)
    return data


def system_dict(system: System) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "root": system.root,
        "solution": system.solution,
        "services": [service_dict(s) for s in system.services],
        "infrastructure": plain(system.infrastructure),
        "contracts": plain(system.contracts),
        "flows": [
            {
                "from": f.source,
                "to": f.target,
                "message": f.message,
                "via": f.via,
                "transport": f.transport,
                "resolution": f.resolution,
            }
            for f in system.flows
        ],
        "exchanges": list(system.exchanges),
        "projects": plain(system.projects),
        "warnings": plain(system.warnings),
    }
