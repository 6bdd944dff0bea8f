"""Build or reuse the uv environment of a repo: atomically, once per identity key.

A build happens in ``envs_dir/.tmp-<key>-<random>/``: a relocatable virtualenv
is created, filled by uv, checked, given its completion marker, and only then
renamed to ``envs_dir/<key>``. So a folder named by its key is always complete,
and a killed build leaves only a temp folder that the next build removes.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from mlrecipes.core.envs import _install, _layout
from mlrecipes.core.envs._gitrefs import declared_requirements
from mlrecipes.core.envs._python import Interpreter, base_interpreter, check_python
from mlrecipes.core.envs._uses import install_uses, workspace_overrides
from mlrecipes.core.envs._uv import UvFailed, UvNotFound, relevant_output, uv_environ
from mlrecipes.core.envs.key import KEY_LENGTH, environment_key, key_for
from mlrecipes.core.envs.spec import Detected, EnvSpec, InstallMode, detect, python_request
from mlrecipes.core.errors import EnvironmentBuildError

EnvStatus = Literal["ready", "stale", "missing", "failed"]


@dataclass(frozen=True)
class Environment:
    """A complete uv environment, ready to run a repo's steps."""

    key: str
    """Identity hash; also the folder name under ``envs_dir``."""
    path: Path
    """``envs_dir/<key>``."""
    python: Path
    """The interpreter inside it."""
    deps_hash: str
    """sha256 of the installed packages (sorted ``name==version`` lines), as built."""
    mode: InstallMode
    notes: tuple[str, ...] = ()
    """Things the user should know about this build (a pin the workspace overrode)."""


def ensure_environment(
    spec: EnvSpec,
    *,
    envs_dir: Path,
    uv_cache_dir: Path | None = None,
    on_output: Callable[[str], None] | None = None,
    rebuild: bool = False,
) -> Environment:
    """Return the environment ``spec`` needs, building it if it does not exist yet
    (or, with ``rebuild``, building it afresh in any case).

    Reusing a ready environment reads a few files and calls no uv. Raises
    :class:`PythonNotAvailable` when this machine's Python does not satisfy the
    repo's request, :class:`EnvironmentBuildError` when uv fails.
    """
    detected = detect(spec)
    interpreter = base_interpreter()
    check_python(spec.repo, python_request(spec, detected), interpreter)
    key = key_for(detected, interpreter, spec)
    ready = None if rebuild else _ready(envs_dir, key)
    if ready is not None:
        return ready
    from filelock import FileLock  # only a build needs it: a ready environment takes no lock

    (envs_dir / ".locks").mkdir(parents=True, exist_ok=True)
    with FileLock(_layout.lock_path(envs_dir, key)):
        # Another process may have built it while we waited for the lock.
        ready = None if rebuild else _ready(envs_dir, key)
        if ready is not None:
            return ready
        _layout.clean_leftovers(envs_dir, key, KEY_LENGTH)
        return _build(spec, detected, interpreter, key, envs_dir, uv_cache_dir, on_output)


def environment_status(spec: EnvSpec, *, envs_dir: Path) -> EnvStatus:
    """``ready`` (built for the current dependencies), ``failed`` (the last build of
    them failed), ``stale`` (an environment exists for this project but for other
    dependencies) or ``missing``. Cheap: reads files only."""
    if not spec.project_dir.is_dir():
        return "missing"
    try:
        key = environment_key(spec)
    except EnvironmentBuildError:
        return "failed"
    if _ready(envs_dir, key) is not None:
        return "ready"
    if _layout.failure_log(envs_dir, key).exists():
        return "failed"
    project_dir = str(spec.project_dir.resolve())
    if any(m.project_dir == project_dir for m in _layout.all_markers(envs_dir)):
        return "stale"
    return "missing"


def _ready(envs_dir: Path, key: str) -> Environment | None:
    folder = _layout.env_dir(envs_dir, key)
    marker = _layout.read_marker(folder)
    if marker is None or marker.key != key:
        return None
    mode = cast(InstallMode, marker.mode)
    return Environment(key, folder, folder / marker.python, marker.deps_hash, mode)


def _build(
    spec: EnvSpec,
    detected: Detected,
    interpreter: Interpreter,
    key: str,
    envs_dir: Path,
    uv_cache_dir: Path | None,
    on_output: Callable[[str], None] | None,
) -> Environment:
    """Build ``key`` in a temp folder and publish it; the caller holds the key's lock."""
    # Not mkdtemp: its 0700 mode would make the environment private to this user.
    tmp = envs_dir / f"{_layout.TMP_PREFIX}{key}-{secrets.token_hex(6)}"
    tmp.mkdir()
    env = uv_environ(uv_cache_dir)
    try:
        _install.create_venv(tmp, interpreter, env, on_output)
        overrides = workspace_overrides(spec.uses)
        _install.install(detected, tmp, env, on_output, spec.git_pins, overrides)
        python_text = str(_install.venv_python(tmp))
        declared = declared_requirements(detected)
        notes = install_uses(spec.repo, spec.uses, tmp, python_text, env, on_output, declared)
        _install.check(tmp, detected)
        python = _install.venv_python(tmp).relative_to(tmp)
        marker = _layout.Marker(
            key=key,
            mode=detected.mode,
            deps_hash=_install.deps_hash(tmp, env),
            python=str(python),
            python_version=interpreter.version,
            repo=spec.repo,
            project_dir=str(detected.project_dir),
        )
        _layout.write_marker(tmp, marker)
        final = _layout.env_dir(envs_dir, key)
        # A folder under the key without a valid marker is debris: replace it.
        _layout.discard(final, envs_dir, key)
        tmp.rename(final)
    except (UvFailed, UvNotFound, subprocess.CalledProcessError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _failure(spec, detected, key, envs_dir, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _layout.failure_log(envs_dir, key).unlink(missing_ok=True)
    return Environment(key, final, final / python, marker.deps_hash, detected.mode, tuple(notes))


def _failure(
    spec: EnvSpec, detected: Detected, key: str, envs_dir: Path, exc: Exception
) -> EnvironmentBuildError:
    """Record a failed build (``.failed-<key>.log``) and make the error to raise."""
    if isinstance(exc, subprocess.CalledProcessError):
        what = "the new environment failed its check (start Python, import the project)"
        output = "\n".join(s for s in (exc.stdout, exc.stderr) if s)
    elif isinstance(exc, UvFailed):
        what, output = str(exc), f"$ {exc.command}\n{exc.output}"
    else:
        what, output = str(exc), ""
    log = _layout.failure_log(envs_dir, key)
    log.write_text(f"repo: {spec.repo}\nproject: {detected.project_dir}\n{what}\n\n{output}\n")
    relevant = relevant_output(output)
    message = f"repo {spec.repo!r}: could not build its uv environment ({detected.mode}): {what}"
    if relevant:
        message += "\n" + "\n".join("  " + line for line in relevant.splitlines())
    return EnvironmentBuildError(
        message, repo=spec.repo, output=relevant, hint=_hint(detected, log)
    )


def _hint(detected: Detected, log: Path) -> str:
    if detected.mode == "uv-lock":
        fix = "check the repo's uv.lock (is it up to date? run `uv lock` in the repo and commit)"
    elif detected.mode == "requirements":
        fix = "check the pins in the repo's requirements.txt"
    else:
        fix = "check the dependencies declared in the repo's pyproject.toml"
    return f"{fix}; the full uv output is in {log}"
