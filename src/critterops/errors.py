"""The one family of errors that critterops shows to its users.

Every error a user can cause or fix derives from :class:`CritteropsError`. The CLI prints its
message (which says what to do next) without a traceback and exits with its ``exit_code``.
Anything else that escapes is a bug: exit code 3, traceback only with ``--debug``.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_UNEXPECTED = 3


class CritteropsError(Exception):
    """Base of all errors meant for the user."""

    exit_code: int = EXIT_USAGE


class UserError(CritteropsError):
    """Bad input from the user: a path, a flag, a git ref."""


class ConfigError(CritteropsError):
    """An invalid ``critterops.yaml`` or policy value."""


class BackendError(CritteropsError):
    """A real component (git, HAProxy, Kubernetes, a database) failed or is missing."""
