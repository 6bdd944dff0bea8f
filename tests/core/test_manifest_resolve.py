"""resolve_params (``!param``, ``!env``, JSON values) and apply_overrides (``-S``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlrecipes.core.errors import OverrideError, UnknownStepError, UserError
from mlrecipes.core.manifest import (
    Manifest,
    ParamRef,
    apply_overrides,
    load_manifest,
    resolve_params,
)
from mlrecipes.core.manifest.resolve import resolve_globals

TEXT = """\
version: 1
name: r
params:
  seed: 42
  opt: {name: adam, lr: 0.001}
  data_dir: !env DATA_DIR:/data
repos:
  m: {url: ../m, rev: main}
steps:
  train:
    fn: m:pkg.train.fit
    params:
      seed: !param seed
      opt: !param opt
      sched: {warmup: 5, kinds: [cos, lin]}
      where: !param data_dir
      user: !env TRAIN_USER
      url: !env "https://${HOST:-example.org}/${TRAIN_USER}"
  seed:
    fn: m:pkg.other.run
    params: {n: 1}
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Manifest:
    path = tmp_path / "workspace.yaml"
    path.write_text(TEXT, encoding="utf-8")
    return load_manifest(path)


def test_resolve_params_gives_plain_json(manifest: Manifest) -> None:
    resolved = resolve_params(manifest, "train", environ={"TRAIN_USER": "ann"})
    assert resolved == {
        "seed": 42,
        "opt": {"name": "adam", "lr": 0.001},
        "sched": {"warmup": 5, "kinds": ["cos", "lin"]},
        "where": "/data",
        "user": "ann",
        "url": "https://example.org/ann",
    }
    sched = resolved["sched"]
    assert type(resolved["opt"]) is dict
    assert isinstance(sched, dict) and type(sched["kinds"]) is list
    assert json.loads(json.dumps(resolved)) == resolved


def test_resolve_params_reads_os_environ(
    manifest: Manifest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAIN_USER", "bob")
    monkeypatch.setenv("DATA_DIR", "/mnt")
    resolved = resolve_params(manifest, "train")
    assert (resolved["user"], resolved["where"]) == ("bob", "/mnt")


def test_unset_variable_names_step_and_variable(manifest: Manifest) -> None:
    with pytest.raises(
        UserError, match="step 'train' reads environment variable 'TRAIN_USER'"
    ) as info:
        resolve_params(manifest, "train", environ={})
    assert info.value.hint is not None and "!env TRAIN_USER:default" in info.value.hint


def test_global_overrides_reach_param_refs(manifest: Manifest) -> None:
    env = {"TRAIN_USER": "x"}
    resolved = resolve_params(manifest, "train", {"seed": 7, "opt": "sgd"}, environ=env)
    assert (resolved["seed"], resolved["opt"]) == (7, "sgd")
    with pytest.raises(OverrideError, match="unknown global parameter 'sed'") as info:
        resolve_params(manifest, "train", {"sed": 1}, environ=env)
    assert info.value.hint == "did you mean 'seed'?"


def test_unknown_step(manifest: Manifest) -> None:
    with pytest.raises(UnknownStepError) as info:
        resolve_params(manifest, "trian")
    assert info.value.hint == "did you mean 'train'?"


def test_resolve_globals(manifest: Manifest) -> None:
    assert resolve_globals(manifest, {"seed": 1}, environ={}) == {
        "seed": 1,
        "opt": {"name": "adam", "lr": 0.001},
        "data_dir": "/data",
    }


def test_overrides_set_step_and_global_params(manifest: Manifest) -> None:
    new = apply_overrides(
        manifest,
        {"train.sched.warmup": "10", "seed": "7", "opt.lr": "1e-2", "train.user": "carl"},
    )
    resolved = resolve_params(new, "train", environ={"TRAIN_USER": "x"})
    assert resolved["sched"] == {"warmup": 10, "kinds": ["cos", "lin"]}
    assert resolved["seed"] == 7  # through !param seed
    assert resolved["opt"] == {"name": "adam", "lr": 0.01}
    assert resolved["user"] == "carl"  # an override replaces an !env
    # The original is unchanged and the new one is still frozen.
    assert manifest.params["seed"] == 42
    assert manifest.steps["train"].params["seed"] == ParamRef("seed")
    with pytest.raises(TypeError):
        new.params["seed"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.01", 0.01),
        ("1e-3", 0.001),
        ("3", 3),
        ("true", True),
        ("null", None),
        ("adam", "adam"),
        ("'3'", "3"),
        ("2024-01-31", "2024-01-31"),
        ("[1, 2]", (1, 2)),
        ("{a: 1}", {"a": 1}),
    ],
)
def test_override_values_are_yaml_scalars(manifest: Manifest, text: str, value: object) -> None:
    assert apply_overrides(manifest, {"seed": text}).params["seed"] == value


def test_step_name_wins_over_global_param_of_the_same_name(manifest: Manifest) -> None:
    new = apply_overrides(manifest, {"seed.n": "2", "seed": "3"})
    assert new.steps["seed"].params["n"] == 2
    assert new.params["seed"] == 3


def test_plus_adds_a_key(manifest: Manifest) -> None:
    new = apply_overrides(manifest, {"+train.sched.gamma": "0.5", "+extra": "x"})
    assert new.steps["train"].params["sched"] == {
        "warmup": 5,
        "kinds": ("cos", "lin"),
        "gamma": 0.5,
    }
    assert new.params["extra"] == "x"


@pytest.mark.parametrize(
    ("key", "hint"),
    [
        ("train.lr", "did you mean"),
        ("trian.seed", "did you mean 'train.seed'?"),
        ("sed", "did you mean 'seed'?"),
        ("train.sched.warmpu", "did you mean 'train.sched.warmup'?"),
        ("+train.nope.deeper", "prefix the key with '+'"),
    ],
)
def test_unknown_override_key(manifest: Manifest, key: str, hint: str) -> None:
    with pytest.raises(OverrideError, match="names no parameter") as info:
        apply_overrides(manifest, {key: "1"})
    assert info.value.key == key.removeprefix("+")
    assert info.value.hint is not None and hint in info.value.hint


def test_override_cannot_reach_into_a_scalar(manifest: Manifest) -> None:
    with pytest.raises(OverrideError, match=r"reaches into 'opt\.name', which is not a mapping"):
        apply_overrides(manifest, {"opt.name.x": "1"})


def test_override_value_that_is_not_yaml(manifest: Manifest) -> None:
    with pytest.raises(OverrideError, match="cannot read the value of 'seed'"):
        apply_overrides(manifest, {"seed": "[1, 2"})
    with pytest.raises(OverrideError):
        apply_overrides(manifest, {"seed": "!!python/object/apply:os.system [echo]"})
