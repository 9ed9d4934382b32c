"""Pinned versions of every third-party action and tool the generated workflows run.

Each action is pinned to the full commit SHA of a release tag and carries that tag as a comment
(``uses: actions/checkout@<sha> # v7.0.1``), as zizmor's ``unpinned-uses`` and
``ref-version-mismatch`` audits and GitHub's hardening guide ask. Every SHA below was read from
the action's own repository: ``git show-ref --tags -d`` (the peeled ``^{}`` commit for annotated
tags), and the commit was checked to be an ancestor of the default branch. Never edit a SHA by
hand: re-read it from the tag, or let Dependabot/Renovate bump SHA and comment together.

Tools downloaded inside a ``run:`` step are pinned by version *and* SHA-256, taken from two
independent published sources (package-manager manifests that pin the same release asset).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

ACTIONS: Final[dict[str, tuple[str, str]]] = {
    # action (owner/repo[/path]): (commit SHA of the release tag, release tag)
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-dotnet": ("a98b56852c35b8e3190ac28c8c2271da59106c68", "v6.0.0"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "docker/login-action": ("4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"),
    "docker/build-push-action": ("53b7df96c91f9c12dcc8a07bcb9ccacbed38856a", "v7.3.0"),
    "anchore/scan-action": ("e1165082ffb1fe366ebaf02d8526e7c4989ea9d2", "v7.4.0"),
    "aws-actions/configure-aws-credentials": ("e6de054238d6b7531b4efff3b6587d9aade6a06c", "v6.2.3"),
    "github/codeql-action/upload-sarif": ("8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
}


@dataclass(frozen=True, slots=True)
class Tool:
    """A binary a workflow downloads and verifies before running it."""

    name: str
    version: str
    url: str  # linux/amd64 release asset (GitHub-hosted ubuntu runners are x64)
    sha256: str
    sources: str  # where the checksum was confirmed


TOOLS: Final[dict[str, Tool]] = {
    "kustomize": Tool(
        "kustomize",
        "5.7.1",
        "https://github.com/kubernetes-sigs/kustomize/releases/download/kustomize%2Fv5.7.1/kustomize_v5.7.1_linux_amd64.tar.gz",
        "ea375e7372f9aa029129d4b2d16c66b7750b7f1213c4f66f910d981c895818d8",
        "cashapp/hermit-packages kustomize.hcl; several Renovate-pinned Makefiles and CI installers",
    ),
    "kubectl-argo-rollouts": Tool(
        "kubectl-argo-rollouts",
        "1.8.1",
        "https://github.com/argoproj/argo-rollouts/releases/download/v1.8.1/kubectl-argo-rollouts-linux-amd64",
        "d2681d3c22d0c143481924d1332d07ced7f0828b89a85e28b9be598ae25950b7",
        "cashapp/hermit-packages kubectl-argo-rollouts.hcl; the argoproj Homebrew formula for v1.8.1",
    ),
}

# Python tools run with ``pipx run --spec <name>==<version>``; the version exists on PyPI.
PYTHON_TOOLS: Final[dict[str, str]] = {"checkov": "3.3.30"}

# The grype release anchore/scan-action v7.4.0 ships as its default (GrypeVersion.js), set explicitly.
GRYPE_VERSION: Final = "v0.110.0"

_SHA = re.compile(r"[0-9a-f]{40}")
_USES = re.compile(r"^(?P<lead>\s*(?:- )?uses: )(?P<action>[^@\s]+)@(?P<ref>[0-9a-f]{40})$")


def uses(action: str) -> str:
    """``owner/repo@sha`` for a ``uses:`` key; the version comment is added by :func:`annotate`."""
    sha, _ = ACTIONS[action]
    return f"{action}@{sha}"


def annotate(text: str) -> str:
    """Append ``# vX.Y.Z`` to every ``uses: action@sha`` line of a dumped workflow."""
    out = []
    for line in text.split("\n"):
        match = _USES.match(line)
        if match:
            _, version = ACTIONS[match.group("action")]
            line = f"{line} # {version}"
        out.append(line)
    return "\n".join(out)


def is_sha(ref: str) -> bool:
    return _SHA.fullmatch(ref) is not None
