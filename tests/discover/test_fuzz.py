"""Property-based: discovery never crashes, whatever bytes the files hold."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from critterops.discover import discover

FILE_NAMES = st.sampled_from(
    [
        "src/A/A.csproj",
        "src/A/Program.cs",
        "src/A/Properties/launchSettings.json",
        "src/A/appsettings.json",
        "docker-compose.yml",
        "src/A/Dockerfile",
        "App.slnx",
        "App.sln",
        "src/Contracts/Contracts.csproj",
        "src/Contracts/Messages.cs",
        "src/AppHost/AppHost.cs",
    ]
)
FRAGMENTS = st.sampled_from(
    [
        '<Project Sdk="Microsoft.NET.Sdk.Web">',
        "</Project>",
        '<ProjectReference Include="..\\\\B\\\\B.csproj" />',
        'opts.ListenToRabbitQueue("q")',
        "PublishMessage<X>().ToRabbitExchange(",
        "AddMarten(o => {",
        "}",
        "{",
        ")",
        '"profiles": {',
        '"applicationUrl": "http://localhost:',
        "services:\n  a:\n    ports: [",
        "record R(int A",
        "public class S : Saga {",
        "DaemonMode.",
        "\x00",
        "\xff",
        "${",
        "//",
        "/*",
        '"',
        ",",
        "\n",
    ]
)
CONTENT = st.one_of(
    st.binary(max_size=300),
    st.lists(FRAGMENTS, max_size=25).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass")),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "replace")),
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(FILE_NAMES, CONTENT, max_size=8))
def test_discovery_never_crashes(files: dict[str, bytes]) -> None:
    root = Path(tempfile.mkdtemp())
    try:
        for rel, data in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        system = discover(root)
        assert all(not s.project.startswith("/") for s in system.services)
        assert all(isinstance(w.message, str) and w.message for w in system.warnings)
    finally:
        shutil.rmtree(root)
