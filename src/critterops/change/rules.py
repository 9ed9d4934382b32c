"""The deterministic change rules. Each finding names one rule id from :data:`critterops.model.RULES`.

Inputs are the two discovered systems and the changed files of both versions; outputs are
findings with the services concerned, the message types, and file:line evidence. The rules
encode what breaks an event-driven system while two versions run side by side (reference
risk.md §4): message contracts routed by full type name, Marten events that can never be
rewritten, saga documents read by the new code, projections that need rebuilding, destructive
migrations on a database both versions share, and broker/daemon wiring.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable

import yaml

from critterops.change.impact import BUILD_WIDE, Ownership, contract_checker, is_doc, is_test_path, ownership
from critterops.change.typediff import TypeDiff, diff_types
from critterops.change.versions import ChangeSet
from critterops.discover import jsonc
from critterops.discover.csharp.shapes import TypeShape
from critterops.discover.settings import flatten
from critterops.model import Finding, Location, Migration, Service, TypeChange

DESTRUCTIVE_OPS = frozenset(
    {
        "DropTable",
        "DropColumn",
        "RenameColumn",
        "RenameTable",
        "AlterColumn",
        "DropSchema",
        "DropSequence",
        "DropPrimaryKey",
        "DropForeignKey",
        "DropUniqueConstraint",
        "DeleteData",
        "Sql",  # raw SQL: critterops cannot tell, so it assumes the worst
    }
)
_SAGA_SAFE = frozenset({"required-member-added", "member-made-required", "optional-member-added"})
# An inline projection "will be updated in the same transaction as the events being captured" (JasperFx V2.54.0
# src/JasperFx.Events/Projections/ProjectionLifecycle.cs, Inline; only Async runs in the async daemon): it has no
# progression row and nothing catches it up after a deploy.
_INLINE_NOTE = (
    "inline: no progression row and no daemon catch-up; documents already stored keep the old shape until "
    "rebuilt (`projections rebuild --projection {name}`) or until their stream gets a new event"
)
_MITIGATIONS = (b"MapEventType", b"Upcast", b"Upcaster", b"EventUpcaster")


def _is_config(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return (name.startswith("appsettings") and name.endswith(".json")) or name == "launchsettings.json"


def _is_infra(path: str) -> bool:
    lowered = path.lower()
    name = posixpath.basename(lowered)
    return (
        "dockerfile" in name
        or name.startswith(("docker-compose", "compose."))
        or lowered.startswith((".github/workflows/", ".github/actions/", "deploy/", "k8s/", "kubernetes/", "helm/"))
        or name in BUILD_WIDE
        or name.endswith((".csproj", ".props", ".targets"))
    )


class Rules:
    """Runs every rule over one :class:`ChangeSet`."""

    def __init__(self, change: ChangeSet) -> None:
        self.change = change
        self.base = change.base_system
        self.head = change.head_system
        self.findings: list[Finding] = []
        head_paths = [f.path for f in change.files if f.status != "D"]
        base_paths = [f.old_path or f.path for f in change.files if f.status in "DR"]
        self.head_owners = ownership(self.head, head_paths)
        self.base_owners = ownership(self.base, base_paths)
        self.diffs: list[TypeDiff] = []
        self._is_contract_file = contract_checker(self.base, self.head)

    # -- helpers --------------------------------------------------------------------------------

    def owners(self, path: str) -> dict[str, str]:
        return dict(self.head_owners.services.get(path, {})) or dict(self.base_owners.services.get(path, {}))

    def _services(self) -> list[Service]:
        by_name = {s.name: s for s in self.base.services}
        by_name.update({s.name: s for s in self.head.services})
        return list(by_name.values())

    def consumers(self, short: str, *, base_only: bool = False) -> set[str]:
        out: set[str] = set()
        for system in (self.base,) if base_only else (self.base, self.head):
            out |= {f.target for f in system.flows if f.message == short}
            for s in system.services:
                if s.wolverine and short in s.wolverine.handled_messages:
                    out.add(s.name)
                if any(short in saga.handled_messages for saga in s.sagas):
                    out.add(s.name)
        return out

    def publishers(self, short: str, *, base_only: bool = False) -> set[str]:
        out: set[str] = set()
        for system in (self.base,) if base_only else (self.base, self.head):
            out |= {f.source for f in system.flows if f.message == short}
            out |= {s.name for s in system.services for p in s.publishes if p.message == short}
        return out

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    # -- rules ----------------------------------------------------------------------------------

    def run(self) -> list[Finding]:
        self.diffs = diff_types(self.change.base_shapes, self.change.head_shapes)
        self.type_rules()
        self.projection_registrations()
        self.migration_rules()
        self.wiring_rules()
        self.service_set_rules()
        self.config_rules()
        self.infra_rules()
        self.code_rule()
        self.no_deploy_rule()
        return self.findings

    def _contract_names(self) -> set[str]:
        return {c.full_name for c in self.base.contracts} | {c.full_name for c in self.head.contracts}

    def _in_contract_project(self, diff: TypeDiff) -> bool:
        return any(self._shape_in_contracts(shape) for shape in (diff.base, diff.head) if shape is not None)

    def _shape_in_contracts(self, shape: TypeShape) -> bool:
        return self._is_contract_file(shape.decl.info.file)

    def _promoted(self, diff: TypeDiff, contracts: set[str]) -> bool:
        """A service-local type moved into the shared contracts that nothing sent or consumed before:
        no deployed service depends on its old name, so for the wire it is a new contract."""
        if diff.base is None or diff.base.full_name in contracts or self._shape_in_contracts(diff.base):
            return False
        short = diff.base.decl.info.name
        return not self.consumers(short, base_only=True) and not self.publishers(short, base_only=True)

    def _event_owners(self) -> dict[str, set[str]]:
        owners: dict[str, set[str]] = defaultdict(set)
        for s in self._services():
            if s.marten:
                for event in s.marten.event_types:
                    owners[event].add(s.name)
        return owners

    def _declaring(self, diff: TypeDiff, candidates: set[str]) -> set[str]:
        """The candidate services whose own projects declare the type (names alone are ambiguous)."""
        shape = diff.head or diff.base
        assert shape is not None
        out: set[str] = set()
        for name in candidates:
            service = self.head.service(name) or self.base.service(name)
            folders = tuple(posixpath.dirname(p) + "/" for p in service.source_projects) if service else ()
            if folders and shape.decl.info.file.startswith(folders):
                out.add(name)
        return out

    def _referencing(self, diff: TypeDiff, candidates: set[str]) -> set[str]:
        """The candidate services whose projects reference the shared project that declares the type:
        a contract appended as an event is declared outside every service."""
        shape = diff.head or diff.base
        assert shape is not None
        out: set[str] = set()
        for system in (self.base, self.head):
            projects = {p.path: p for p in system.projects}
            folders = {posixpath.dirname(path) + "/": path for path in projects}
            holders = [path for folder, path in folders.items() if shape.decl.info.file.startswith(folder)]
            declaring = max(holders, key=len) if holders else None
            for name in candidates:
                service = system.service(name)
                if service is None or declaring is None:
                    continue
                seen: set[str] = set()
                todo = list(service.source_projects)
                while todo:
                    current = todo.pop()
                    if current in seen or current not in projects:
                        continue
                    seen.add(current)
                    todo += projects[current].references
                if declaring in seen:
                    out.add(name)
        return out

    def _mitigation(self) -> Location | None:
        base_hits = sum(d.count(m) for d in self.change.base_source.values() for m in _MITIGATIONS)
        for path, data in sorted(self.change.head_source.items()):
            if any(m in data for m in _MITIGATIONS):
                head_hits = sum(d.count(m) for d in self.change.head_source.values() for m in _MITIGATIONS)
                if head_hits > base_hits:
                    line = next(
                        i for i, text in enumerate(data.splitlines(), 1) if any(m in text for m in _MITIGATIONS)
                    )
                    return Location(path, line)
        # AddEventType<T>() only registers T (Marten V9.29.0 src/Marten/Events/EventGraph.cs: AddEventType
        # calls _events.FillDefault(eventType)); Upcast sets a JsonTransformation and MapEventType maps an
        # old stored name: only those read events stored in the old shape
        base_up = {u for s in self.base.services if s.marten for u in s.marten.upcasters if _upcasts(u)}
        head_up = {u for s in self.head.services if s.marten for u in s.marten.upcasters if _upcasts(u)}
        if head_up - base_up:
            return Location("Program.cs")
        return None

    def type_rules(self) -> None:
        contracts = self._contract_names()
        events = self._event_owners()
        sagas = {saga.full_name: s.name for s in self._services() for saga in s.sagas}
        additive_contracts: list[TypeDiff] = []
        additive_events: list[tuple[TypeDiff, set[str]]] = []
        mitigation = self._mitigation()
        for diff in self.diffs:
            is_contract = diff.name in contracts or (diff.base is not None and diff.base.full_name in contracts)
            is_contract = is_contract or self._in_contract_project(diff)
            if is_contract and diff.changes:
                if diff.breaking and self._promoted(diff, contracts):
                    assert diff.head is not None
                    detail = (
                        f"{diff.name} added (moved from {diff.base.full_name if diff.base else '?'}, unused before)"
                    )
                    added = TypeChange(diff.name, "type-added", None, detail, False, Location(diff.head.decl.info.file))
                    additive_contracts.append(TypeDiff(None, diff.head, (added,)))
                elif diff.breaking:
                    self._contract_breaking(diff)
                elif any(c.change != "none" for c in diff.changes):
                    additive_contracts.append(diff)
            # a message contract a service also appends to its event store is both: the wire and the
            # stored stream break independently, so it gets both rules
            event_owners = self._declaring(diff, events.get(diff.short_name, set()))
            if not event_owners and is_contract:
                event_owners = self._referencing(diff, events.get(diff.short_name, set()))
            if event_owners and diff.changes:
                if diff.breaking:
                    self._event_breaking(diff, event_owners, mitigation)
                else:
                    additive_events.append((diff, event_owners))
            saga_name = diff.base.full_name if diff.base else diff.name
            if (saga_name in sagas or diff.name in sagas) and diff.changes:
                service = sagas.get(saga_name) or sagas[diff.name]
                self._saga(diff, service)
        if additive_contracts:
            types = tuple(d.name for d in additive_contracts)
            services = set().union(
                *(self.consumers(d.short_name) | self.publishers(d.short_name) for d in additive_contracts)
            )
            changes = tuple(c for d in additive_contracts for c in d.changes)
            self.add(
                Finding(
                    "contract-additive",
                    tuple(sorted(services)),
                    "; ".join(c.detail for c in changes[:6]) + (" ..." if len(changes) > 6 else ""),
                    tuple(sorted({c.location for c in changes if c.location})),
                    types,
                    changes,
                    (("new_types", ",".join(c.type for c in changes if c.change == "type-added")),),
                )
            )
        if additive_events:
            services = {name for _, owners in additive_events for name in owners}
            changes = tuple(c for d, _ in additive_events for c in d.changes)
            self.add(
                Finding(
                    "event-additive",
                    tuple(sorted(services)),
                    "; ".join(c.detail for c in changes[:6]),
                    tuple(sorted({c.location for c in changes if c.location})),
                    tuple(d.name for d, _ in additive_events),
                    changes,
                )
            )

    def _contract_breaking(self, diff: TypeDiff) -> None:
        short = diff.base.decl.info.name if diff.base else diff.short_name
        consumers = self.consumers(short)
        publishers = self.publishers(short)
        breaking = tuple(c for c in diff.changes if c.breaking)
        detail = "; ".join(c.detail for c in breaking)
        who = f" — consumed by {', '.join(sorted(consumers))}" if consumers else " — no consumer found in code"
        if publishers:
            who += f"; published by {', '.join(sorted(publishers))}"
        self.add(
            Finding(
                "contract-breaking",
                tuple(sorted(consumers | publishers)),
                detail + who,
                tuple(sorted({c.location for c in breaking if c.location})),
                (diff.base.full_name if diff.base else diff.name,),
                diff.changes,
                (
                    ("consumers", ",".join(sorted(consumers))),
                    ("publishers", ",".join(sorted(publishers))),
                    ("blast_radius", str(len(consumers))),
                ),
            )
        )

    def _event_breaking(self, diff: TypeDiff, services: set[str], mitigation: Location | None) -> None:
        breaking = tuple(c for c in diff.changes if c.breaking)
        detail = "; ".join(c.detail for c in breaking)
        if mitigation:
            detail += f" (an upcaster or MapEventType was added in this range at {mitigation})"
        else:
            detail += " — events already stored keep the old shape and no upcaster or MapEventType was added"
        files = {c.location for c in breaking if c.location}
        if mitigation:
            files.add(mitigation)
        self.add(
            Finding(
                "event-breaking",
                tuple(sorted(services)),
                detail,
                tuple(sorted(files)),
                (diff.base.full_name if diff.base else diff.name,),
                diff.changes,
                (("mitigated", "true" if mitigation else "false"),),
            )
        )

    def _saga(self, diff: TypeDiff, service: str) -> None:
        member_changes = tuple(c for c in diff.changes if c.change != "type-added")
        if not member_changes:
            return
        # A saga is a JSON document, not a constructor call: a member the old documents lack simply
        # starts at its default. Removing, renaming or retyping one loses or breaks stored state.
        breaking = any(c.breaking and c.change not in _SAGA_SAFE for c in member_changes)
        detail = "; ".join(c.detail for c in member_changes)
        detail += (
            " — sagas in flight were saved by the old version and are read by the new one"
            if breaking
            else " — new state members start empty for sagas already in flight"
        )
        self.add(
            Finding(
                "saga-state-changed",
                (service,),
                detail,
                tuple(sorted({c.location for c in member_changes if c.location})),
                (diff.name,),
                member_changes,
                (("breaking", "true" if breaking else "false"),),
            )
        )

    def projection_registrations(self) -> None:
        for service in self._services():
            projects = {posixpath.dirname(p) + "/" for p in service.source_projects}
            changed_code = {
                d.short_name: d
                for d in self.diffs
                if d.code_changed and d.base and d.head and d.head.decl.info.file.startswith(tuple(projects))
            }
            before = self.base.service(service.name)
            after = self.head.service(service.name)
            old = {p.name: p for p in (before.marten.projections if before and before.marten else ())}
            new = {p.name: p for p in (after.marten.projections if after and after.marten else ())}
            daemon = after.marten.daemon_mode if after and after.marten else None
            for name in sorted(old.keys() | new.keys()):
                p_old, p_new = old.get(name), new.get(name)
                notes: list[str] = []
                diff = changed_code.get(name) or changed_code.get(name + "Projection")
                if p_old and p_new:
                    if p_old.lifecycle != p_new.lifecycle:
                        notes.append(f"lifecycle {p_old.lifecycle} → {p_new.lifecycle}")
                    if p_old.version != p_new.version:
                        notes.append(f"ProjectionVersion {p_old.version} → {p_new.version}")
                    if diff is not None:
                        notes.append("projection code changed")
                elif p_new:
                    notes.append(f"new {p_new.lifecycle} projection")
                elif p_old:
                    notes.append("projection removed")
                if not notes:
                    continue
                current = p_new or p_old
                assert current is not None
                bumped = bool(p_old and p_new and p_new.version > p_old.version)
                rebuild = bool(
                    diff is not None or (p_old and p_new and p_old.lifecycle != p_new.lifecycle) or not p_old
                )
                if current.lifecycle == "Live" and not (p_old and p_old.lifecycle != "Live"):
                    # "only executed on demand" (ProjectionLifecycle.Live, JasperFx V2.54.0): nothing is
                    # stored, every read folds the events with the code of the version that reads
                    rebuild = False
                    notes.append("live: nothing stored, each read folds the events with the running code")
                if diff is not None and not bumped and p_old and current.lifecycle == "Async":
                    notes.append(
                        "no ProjectionVersion bump: the old and new versions share one progression row and table"
                    )
                if rebuild and current.lifecycle == "Inline":
                    notes.append(_INLINE_NOTE.format(name=name))
                files = []
                if diff is not None and diff.head is not None:
                    files.append(Location(diff.head.decl.info.file, diff.head.decl.info.line))
                if current.location:
                    files.append(current.location)
                self.add(
                    Finding(
                        "projection-changed",
                        (service.name,),
                        f"{name}: " + "; ".join(notes),
                        tuple(files),
                        (),
                        (),
                        (
                            ("projection", name),
                            ("lifecycle", current.lifecycle),
                            ("version_base", str(p_old.version) if p_old else ""),
                            ("version_head", str(p_new.version) if p_new else ""),
                            ("bumped", "true" if bumped else "false"),
                            ("rebuild", "true" if rebuild else "false"),
                            ("daemon", daemon or ""),
                        ),
                    )
                )

    def migration_rules(self) -> None:
        for service in self.head.services:
            before = self.base.service(service.name)
            old_ids = {m.id for m in (before.ef_core.migrations if before and before.ef_core else ())}
            old_by_id = {m.id: m for m in (before.ef_core.migrations if before and before.ef_core else ())}
            for migration in service.ef_core.migrations if service.ef_core else ():
                if migration.id not in old_ids:
                    self._migration(service.name, migration)
                elif old_by_id[migration.id].operations != migration.operations:
                    self.change.warn(
                        f"migration {migration.id} was already released and has been edited: databases that applied "
                        "it will not re-run it",
                        migration.file,
                    )

    def _migration(self, service: str, migration: Migration) -> None:
        destructive = [op for op in migration.operations if op.operation in DESTRUCTIVE_OPS]
        ops = destructive or list(migration.operations)
        described = ", ".join(
            f"{op.operation}({'.'.join(x for x in (op.table, op.column) if x) or '?'})" for op in ops[:6]
        )
        rule = "migration-destructive" if destructive else "migration-additive"
        detail = f"{migration.name} ({migration.context or 'DbContext'}): {described or 'no operations read'}"
        if destructive:
            detail += " — the old version still reads these columns while both run"
        self.add(
            Finding(
                rule,
                (service,),
                detail,
                tuple(Location(migration.file, op.line) for op in ops[:6]) or (Location(migration.file),),
                (),
                (),
                (("migration", migration.id), ("context", migration.context or "")),
            )
        )

    def wiring_rules(self) -> None:
        for service in self.head.services:
            before = self.base.service(service.name)
            if before is None:
                continue
            notes = _wiring_differences(before, service)
            if notes:
                location = service.wolverine.location if service.wolverine else None
                if location is None and service.marten:
                    location = service.marten.location
                self.add(
                    Finding(
                        "wiring-changed",
                        (service.name,),
                        "; ".join(notes),
                        (location,) if location else (),
                    )
                )

    def service_set_rules(self) -> None:
        old = {s.name for s in self.base.services}
        new = {s.name for s in self.head.services}
        for name in sorted(new - old):
            s = self.head.service(name)
            assert s is not None
            self.add(Finding("service-added", (name,), f"new deployable project {s.project}", (Location(s.project),)))
        for name in sorted(old - new):
            s = self.base.service(name)
            assert s is not None
            consumers = {f.source for f in self.head.flows if f.target == name}
            detail = f"{s.project} is gone"
            if consumers:
                detail += f"; {', '.join(sorted(consumers))} still send to it"
            self.add(Finding("service-removed", (name,), detail, (Location(s.project),)))

    def config_rules(self) -> None:
        per_service: dict[str, list[str]] = defaultdict(list)
        files: dict[str, list[Location]] = defaultdict(list)
        for change in self.change.files:
            if not _is_config(change.path):
                continue
            keys = _changed_keys(
                self.change.base_source.get(change.old_path or change.path), self.change.head_source.get(change.path)
            )
            owners = self.owners(change.path) or {"(none)": "direct"}
            for service in owners:
                summary = f"{posixpath.basename(change.path)}: " + (
                    ", ".join(keys[:5]) + (" ..." if len(keys) > 5 else "") if keys else change.status
                )
                per_service[service].append(summary)
                files[service].append(Location(change.path))
        for service, notes in sorted(per_service.items()):
            self.add(
                Finding(
                    "config-changed", (service,) if service != "(none)" else (), "; ".join(notes), tuple(files[service])
                )
            )

    def infra_rules(self) -> None:
        notes: dict[str, list[str]] = defaultdict(list)
        locations: dict[str, list[Location]] = defaultdict(list)
        for change in self.change.files:
            if not _is_infra(change.path):
                continue
            name = posixpath.basename(change.path).lower()
            if name.startswith(("docker-compose", "compose.")):
                services = _compose_changed(self, change.path)
            elif name.endswith(".csproj"):
                services = set(self.owners(change.path)) if _package_change(self, change.path) else set()
                if not services:
                    continue
            else:
                services = set(self.owners(change.path))
            label = change.path if change.status != "R" else f"{change.old_path} → {change.path}"
            for service in services or {""}:
                notes[service].append(label)
                locations[service].append(Location(change.path))
        for service, labels in sorted(notes.items()):
            self.add(
                Finding(
                    "infra-changed",
                    (service,) if service else (),
                    "changed: " + ", ".join(labels[:6]) + (" ..." if len(labels) > 6 else ""),
                    tuple(locations[service]),
                )
            )

    def code_rule(self) -> None:
        """Source changes no specific rule explains still ship the service."""
        explained = {s for f in self.findings if f.rule not in ("config-changed", "infra-changed") for s in f.services}
        per_service: dict[str, list[str]] = defaultdict(list)
        for change in self.change.files:
            if _is_config(change.path) or _is_infra(change.path) or is_doc(change.path):
                continue
            shared_contract = self._is_contract_file(change.path)
            for service, how in self.owners(change.path).items():
                if how == "reference" and shared_contract:
                    continue  # the contract rules say who uses the changed messages
                if how == "direct" or service not in explained:
                    per_service[service].append(change.path)
        for service, paths in sorted(per_service.items()):
            self.add(
                Finding(
                    "code-changed",
                    (service,),
                    f"{len(paths)} source file(s) changed",
                    tuple(Location(p) for p in paths[:10]),
                    facts=(("files", str(len(paths))),),
                )
            )

    def no_deploy_rule(self) -> None:
        if any(f.services for f in self.findings):
            return
        system = self.head
        paths = [f.path for f in self.change.files]
        if all(is_doc(p) or is_test_path(system, p) for p in paths):
            what = "documentation and tests" if paths else "nothing"
            self.add(Finding("no-deploy", (), f"only {what} changed: no service needs a deploy"))


def _upcasts(registration: str) -> bool:
    """Whether a Marten event registration read from the wiring (``Upcast<A, B>``, ``MapEventType<T>``,
    ``AddEventType<T>``) changes how stored events are read; a plain registration does not."""
    return registration.startswith(("Upcast", "MapEventType"))


def _wiring_differences(before: Service, after: Service) -> list[str]:
    notes: list[str] = []

    def compare(old: set[tuple[str, str]], new: set[tuple[str, str]], added: str, removed: str) -> None:
        notes.extend(added.format(*pair) for pair in sorted(new - old))
        notes.extend(removed.format(*pair) for pair in sorted(old - new))

    compare(
        {(x.transport, x.queue) for x in before.listens},
        {(x.transport, x.queue) for x in after.listens},
        "now listens to {} queue {}",
        "no longer listens to {} queue {}: messages sent there pile up",
    )
    compare(
        {(p.message, p.to) for p in before.publishes},
        {(p.message, p.to) for p in after.publishes},
        "publishes {} to {}",
        "no longer publishes {} to {}",
    )
    compare(
        {(b.queue, b.exchange) for b in before.bindings},
        {(b.queue, b.exchange) for b in after.bindings},
        "binds {} to exchange {}",
        "unbinds {} from exchange {}",
    )
    m_old, m_new = before.marten, after.marten
    if (m_old and m_old.daemon_mode) != (m_new and m_new.daemon_mode):
        notes.append(f"async daemon {m_old and m_old.daemon_mode} → {m_new and m_new.daemon_mode}")
    if (m_old and m_old.managed_distribution) != (m_new and m_new.managed_distribution):
        notes.append("Wolverine-managed projection distribution switched")
    if (m_old and m_old.auto_create_by_environment) != (m_new and m_new.auto_create_by_environment) or (
        m_old and m_old.auto_create
    ) != (m_new and m_new.auto_create):
        notes.append(f"AutoCreateSchemaObjects {m_old and m_old.auto_create} → {m_new and m_new.auto_create}")
    w_old, w_new = before.wolverine, after.wolverine
    for attr, label in (
        ("durable_local_queues", "durable local queues"),
        ("durable_outbox_all", "durable outbox on all sending endpoints"),
        ("durable_inbox_all", "durable inbox on all listeners"),
        ("message_storage", "message storage"),
        ("conventional_routing", "conventional routing"),
    ):
        a = getattr(w_old, attr) if w_old else None
        b = getattr(w_new, attr) if w_new else None
        if a != b:
            notes.append(f"{label}: {a} → {b}")
    if before.database != after.database or before.schema != after.schema:
        notes.append(f"database {before.database}/{before.schema} → {after.database}/{after.schema}")
    if before.http_port != after.http_port:
        notes.append(f"HTTP port {before.http_port} → {after.http_port}")
    return notes


def _changed_keys(old: bytes | None, new: bytes | None) -> list[str]:
    def load(data: bytes | None) -> dict[str, str]:
        if data is None:
            return {}
        try:
            return flatten(jsonc.loads(data.decode("utf-8-sig", "replace")))
        except ValueError:
            return {}

    a, b = load(old), load(new)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def _compose_changed(rules: Rules, path: str) -> set[str]:
    """Services whose compose entry differs (by compose service name), infrastructure counts for all."""

    def load(data: bytes | None) -> dict[str, object]:
        if data is None:
            return {}
        try:
            doc = yaml.safe_load(data)
        except yaml.YAMLError:
            return {}
        services = doc.get("services") if isinstance(doc, dict) else None
        return services if isinstance(services, dict) else {}

    change = next(c for c in rules.change.files if c.path == path)
    old = load(rules.change.base_source.get(change.old_path or path))
    new = load(rules.change.head_source.get(path))
    changed = {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}
    by_compose = {s.compose_service: s.name for s in rules._services() if s.compose_service}
    out = {by_compose[name] for name in changed if name in by_compose}
    if changed - by_compose.keys():
        # shared infrastructure (postgres, rabbitmq) changed: reported once, for no service in particular
        out.add("")
    return out


def _package_change(rules: Rules, path: str) -> bool:
    change = next(c for c in rules.change.files if c.path == path)
    old = rules.change.base_source.get(change.old_path or path, b"")
    new = rules.change.head_source.get(path, b"")

    def refs(data: bytes) -> set[bytes]:
        return {
            line.strip() for line in data.splitlines() if b"PackageReference" in line or b"<TargetFramework" in line
        }

    return refs(old) != refs(new)


def findings_for(change: ChangeSet) -> tuple[list[Finding], Ownership, Ownership, list[TypeDiff]]:
    rules = Rules(change)
    return rules.run(), rules.head_owners, rules.base_owners, rules.diffs


def changed_types(findings: Iterable[Finding]) -> list[TypeChange]:
    return [c for f in findings for c in f.changes]
