"""Ray's storage modes and connection without a cluster: what is decided before Ray runs.

The end-to-end proof (a node that cannot see the workspace, a real MLflow
server, token authentication) is ``tests/ray/test_store_mode.py``.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.errors import UserError
from mlrecipes.core.executors import _ray_node, local
from mlrecipes.core.executors.ray import connect_error, use_token_if_available
from mlrecipes.core.manifest import load_manifest, manifest_json_schema
from mlrecipes.core.paths import WorkspacePaths
from mlrecipes.core.run.compose import default_services
from mlrecipes.core.run.options import RunOptions
from mlrecipes.core.team_store.ray_node import node_manifest, workspace_id

MANIFEST = """
    version: 1
    name: t
    mlflow: {{tracking_uri: "{uri}"}}
    repos:
      r: {{url: ../upstream/r, rev: main}}
      far: {{url: "https://example.com/x/far.git", rev: main}}
    executor: {{kind: ray, storage: {storage}}}
    steps:
      s: {{fn: "r:m.f", resources: {{custom: {{sandbox: 1}}}}}}
"""


def _manifest(tmp_path: Path, *, uri: str = "http://127.0.0.1:5000", storage: str = "store") -> Any:
    path = tmp_path / "ws" / "workspace.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(MANIFEST).format(uri=uri, storage=storage))
    return load_manifest(path)


def test_storage_is_read_from_the_manifest_and_in_the_schema(tmp_path: Path) -> None:
    assert _manifest(tmp_path).executor.storage == "store"
    assert dict(_manifest(tmp_path).steps["s"].resources.custom) == {"sandbox": 1.0}
    assert _manifest(tmp_path, storage="shared").executor.storage == "shared"
    executor = manifest_json_schema()["properties"]["executor"]["properties"]
    assert executor["storage"]["enum"] == ["shared", "store"]


def test_store_mode_without_a_team_store_fails_before_anything_runs(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    paths = WorkspacePaths.for_manifest(manifest)
    with pytest.raises(UserError) as info:
        default_services(manifest, paths, RunOptions(share=False))
    assert "team store" in info.value.message and "--no-share" in info.value.message
    shared = _manifest(tmp_path / "b", uri="sqlite:///x.db", storage="shared")
    with pytest.raises(UserError) as info:  # --ray-storage store on the command line
        default_services(shared, paths, RunOptions(ray_storage="store"))
    assert "not an MLflow server" in info.value.message
    assert info.value.hint is not None and "--serve-artifacts" in info.value.hint
    services = default_services(manifest, paths, RunOptions())
    assert services.runs_ahead  # every step's run exists before its node publishes into it
    assert not default_services(manifest, paths, RunOptions(executor="local")).runs_ahead


def test_the_node_gets_absolute_local_urls_and_no_dev_copies(tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    node = node_manifest(manifest, tmp_path / "node")
    assert node.path == tmp_path / "node" / "workspace.yaml"
    assert node.repos["r"].url == str((tmp_path / "upstream" / "r").resolve())
    assert node.repos["far"].url == "https://example.com/x/far.git"
    assert not node.dev_paths
    assert workspace_id(manifest) == workspace_id(manifest)
    assert workspace_id(manifest) != workspace_id(_manifest(tmp_path / "other"))


def test_one_builder_makes_a_step_environment_for_both_executors() -> None:
    assert local.subprocess_env is _ray_node.subprocess_env


class _FakeConfig:
    calls = 0

    @classmethod
    def initialize(cls, _config: str) -> None:
        cls.calls += 1


class _FakeRay:
    class _raylet:
        Config = _FakeConfig


def test_a_token_at_hand_turns_token_mode_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RAY_AUTH_MODE", "")  # recorded: whatever this sets is undone after
    monkeypatch.delenv("RAY_AUTH_MODE")
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    use_token_if_available(_FakeRay)
    assert "RAY_AUTH_MODE" not in os.environ  # no token: Ray's default
    (tmp_path / ".ray").mkdir()
    (tmp_path / ".ray" / "auth_token").write_text("t" * 32)
    use_token_if_available(_FakeRay)
    assert os.environ["RAY_AUTH_MODE"] == "token"
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's choice stands
    use_token_if_available(_FakeRay)
    assert os.environ["RAY_AUTH_MODE"] == "disabled"


def test_an_authentication_failure_is_named_with_the_variable_to_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("RAY_AUTH_TOKEN", "wrong")
    native = "gcs_client.cc:210: Unauthenticated: RPC error: InvalidAuthToken: missing\n" * 15
    error = connect_error("10.0.0.5:6379", ConnectionError("Failed to connect"), native)
    assert "token authentication" in error.message and "RAY_AUTH_TOKEN" in error.message
    assert "\n" not in error.message and "InvalidAuthToken" not in error.message
    assert error.hint is not None and "RAY_AUTH_TOKEN" in error.hint
    assert "ray start --head" not in error.hint
    other = connect_error("10.0.0.5:6379", ConnectionError("Failed to connect"), "")
    assert "cannot connect" in other.message
    assert other.hint is not None and "ray start --head" in other.hint


def test_a_ray_node_step_that_never_read_its_spec_leaves_no_secret(tmp_path: Path) -> None:
    """Issue 25 item 20: the node removed the spec (secrets in clear) only on success."""
    import sys

    logs = tmp_path / "logs"
    logs.mkdir()
    spec_path = logs / "step.spec.json"
    payload: dict[str, Any] = {
        "python": sys.executable,
        "cwd": str(tmp_path),
        "spec": {"result": str(logs / "step.result.json"), "params": {"token": "s3cr3t-value"}},
        "env": {},
        "runner_source": "raise SystemExit(3)  # fails before it reads its spec\n",
        "grace": 5.0,
    }
    reply = _ray_node.launch(payload, spec_path, logs / "step.log")
    assert reply["returncode"] == 3 and not reply["killed"]
    assert not spec_path.exists()
    holding = [p for p in tmp_path.rglob("*") if p.is_file() and b"s3cr3t" in p.read_bytes()]
    assert holding == []
