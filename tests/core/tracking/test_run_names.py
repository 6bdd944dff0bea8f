"""Parent run names: short, in the manifest's order, floats to 4 significant digits."""

from __future__ import annotations

import pytest

from mlrecipes.core.tracking.base import (
    short_value,
    split_step_metric,
    step_metric_key,
    step_metric_name,
    variant_run_name,
)

ORDER = ("seed", "prep.scale", "train.lr", "train.threshold")


def test_names_follow_the_manifest_not_the_order_given() -> None:
    given = {"train.threshold": "0.5115579679011617", "train.lr": "0.3832216850492786"}
    again = dict(reversed(given.items()))
    assert variant_run_name("ws", given, order=ORDER) == "lr=0.3832 threshold=0.5116"
    assert variant_run_name("ws", again, order=ORDER) == "lr=0.3832 threshold=0.5116"


def test_unknown_keys_come_last_and_clashing_short_names_stay_long() -> None:
    given = {"+train.extra": "1", "prep.lr": "2", "train.lr": "1e-05"}
    name = variant_run_name("ws", given, order=ORDER)
    assert name == "train.lr=1e-05 train.extra=1 prep.lr=2"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("0.3832216850492786", "0.3832"),
        (0.123456, "0.1235"),
        ("12", "12"),
        (7, "7"),
        ("1e-05", "1e-05"),
        ("123456.7", "1.235e+05"),
        ("adam", "adam"),
        ("inf", "inf"),
        (True, "True"),
    ],
)
def test_values_are_short(value: object, shown: str) -> None:
    assert short_value(value) == shown


def test_a_step_metric_has_one_key() -> None:
    key = step_metric_key("train", "val/auc")
    assert key == "train.val/auc"
    assert split_step_metric(key) == ("train", "val/auc")
    assert step_metric_name("train", key) == step_metric_name("train", "val/auc") == "val/auc"
    assert split_step_metric("auc") is None
