"""Precision and recall of the contract rules on a repository's real history.

    python benchmarks/contract_rules.py --repo /tmp/cs --truth tests/fixtures/crittersupply_contract_truth.json [--all]

For every labelled commit (``--all``: every non-merge commit on the first-parent history, so
that false alarms on commits that never touched a contract count too) it compares the commit with
its parent exactly as ``critterops risk --base <sha>^ --head <sha>`` does, and checks the
``contract-breaking`` / ``contract-additive`` findings against the hand labels: per commit, and
per breaking message type.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from critterops.change.rules import findings_for
from critterops.change.versions import load_change
from critterops.gitrepo import GitRepo


def predict(repo: Path, sha: str) -> tuple[str, set[str], set[str]]:
    change = load_change(repo, f"{sha}^", sha)
    findings, *_ = findings_for(change)
    breaking = {t for f in findings if f.rule == "contract-breaking" for t in f.message_types}
    additive = {t for f in findings if f.rule == "contract-additive" for t in f.message_types}
    label = "breaking" if breaking else "additive" if additive else "none"
    return label, breaking, additive


def ratio(a: int, b: int) -> str:
    return f"{a / b:.3f}" if b else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--truth", type=Path, required=True)
    parser.add_argument("--all", action="store_true", help="also every unlabelled commit (label: none)")
    args = parser.parse_args()
    truth = json.loads(args.truth.read_text())
    labelled = {c["sha"]: c for c in truth["commits"]}
    repo = GitRepo.open(args.repo)
    shas = list(labelled)
    if args.all:
        shas = repo.run("rev-list", "--first-parent", "--no-merges", "--reverse", truth["head"]).split()
        shas = [s for s in shas if repo.run("rev-parse", "--verify", "--quiet", f"{s}^", check=False).strip()]
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "type_tp": 0, "type_fp": 0, "type_fn": 0, "add_tp": 0, "add_fp": 0}
    counts["add_fn"] = 0
    mismatches: list[str] = []
    started = time.perf_counter()
    for sha in shas:
        expected = labelled.get(sha, {"label": "none", "breaking_types": [], "subject": ""})
        label, breaking, _ = predict(args.repo, sha)
        want_breaking = set(expected["breaking_types"])
        is_b, want_b = label == "breaking", expected["label"] == "breaking"
        counts["tp" if is_b and want_b else "fp" if is_b else "fn" if want_b else "tn"] += 1
        counts["type_tp"] += len(breaking & want_breaking)
        counts["type_fp"] += len(breaking - want_breaking)
        counts["type_fn"] += len(want_breaking - breaking)
        is_a, want_a = label == "additive", expected["label"] == "additive"
        if is_a and want_a:
            counts["add_tp"] += 1
        elif is_a:
            counts["add_fp"] += 1
        elif want_a:
            counts["add_fn"] += 1
        if label != expected["label"] or breaking != want_breaking:
            mismatches.append(
                f"{sha[:10]} expected {expected['label']} got {label}: "
                f"missing {sorted(want_breaking - breaking)} extra {sorted(breaking - want_breaking)}"
            )
    elapsed = time.perf_counter() - started
    c = counts
    print(f"commits compared: {len(shas)} in {elapsed:.1f} s")
    print(
        f"contract-breaking per commit: precision {ratio(c['tp'], c['tp'] + c['fp'])} "
        f"recall {ratio(c['tp'], c['tp'] + c['fn'])} (tp {c['tp']} fp {c['fp']} fn {c['fn']} tn {c['tn']})"
    )
    print(
        f"contract-breaking per message type: precision {ratio(c['type_tp'], c['type_tp'] + c['type_fp'])} "
        f"recall {ratio(c['type_tp'], c['type_tp'] + c['type_fn'])}"
    )
    print(
        f"contract-additive per commit: precision {ratio(c['add_tp'], c['add_tp'] + c['add_fp'])} "
        f"recall {ratio(c['add_tp'], c['add_tp'] + c['add_fn'])}"
    )
    for line in mismatches:
        print("  " + line)


if __name__ == "__main__":
    main()
