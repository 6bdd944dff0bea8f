"""The only module that imports Optuna: opening a study and choosing its sampler.

Optuna is an optional extra (``mlrecipes[tune]``) and takes a while to import,
so it is imported here, when a study is opened, never at start-up.
"""

from __future__ import annotations

import json
import logging
from types import ModuleType
from typing import TYPE_CHECKING, Literal

from mlrecipes.core.errors import MissingExtra, UserError
from mlrecipes.core.install import install_command

if TYPE_CHECKING:
    import optuna

    from mlrecipes.core.tune.space import SearchSpace


Sampler = Literal["tpe", "random", "grid"]
Direction = Literal["maximize", "minimize"]


def install_hint() -> str:
    """How to add the tune extra to this install (a command that works on a fresh machine)."""
    return f"install the tune extra: `{install_command('tune')}`"


ATTR_SPACE = "mlrecipes.space"
ATTR_OBJECTIVE = "mlrecipes.objective"


def import_optuna() -> ModuleType:
    """The ``optuna`` module, or :class:`MissingExtra` telling how to install it.

    Callers then ``import optuna`` themselves, for its types.
    """
    try:
        import optuna
    except ImportError:
        raise MissingExtra(
            "`mlrecipes tune` needs Optuna, which is not installed",
            extra="tune",
            hint=install_hint(),
        ) from None
    # The core never prints: Optuna's own log lines ("Trial 3 finished ...") are
    # replaced by the core's events.
    optuna.logging.disable_default_handler()
    optuna.logging.set_verbosity(logging.WARNING)
    return optuna


def make_sampler(kind: Sampler, seed: int | None, done: int) -> optuna.samplers.BaseSampler:
    """The sampler; on a resumed study the seed moves on by the trials already done.

    A seeded sampler restarts its random stream in each process: without the
    offset, a resumed study would draw the same first points again.
    """
    import_optuna()
    import optuna

    if seed is not None:
        seed += done
    if kind in ("random", "grid"):
        # The grid's points are enqueued one by one (see ``tune.study``): Optuna's
        # GridSampler calls ``Study.stop()``, which fails outside ``optimize()``.
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def open_study(
    *,
    name: str,
    storage: str,
    direction: Direction,
    objective: str,
    space: SearchSpace,
) -> optuna.Study:
    """Create the study, or load it and check it searches the same thing."""
    import_optuna()
    import optuna

    try:
        study = optuna.create_study(
            storage=storage, study_name=name, direction=direction, load_if_exists=True
        )
    except Exception as exc:  # SQLAlchemy's errors for a bad URL or an unreachable database
        from mlrecipes.core.tune.storage import redact_storage

        shown = redact_storage(storage)
        reason = str(exc).splitlines()[0].replace(storage, shown) if str(exc) else ""
        raise UserError(
            f"cannot open study {name!r} in {shown}: {type(exc).__name__} {reason}".strip(),
            hint="`storage` takes an Optuna storage URL, e.g. sqlite:///studies.db "
            "or postgresql://user@host/db",
        ) from None
    described = json.dumps(space.describe(), sort_keys=True)
    known = study.user_attrs
    if ATTR_SPACE not in known:
        study.set_user_attr(ATTR_SPACE, described)
        study.set_user_attr(ATTR_OBJECTIVE, objective)
    _check_same(study, name, direction, objective, described)
    return study


def _check_same(
    study: optuna.Study, name: str, direction: Direction, objective: str, described: str
) -> None:
    was = study.user_attrs
    differs = []
    if study.direction.name.lower() != direction:
        differs.append(f"direction {study.direction.name.lower()}")
    if was.get(ATTR_OBJECTIVE, objective) != objective:
        differs.append(f"objective {was[ATTR_OBJECTIVE]}")
    if was.get(ATTR_SPACE, described) != described:
        differs.append(f"search space {was[ATTR_SPACE]}")
    if differs:
        raise UserError(
            f"study {name!r} exists with another " + "; ".join(differs),
            hint="give the same search, or a new `study` NAME",
        )
