"""Read MSBuild project files (``*.csproj``) and solutions (``.sln``, ``.slnx``)."""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from critterops.discover.files import SourceTree

TEST_PACKAGES = ("Microsoft.NET.Test.Sdk", "xunit", "xunit.v3", "NUnit", "MSTest", "TUnit", "MSTest.TestFramework")


@dataclass
class CsProject:
    path: str  # relative POSIX path of the .csproj
    sdk: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    packages: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # relative POSIX paths of referenced .csproj
    compile_removes: list[str] = field(default_factory=list)
    ok: bool = True

    @property
    def directory(self) -> str:
        return posixpath.dirname(self.path)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).stem

    @property
    def assembly_name(self) -> str:
        return self.properties.get("AssemblyName") or self.name

    def prop(self, name: str) -> str:
        return self.properties.get(name, "").strip()

    def has_package(self, *prefixes: str) -> bool:
        return any(p.lower().startswith(prefix.lower()) for p in self.packages for prefix in prefixes)

    @property
    def is_test(self) -> bool:
        if self.prop("IsTestProject").lower() == "true":
            return True
        if self.sdk and "MSTest.Sdk" in self.sdk:
            return True
        return any(p in TEST_PACKAGES or p.startswith(("xunit", "NUnit", "MSTest", "TUnit")) for p in self.packages)

    @property
    def is_apphost(self) -> bool:
        return bool(
            (self.sdk and "Aspire.AppHost.Sdk" in self.sdk)
            or self.prop("IsAspireHost").lower() == "true"
            or self.has_package("Aspire.Hosting.AppHost")
        )

    @property
    def is_service_defaults(self) -> bool:
        return self.prop("IsAspireSharedProject").lower() == "true" or self.name.endswith("ServiceDefaults")

    @property
    def output_exe(self) -> bool:
        return self.prop("OutputType").lower() in ("exe", "winexe")

    @property
    def target_framework(self) -> str | None:
        value = self.prop("TargetFramework") or self.prop("TargetFrameworks").split(";")[0]
        return value or None


def _strip_ns(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _normalise(base_dir: str, include: str) -> str:
    joined = posixpath.normpath(posixpath.join(base_dir, include.replace("\\", "/")))
    return joined


def read_project(tree: SourceTree, rel: str) -> CsProject:
    project = CsProject(rel)
    content = tree.read_text(rel)
    if content is None:
        project.ok = False
        return project
    try:
        root = ET.fromstring(content)
    except ET.ParseError as error:
        tree.warn(rel, f"invalid project XML ({error}); treated as a library with no references")
        project.ok = False
        return project
    project.sdk = root.get("Sdk")
    base = posixpath.dirname(rel)
    for element in root.iter():
        tag = _strip_ns(element.tag) if isinstance(element.tag, str) else ""
        if tag == "Sdk" and element.get("Name") and project.sdk is None:
            project.sdk = element.get("Name")
        elif tag == "Import" and element.get("Sdk") and project.sdk is None:
            project.sdk = element.get("Sdk")
        elif tag == "PackageReference":
            name = element.get("Include") or element.get("Update")
            if name and element.get("Include"):
                project.packages.append(name.strip())
        elif tag == "ProjectReference":
            include = element.get("Include")
            if include:
                project.references.append(_normalise(base, include))
        elif tag == "Compile" and element.get("Remove"):
            project.compile_removes.append(element.get("Remove") or "")
    for group in root:
        if not isinstance(group.tag, str) or _strip_ns(group.tag) != "PropertyGroup":
            continue
        if group.get("Condition"):
            continue
        for prop in group:
            if isinstance(prop.tag, str) and prop.text is not None:
                project.properties.setdefault(_strip_ns(prop.tag), prop.text.strip())
    if project.sdk:
        project.sdk = project.sdk.split("/")[0].strip()
    return project


def read_build_props(tree: SourceTree, rel: str) -> dict[str, str]:
    """Unconditional properties of a ``Directory.Build.props`` (MSBuild imports it before the project)."""
    content = tree.read_text(rel)
    if content is None:
        return {}
    try:
        root = ET.fromstring(content)
    except ET.ParseError as error:
        tree.warn(rel, f"invalid XML ({error}); its properties are ignored")
        return {}
    out: dict[str, str] = {}
    for group in root:
        if not isinstance(group.tag, str) or _strip_ns(group.tag) != "PropertyGroup" or group.get("Condition"):
            continue
        for prop in group:
            if isinstance(prop.tag, str) and prop.text is not None and not prop.get("Condition"):
                out.setdefault(_strip_ns(prop.tag), prop.text.strip())
    return out


def apply_build_props(tree: SourceTree, projects: dict[str, CsProject]) -> None:
    """Give each project the properties of the nearest Directory.Build.props above it (project values win)."""
    props_files = {posixpath.dirname(p): p for p in tree.files if posixpath.basename(p) == "Directory.Build.props"}
    cache: dict[str, dict[str, str]] = {}
    for rel, project in projects.items():
        folder = posixpath.dirname(rel)
        while True:
            if folder in props_files:
                path = props_files[folder]
                if path not in cache:
                    cache[path] = read_build_props(tree, path)
                for key, value in cache[path].items():
                    if "$(" not in value:
                        project.properties.setdefault(key, value)
                break
            if not folder:
                break
            folder = posixpath.dirname(folder)


_SLN_PROJECT = re.compile(r'^Project\("\{[^}]*\}"\)\s*=\s*"[^"]*",\s*"(?P<path>[^"]+\.\w+proj)"', re.MULTILINE)


def read_solution(tree: SourceTree, rel: str) -> list[str]:
    """Project paths listed by a solution, relative to the repository root."""
    content = tree.read_text(rel)
    if content is None:
        return []
    base = posixpath.dirname(rel)
    if rel.lower().endswith(".slnx"):
        try:
            root = ET.fromstring(content)
        except ET.ParseError as error:
            tree.warn(rel, f"invalid solution XML ({error}); projects are found by walking the tree instead")
            return []
        return [
            _normalise(base, el.get("Path") or "")
            for el in root.iter()
            if isinstance(el.tag, str) and _strip_ns(el.tag) == "Project" and el.get("Path")
        ]
    return [_normalise(base, m.group("path")) for m in _SLN_PROJECT.finditer(content)]
