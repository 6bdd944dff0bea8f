"""Trials a killed ``tune`` left RUNNING (``kill -9``, OOM): the next ``tune`` ends them.

Each trial records its owner (host, pid, process start time) when it is asked
for. A RUNNING trial whose owner ran on this host and is gone is told FAIL,
marked interrupted (so it does not count and runs again). Trials of live
processes, or of other hosts sharing the storage, are left alone.
"""

from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING

from mlrecipes.core.executors.groups import process_alive, start_time
from mlrecipes.core.tune.result import ATTR_ERROR, ATTR_INTERRUPTED

if TYPE_CHECKING:
    import optuna

ATTR_OWNER = "mlrecipes.owner"


def mark_owner(trial: optuna.trial.Trial) -> None:
    """Record this process as the trial's owner."""
    pid = os.getpid()
    owner = {"host": socket.gethostname(), "pid": pid, "start": start_time(pid)}
    trial.set_user_attr(ATTR_OWNER, json.dumps(owner))


def end_dead_trials(study: optuna.Study) -> list[int]:
    """End each RUNNING trial whose owner died on this host (FAIL, interrupted); their numbers."""
    from optuna.trial import TrialState

    ended = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if not _owner_dead(trial.user_attrs.get(ATTR_OWNER)):
            continue
        # Optuna has no public call to set an attribute of another process's trial.
        storage = study._storage
        storage.set_trial_user_attr(trial._trial_id, ATTR_INTERRUPTED, True)
        storage.set_trial_user_attr(
            trial._trial_id,
            ATTR_ERROR,
            "its tune process died (killed); ended by the next tune",
        )
        study.tell(trial.number, state=TrialState.FAIL)
        ended.append(trial.number)
    return ended


def _owner_dead(raw: object) -> bool:
    if not isinstance(raw, str):
        return False  # no owner recorded: not ours to judge
    try:
        owner = json.loads(raw)
        host, pid, start = owner["host"], int(owner["pid"]), owner.get("start")
    except (ValueError, KeyError, TypeError):
        return False
    return host == socket.gethostname() and not process_alive(pid, start)
