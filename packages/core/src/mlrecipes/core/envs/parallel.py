"""Build the environments of several repos side by side."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path

from mlrecipes.core.envs.build import Environment, ensure_environment
from mlrecipes.core.envs.spec import EnvSpec
from mlrecipes.core.errors import EnvironmentBuildError, PythonNotAvailable

BuildFailure = EnvironmentBuildError | PythonNotAvailable
"""What one repo's build can fail with; returned, not raised, by :func:`ensure_environments`."""


def ensure_environments(
    specs: Sequence[EnvSpec],
    *,
    envs_dir: Path,
    jobs: int | None = None,
    uv_cache_dir: Path | None = None,
    on_output: Callable[[str, str], None] | None = None,
    rebuild: Collection[str] = (),
) -> dict[str, Environment | BuildFailure]:
    """Ensure every spec's environment with up to ``jobs`` builds at a time.

    Returns, per repo, its :class:`Environment` or the error that stopped it: one
    repo's failure never stops the others. ``on_output(repo, line)`` receives uv's
    output. Repos in ``rebuild`` get a fresh environment even when one is ready
    (``sync --reinstall``). Anything unexpected (a bug, a full disk) is raised once every build
    has finished, so no build is left running behind the caller's back.
    """
    repos = [spec.repo for spec in specs]
    if len(set(repos)) != len(repos):
        raise ValueError(f"repo names must be unique, got {repos}")
    workers = max(1, min(jobs or os.cpu_count() or 1, len(specs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mlrecipes-env") as pool:
        futures = {
            spec.repo: pool.submit(
                _one, spec, envs_dir, uv_cache_dir, on_output, spec.repo in rebuild
            )
            for spec in specs
        }
    return {repo: _outcome(future) for repo, future in futures.items()}


def _one(
    spec: EnvSpec,
    envs_dir: Path,
    uv_cache_dir: Path | None,
    on_output: Callable[[str, str], None] | None,
    rebuild: bool,
) -> Environment:
    out = partial(on_output, spec.repo) if on_output is not None else None
    return ensure_environment(
        spec, envs_dir=envs_dir, uv_cache_dir=uv_cache_dir, on_output=out, rebuild=rebuild
    )


def _outcome(future: Future[Environment]) -> Environment | BuildFailure:
    try:
        return future.result()
    except (EnvironmentBuildError, PythonNotAvailable) as exc:
        return exc
