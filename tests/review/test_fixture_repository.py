"""The Kennel fixture repository (two contexts, deliberate defects): every expected finding and nothing else
from critterops' own rules, with the inline suppressions applied."""

from __future__ import annotations

from pathlib import Path

from critterops.review import review

BOARDING = "src/Boarding/Boarding.Api"
EXPECTED = {
    ("CR101", f"{BOARDING}/Program.cs", 16),  # AutoCreate.All unconditionally
    ("CR102", "deploy/boarding-api.yaml", 7),  # Solo daemon, 2 replicas
    ("CR103", f"{BOARDING}/Program.cs", 27),  # listener without durable inbox
    ("CR107", f"{BOARDING}/appsettings.json", 4),  # Password= in appsettings.json
    ("CR114", f"{BOARDING}/Dockerfile", 7),  # no USER
    ("CR115", "docker-compose.yml", 10),  # rabbitmq:management
    ("CR116", "deploy/boarding-api.yaml", 17),
    ("CR117", "deploy/boarding-api.yaml", 17),
    ("CR118", "deploy/boarding-api.yaml", 1),
}
SUPPRESSED = {
    ("CR107", "docker-compose.yml", 7, "inline: local development database only"),
    (
        "CR108",
        "src/Grooming/Grooming.Api/Program.cs",
        21,
        "inline: the broker runs as a sidecar at localhost in every environment",
    ),
}


def test_kennel_findings(kennel: Path) -> None:
    report = review(kennel, tools={})
    assert {(f.rule, f.file, f.line) for f in report.active} == EXPECTED
    assert {(f.rule, f.file, f.line, f.suppressed) for f in report.findings if f.suppressed} == SUPPRESSED
    assert not report.warnings


def test_grooming_is_clean(kennel: Path) -> None:
    """Grooming does it right (AutoCreate None outside Development, durable inbox and outbox, USER): no finding
    points at it except the suppressed fallback address."""
    report = review(kennel, tools={})
    assert not [f for f in report.active if f.file.startswith("src/Grooming/")]
