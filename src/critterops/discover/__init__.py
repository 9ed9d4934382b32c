"""Read a Critter Stack repository into a :class:`critterops.model.System`."""

from __future__ import annotations

from pathlib import Path

from critterops.discover.assemble import discover_tree
from critterops.discover.files import SourceTree
from critterops.model import System


def discover(root: str | Path) -> System:
    """Discover the system in the repository at ``root``.

    Raises :class:`critterops.errors.UserError` when ``root`` is not a readable folder; every
    other problem becomes a warning in ``System.warnings`` with a partial model.
    """
    return discover_tree(SourceTree.open(root))


__all__ = ["discover"]
