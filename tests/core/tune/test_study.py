"""Study bookkeeping on a real Optuna storage (a temp SQLite file), no pipeline runs."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from mlrecipes.core.errors import UserError
from mlrecipes.core.tune._optuna import open_study
from mlrecipes.core.tune.result import ATTR_INTERRUPTED, Trial, TuneResult
from mlrecipes.core.tune.space import parse_space
from mlrecipes.core.tune.study import grid_points

SPACE = parse_space(["a=range(1, 3)", "b=choice(x, y)"])


def _open(tmp_path: Path, **kwargs: object) -> optuna.Study:
    fields: dict[str, object] = {
        "name": "s",
        "storage": f"sqlite:///{tmp_path / 'o.db'}",
        "direction": "maximize",
        "objective": "train.score",
        "space": SPACE,
        **kwargs,
    }
    return open_study(**fields)  # type: ignore[arg-type]


def test_reopening_with_another_search_is_an_error(tmp_path: Path) -> None:
    _open(tmp_path)
    _open(tmp_path)  # the same search: resumed
    with pytest.raises(UserError, match="search space"):
        _open(tmp_path, space=parse_space(["a=range(1, 4)"]))
    with pytest.raises(UserError, match="direction maximize"):
        _open(tmp_path, direction="minimize")
    with pytest.raises(UserError, match=r"objective train\.score"):
        _open(tmp_path, objective="evaluate.auc")


def test_interrupted_trials_do_not_count_and_grid_points_come_back(tmp_path: Path) -> None:
    study = _open(tmp_path)
    dists = SPACE.distributions()
    study.enqueue_trial({"a": 1, "b": "x"})
    study.tell(study.ask(dists), 1.0)
    study.enqueue_trial({"a": 1, "b": "y"})
    cut = study.ask(dists)
    cut.set_user_attr(ATTR_INTERRUPTED, True)
    study.tell(cut, state=TrialState.FAIL)
    study.enqueue_trial({"a": 2, "b": "x"})
    study.tell(study.ask(dists), state=TrialState.FAIL)
    trials = [Trial.from_optuna(t) for t in study.get_trials()]
    assert [t.state for t in trials] == ["COMPLETE", "INTERRUPTED", "FAIL"]
    assert [t.counts for t in trials] == [True, False, True]
    left = grid_points(SPACE, study, seed=0)
    assert sorted(map(str, left)) == sorted(map(str, [{"a": 1, "b": "y"}, {"a": 2, "b": "y"}]))
    assert grid_points(SPACE, study, seed=0) == left  # a seeded order


@pytest.mark.parametrize(("direction", "best"), [("maximize", 2), ("minimize", 0)])
def test_ranked_best_first(direction: str, best: int) -> None:
    trials = (
        Trial(0, "COMPLETE", 1.0, {}),
        Trial(1, "FAIL", None, {}),
        Trial(2, "COMPLETE", 3.0, {}),
        Trial(3, "COMPLETE", 2.0, {}),
    )
    result = TuneResult(
        study="s", storage="", objective="t.m", direction=direction,  # type: ignore[arg-type]
        space={}, trials=trials, ran=4, tracking_uri="", experiment="e",
    )  # fmt: skip
    assert result.best is not None and result.best.number == best
    assert len(result.ranked()) == 3 and [t.number for t in result.failed] == [1]


_ASKER = """
import sys, time
import optuna
from mlrecipes.core.tune.stale import mark_owner
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name="s", storage=sys.argv[1])
mark_owner(study.ask())
print("asked", flush=True)
time.sleep(600)
"""


def test_a_trial_of_a_killed_tune_is_ended_by_the_next(tmp_path: Path) -> None:
    """Issue 25 item 21: after kill -9 a trial stayed RUNNING forever."""
    import signal
    import subprocess
    import sys

    from mlrecipes.core.tune.stale import end_dead_trials, mark_owner

    storage = f"sqlite:///{tmp_path / 'o.db'}"
    study = optuna.create_study(study_name="s", storage=storage)
    mine = study.ask()
    mark_owner(mine)  # this process is alive: its trial is left alone
    proc = subprocess.Popen(
        [sys.executable, "-c", _ASKER, storage], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "asked"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    assert end_dead_trials(study) == [1]
    states = {t.number: t for t in study.get_trials()}
    assert states[0].state == TrialState.RUNNING
    assert states[1].state == TrialState.FAIL and states[1].user_attrs[ATTR_INTERRUPTED]
    assert Trial.from_optuna(states[1]).state == "INTERRUPTED"  # it runs again
