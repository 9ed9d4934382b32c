"""critterops: a DevOps engineer as software for Critter Stack systems.

The public API re-exported here is what other code (and the tests) may rely on.
"""

from __future__ import annotations

from critterops.errors import BackendError, ConfigError, CritteropsError, UserError

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "ConfigError",
    "CritteropsError",
    "UserError",
    "__version__",
    "discover",
]


def discover(root: str) -> object:
    """Read the repository at ``root`` into a :class:`critterops.model.System`."""
    from critterops.discover import discover as _discover

    return _discover(root)
