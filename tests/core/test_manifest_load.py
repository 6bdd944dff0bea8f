"""Loading valid manifests: every feature becomes the typed, frozen model."""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlrecipes.core.errors import ManifestError, UserError
from mlrecipes.core.manifest import (
    EnvRef,
    ExecutorConfig,
    FnRef,
    Manifest,
    OutRef,
    ParamRef,
    PathRef,
    Resources,
    StoreConfig,
    StoreOut,
    load_manifest,
    with_dev_paths,
)

FULL = Path(__file__).parent / "manifests" / "valid_full.yaml"


@pytest.fixture(scope="module")
def full() -> Manifest:
    return load_manifest(FULL)


def test_top_level(full: Manifest) -> None:
    assert full.path == FULL.resolve()
    assert full.root == FULL.resolve().parent
    assert (full.version, full.name, full.experiment) == (1, "churn", "churn-dev")
    assert full.mlflow.tracking_uri == EnvRef("MLFLOW_URI:sqlite:///.mlrecipes/mlflow.db")
    assert full.executor == ExecutorConfig(kind="ray", address="auto")
    assert full.store == StoreConfig(share="off", max_size=500 * 2**20)
    # Roots are normalized; "." is the manifest's folder.
    assert dict(full.paths) == {
        "raw": "data/raw",
        "processed": "data/processed",
        "output": "outputs",
        "here": ".",
    }
    assert full.dev_paths == {}


def test_global_params(full: Manifest) -> None:
    assert full.params["seed"] == 42
    assert full.params["layers"] == (64, 32)
    assert full.params["opt"] == {"name": "adam", "lr": 0.001}
    assert full.params["token"] == EnvRef("pre-${CHURN_TOKEN:-none}-post")


def test_repos(full: Manifest) -> None:
    features, models, private = (full.repos[n] for n in ("features", "models", "private"))
    assert (features.url, features.rev, features.python) == (
        "https://github.com/acme/features.git",
        "v1.4.0",
        "3.11",
    )
    assert (models.url, models.subdir) == ("../ml-monorepo", "packages/models")
    # A quoted short SHA with a leading zero stays text (unquoted it would be an octal int).
    assert private.rev == "0123456"
    assert private.url == EnvRef("https://ci:${TOKEN}@git.example.com/x.git")
    assert private.url_template == "https://ci:${TOKEN}@git.example.com/x.git"


def test_step_fn_refs_and_resources(full: Manifest) -> None:
    featurize, train, evaluate = (full.steps[n] for n in ("featurize", "train", "evaluate"))
    assert featurize.fn == FnRef("features", "churn_features.build", "make_features")
    assert str(featurize.fn) == "features:churn_features.build.make_features"
    assert train.deps == {"features": OutRef("featurize", "features")}
    assert train.outs == {"model": PathRef("output", "model.pkl")}
    assert train.resources == Resources(cpus=2.0, gpus=0.5, memory=4_000_000_000)
    assert evaluate.resources.memory == 512 * 1024**2
    assert featurize.outs["report"] == StoreOut("report.html")
    assert evaluate.outs["metrics"] == PathRef("output", "metrics")
    assert evaluate.upstream() == ("featurize", "train")
    assert full.steps["lint"].params == {} and full.steps["lint"].deps == {}


def test_step_params_are_typed(full: Manifest) -> None:
    params = full.steps["featurize"].params
    assert params == {
        "window_days": 30,  # from the `<<: *defaults` merge key
        "seed": ParamRef("seed"),
        "since": "2024-01-31",  # dates stay text
        "ratio": 0.5,
        "enabled": True,
        "nothing": None,
        "nested": {"a": (1, {"b": ParamRef("seed")}), "home": EnvRef("HOME_DIR:/home/x")},
    }
    assert isinstance(params["nested"], Mapping)
    assert full.steps["train"].params["layers"] == ParamRef("layers")


def test_locations_point_at_the_yaml(full: Manifest) -> None:
    lines = FULL.read_text().splitlines()
    ref = full.steps["train"].deps["features"]
    assert isinstance(ref, OutRef) and ref.loc is not None
    assert lines[ref.loc.line - 1][ref.loc.col - 1 :].startswith("!out featurize.features")
    step_loc = full.steps["train"].loc
    assert step_loc is not None and lines[step_loc.line - 1].strip() == "train:"


def test_resolve_path(full: Manifest) -> None:
    out = full.steps["train"].outs["model"]
    assert isinstance(out, PathRef)
    assert full.resolve_path(out) == full.root / "outputs" / "model.pkl"
    assert full.resolve_path(PathRef("here", "")) == full.root / "."


def test_manifest_is_frozen_and_pickles(full: Manifest) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        full.name = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        full.params["seed"] = 1  # type: ignore[index]
    # Executors send manifests to other processes; the data is our own.
    assert pickle.loads(pickle.dumps(full)) == full  # noqa: S301


def _write(folder: Path, text: str, name: str = "workspace.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """\
version: 1
name: tiny
repos:
  a: {url: ../a, rev: main}
  b: {url: ../b, rev: main}
steps:
  s:
    fn: a:mod.fn
    params: {lr: 1e-3, n: 1_000, big: 1.5E+3}
"""


def test_minimal_manifest_defaults(tmp_path: Path) -> None:
    manifest = load_manifest(_write(tmp_path, MINIMAL))
    assert manifest.experiment == "tiny"
    assert manifest.executor == ExecutorConfig()
    assert manifest.store == StoreConfig(share="auto", max_size=10**9)
    assert manifest.mlflow.tracking_uri is None
    # YAML 1.2 floats: `1e-3` is a number, not the text PyYAML would give.
    assert manifest.steps["s"].params == {"lr": 0.001, "n": 1000, "big": 1500.0}


def test_code_rule_step_then_repo_then_files(tmp_path: Path) -> None:
    text = MINIMAL.replace("rev: main}", "rev: main, cache: {code: tree}}")
    assert "cache" in text
    manifest = load_manifest(_write(tmp_path, text + "  t: {fn: a:mod.fn, cache: {code: files}}\n"))
    assert manifest.code_rule("s") == "tree"  # from its repo
    assert manifest.code_rule("t") == "files"  # its own wins
    assert load_manifest(_write(tmp_path, MINIMAL)).code_rule("s") == "files"


def test_missing_file_is_a_manifest_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read the manifest"):
        load_manifest(tmp_path / "workspace.yaml")


def test_local_overlay_sets_dev_paths(tmp_path: Path) -> None:
    (tmp_path / "work" / "a-dev").mkdir(parents=True)
    path = _write(tmp_path, MINIMAL)
    _write(tmp_path, "repos:\n  a: {path: work/a-dev}\n", "workspace.local.yaml")
    manifest = load_manifest(path)
    assert manifest.dev_paths == {"a": (tmp_path / "work" / "a-dev").resolve()}
    assert manifest.dev_paths["a"].is_absolute()
    assert load_manifest(path, local=False).dev_paths == {}


def test_local_overlay_problems_are_located_in_it(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL)
    overlay = _write(
        tmp_path,
        "repos:\n  aa: {path: .}\n  b: {path: missing}\n  a: {pth: .}\nsteps: {}\n",
        "workspace.local.yaml",
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    got = {(p.line, p.message.split(" (")[0]) for p in info.value.problems}
    assert got == {
        (2, "unknown repo 'aa' in the local overlay"),
        (3, "dev folder 'missing' does not exist"),
        (4, "unknown key 'pth'"),
        (4, "missing required key 'path'"),
        (5, "unknown key 'steps'"),
    }
    assert {p.file for p in info.value.problems} == {overlay}
    assert load_manifest(path, local=False).name == "tiny"


def test_with_dev_paths(tmp_path: Path) -> None:
    manifest = load_manifest(_write(tmp_path, MINIMAL))
    dev = with_dev_paths(manifest, {"b": tmp_path})
    assert dev.dev_paths == {"b": tmp_path.resolve()}
    with pytest.raises(UserError, match="unknown repo 'bb'") as info:
        with_dev_paths(manifest, {"bb": tmp_path})
    assert info.value.hint == "did you mean 'b'?"
    with pytest.raises(UserError, match="does not exist"):
        with_dev_paths(manifest, {"a": tmp_path / "nope"})


def test_design_example_loads(tmp_path: Path) -> None:
    """The manifest of DESIGN.md is valid as written."""
    example = """\
version: 1
name: churn
mlflow:
  tracking_uri: sqlite:///.mlrecipes/mlflow.db
  experiment: churn
paths:
  raw: data/raw
  processed: data/processed
  output: outputs
params:
  seed: 42
repos:
  features:
    url: https://github.com/acme/features.git
    rev: v1.4.0
  models:
    url: ../ml-monorepo
    rev: main
    subdir: packages/models
steps:
  featurize:
    fn: features:churn_features.build.make_features
    params: {window_days: 30, seed: !param seed}
    deps: {customers: !path raw/customers.csv}
    outs: {features: !path processed/features.parquet}
  train:
    fn: models:churn_model.train.fit
    params: {lr: 0.1, epochs: 5}
    deps: {features: !out featurize.features}
    outs: {model: !path output/model.pkl}
"""
    manifest = load_manifest(_write(tmp_path, example))
    assert list(manifest.steps) == ["featurize", "train"]


def test_every_problem_is_reported_once_across_sections(tmp_path: Path) -> None:
    text = MINIMAL.replace("fn: a:mod.fn", "fn: zz:mod.fn\n    deps: {x: !out nope.y}")
    text = text.replace("  b: {url: ../b, rev: main}", "  b: {url: ../b}")
    with pytest.raises(ManifestError) as info:
        load_manifest(_write(tmp_path, text))
    messages = [p.message for p in info.value.problems]
    assert messages == [
        "missing required key 'rev'",
        "fn 'zz:mod.fn' names unknown repo 'zz'",
        "!out 'nope.y' names unknown step 'nope'",
    ]
    assert [p.key_path for p in info.value.problems] == [
        "repos.b.rev",
        "steps.s.fn",
        "steps.s.deps.x",
    ]


def test_an_output_root_that_links_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    """Issue 25 item 21: it passed `validate` and was refused only after the step ran."""
    from mlrecipes.core.errors import ManifestError

    ws = tmp_path / "ws"
    ws.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (ws / "outputs").symlink_to(tmp_path / "elsewhere")
    (ws / "workspace.yaml").write_text(
        "version: 1\nname: t\npaths: {out: outputs}\n"
        "repos: {r: {url: ../r, rev: main}}\n"
        "steps:\n  s:\n    fn: r:m.f\n    outs: {o: !path out/o.txt}\n"
    )
    with pytest.raises(ManifestError) as info:
        load_manifest(ws / "workspace.yaml")
    assert len(info.value.problems) == 1, [p.message for p in info.value.problems]
    (problem,) = info.value.problems
    assert "resolves to" in problem.message and "outside the workspace" in problem.message
    assert (problem.line, problem.key_path) == (8, "steps.s.outs.o")
