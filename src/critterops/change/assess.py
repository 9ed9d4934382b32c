"""``risk``: from two refs to a :class:`RiskReport`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import cast

from critterops.change.impact import contract_checker
from critterops.change.rules import findings_for
from critterops.change.score import Levels, range_risk, rank, service_risk
from critterops.change.versions import ChangeSet, load_change
from critterops.gitrepo import GitRepo
from critterops.model import AffectedTest, CommitRisk, Finding, RiskReport, ServiceRisk, System

# (repo, base, head) -> (per-commit risks, provenance of the model); None when no model is available
CommitScorer = Callable[[GitRepo, str, str], tuple[list[CommitRisk], str]]


def files_by_commit(repo: GitRepo, base: str, head: str) -> dict[str, list[str]]:
    out = repo.run("log", "--first-parent", "-m", "--name-only", "-M", "--format=%x00%H", f"{base}..{head}")
    files: dict[str, list[str]] = {}
    for block in out.split("\0")[1:]:
        lines = [line for line in block.splitlines() if line]
        if lines:
            files[lines[0]] = lines[1:]
    return files


def _tests(change: ChangeSet, head_tests: dict[str, set[str]], affected: set[str]) -> list[AffectedTest]:
    out: dict[str, AffectedTest] = {}
    kinds = {t.project: t.kind for s in change.head_system.services for t in s.tests}
    covering: dict[str, set[str]] = defaultdict(set)
    for s in change.head_system.services:
        for t in s.tests:
            covering[t.project].add(s.name)
    for project in sorted(head_tests):
        out[project] = AffectedTest(project, kinds.get(project, "other"), tuple(sorted(covering[project])), "changed")
    for project, services in sorted(covering.items()):
        if project not in out and services & affected:
            out[project] = AffectedTest(
                project, kinds.get(project, "other"), tuple(sorted(services)), "covers-affected-service"
            )
    return sorted(out.values(), key=lambda t: t.project)


def _default_levels(repo: GitRepo, base: str) -> Levels:
    """Thresholds relative to the repository's recent commits, else the shipped model's."""
    from critterops.change.model import repository_levels
    from critterops.change.score import model_levels

    return repository_levels(repo, base) or model_levels()


def assess(
    root: str | Path,
    base_ref: str | None,
    head_ref: str = "HEAD",
    levels: Levels | None = None,
    scorer: CommitScorer | None = None,
) -> RiskReport:
    return assess_with_systems(root, base_ref, head_ref, levels, scorer)[0]


def assess_with_systems(
    root: str | Path,
    base_ref: str | None,
    head_ref: str = "HEAD",
    levels: Levels | None = None,
    scorer: CommitScorer | None = None,
) -> tuple[RiskReport, System, System]:
    """The report, and the base and head systems it compared (the planner needs them)."""
    change = load_change(root, base_ref, head_ref, during=scorer)
    if levels is None:
        levels = _default_levels(change.repo, change.base) if scorer is not None else Levels()
    findings, head_owners, base_owners, _ = findings_for(change)
    # who owns each changed file: its own service, and services referencing a shared library, but not
    # everyone referencing the shared contracts project (the contract rules name the real users)
    owned: list[tuple[str, str, str]] = []  # (path, service, direct | reference)
    for owners, system in ((head_owners, change.head_system), (base_owners, change.base_system)):
        is_contract = contract_checker(system)
        for path, by_service in owners.services.items():
            contract = is_contract(path)
            owned += [(path, s, kind) for s, kind in by_service.items() if kind == "direct" or not contract]
    how: dict[str, set[str]] = defaultdict(set)
    owner_of: dict[str, set[str]] = defaultdict(set)
    for path, service, kind in owned:
        how[service].add(kind)
        owner_of[path].add(service)
    for finding in findings:
        for service in finding.services:
            if service not in how:
                how[service].add("flow")
            if finding.rule == "service-added":
                how[service].add("new")
    commit_risks: list[CommitRisk] = []
    provenance: str | None = None
    if scorer is not None and change.commits and change.extra is not None:
        commit_risks, provenance = cast(tuple[list[CommitRisk], str], change.extra)
    by_sha = {c.sha: c for c in commit_risks}
    touched = files_by_commit(change.repo, change.base, change.head) if commit_risks else {}
    per_service_findings: dict[str, list[Finding]] = defaultdict(list)
    for finding in findings:
        for service in finding.services:
            per_service_findings[service].append(finding)
    services: list[ServiceRisk] = []
    for name in sorted(how):
        if not per_service_findings[name]:
            continue  # referenced a changed shared contract, but uses none of the changed messages
        commits = [
            by_sha[sha] for sha, paths in touched.items() if sha in by_sha and any(name in owner_of[p] for p in paths)
        ]
        order = ("new", "direct", "reference", "flow")
        affected_by = tuple(k for k in order if k in how[name])
        services.append(service_risk(name, affected_by, per_service_findings[name], commits, levels))
    services.sort(key=lambda s: (rank(s), s.service))
    deploy = bool(services) and not any(f.rule == "no-deploy" for f in findings)
    tests = _tests(change, head_owners.tests, {s.service for s in services})
    system_warnings = [w for w in change.head_system.warnings if "no .csproj found" in w.message]
    report = RiskReport(
        repository=str(change.repo.root),
        base=change.base_ref,
        head=change.head_ref,
        base_commit=change.base,
        head_commit=change.head,
        commits=tuple(commit_risks),
        files_changed=len(change.files),
        findings=tuple(findings),
        services=tuple(services),
        tests=tuple(tests),
        deploy=deploy,
        range_risk=range_risk(commit_risks, levels),
        warnings=tuple(change.warnings + system_warnings),
        model=provenance,
    )
    return report, change.base_system, change.head_system
