"""critterops: a DevOps engineer as software for Critter Stack systems.

The public API re-exported here is what other code (and the tests) may rely on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from critterops.errors import BackendError, ConfigError, CritteropsError, UserError

if TYPE_CHECKING:
    from critterops.model import System

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "ConfigError",
    "CritteropsError",
    "UserError",
    "__version__",
    "discover_system",
]


def discover_system(root: str | Path) -> System:
    """Read the repository at ``root`` into a :class:`critterops.model.System`.

    (``critterops.discover`` is the package of the discovery stage, so the function has its own name.)
    """
    from critterops.discover import discover

    return discover(root)
