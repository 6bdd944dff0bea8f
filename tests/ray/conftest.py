"""A real Ray cluster on the loopback per test module: a head and a worker node.

Both nodes run on this machine with their own loopback addresses
(127.0.0.2 head, 127.0.0.3 worker; Ray would otherwise advertise the
machine's network address), one CPU each. Starting Ray is slow (tens of
seconds on 2 cores), so the worker node starts in the background while the
first tests use the head; tests that need both wait for it. Teardown ends
this cluster's processes only (:mod:`._cluster`), never ``ray stop --force``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from mlrecipes.core.executors.ray import import_ray

from ._cluster import Cluster, start_cluster

ray: Any = pytest.importorskip("ray", reason="Ray is not installed (the mlrecipes-core[ray] extra)")

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    """Start the head (blocking) and a worker node (in the background); stop both at the end."""
    # A token left in ~/.ray/auth_token (by any earlier `ray.init()` on this machine)
    # silently turns on token auth for some processes and not others: this
    # cluster runs without auth, for every process, whatever the machine holds.
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["RAY_AUTH_MODE"] = "disabled"
    previous_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    cluster = start_cluster(env=env)
    import_ray()  # as the executor does: no `uv run` runtime env for the workers
    try:
        if ray.is_initialized():  # another module's connection (xdist may interleave modules)
            ray.shutdown()
        ray.init(address=cluster.address, log_to_driver=False, logging_level="WARNING")
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
        if previous_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_mode
