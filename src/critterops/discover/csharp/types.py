"""Type declarations: message contracts, sagas, aggregates, projections, handlers, migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from critterops.discover.csharp.syntax import (
    TYPE_DECLARATIONS,
    argument_nodes,
    arguments,
    attributes,
    base_types,
    captures,
    invocations,
    line,
    method_name,
    modifiers,
    namespace_of,
    text,
)
from critterops.discover.csharp.values import Scope
from critterops.model import Member, MigrationOp, TypeInfo

# Wolverine handler discovery: classes named *Handler or *Consumer (and sagas), methods with
# these names (Wolverine docs, guide/handlers/discovery).
HANDLER_METHODS = frozenset(
    {
        "Handle",
        "HandleAsync",
        "Handles",
        "HandlesAsync",
        "Consume",
        "ConsumeAsync",
        "Consumes",
        "ConsumesAsync",
        "Orchestrate",
        "OrchestrateAsync",
        "Orchestrates",
        "Start",
        "StartAsync",
        "Starts",
        "StartOrHandle",
        "StartsOrHandles",
        "NotFound",
    }
)
# Marten aggregate and projection conventions (Marten docs, events/projections/aggregate-projections).
EVENT_METHODS = frozenset({"Apply", "Create", "ShouldDelete", "Project", "Evolve", "Transform"})
_MIGRATION_OPS = re.compile(
    r"^(CreateTable|DropTable|RenameTable|AddColumn|DropColumn|RenameColumn|AlterColumn|CreateIndex|"
    r"DropIndex|RenameIndex|AddForeignKey|DropForeignKey|AddPrimaryKey|DropPrimaryKey|"
    r"AddUniqueConstraint|DropUniqueConstraint|Sql|InsertData|DeleteData|UpdateData|EnsureSchema|"
    r"DropSchema|CreateSequence|DropSequence|AlterTable|AddCheckConstraint|DropCheckConstraint)$"
)


@dataclass(frozen=True, slots=True)
class Method:
    name: str
    params: tuple[str, ...]
    attributes: tuple[str, ...]
    static: bool
    line: int

    @property
    def first_param(self) -> str | None:
        return self.params[0] if self.params else None


@dataclass(frozen=True, slots=True)
class TypeDecl:
    info: TypeInfo
    methods: tuple[Method, ...]
    projection_version: int | None
    public: bool
    migration_id: str | None = None
    migration_context: str | None = None
    migration_ops: tuple[MigrationOp, ...] = ()


def _nullable(type_text: str) -> bool:
    return type_text.endswith("?") or type_text.startswith("Nullable<")


def _record_members(decl: Node) -> list[Member]:
    members: list[Member] = []
    for child in decl.named_children:
        if child.type != "parameter_list":
            continue
        pending_type: str | None = None
        for param in child.named_children:
            if param.type == "parameter":
                type_node = param.child_by_field_name("type")
                name_node = param.child_by_field_name("name")
                if name_node is None:
                    continue
                type_text = text(type_node)
                has_default = any(
                    c.type not in ("attribute_list", "modifier") and c not in (type_node, name_node)
                    for c in param.named_children
                )
                members.append(
                    Member(
                        text(name_node),
                        type_text,
                        _nullable(type_text) or has_default,
                        has_default,
                        line(param),
                        positional=True,
                    )
                )
            elif param.type == "identifier" and pending_type is not None:
                # "params T[] Name" is not wrapped in a parameter node (tree-sitter-c-sharp 0.23)
                members.append(Member(text(param), pending_type, True, True, line(param), positional=True))
                pending_type = None
            else:
                pending_type = text(param)
    return members


def _body_members(decl: Node) -> list[Member]:
    members: list[Member] = []
    body = decl.child_by_field_name("body")
    if body is None:
        return members
    for child in body.named_children:
        if child.type == "property_declaration":
            mods = modifiers(child)
            if "static" in mods or ("public" not in mods and decl.type != "interface_declaration"):
                continue
            type_text = text(child.child_by_field_name("type"))
            name = text(child.child_by_field_name("name"))
            has_init = child.child_by_field_name("value") is not None
            optional = ("required" not in mods) and (_nullable(type_text) or has_init)
            members.append(Member(name, type_text, optional, has_init, line(child)))
        elif child.type == "field_declaration":
            mods = modifiers(child)
            if "public" not in mods or "const" in mods or "static" in mods:
                continue
            for var in captures("(variable_declaration) @v", child, "v"):
                type_text = text(var.child_by_field_name("type"))
                for declarator in var.named_children:
                    if declarator.type == "variable_declarator":
                        name = text(declarator.child_by_field_name("name"))
                        members.append(Member(name, type_text, _nullable(type_text), False, line(declarator)))
    if decl.type == "enum_declaration":
        for item in captures("(enum_member_declaration name: (identifier) @n)", decl, "n"):
            members.append(Member(text(item), "enum", False, False, line(item)))
    return members


def _methods(decl: Node) -> list[Method]:
    body = decl.child_by_field_name("body")
    out: list[Method] = []
    if body is None:
        return out
    for child in body.named_children:
        if child.type != "method_declaration":
            continue
        params = child.child_by_field_name("parameters")
        types: list[str] = []
        if params is not None:
            types = [text(p.child_by_field_name("type")) for p in params.named_children if p.type == "parameter"]
        attrs = tuple(a for a, _ in attributes(child))
        out.append(
            Method(
                text(child.child_by_field_name("name")), tuple(types), attrs, "static" in modifiers(child), line(child)
            )
        )
    return out


def _projection_version(decl: Node) -> int | None:
    for name, args in attributes(decl):
        if name == "ProjectionVersion" and args and args[0].strip().isdigit():
            return int(args[0].strip())
    body = decl.child_by_field_name("body")
    if body is None or b"ProjectionVersion" not in (body.text or b""):
        return None
    for assign in captures("(assignment_expression) @a", body, "a"):
        left = text(assign.child_by_field_name("left"))
        right = text(assign.child_by_field_name("right")).strip()
        if left.rsplit(".", 1)[-1] in ("ProjectionVersion", "Version") and right.isdigit():
            return int(right)
    for prop in captures("(property_declaration) @p", body, "p"):
        if text(prop.child_by_field_name("name")) == "ProjectionVersion":
            value = prop.child_by_field_name("value")
            digits = re.search(r"\d+", text(value) or text(prop))
            if digits:
                return int(digits.group(0))
    return None


def _migration(decl: Node, scope: Scope) -> tuple[str | None, str | None, tuple[MigrationOp, ...]]:
    migration_id: str | None = None
    context: str | None = None
    for name, args in attributes(decl):
        if name == "Migration" and args:
            migration_id = args[0].strip().strip('"')
        if name == "DbContext" and args:
            context = args[0].strip().removeprefix("typeof(").removesuffix(")").rsplit(".", 1)[-1]
    ops: list[MigrationOp] = []
    body = decl.child_by_field_name("body")
    if body is None:
        return migration_id, context, ()
    for method in body.named_children:
        if method.type != "method_declaration" or text(method.child_by_field_name("name")) != "Up":
            continue
        for call in invocations(method):
            op, _ = method_name(call)
            if not _MIGRATION_OPS.match(op):
                continue
            table: str | None = None
            column: str | None = None
            for arg_node in argument_nodes(call):
                label = arg_node.child_by_field_name("name")
                value = scope.evaluate(arg_node.named_children[-1]) if arg_node.named_children else None
                if label is None:
                    continue
                key = text(label)
                if key == "table" or (key == "name" and op in ("CreateTable", "DropTable", "RenameTable")):
                    table = value
                elif key == "name":
                    column = value
            if op == "CreateTable" and table is None:
                positional = arguments(call)
                table = scope.evaluate(positional[0]) if positional else None
            ops.append(MigrationOp(op, table, column, line(call)))
    return migration_id, context, tuple(ops)


def declarations(root: Node, file: str, scope: Scope) -> list[TypeDecl]:
    out: list[TypeDecl] = []
    query = " ".join(f"({kind}) @t" for kind in sorted(TYPE_DECLARATIONS))
    for decl in captures(f"[{query}]", root, "t"):
        name = text(decl.child_by_field_name("name"))
        kind = decl.type.removesuffix("_declaration").replace("_struct", " struct")
        mods = modifiers(decl)
        bases = tuple(base_types(decl))
        attrs = tuple(a for a, _ in attributes(decl))
        members = _record_members(decl) + _body_members(decl)
        info = TypeInfo(name, namespace_of(decl), file, line(decl), kind, tuple(members), bases, attrs)
        migration: tuple[str | None, str | None, tuple[MigrationOp, ...]] = (None, None, ())
        # EF Core splits a migration: the operations in X.cs, [Migration("id")] in X.Designer.cs
        if any(b.rsplit(".", 1)[-1] == "Migration" for b in bases) or "Migration" in attrs:
            migration = _migration(decl, scope)
        out.append(
            TypeDecl(
                info,
                tuple(_methods(decl)),
                _projection_version(decl),
                "public" in mods,
                *migration,
            )
        )
    return out


def handled_messages(decl: TypeDecl, is_saga: bool = False) -> list[str]:
    """Message types handled by a Wolverine handler class (first parameter of handler methods)."""
    name = decl.info.name
    conventional = name.endswith(("Handler", "Consumer")) or is_saga or "WolverineHandler" in decl.info.attributes
    out: list[str] = []
    for method in decl.methods:
        if (
            method.name in HANDLER_METHODS
            and method.first_param
            and (conventional or "WolverineHandler" in method.attributes)
        ):
            out.append(method.first_param.rsplit(".", 1)[-1])
    return out


# Marten passes these to projection and aggregate methods besides the event itself.
_NOT_EVENTS = re.compile(
    r"^(IEvent|IQuerySession|IDocumentSession|IDocumentOperations|IEventStream|CancellationToken|StreamAction|"
    r"IReadOnlyList<IEvent>|IMartenSession|string|Guid|int|long)$"
)
_EVENT_WRAPPER = re.compile(r"^(?:[\w.]+\.)?IEvent<(.+)>$")


def applied_events(decl: TypeDecl) -> list[str]:
    """Event types an aggregate or projection applies: ``Apply(View v, StockReceived e)`` → StockReceived.

    ``IEvent<T>`` is unwrapped; the projected document (the first generic argument of the base
    projection type, or the aggregate itself) and Marten's session types are not events.
    """
    documents = {decl.info.name}
    for base in decl.info.bases:
        if "<" in base:
            documents.add(base.split("<", 1)[1].split(",")[0].rstrip(">").strip().rsplit(".", 1)[-1])
    out: list[str] = []
    for method in decl.methods:
        if method.name not in EVENT_METHODS:
            continue
        for param in method.params:
            wrapped = _EVENT_WRAPPER.match(param)
            name = (wrapped.group(1) if wrapped else param).rsplit(".", 1)[-1]
            if name in documents or _NOT_EVENTS.match(name) or name.endswith("?"):
                continue
            out.append(name)
    return out
