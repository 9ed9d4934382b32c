"""Who made a change: a person, an automation bot, or a coding agent, and whose experience it counts as.

Kamei's experience features (EXP, REXP, SEXP) assume one human per change. Two kinds of
non-human author break that: automation bots (dependency bumps, CI) that are always
"experienced", and coding agents (Copilot, Claude, ...) that write a change a person asked for and
merged. Following the risk design (§3.3), an agent's change counts towards the first human named in
its ``Co-authored-by`` trailers; bots keep their own identity.
"""

from __future__ import annotations

import re
from typing import Literal

AuthorKind = Literal["human", "automation", "agent"]

_AUTOMATION = (
    "dependabot",
    "renovate",
    "github-actions",
    "greenkeeper",
    "snyk-bot",
    "imgbot",
    "pre-commit-ci",
    "mergify",
    "allcontributors",
    "semantic-release",
    "dotnet-maestro",
    "azure-pipelines",
    "weblate",
)
_AGENTS = ("copilot", "claude", "anthropic", "devin", "codex", "openai", "cursor", "openhands", "jules", "sweep-ai")
_AGENT_DOMAINS = ("anthropic.com", "openai.com", "cursor.com", "cognition.ai")
_NOREPLY = re.compile(r"^(?:\d+\+)?([^@]+)@users\.noreply\.github\.com$", re.IGNORECASE)
_COAUTHOR = re.compile(r"^co-authored-by:\s*(.*?)\s*<([^>]*)>\s*$", re.IGNORECASE | re.MULTILINE)


def github_login(email: str) -> str:
    """The GitHub login in a ``<id>+<login>@users.noreply.github.com`` address, else ``""``."""
    match = _NOREPLY.match(email.strip())
    return match.group(1).lower() if match else ""


def author_kind(name: str, email: str) -> AuthorKind:
    """Classify an author by name and address; a ``[bot]`` account is automation unless it is an agent."""
    lowered = f"{name} {github_login(email)}".lower()
    domain = email.rpartition("@")[2].lower()
    agentish = any(token in lowered for token in _AGENTS)
    if "[bot]" in lowered or "[bot]" in email.lower():
        return "agent" if agentish else "automation"
    if any(token in lowered for token in _AUTOMATION):
        return "automation"
    # A person may be called Claude: an agent must also write from a no-reply or vendor address.
    if agentish and (github_login(email) or domain in _AGENT_DOMAINS or "noreply" in email.lower()):
        return "agent"
    return "human"


def identity(name: str, email: str) -> str:
    """A person's key across addresses: lowercase letters and digits of the name, else the address.

    ``Erik Shafer <erik@x>`` and ``erikshafer <1+erikshafer@users.noreply.github.com>`` (a co-author
    trailer) become one developer, which matters for EXP on repositories with several addresses.
    """
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    return key or email.strip().lower()


def developer(name: str, email: str, kind: AuthorKind, message: str) -> str:
    """The identity whose experience a change counts towards (the human behind an agent's change)."""
    if kind == "agent":
        for co_name, co_email in _COAUTHOR.findall(message):
            if author_kind(co_name, co_email) == "human":
                return identity(co_name, co_email)
    return identity(name, email)
