"""Run a review: discover the system once, run every rule, fold in the external tools, apply inline
suppressions and the baseline. Pure data out (:class:`ReviewReport`); the command renders it."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from critterops.discover.assemble import discover_tree
from critterops.discover.files import SourceTree
from critterops.review.context import ReviewContext
from critterops.review.model import CRITTEROPS, Baseline, Finding, Hit, ReviewReport, Rule, ToolRun
from critterops.review.rules import RULES, RULES_BY_ID
from critterops.review.suppress import inline_suppressions, repository_identity, with_fingerprints
from critterops.review.tools import TOOLS, ToolFunction


def _finding(rule: Rule, hit: Hit) -> Finding:
    return Finding(
        rule.id, hit.severity or rule.severity, hit.file, hit.line, hit.message, CRITTEROPS, rule.why, rule.fix
    )


def review(
    root: str | Path,
    *,
    base: str | None = None,
    tools: dict[str, ToolFunction] | None = None,
    baseline: Baseline | None = None,
    rules: tuple[Rule, ...] = RULES,
    skip_tools: bool = False,
) -> ReviewReport:
    """Review the repository at ``root``. ``tools`` defaults to every external tool; ``skip_tools`` lists
    them as skipped without running them (they are never reported as passed)."""
    started = time.perf_counter()
    tree = SourceTree.open(root)
    system = discover_tree(tree)
    ctx = ReviewContext(tree, system)
    not_run: list[tuple[str, str]] = []
    if base is not None:
        from critterops.change.rules import findings_for
        from critterops.change.versions import load_change

        ctx.changes = findings_for(load_change(tree.root, base))[0]
    raw: list[tuple[Finding, str, str]] = []
    for rule in rules:
        if rule.needs_base and ctx.changes is None:
            not_run.append((rule.id, "compares two commits: pass --base REF"))
            continue
        for hit in rule.check(ctx):
            finding = _finding(rule, hit)
            text = ctx.lines(hit.file)[hit.line - 1] if hit.file and 0 < hit.line <= len(ctx.lines(hit.file)) else ""
            raw.append((finding, text, hit.anchor or (hit.message if not text else "")))
    runs = [ToolRun(CRITTEROPS, status="ran", checked=len(tree.files), rules=tuple((r.id, r.summary) for r in rules))]
    for name, function in (TOOLS if tools is None else tools).items():
        if skip_tools:
            runs.append(ToolRun(name, status="skipped", detail="not run (--no-tools)"))
            continue
        run, found = function(tree.root, list(tree.files))
        runs.append(run)
        for f in found:
            text = ctx.lines(f.file)[f.line - 1] if f.file and 0 < f.line <= len(ctx.lines(f.file)) else ""
            raw.append((f, text, f.message if not text else ""))
    findings = with_fingerprints(raw)
    findings = _apply_inline(ctx, findings)
    repository = repository_identity(tree.root)
    warnings = [
        f"{w.file}{':' + str(w.line) if w.line else ''}: {w.message}" for w in tree.warnings if _unparseable(w.message)
    ]
    warnings += _invalid_settings(ctx)
    warnings += ctx.warnings
    if baseline is not None:
        if baseline.repository and baseline.repository != repository:
            warnings.append(
                f"the baseline was written for another repository ({baseline.repository}, this is {repository}): "
                "it is ignored; write one for this repository with --write-baseline"
            )
        else:
            findings = [
                replace(f, suppressed="baseline")
                if f.suppressed is None and f.fingerprint in baseline.fingerprints
                else f
                for f in findings
            ]
    findings.sort(key=lambda f: (f.file, f.line, f.rule))
    return ReviewReport(
        str(tree.root),
        tuple(findings),
        tuple(runs),
        tuple(warnings),
        tuple(not_run),
        time.perf_counter() - started,
        len(baseline.fingerprints) if baseline else 0,
        repository,
    )


def _invalid_settings(ctx: ReviewContext) -> list[str]:
    """appsettings files that are not JSON (with comments): the rules still read them line by line."""
    from critterops.discover import jsonc

    out = []
    for rel in ctx.tree.files:
        name = rel.rsplit("/", 1)[-1].lower()
        if not (name.startswith("appsettings") and name.endswith(".json")):
            continue
        text = ctx.tree.read_text(rel)
        try:
            jsonc.loads(text or "{}")
        except ValueError as error:
            out.append(f"{rel}: not valid JSON ({error}): reviewed line by line only")
    return out


def _unparseable(message: str) -> bool:
    return any(word in message for word in ("does not parse", "syntax error", "invalid", "cannot be read", "not valid"))


def _apply_inline(ctx: ReviewContext, findings: list[Finding]) -> list[Finding]:
    by_file: dict[str, dict[int, list[tuple[tuple[str, ...], str]]]] = {}
    for file in sorted({f.file for f in findings if f.file}):
        marks: dict[int, list[tuple[tuple[str, ...], str]]] = {}
        for s in inline_suppressions(file, ctx.lines(file)):
            unknown = [i for i in s.rules if ":" not in i and i not in RULES_BY_ID]
            if unknown:
                ctx.warnings.append(f"{file}:{s.line}: suppression names unknown rule {', '.join(unknown)}: ignored")
            known = tuple(i for i in s.rules if i not in unknown)
            if known and not s.reason:
                ctx.warnings.append(f"{file}:{s.line}: suppression of {', '.join(known)} gives no reason")
            if known:
                marks.setdefault(s.line, []).append((known, s.reason))
        by_file[file] = marks
    out = []
    for f in findings:
        marks = by_file.get(f.file, {})
        hit = next(
            (reason for line in (f.line, f.line - 1) for ids, reason in marks.get(line, []) if f.rule in ids), None
        )
        out.append(replace(f, suppressed=f"inline: {hit or 'no reason given'}") if hit is not None else f)
    return out
