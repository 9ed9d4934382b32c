"""``critterops generate``: the deployment kit, written into one folder (or compared with it)."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from critterops.commands._common import example_path
from critterops.errors import EXIT_FINDINGS, UserError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "generate",
        help="write the deployment kit: kustomize + Argo Rollouts, workflows, alerts, dashboards, runbooks",
        description=(
            "Generate the deployment kit for a Critter Stack repository into --out: Kubernetes (kustomize base "
            "and dev/staging/production overlays, Argo Rollouts, NetworkPolicies, AnalysisTemplates), GitHub "
            "Actions workflows, Prometheus alerts with unit tests, Grafana dashboards, an OpenTelemetry "
            "Collector config, runbooks and missing Dockerfiles. Reruns are byte-identical."
        ),
    )
    parser.add_argument("path", nargs="?", help="repository (default: current folder)")
    parser.add_argument("--example", action="store_true", help="generate for the bundled example system")
    parser.add_argument("--out", type=Path, help="output folder (default: deploy/ in the repository)")
    parser.add_argument("--plan", type=Path, help="a plan from `critterops plan --format json` to follow")
    parser.add_argument("--only", help="comma-separated parts: kubernetes,github,observability,runbooks,docker")
    parser.add_argument("--no-argo", action="store_true", help="plain Deployments instead of Argo Rollouts")
    parser.add_argument(
        "--format",
        default="kustomize",
        help="kustomize (default), helm (one chart, written to --out), or kustomize,helm (the chart in --out/helm)",
    )
    parser.add_argument(
        "--judge",
        choices=("threshold", "critterops"),
        help="who decides Argo's analyses: threshold (Prometheus queries against the policy's limits) or "
        "critterops (the kit runs `critterops judge serve` and the analyses ask it); default: the policy's "
        "defaults.judge, else threshold",
    )
    parser.add_argument(
        "--github-enterprise",
        action="store_true",
        help="workflows for GitHub Enterprise Server: reusable workflows as ./ (the $/ form is github.com only)",
    )
    parser.add_argument("--registry", help="image registry prefix (default: ghcr.io/<owner>/<repo> from origin)")
    parser.add_argument("--tag", help="immutable image tag for every overlay (default: the git commit)")
    parser.add_argument("--policy", type=Path, help="policy file (default: critterops.yaml at the repository root)")
    parser.add_argument(
        "--runbook-url",
        help="base URL the alerts' runbook_url points at (default: the kit's runbooks on the GitHub remote)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 and show a diff when the folder differs")
    parser.add_argument("--validate", action="store_true", help="run the installed validators on the written kit")


def _git(repo: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 and result.stdout.strip() else None


def _registry(repo: Path, name: str) -> str:
    url = _git(repo, "remote", "get-url", "origin") or ""
    match = re.search(r"github\.com[:/]([^/]+)/([^/.]+)", url)
    if match:
        return f"ghcr.io/{match.group(1).lower()}/{match.group(2).lower()}"
    return f"registry.example.com/{name}"


def _load_plan(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UserError(f"--plan {path}: cannot be read ({error.strerror})") from error
    except ValueError as error:
        raise UserError(f"--plan {path}: not JSON ({error})") from error
    if isinstance(data, dict) and data.get("schema") == "critterops.plan/v1":
        raise UserError(
            f"--plan {path}: a critterops.plan/v1 document (jobs as text): run `critterops plan --format json` again"
        )
    if not isinstance(data, dict) or data.get("schema") != "critterops.plan/v2":
        raise UserError(f'--plan {path}: not a critterops plan (expected "schema": "critterops.plan/v2")')
    return data


def run(args: argparse.Namespace) -> int:
    from critterops.discover import discover
    from critterops.generate.context import KitContext, system_name
    from critterops.generate.kit import build_kit, check_kit, check_out_dir, parse_groups, write_kit
    from critterops.generate.links import read_checkout, runbook_base
    from critterops.plan.policy import default_policy, load_policy

    if args.example and args.path:
        raise UserError("give either PATH or --example, not both")
    repo = example_path() if args.example else Path(args.path or ".")
    if args.example and args.out is None:
        raise UserError("--example needs --out: the bundled example is read-only package data")
    out = args.out or (repo / "deploy")
    groups = parse_groups(args.only)
    formats = _formats(args.format)
    system = discover(repo)
    if not system.services:
        raise UserError(f"{repo}: no deployable .NET service found; nothing to generate")
    if not args.example:
        check_out_dir(out, repo)
    name = system_name(system)
    policy = default_policy() if args.example else load_policy(repo, args.policy)
    tag = args.tag or ("example" if args.example else (_git(repo, "rev-parse", "--short=12", "HEAD") or ""))
    warnings: list[str] = []
    if not tag:
        tag = "unversioned"
        warnings.append("not a git repository: images are tagged 'unversioned'; pass --tag with a commit SHA")
    if tag == "latest":
        raise UserError("--tag latest is mutable; use the commit SHA so every overlay pins one image")
    plan = _load_plan(args.plan) if args.plan else None
    registry = args.registry or ("ghcr.io/example/pawmart" if args.example else _registry(repo, name))
    out_resolved = out.resolve()
    try:
        out_prefix = out_resolved.relative_to(repo.resolve()).as_posix()
    except ValueError:
        out_prefix = out_resolved.name
    runbooks = runbook_base(None if args.example else read_checkout(repo), out_resolved, out_prefix)
    if runbooks.note and not args.runbook_url and not args.example:
        warnings.append(
            f"the alerts' runbook_url is the relative path {runbooks.url}/<alert>.md because {runbooks.note}; "
            "pass --runbook-url with the address the runbooks are browsed at"
        )
    ctx = KitContext(
        system,
        policy,
        name=name,
        registry=registry,
        tag=tag,
        argo=not args.no_argo,
        github_enterprise=args.github_enterprise,
        plan=plan,
        runbook_base_url=args.runbook_url or runbooks.url,
        warnings=warnings,
        judge=args.judge or policy.judge,
    )
    files = build_kit(ctx, groups, out_prefix if out_prefix != "." else "") if "kustomize" in formats else {}
    if "helm" in formats:
        from critterops.generate.helm import helm_files

        files.update(helm_files(ctx, "helm/" if "kustomize" in formats else ""))
    if args.check:
        problems = check_kit(files, out)
        for problem in problems:
            print(problem)
        print(
            f"{len(problems)} difference(s) between {out} and the generated kit" if problems else f"{out} is up to date"
        )
        return EXIT_FINDINGS if problems else 0
    report = write_kit(files, out)
    print(
        f"{out}: {len(report.written)} written, {len(report.unchanged)} unchanged, {len(report.removed)} removed "
        f"({len(files)} files: {', '.join(groups) if 'kustomize' in formats else 'helm chart'})"
    )
    from critterops.generate.kubernetes import job_warnings, workload_warnings

    for warning in workload_warnings(ctx) + job_warnings(ctx) + warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if args.validate:
        return _validate(out, groups if "kustomize" in formats else (), formats, name)
    return 0


def _formats(text: str) -> tuple[str, ...]:
    chosen = {f.strip() for f in text.split(",") if f.strip()}
    unknown = sorted(chosen - {"kustomize", "helm"})
    if unknown or not chosen:
        raise UserError(
            f"--format: unknown format(s) {', '.join(unknown) or repr(text)}; choose kustomize, helm or both"
        )
    return tuple(f for f in ("kustomize", "helm") if f in chosen)


def _validate(out: Path, groups: tuple[str, ...], formats: tuple[str, ...] = ("kustomize",), name: str = "") -> int:
    from critterops.generate import validate

    results = []
    if "helm" in formats:
        from critterops.generate import helm

        chart = out / "helm" if "kustomize" in formats else out
        results += helm.chart_checks(chart, name)
        if "kustomize" in formats and "kubernetes" in groups:
            results.append(helm.equivalence_result(chart, out, name))
    if not groups:
        return _print_results(results)
    if "kubernetes" in groups:
        results += validate.kubernetes_checks(out)
    results += validate.other_checks(out, groups)
    if "kubernetes" in groups:
        from critterops.generate import labcheck

        results += labcheck.server_dry_run(out)
    return _print_results(results)


def _print_results(results: list[Any]) -> int:
    failed = 0
    for result in results:
        if result.skipped:
            print(f"SKIP {result.validator}: {result.skipped}")
            continue
        status = "PASS" if result.ok else "FAIL"
        failed += not result.ok
        print(f"{status} {result.validator}: {result.checked} checked, {len(result.problems)} problem(s)")
        for problem in result.problems[:20]:
            print(f"     {problem}")
    return EXIT_FINDINGS if failed else 0
