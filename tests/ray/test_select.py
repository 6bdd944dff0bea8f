"""Choosing the executor, Ray's task options, and the install hint without Ray."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlrecipes.core.errors import UserError
from mlrecipes.core.executors import LocalExecutor
from mlrecipes.core.executors.ray import ray_options
from mlrecipes.core.executors.select import make_executor
from mlrecipes.core.manifest.model import Resources


def test_importing_the_core_never_imports_ray() -> None:
    code = (
        "import sys, mlrecipes.core, mlrecipes.core.executors.select, "
        "mlrecipes.core.executors.ray; print('ray' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_ray_executor_without_ray_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(UserError) as info:
        make_executor("ray", jobs=1)
    assert "needs Ray" in info.value.message
    assert info.value.hint is not None
    assert "uv pip install 'mlrecipes-core[ray]'" in info.value.hint
    assert "uv tool install --compile-bytecode --reinstall" in info.value.hint
    assert "[ray,tune] @ git+" in info.value.hint  # keeps the tune extra it has


def test_local_is_made_with_its_jobs() -> None:
    executor = make_executor("local", jobs=2, address="ignored")
    try:
        assert isinstance(executor, LocalExecutor)
    finally:
        executor.close()


def test_unknown_kind_suggests_a_known_one() -> None:
    with pytest.raises(UserError) as info:
        make_executor("rey", jobs=1)
    assert info.value.hint is not None and "ray" in info.value.hint


def test_ray_options_map_step_resources() -> None:
    assert ray_options(None) == {"num_cpus": 1, "max_retries": 0, "retry_exceptions": False}
    opts = ray_options(Resources(cpus=2, gpus=1, memory=4 * 1024**3))
    assert (opts["num_cpus"], opts["num_gpus"], opts["memory"]) == (2, 1, 4 * 1024**3)
    assert ray_options(Resources(cpus=0.5))["num_cpus"] == 0.5
    assert ray_options(Resources(custom={"sandbox": 1.0}))["resources"] == {"sandbox": 1.0}


def test_every_ray_test_runs_in_the_ray_group(request: pytest.FixtureRequest) -> None:
    """Under ``--dist loadgroup`` the Ray tests share one worker (tests/conftest.py):
    pytest 9.2 + xdist 3.8 silently dropped the group (pytest-xdist#1386)."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not under xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@ray"), request.node.nodeid
