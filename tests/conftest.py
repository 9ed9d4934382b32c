"""Shared fixtures: small repositories written into temporary folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from critterops.commands._common import example_path

WriteRepo = Callable[[dict[str, str | bytes]], Path]


@pytest.fixture
def write_repo(tmp_path: Path) -> WriteRepo:
    """Write ``{relative path: content}`` under a fresh folder and return the folder."""

    def write(files: dict[str, str | bytes]) -> Path:
        root = tmp_path / "repo"
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        root.mkdir(exist_ok=True)
        return root

    return write


@pytest.fixture(scope="session")
def pawmart() -> Path:
    return example_path("pawmart")


WEB_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup><TargetFramework>net9.0</TargetFramework></PropertyGroup>
  <ItemGroup>{packages}</ItemGroup>
  <ItemGroup>{references}</ItemGroup>
</Project>
"""


def web_csproj(packages: tuple[str, ...] = (), references: tuple[str, ...] = ()) -> str:
    return WEB_CSPROJ.format(
        packages="".join(f'<PackageReference Include="{p}" />' for p in packages),
        references="".join(f'<ProjectReference Include="{r}" />' for r in references),
    )


LIB_CSPROJ = """<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>net9.0</TargetFramework></PropertyGroup>
</Project>
"""
