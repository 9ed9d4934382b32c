"""Mining: Kamei features on hand-computable histories, renames, binaries, merges, bots, odd input."""

from __future__ import annotations

import pytest

from critterops.errors import UserError
from critterops.gitrepo import GitRepo
from critterops.history import messages, paths
from critterops.history.mining import FEATURES, KAMEI_FEATURES, entropy, features_for_range, mine_history
from critterops.history.people import author_kind, developer
from tests.history.gitrepos import ALICE, BOB, DAY, T0, Git, lines

DEPENDABOT = ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
PROGRAM = "src/Orders/Orders.Api/Program.cs"
ORDER = "src/Orders/Orders/Order.cs"


def test_entropy_matches_kameis_example() -> None:
    assert entropy([30, 20, 10]) == pytest.approx(1.459, abs=1e-3)
    assert entropy([5]) == 0.0
    assert entropy([0, 0]) == 0.0


def _three_commits(git: Git) -> None:
    git.commit("add orders", {PROGRAM: lines(10), ORDER: lines(5), "README.md": lines(2)}, author=ALICE, at=T0)
    git.commit("tweak order", {ORDER: lines(7, "new")}, author=BOB, at=T0 + 2 * DAY)
    git.commit(
        "grow everything",
        {ORDER: lines(7, "new") + lines(30, "more"), PROGRAM: lines(10) + lines(20, "p"), "README.md": lines(12)},
        author=ALICE,
        at=T0 + 4 * DAY,
    )


def test_size_diffusion_and_history_features_by_hand(git: Git) -> None:
    _three_commits(git)
    first, second, third = (c.features for c in mine_history(git.repo()).commits)

    assert (first.la, first.ld, first.lt, first.nf, first.nd, first.ns) == (17, 0, 0, 3, 3, 3)
    assert (first.exp, first.ndev, first.nuc, first.age) == (0, 0, 0, 0.0)
    assert (first.startup, first.source, first.contexts) == (1, 1, 1)

    # Bob rewrites Order.cs (5 lines → 7 new lines): la 7, ld 5, lt 5; Alice wrote it 2 days ago.
    assert (second.la, second.ld, second.lt, second.nf) == (7, 5, 5, 1)
    assert (second.ndev, second.nuc, second.age, second.exp, second.sexp) == (1, 1, 2.0, 0, 0)

    # 30 / 20 / 10 lines added to three files: entropy 1.46; lt = 7 + 10 + 2.
    assert (third.la, third.ld, third.lt) == (60, 0, 19)
    assert third.entropy == pytest.approx(1.459, abs=1e-3)
    assert (third.ndev, third.nuc, third.exp, third.sexp) == (2, 2, 1, 1)
    assert third.age == pytest.approx((2 + 4 + 4) / 3)
    assert third.rexp == 1.0


def test_recent_experience_weights_year_old_changes_by_half(git: Git) -> None:
    _three_commits(git)
    git.commit("a year later", {ORDER: lines(1)}, author=ALICE, at=T0 + 400 * DAY)
    last = mine_history(git.repo()).commits[-1].features
    assert last.exp == 2
    assert last.rexp == pytest.approx(0.5 + 0.5)  # both earlier changes are one whole year old


def test_rename_carries_size_and_history(git: Git) -> None:
    _three_commits(git)
    git.move(ORDER, "src/Orders/Domain/Order.cs")
    git.commit("move order", author=BOB, at=T0 + 5 * DAY)
    renamed = mine_history(git.repo()).commits[-1]
    assert [(f.path, f.old_path, f.added, f.deleted) for f in renamed.files] == [
        ("src/Orders/Domain/Order.cs", ORDER, 0, 0)
    ]
    assert (renamed.features.lt, renamed.features.ndev, renamed.features.nuc) == (37, 2, 3)
    assert renamed.features.age == pytest.approx(1.0)


def test_binary_files_count_as_files_but_not_lines(git: Git) -> None:
    git.commit("logo", {"assets/logo.png": b"\x89PNG\x00\x01\x02" * 10, "a.txt": "x\n"})
    git.commit("new logo", {"assets/logo.png": b"\x89PNG\x00\x09" * 12})
    first, second = mine_history(git.repo()).commits
    assert [f.binary for f in first.files] == [False, True]
    assert (first.features.nf, first.features.la) == (2, 1)
    assert (second.features.nf, second.features.la, second.features.lt) == (1, 0, 0)


def test_merge_is_counted_by_its_first_parent_diff(git: Git) -> None:
    git.commit("base", {ORDER: lines(3)}, at=T0)
    git.git("checkout", "-q", "-b", "feature")
    git.commit("side 1", {ORDER: lines(5)}, author=BOB, at=T0 + DAY)
    git.commit("side 2", {PROGRAM: lines(4)}, author=BOB, at=T0 + 2 * DAY)
    git.git("checkout", "-q", "main")
    git.commit("main work", {"docs/a.md": lines(1)}, at=T0 + DAY)
    merge = git.merge("feature", "Merge pull request #7 from bob/feature\n\nFix order totals", at=T0 + 3 * DAY)
    commits = mine_history(git.repo()).commits
    assert [c.subject for c in commits] == ["base", "main work", "Merge pull request #7 from bob/feature"]
    row = commits[-1]
    assert row.sha == merge and row.is_merge
    assert (row.features.la, row.features.nf) == (6, 2)  # both side commits, as one change
    assert row.title == "Fix order totals" and row.features.fix == 1  # the PR title, not the branch name


def test_bot_and_agent_authors(git: Git) -> None:
    git.commit(
        "Bump Marten from 7 to 8",
        {"Directory.Packages.props": "<x/>\n"},
        author=("dependabot[bot]", "1+dependabot[bot]@users.noreply.github.com"),
    )
    git.commit(
        "Add saga\n\nCo-authored-by: bobbrown <2+bobbrown@users.noreply.github.com>",
        {"src/Orders/Orders/OrderSaga.cs": "class OrderSaga {}\n"},
        author=("Copilot", "198982749+Copilot@users.noreply.github.com"),
    )
    git.commit("notes", {"notes.md": "x\n"}, author=("Claude Shannon", "claude@example.com"))
    bump, saga, notes = mine_history(git.repo()).commits
    assert (bump.author_kind, bump.features.bot) == ("automation", 1)
    # bot is automation only; an agent's change is flagged apart (and counts towards the human behind it)
    assert (saga.author_kind, saga.features.bot, saga.features.agent) == ("agent", 0, 1)
    assert (saga.developer, saga.features.sagas) == ("bobbrown", 1)
    assert (notes.author_kind, notes.features.bot, notes.features.agent) == ("human", 0, 0)


def test_a_bot_pull_request_merged_by_a_person_is_the_bots_change(git: Git) -> None:
    git.commit("base", {"Directory.Packages.props": "<a/>\n"})
    git.git("checkout", "-q", "-b", "dependabot/nuget/Marten-8.0")
    git.commit("Bump Marten", {"Directory.Packages.props": "<b/>\n"}, author=DEPENDABOT, at=T0 + DAY)
    git.git("checkout", "-q", "main")
    git.merge(
        "dependabot/nuget/Marten-8.0",
        "Merge pull request #5 from org/dependabot/nuget/Marten-8.0\n\nBump Marten",
        at=T0 + 2 * DAY,
    )
    merge = mine_history(git.repo()).commits[-1]
    assert (merge.author_kind, merge.features.bot, merge.developer) == ("automation", 1, "aliceadams")


def test_people_classification() -> None:
    assert author_kind("renovate[bot]", "x@y") == "automation"
    assert author_kind("github-actions", "41898282+github-actions[bot]@users.noreply.github.com") == "automation"
    assert author_kind("copilot-swe-agent[bot]", "198982749+Copilot@users.noreply.github.com") == "agent"
    assert author_kind("Claude", "242468646+Claude@users.noreply.github.com") == "agent"
    assert author_kind("Erik Shafer", "erik@example.com") == "human"
    trailer = "x\n\nCo-authored-by: Copilot <1+Copilot@users.noreply.github.com>\nCo-authored-by: Erik Shafer <e@x>"
    assert developer("Claude", "1+Claude@users.noreply.github.com", "agent", trailer) == "erikshafer"


def test_empty_non_utf8_and_odd_paths(git: Git) -> None:
    odd = 'src/My Ctx/We"ird file.cs'
    git.commit("start", {odd: lines(2)})
    git.commit("nothing")
    git.commit(b"caf\xe9 latin-1 subject\n", {odd: lines(3)})
    start, empty, latin = mine_history(git.repo()).commits
    assert [f.path for f in start.files] == [odd]
    assert (empty.features.nf, empty.features.la, empty.features.entropy) == (0, 0, 0.0)
    assert latin.subject.startswith("caf") and "latin-1 subject" in latin.subject
    assert latin.features.lt == 2


def test_features_only_from_the_past(git: Git) -> None:
    _three_commits(git)
    before = mine_history(git.repo()).commits
    git.commit("later", {ORDER: lines(100)}, author=BOB, at=T0 + 9 * DAY)
    after = mine_history(git.repo()).commits
    assert [c.features for c in after[:3]] == [c.features for c in before]


def test_features_for_range_match_the_full_mining(git: Git) -> None:
    _three_commits(git)
    git.move(ORDER, "src/Orders/Domain/Order.cs")
    git.commit("move", at=T0 + 5 * DAY)
    git.git("checkout", "-q", "-b", "feature")
    git.commit("side", {"src/Orders/Domain/Order.cs": lines(9)}, author=BOB, at=T0 + 6 * DAY)
    git.git("checkout", "-q", "main")
    git.commit("docs", {"docs/x.md": "y\n"}, at=T0 + 6 * DAY)
    git.merge("feature", "Merge pull request #9 from bob/feature\n\nSide", at=T0 + 7 * DAY)
    repo = git.repo()
    full = {c.sha: c for c in mine_history(repo).commits}
    rows = features_for_range(repo, "HEAD~4", "HEAD")
    assert [r.subject for r in rows] == ["grow everything", "move", "docs", "Merge pull request #9 from bob/feature"]
    assert all(r.features == full[r.sha].features for r in rows)
    assert features_for_range(repo, "HEAD", "HEAD") == []


def test_a_sync_merge_that_only_brings_in_base_is_not_shipped(git: Git) -> None:
    git.commit("base", {ORDER: lines(2)})
    git.git("checkout", "-q", "-b", "pr")
    git.commit("pr work", {PROGRAM: lines(2)}, at=T0 + DAY)
    git.git("checkout", "-q", "main")
    git.commit("main moves on", {"docs/a.md": "a\n"}, at=T0 + DAY)
    git.git("checkout", "-q", "pr")
    git.merge("main", "Merge branch 'main' into pr", at=T0 + 2 * DAY)
    rows = features_for_range(git.repo(), "main", "pr")
    assert [r.subject for r in rows] == ["pr work"]


def test_bad_refs_are_user_errors(git: Git) -> None:
    git.commit("one", {"a.txt": "a\n"})
    with pytest.raises(UserError):
        features_for_range(git.repo(), "no-such-branch", "HEAD")
    with pytest.raises(UserError):
        mine_history(GitRepo.open(git.root), "v9.9")


def test_feature_names_are_kamei_then_rules() -> None:
    assert len(KAMEI_FEATURES) == 14
    assert FEATURES[:14] == KAMEI_FEATURES


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("src/Shared/Messages.Contracts/Orders/OrderPlaced.cs", {"contracts", "source"}),
        ("src/Identity/Identity.Api/Migrations/20240101_Init.cs", {"migrations", "source"}),
        ("src/Orders/Orders.Api/appsettings.Development.json", {"config"}),
        ("deploy/k8s/orders.yaml", {"infra"}),
        (".github/workflows/ci.yml", {"infra"}),
        ("src/Orders/Orders.Api/Dockerfile", {"infra"}),
        ("docker-compose.override.yml", {"infra"}),
        ("src/Orders/Orders/OrderSummaryProjection.cs", {"projection", "source"}),
        ("tests/Orders/Orders.IntegrationTests/OrderTests.cs", {"test"}),
        ("src/Orders/Orders/Latest.cs", {"source"}),
        ("src/Orders/Orders.UnitTests/Checkout.cs", {"test"}),
    ],
)
def test_path_signals(path: str, expected: set[str]) -> None:
    info = paths.classify(path)
    flags = {"contracts", "migrations", "config", "infra", "projection", "saga", "source", "test", "startup"}
    assert {flag for flag in flags if getattr(info, flag)} == expected


def test_subsystems_and_contexts() -> None:
    assert paths.subsystem("src/Orders/Orders.Api/Program.cs") == "src/Orders/Orders.Api"
    assert paths.subsystem("docs/x.md") == "docs"
    assert paths.subsystem("README.md") == ""
    assert paths.bounded_context("src/Orders/Orders.Api/Program.cs") == "Orders"
    assert paths.bounded_context("src/Directory.Build.props") is None


@pytest.mark.parametrize(
    ("title", "fix"),
    [
        ("fix: multiple service ports corrected", True),
        ("Checkout and Order History Bug Stomp (#504)", True),
        ('Revert "Add caching"', True),
        ("Hotfix for startup", True),
        ("Closes #12: null reference on checkout", True),
        ("feat(inventory): S4 Remaster (#541)", False),
        ("docs: add ADRs (Issue #190)", False),
        ("Improve prefix handling and debug output", False),
    ],
)
def test_fix_keywords(title: str, fix: bool) -> None:
    assert messages.is_fix(title) is fix


def test_revert_and_pull_request_messages() -> None:
    assert messages.reverted_commit('Revert "x"\n\nThis reverts commit 0123456789abcdef.') == "0123456789abcdef"
    assert messages.pull_request_branch("Merge pull request #1 from a/dependabot/nuget/x") == "a/dependabot/nuget/x"
    assert messages.title("Merge pull request #1 from a/b\n\nReal title\n") == "Real title"
    assert messages.title("Subject only") == "Subject only"


def test_history_features_past_fixes_ownership_tests_handlers(git: Git) -> None:
    handler = "src/Orders/Orders/Placement/PlaceOrderHandler.cs"
    test = "tests/Orders.Tests/OrderTests.cs"
    git.commit("add orders", {ORDER: lines(5), handler: lines(4)}, author=ALICE, at=T0)
    git.commit("fix order totals", {ORDER: lines(6)}, author=ALICE, at=T0 + DAY)
    git.commit("bob edits", {ORDER: lines(8)}, author=BOB, at=T0 + 3 * DAY)
    last = git.commit(
        "handler and test", {handler: lines(5), ORDER: lines(9), test: lines(3)}, author=BOB, at=T0 + 5 * DAY
    )
    f = mine_history(git.repo()).commits[-1]
    assert f.sha == last
    x = f.features
    assert x.pfix == 1  # ORDER's earlier fix
    assert x.aexp == 1  # Bob changed these files once before
    assert x.own == pytest.approx((1 / 3 + 0 / 1) / 2)  # Bob's share of ORDER's and the handler's past changes
    assert x.fage == pytest.approx(5.0)  # both files first appeared 5 days earlier
    assert (x.tests_with_source, x.handlers, x.newfiles) == (1, 1, 1)


def test_every_non_merge_commit_is_mined_when_asked(git: Git) -> None:
    git.commit("start", {ORDER: lines(3)}, at=T0)
    git.git("checkout", "-q", "-b", "topic")
    side = git.commit("side work", {PROGRAM: lines(4)}, at=T0 + DAY)
    git.git("checkout", "-q", "main")
    git.commit("main work", {ORDER: lines(5)}, at=T0 + 2 * DAY)
    merge = git.merge("topic", "merge topic", at=T0 + 3 * DAY)
    first_parent = mine_history(git.repo())
    everything = mine_history(git.repo(), first_parent=False)
    assert side not in first_parent.positions and merge in first_parent.positions
    assert side in everything.positions and merge not in everything.positions
    assert len(everything.commits) == 3 and everything.roots == (everything.commits[0].sha,)
    assert not everything.first_parent
