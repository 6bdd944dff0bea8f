from __future__ import annotations

from pathlib import Path

from mlrecipes.core.tracking import _limits


def test_flatten_params_nests_keys_and_stringifies_like_yaml() -> None:
    params = {
        "lr": 0.1,
        "epochs": 5,
        "opt": {"name": "adam", "betas": [0.9, 0.99], "inner": {"eps": None}},
        "shuffle": True,
        "path": Path("/data/x.csv"),
        "empty": {},
    }
    assert _limits.flatten_params(params) == {
        "lr": "0.1",
        "epochs": "5",
        "opt.name": "adam",
        "opt.betas": "[0.9, 0.99]",
        "opt.inner.eps": "null",
        "shuffle": "true",
        "path": "/data/x.csv",
        "empty": "{}",
    }


def test_long_values_and_keys_are_clipped_visibly() -> None:
    value = _limits.clip_value("x" * 7000, _limits.MAX_PARAM_VALUE_LENGTH)
    assert len(value) == _limits.MAX_PARAM_VALUE_LENGTH
    assert value.endswith(_limits.TRUNCATED)
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    assert len(_limits.clip_key(long_a)) == _limits.MAX_KEY_LENGTH
    assert _limits.clip_key(long_a) != _limits.clip_key(long_b)
    assert _limits.clip_key("short") == "short"


def test_batches_respect_mlflow_limits_and_keep_everything() -> None:
    metrics = {f"m{i}": float(i) for i in range(1700)}
    params = {f"p{i}": str(i) for i in range(250)}
    tags = {f"t{i}": str(i) for i in range(30)}
    parts = list(_limits.batches(metrics, params, tags))
    for m, p, t in parts:
        assert len(p) <= 100 and len(t) <= 100 and len(m) + len(p) + len(t) <= 1000
    assert sum(len(m) for m, _, _ in parts) == 1700
    assert dict(p for _, ps, _ in parts for p in ps) == params
    assert dict(t for _, _, ts in parts for t in ts) == tags
    assert list(_limits.batches({}, {}, {})) == []


def test_metric_names_mlflow_refuses_become_names_it_accepts() -> None:
    assert _limits.sanitize_metric_key("auc") == "auc"
    assert _limits.sanitize_metric_key("val/auc: top-1 5.x") == "val/auc: top-1 5.x"
    assert _limits.sanitize_metric_key("lr@epoch=3") == "lr_epoch_3"
    assert _limits.sanitize_metric_key("bad key!") == "bad key_"
    assert _limits.sanitize_metric_key("/a//b/../c/") == "a/b/c"
    long = _limits.sanitize_metric_key("m" * 300)
    assert len(long) <= _limits.MAX_KEY_LENGTH and long.startswith("m" * 200)
    clean, renamed = _limits.sanitize_metrics({"ok": 1.0, "a@b": 2.0})
    assert clean == {"ok": 1.0, "a_b": 2.0} and renamed == {"a@b": "a_b"}
