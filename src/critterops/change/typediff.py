"""Compare the types of two versions: members removed, renamed, retyped, added; types moved.

Pure functions over :class:`TypeShape` lists so that every case can be tested with two C#
snippets side by side. Wolverine routes a message by its .NET full name unless the type carries
``[MessageIdentity]``; System.Text.Json binds record parameters by name. So for a message or an
event, a rename is as breaking as a removal, a namespace move breaks routing, and a new member
is safe only when old payloads (which lack it) still deserialize: it must have a default value
or be a nullable property. A positional record parameter without a default is required even
when nullable: every constructor call must pass it, and .NET 9's
``RespectRequiredConstructorParameters`` makes its absence a deserialization error.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from critterops.discover.csharp.shapes import TypeShape
from critterops.model import Location, Member, TypeChange

_SPACE = re.compile(r"\s+")


def _norm_type(type_text: str) -> str:
    return _SPACE.sub("", type_text).removeprefix("global::")


def _identity(shape: TypeShape) -> str | None:
    return "MessageIdentity" if "MessageIdentity" in shape.decl.info.attributes else None


@dataclass(frozen=True, slots=True)
class TypeDiff:
    """Everything that differs between the two versions of one type (or its appearance/removal)."""

    base: TypeShape | None
    head: TypeShape | None
    changes: tuple[TypeChange, ...]

    @property
    def name(self) -> str:
        shape = self.head or self.base
        assert shape is not None
        return shape.full_name

    @property
    def short_name(self) -> str:
        shape = self.head or self.base
        assert shape is not None
        return shape.decl.info.name

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    @property
    def code_changed(self) -> bool:
        return self.base is None or self.head is None or self.base.digest != self.head.digest


def _loc(shape: TypeShape, line: int = 0) -> Location:
    return Location(shape.decl.info.file, line or shape.decl.info.line)


def member_changes(base: TypeShape, head: TypeShape) -> list[TypeChange]:
    name = base.full_name
    old = {m.name: m for m in base.decl.info.members}
    new = {m.name: m for m in head.decl.info.members}
    is_enum = base.decl.info.kind == "enum"
    removed = [m for m in base.decl.info.members if m.name not in new]
    added = [m for m in head.decl.info.members if m.name not in old]
    out: list[TypeChange] = []
    # A removal and an addition of the same type at the same position is a rename.
    renamed: set[str] = set()
    base_pos = {m.name: i for i, m in enumerate(base.decl.info.members)}
    head_pos = {m.name: i for i, m in enumerate(head.decl.info.members)}
    for r in removed:
        for a in added:
            if a.name in renamed:
                continue
            same_type = is_enum or _norm_type(a.type) == _norm_type(r.type)
            if same_type and base_pos[r.name] == head_pos[a.name]:
                out.append(TypeChange(name, "member-renamed", r.name, f"{r.name} → {a.name}", True, _loc(head, a.line)))
                renamed.add(a.name)
                renamed.add(r.name)
                break
    for r in removed:
        if r.name not in renamed:
            out.append(TypeChange(name, "member-removed", r.name, f"{r.name} ({r.type}) removed", True, _loc(head)))
    for a in added:
        if a.name in renamed:
            continue
        if is_enum:
            appended = head_pos[a.name] >= len(base.decl.info.members)
            detail = f"enum member {a.name} " + ("appended" if appended else "inserted: later values shift")
            out.append(TypeChange(name, "enum-changed", a.name, detail, not appended, _loc(head, a.line)))
        elif a.optional and not (a.positional and not a.has_default):
            out.append(
                TypeChange(
                    name, "optional-member-added", a.name, f"{a.name} ({a.type}) added", False, _loc(head, a.line)
                )
            )
        else:
            out.append(
                TypeChange(
                    name,
                    "required-member-added",
                    a.name,
                    f"{a.name} ({a.type}) added without a default: payloads from the old version lack it",
                    True,
                    _loc(head, a.line),
                )
            )
    for key in old.keys() & new.keys():
        before, after = old[key], new[key]
        if is_enum:
            continue
        if _norm_type(before.type) != _norm_type(after.type):
            out.append(
                TypeChange(
                    name, "member-retyped", key, f"{key}: {before.type} → {after.type}", True, _loc(head, after.line)
                )
            )
        elif before.optional and not after.optional:
            out.append(
                TypeChange(name, "member-made-required", key, f"{key} is now required", True, _loc(head, after.line))
            )
    if is_enum and not out:
        kept_order = [m.name for m in base.decl.info.members if m.name in new]
        if kept_order != [m.name for m in head.decl.info.members if m.name in old]:
            out.append(TypeChange(name, "enum-changed", None, "enum members reordered: values shift", True, _loc(head)))
    return sorted(out, key=lambda c: (c.location.line if c.location else 0, c.change, c.member or ""))


def _by_name(shapes: Iterable[TypeShape]) -> dict[str, TypeShape]:
    out: dict[str, TypeShape] = {}
    for shape in shapes:
        # partial declarations: keep the one with members, merge is not needed for contracts
        current = out.get(shape.full_name)
        if current is None or len(shape.decl.info.members) > len(current.decl.info.members):
            out[shape.full_name] = shape
    return out


def _same_members(a: TypeShape, b: TypeShape) -> bool:
    left = [(m.name, _norm_type(m.type)) for m in a.decl.info.members]
    right = [(m.name, _norm_type(m.type)) for m in b.decl.info.members]
    return bool(left) and left == right


def diff_types(
    base: Iterable[TypeShape], head: Iterable[TypeShape], head_elsewhere: dict[str, TypeShape] | None = None
) -> list[TypeDiff]:
    """Pair the types of the changed files by full name, then explain what happened to each.

    ``head_elsewhere`` holds head types from files the change did not touch (by short name), so
    that a type whose file was moved but not edited is not reported as removed.
    """
    old = _by_name(base)
    new = _by_name(head)
    elsewhere = head_elsewhere or {}
    out: list[TypeDiff] = []
    consumed_new: set[str] = set()
    for full, shape in old.items():
        if full in new:
            after = new[full]
            consumed_new.add(full)
            changes = member_changes(shape, after)
            out.append(TypeDiff(shape, after, tuple(changes)))
            continue
        short = shape.decl.info.name
        moved = next(
            (s for n, s in new.items() if n not in old and s.decl.info.name == short),
            None,
        ) or elsewhere.get(short)
        if moved is not None and moved.full_name != full:
            consumed_new.add(moved.full_name)
            kept = _identity(shape) is not None and _identity(moved) is not None
            detail = (
                f"{short} moved from namespace {shape.decl.info.namespace or '(global)'} to {moved.decl.info.namespace}"
            )
            if kept:
                detail += "; [MessageIdentity] keeps its wire name"
            changes = [TypeChange(full, "type-moved-namespace", None, detail, not kept, _loc(moved))]
            changes += member_changes(shape, moved)
            out.append(TypeDiff(shape, moved, tuple(changes)))
            continue
        if moved is not None:  # same full name, in a file the change did not touch: unchanged
            continue
        renamed = next(
            (s for n, s in new.items() if n not in old and n not in consumed_new and _same_members(shape, s)),
            None,
        )
        if renamed is not None:
            consumed_new.add(renamed.full_name)
            detail = f"{shape.decl.info.name} renamed to {renamed.full_name}"
            kept = _identity(shape) is not None and _identity(renamed) is not None
            out.append(
                TypeDiff(shape, renamed, (TypeChange(full, "type-renamed", None, detail, not kept, _loc(renamed)),))
            )
            continue
        out.append(
            TypeDiff(shape, None, (TypeChange(full, "type-removed", None, f"{full} removed", True, _loc(shape)),))
        )
    for full, shape in new.items():
        if full in old or full in consumed_new:
            continue
        out.append(TypeDiff(None, shape, (TypeChange(full, "type-added", None, f"{full} added", False, _loc(shape)),)))
    return sorted(out, key=lambda d: d.name)


def members_text(members: tuple[Member, ...]) -> str:
    return ", ".join(f"{m.type} {m.name}" for m in members)


__all__ = ["TypeDiff", "diff_types", "member_changes"]
