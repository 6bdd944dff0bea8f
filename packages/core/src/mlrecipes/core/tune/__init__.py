"""Hyperparameter search on Optuna, every trial a cached pipeline run (``mlrecipes tune``).

``import mlrecipes.core.tune`` imports neither Optuna (an optional extra) nor
the study machinery: ``Workspace.tune`` does, when it runs.
"""

from mlrecipes.core.tune.options import TuneOptions
from mlrecipes.core.tune.result import Trial, TuneResult

__all__ = ["Trial", "TuneOptions", "TuneResult"]
