"""Change-risk scoring from a repository's own history: mining, SZZ labels, the model, its evaluation.

The ``risk`` command uses :func:`features_for_range` and :func:`load_default_model` to score a
deploy range, and :func:`evaluate_history` for ``risk --history``.
"""

from __future__ import annotations

from critterops.history.evaluate import HistoryReport, evaluate_history
from critterops.history.mining import (
    FEATURES,
    KAMEI_FEATURES,
    RULE_FEATURES,
    CommitRecord,
    Features,
    History,
    features_for_range,
    mine_history,
)
from critterops.history.model import ModelLevels, RiskModel, load_default_model
from critterops.history.szz import SzzResult, find_inducers

__all__ = [
    "FEATURES",
    "KAMEI_FEATURES",
    "RULE_FEATURES",
    "CommitRecord",
    "Features",
    "History",
    "HistoryReport",
    "ModelLevels",
    "RiskModel",
    "SzzResult",
    "evaluate_history",
    "features_for_range",
    "find_inducers",
    "load_default_model",
    "mine_history",
]
