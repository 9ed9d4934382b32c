"""What a commit message says: is it a fix, what does it revert, what pull request did a merge land.

Only the subject (or, for a pull-request merge, the PR title) is searched for fix keywords. The bodies
of squash-merged pull requests list every intermediate commit ("* fix build", "* address review")
and describe the work at length, so searching them marks most feature PRs as fixes. GitHub's
squash-merge suffix ``(#123)`` is a pull-request number and "Issue #190" names any issue (features
included), so neither counts as a defect ID; an ID counts when a fix or closing keyword introduces it
("fixes #12", "closes #12", "bug #12").
"""

from __future__ import annotations

import re

_FIX_WORDS = re.compile(
    r"\b(?:fix(?:e[sd]|ing)?|bug(?:s|fix(?:es)?)?|defects?|patch(?:e[sd])?|hotfix(?:es)?|revert(?:s|ed)?)\b",
    re.IGNORECASE,
)
_DEFECT_ID = re.compile(r"\b(?:close[sd]?|resolve[sd]?)\s*:?\s*#\d+", re.IGNORECASE)
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})", re.IGNORECASE)
_PR_MERGE = re.compile(r"^Merge pull request #\d+ from (\S+)")


def subject(message: str) -> str:
    return message.strip().split("\n", 1)[0].strip()


def pull_request_branch(message: str) -> str | None:
    """The ``owner/branch`` a GitHub "Merge pull request #N from owner/branch" commit merged."""
    match = _PR_MERGE.match(subject(message))
    return match.group(1) if match else None


def title(message: str) -> str:
    """The line that describes the change: the PR title of a pull-request merge, else the subject."""
    if pull_request_branch(message) is not None:
        body = [line.strip() for line in message.strip().split("\n")[1:] if line.strip()]
        if body:
            return body[0]
    return subject(message)


def is_fix(text: str) -> bool:
    """Kamei's FIX: a fix keyword (fix, bug, defect, patch, hotfix, revert) or a closed issue in the title."""
    return bool(_FIX_WORDS.search(text) or _DEFECT_ID.search(text))


def reverted_commit(message: str) -> str | None:
    """The (possibly abbreviated) sha named by git's "This reverts commit X." line."""
    match = _REVERTS.search(message)
    return match.group(1).lower() if match else None
