"""Hyperparameter search on Optuna, every trial a cached pipeline run (``mlrecipes tune``).

``import mlrecipes.core.tune`` does not import Optuna (an optional extra); a
study does, when it opens.
"""

from mlrecipes.core.tune.result import Trial, TuneResult
from mlrecipes.core.tune.space import SearchSpace, parse_space
from mlrecipes.core.tune.study import TuneOptions, tune

__all__ = ["SearchSpace", "Trial", "TuneOptions", "TuneResult", "parse_space", "tune"]
