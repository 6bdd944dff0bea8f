"""What ``tune`` refuses before opening a study: each a user error with a hint.

A study name is Optuna's key and MLflow's tag and run name; no file name is
made from it (the summary's scratch folder is a temp folder), so only its
length and characters are checked. Seeds are NumPy's range; ``--trials`` has
a cap, as a sweep does, so a typo cannot start an endless study.
"""

from __future__ import annotations

import re

from mlrecipes.core.errors import UserError
from mlrecipes.core.tune.options import TuneOptions

MAX_STUDY_NAME = 200
MAX_SEED = 2**32 - 1  # NumPy's RandomState, under every Optuna sampler
MAX_TRIALS = 100_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_options(options: TuneOptions) -> None:
    """Raise :class:`UserError` for a study name, seed or trial count ``tune`` cannot take."""
    if options.trials < 1 or options.jobs < 1:
        raise UserError("--trials and -j must be at least 1")
    if options.trials > MAX_TRIALS:
        raise UserError(
            f"--trials {options.trials} is more than {MAX_TRIALS:,}",
            hint="a study's trials are its total: give the number you mean to run",
        )
    if options.seed is not None and not 0 <= options.seed <= MAX_SEED:
        raise UserError(
            f"--seed {options.seed} is out of range", hint=f"give a seed from 0 to {MAX_SEED}"
        )
    if options.study is not None:
        check_study_name(options.study)
    if options.storage is not None:
        check_storage(options.storage)


def check_storage(url: str) -> None:
    """Refuse an in-memory SQLite URL: the study would vanish with the process."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme.split("+")[0] == "sqlite" and rest.lstrip("/") in ("", ":memory:"):
        raise UserError(
            f"--storage {url} is an in-memory database: the study would not persist",
            hint="give a file, e.g. sqlite:///studies.db, or leave `storage` out",
        )


def check_study_name(name: str) -> None:
    """A name Optuna, MLflow and a terminal take: 1 to 200 characters, no control character."""
    if not name.strip():
        raise UserError("--study is empty", hint="give a name, or leave `study` out")
    if len(name) > MAX_STUDY_NAME:
        raise UserError(
            f"--study is {len(name)} characters long, more than {MAX_STUDY_NAME}",
            hint="give a shorter name",
        )
    if _CONTROL.search(name):
        raise UserError(
            "--study holds a control character", hint="give a name of printable characters"
        )
