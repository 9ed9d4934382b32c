"""The public names are the ones ``__all__`` promises."""

from __future__ import annotations

import critterops
import critterops.model


def test_all_names_exist() -> None:
    for module in (critterops, critterops.model):
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_discover_is_reachable_from_the_package(pawmart: object) -> None:
    system = critterops.discover_system(str(pawmart))
    assert isinstance(system, critterops.model.System)
