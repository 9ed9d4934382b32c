"""A history evaluation (``risk --history``) as plain text or Markdown: model vs baselines, all vs source-only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # data types only: rendering needs neither numpy nor git
    from critterops.history.evaluate import HistoryReport, Metrics, ShippedEvaluation, Subset
    from critterops.history.metrics import PairedDifference

_COLUMNS = ("model", "AUC", "95% CI", "R@20%E", "capture@10%", "Brier")
_SCOPES = (("all", "All test commits"), ("source", "Commits touching source code"))


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(description: str, metrics: Metrics) -> tuple[str, ...]:
    interval = metrics.auc
    return (
        description,
        _number(interval.value if interval else None),
        f"{interval.low:.3f}–{interval.high:.3f}" if interval else "-",
        _number(metrics.recall_at_20_effort, 2),
        _number(metrics.capture_at_10, 2),
        _number(metrics.brier),
    )


def _rows(report: HistoryReport, scope: str) -> list[tuple[str, ...]]:
    rows = [_row(r.description, r.all if scope == "all" else r.source) for r in report.results]
    subset = _subset(report, scope)
    if subset is not None:
        rows.append(("base rate (constant)", "", "", "", "", _number(subset.base_rate_brier)))
    return rows


def _subset(report: HistoryReport, name: str) -> Subset | None:
    return next((s for s in report.subsets if s.name == name), None)


def _subset_line(subset: Subset | None) -> str:
    if subset is None:
        return ""
    return f"{subset.commits} commits, {subset.positives} later fixed (base rate {subset.base_rate:.1%})"


def _paired_line(paired: PairedDifference | None, who: str = "ours") -> str:
    if paired is None:
        return f"{who} − plain Kamei: not computable (one class)"
    d = paired.difference
    return (
        f"{who} − plain Kamei: ΔAUC {d.value:+.3f} (95% CI {d.low:+.3f} to {d.high:+.3f}, "
        f"one-sided p = {paired.p_one_sided:.3f})"
    )


def _summary(report: HistoryReport) -> list[str]:
    lines = [
        f"{report.commits} commits, {report.first} to {report.last}; "
        f"{report.fix_commits} fix commits by keyword, {report.blamed_fixes} blamed, {report.reverts} reverts "
        f"→ {report.positives} later-fixed commits.",
    ]
    if report.latency is not None and report.latency.inducers:
        lat = report.latency
        lines.append(
            f"Fix latency: median {lat.median_days:g} d, p75 {lat.p75_days:g} d (the label gap), "
            f"p90 {lat.p90_days:g} d."
        )
    if report.status == "ok":
        lines.append(f"Split: {report.split}; {report.resamples} bootstrap resamples, seed {report.seed}.")
    return lines


def _text_table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    table = [_COLUMNS, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(_COLUMNS))]
    out = []
    for k, row in enumerate(table):
        cells = [row[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(row) if i]
        out.append("  ".join(cells).rstrip())
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _interval(interval: object) -> str:
    if interval is None:
        return "not defined (one class)"
    value, low, high = (getattr(interval, k) for k in ("value", "low", "high"))
    return f"{value:.3f} (95% CI {low:.3f}–{high:.3f})"


def shipped_lines(shipped: ShippedEvaluation, top: int = 10) -> list[str]:
    """The model that ships, out of sample: AUC, calibration, levels, and the riskiest commits."""
    lines = [
        "The model that ships, out of sample",
        f"  Protocol: {shipped.protocol}.",
        f"  {shipped.commits} commits ({shipped.positives} later fixed); {shipped.source_commits} touch source "
        f"({shipped.source_positives} later fixed).",
        f"  AUC all commits {_interval(shipped.auc)}; source-touching {_interval(shipped.auc_source)}.",
        f"  {shipped.precision_note}",
        f"  Calibration: ECE {_number(shipped.ece)} (before calibration {_number(shipped.ece_uncalibrated)}), "
        f"Brier {_number(shipped.brier)}.",
        "  Reliability (calibrated p bin: commits, mean p, observed share later fixed):",
    ]
    lines += [
        f"    {b.low:.1f}–{b.high:.1f}: {b.commits:>5}  {b.mean_p:.3f}  {b.observed:.3f}" for b in shipped.reliability
    ]
    lines.append("  Levels (share of commits → share of later-fixed commits, precision):")
    for level in shipped.levels:
        precision = "-" if level.precision is None else f"{level.precision:.2f}"
        lines.append(
            f"    {level.level:<6} p ≥ {level.threshold:.2f}: {level.share_of_commits:6.1%} of commits → "
            f"{level.share_of_positives:6.1%} of later-fixed ({level.positives}), precision {precision}"
        )
    if shipped.suggestion:
        lines.append(f"  {shipped.suggestion}")
    riskiest = sorted((c for c in shipped.scored if c.label is not None), key=lambda c: -c.p)[:top]
    if riskiest:
        lines.append(f"  Riskiest {len(riskiest)} commits (--format json lists every commit):")
        for c in riskiest:
            terms = ", ".join(f"{n} {w:+.2f}" for n, w, _ in c.top_terms)
            fixed = "later fixed" if c.label else "not fixed"
            lines.append(f"    {c.sha[:10]} {c.date} p {c.p:.2f} {c.level:<6} {fixed:<11} {terms}")
    return lines


def history_text(report: HistoryReport) -> str:
    """Plain text for a terminal or a CI log."""
    lines = [f"Change-risk evaluation of {report.repo} @ {report.head[:12]}", *_summary(report)]
    if report.status != "ok":
        if report.shipped is not None:
            lines += ["", *shipped_lines(report.shipped)]
        lines += ["", report.verdict]
        if report.notes:
            lines += ["Notes:", *(f"  - {n}" for n in report.notes)]
        return "\n".join(lines) + "\n"
    if report.shipped is not None:
        lines += ["", *shipped_lines(report.shipped)]
    for scope, title in _SCOPES:
        lines += ["", f"{title}: {_subset_line(_subset(report, scope))}", *_text_table(_rows(report, scope))]
        lines.append(_paired_line(report.ours_vs_kamei_all if scope == "all" else report.ours_vs_kamei_source))
        shipped = report.shipped_vs_kamei_all if scope == "all" else report.shipped_vs_kamei_source
        lines.append(_paired_line(shipped, "shipped model"))
    lines += ["", report.verdict]
    if report.reasons:
        lines += ["Likely reasons:", *(f"  - {r}" for r in report.reasons)]
    if report.notes:
        lines += ["Notes:", *(f"  - {n}" for n in report.notes)]
    return "\n".join(lines) + "\n"


def _md_table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    def cell(value: str) -> str:
        return value.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(_COLUMNS) + " |", "|---|" + "---:|" * (len(_COLUMNS) - 1)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def history_markdown(report: HistoryReport) -> str:
    """Markdown for a pull-request comment or a job summary."""
    lines = [f"## Change-risk evaluation: `{report.head[:12]}`", "", *_summary(report)]
    if report.status != "ok":
        if report.shipped is not None:
            lines += ["", "```", *shipped_lines(report.shipped), "```"]
        lines += ["", f"**{report.verdict}**"]
        return "\n".join(lines) + "\n"
    if report.shipped is not None:
        lines += ["", "```", *shipped_lines(report.shipped), "```"]
    for scope, title in _SCOPES:
        paired = report.ours_vs_kamei_all if scope == "all" else report.ours_vs_kamei_source
        lines += ["", f"### {title}", "", _subset_line(_subset(report, scope)), ""]
        shipped = report.shipped_vs_kamei_all if scope == "all" else report.shipped_vs_kamei_source
        lines += [*_md_table(_rows(report, scope)), "", _paired_line(paired)]
        lines += ["", _paired_line(shipped, "shipped model")]
    lines += ["", f"**Verdict.** {report.verdict}"]
    if report.reasons:
        lines += ["", "Likely reasons:", "", *(f"- {r}" for r in report.reasons)]
    if report.notes:
        lines += ["", "Notes:", "", *(f"- {n}" for n in report.notes)]
    return "\n".join(lines) + "\n"
