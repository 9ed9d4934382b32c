"""The kit's security-scan workflow runs the review and uploads its SARIF (zizmor and actionlint on the whole
generated workflow set run in tests/generate/test_github.py)."""

from __future__ import annotations

import yaml

from critterops import __version__
from critterops.commands._common import example_path
from critterops.generate import pins
from critterops.generate.github import REVIEW_TOOLS, github_files
from tests.generate.test_github import OUT, gh_context


def test_security_scan_uploads_the_review() -> None:
    text = github_files(gh_context(example_path()), OUT)[".github/workflows/security-scan.yml"]
    job = yaml.safe_load(text)["jobs"]["review"]
    assert job["permissions"] == {"contents": "read", "security-events": "write"}
    review, upload = job["steps"][1], job["steps"][2]
    assert f"critterops=={__version__}" in review["run"]
    assert all(f"{name}=={version}" in review["run"] for name, version in REVIEW_TOOLS.items())
    assert 'critterops review . --format sarif --output "$RUNNER_TEMP/critterops.sarif"' in review["run"]
    sha, tag = pins.ACTIONS["github/codeql-action/upload-sarif"]
    assert upload["uses"] == f"github/codeql-action/upload-sarif@{sha}"
    assert f"upload-sarif@{sha} # {tag}" in text
    # the SARIF's runs carry their own automationDetails.id: no category input, which they would override
    assert upload["with"] == {"sarif_file": "${{ runner.temp }}/critterops.sarif"}
    assert upload["if"] == "${{ !cancelled() }}"
