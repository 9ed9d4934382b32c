"""SZZ on constructed bugs and fixes: what gets blamed and what must not be."""

from __future__ import annotations

from critterops.history.mining import mine_history
from critterops.history.szz import _diff_path, _ranges, find_inducers, fix_latency
from tests.history.gitrepos import ALICE, BOB, DAY, T0, Git, identity

CALC = "src/My App/Calc.cs"
DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")

GOOD = """namespace App;
public class Calc
{
    // adds two numbers
    public int Add(int a, int b) => a + b;

    public int Mul(int a, int b) => a * b;
}
"""
BUGGY = GOOD.replace("    public int Mul", "    public int Sub(int a, int b) => a + b;\n    public int Mul")
REINDENTED = BUGGY.replace("    public int Mul", "        public int Mul")
FIXED = """namespace App;
public class Calc
{
    public int Add(int a, int b) => a + b;
    public int Sub(int a, int b) => a - b;
    public int Mul(int a, int b) => a * b;
}
"""


def _bug_and_fix(git: Git) -> dict[str, str]:
    return {
        "base": git.commit("add calc", {CALC: GOOD}, author=ALICE, at=T0),
        "bug": git.commit("add Sub", {CALC: BUGGY}, author=BOB, at=T0 + DAY),
        "indent": git.commit("indent Mul", {CALC: REINDENTED}, author=BOB, at=T0 + 2 * DAY),
        "fix": git.commit("fix: Sub subtracts", {CALC: FIXED}, author=ALICE, at=T0 + 5 * DAY),
    }


def test_blames_the_changed_line_not_comments_blanks_or_whitespace(git: Git) -> None:
    shas = _bug_and_fix(git)
    repo = git.repo()
    history = mine_history(repo)
    result = find_inducers(repo, history)
    # The fix deleted the comment and blank line (written by "base") and re-indented Mul (last touched
    # by "indent"): none of that is blamed. Only the Sub line, written by "bug", is.
    assert set(result.inducers) == {shas["bug"]}
    inducer = result.inducers[shas["bug"]]
    assert (inducer.fix_sha, inducer.via, inducer.fix_time) == (shas["fix"], "blame", T0 + 5 * DAY)
    assert result.fixes == (shas["fix"],)
    assert result.label(shas["bug"]) == 1 and result.label(shas["base"]) == 0
    assert result.label(shas["bug"], known_at=T0 + 5 * DAY) == 0  # the fix had not landed yet
    assert result.label(shas["bug"], known_at=T0 + 5 * DAY + 1) == 1
    assert fix_latency(history, result).median_days == 4.0


def test_revert_labels_the_reverted_commit_directly(git: Git) -> None:
    git.commit("start", {CALC: GOOD}, at=T0)
    bad = git.commit("add caching", {"src/App/Cache.cs": "class Cache {}\n"}, author=BOB, at=T0 + DAY)
    git.git("revert", "--no-edit", bad, env=identity(ALICE, T0 + 2 * DAY))
    repo = git.repo()
    result = find_inducers(repo, mine_history(repo))
    assert set(result.inducers) == {bad}
    assert result.inducers[bad].via == "revert" and result.reverts == 1


def test_a_fix_that_only_adds_lines_labels_nothing(git: Git) -> None:
    git.commit("start", {CALC: GOOD}, at=T0)
    git.commit("fix: guard against overflow", {CALC: GOOD + "// checked\npublic class Guard {}\n"}, at=T0 + DAY)
    repo = git.repo()
    result = find_inducers(repo, mine_history(repo))
    assert result.inducers == {}
    assert result.skipped == {"fix deletes no line of shipped code": 1}


def test_test_files_bot_fixes_and_large_fixes_are_not_blamed(git: Git) -> None:
    test_file = "tests/App.Tests/CalcTests.cs"
    git.commit("start", {CALC: GOOD, test_file: "class CalcTests { int x = 1; }\n"}, at=T0)
    git.commit("fix flaky test", {test_file: "class CalcTests { int x = 2; }\n"}, at=T0 + DAY)
    git.commit("Bump X to fix CVE", {CALC: BUGGY}, author=DEPENDABOT, at=T0 + 2 * DAY)
    git.commit("bug: many files", {CALC: GOOD, "src/App/A.cs": "a\n", "src/App/B.cs": "b\n"}, at=T0 + 3 * DAY)
    repo = git.repo()
    result = find_inducers(repo, mine_history(repo), max_fix_files=2)
    assert result.inducers == {}
    assert result.skipped == {
        "automation-bot fix": 1,
        "fix deletes no line of shipped code": 1,
        "fix touches more than 2 files": 1,
    }


def test_an_inducer_written_by_an_agent_keeps_its_label(git: Git) -> None:
    git.commit("start", {CALC: GOOD}, at=T0)
    agent = ("Copilot", "198982749+Copilot@users.noreply.github.com")
    bug = git.commit("add Sub", {CALC: BUGGY}, author=agent, at=T0 + DAY)
    git.commit(
        "Fix Sub",
        {CALC: BUGGY.replace("a + b;\n    public int Mul", "a - b;\n    public int Mul")},
        author=agent,
        at=T0 + 2 * DAY,
    )
    repo = git.repo()
    assert set(find_inducers(repo, mine_history(repo)).inducers) == {bug}


def test_merged_branch_lines_are_blamed_to_the_merge_on_the_first_parent_chain(git: Git) -> None:
    git.commit("start", {CALC: GOOD}, at=T0)
    git.git("checkout", "-q", "-b", "feature")
    git.commit("add Sub", {CALC: BUGGY}, author=BOB, at=T0 + DAY)
    git.git("checkout", "-q", "main")
    merge = git.merge("feature", "Merge pull request #3 from bob/feature\n\nSubtraction", at=T0 + 2 * DAY)
    git.commit("fix: Sub", {CALC: FIXED}, at=T0 + 3 * DAY)
    repo = git.repo()
    assert set(find_inducers(repo, mine_history(repo)).inducers) == {merge}


def test_diff_header_paths_and_line_ranges() -> None:
    assert _diff_path(b"a/src/My App/Calc.cs\t") == "src/My App/Calc.cs"
    assert _diff_path(b'"a/src/We\\"ird\\303\\251.cs"') == 'src/We"irdé.cs'
    assert _diff_path(b"/dev/null") == ""
    assert _ranges((5, 3, 4, 9)) == ["-L", "3,5", "-L", "9,9"]
