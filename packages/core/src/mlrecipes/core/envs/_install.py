"""The uv commands that fill a fresh virtualenv, one recipe per install mode."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from mlrecipes.core.envs._gitrefs import OVERRIDES_FILE, overrides_text
from mlrecipes.core.envs._python import Interpreter
from mlrecipes.core.envs._uv import run_uv, uv_stdout
from mlrecipes.core.envs.spec import Detected, GitPin

OutputFn = Callable[[str], None] | None
# Name of the .pth file that puts the project folder on sys.path.
PTH_NAME = "_mlrecipes_project.pth"
CHECK_TIMEOUT = 60


def venv_python(venv: Path) -> Path:
    """The interpreter inside the virtualenv at ``venv``."""
    if sys.platform == "win32":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def create_venv(venv: Path, interpreter: Interpreter, env: dict[str, str], out: OutputFn) -> None:
    """An empty virtualenv that still works after its folder is renamed."""
    args = ["venv", "--relocatable", "--no-project", "--python", str(interpreter.path)]
    run_uv([*args, str(venv)], env=env, on_output=out)


def install(
    detected: Detected,
    venv: Path,
    env: dict[str, str],
    out: OutputFn,
    pins: tuple[GitPin, ...] = (),
    uses: tuple[str, ...] = (),
) -> None:
    """Install the project into ``venv`` the way its mode says.

    ``pins`` fix the commit of the project's moving git dependencies and ``uses``
    (``name @ file:///checkout`` lines) put the used repos in place of any own pin
    of the same distribution (uv's ``--overrides``, so that pin is never even
    tried); only the pyproject and requirements modes have them.
    """
    if not pins and not uses:
        _install(detected, venv, env, out, [])
        return
    pin_file = venv / OVERRIDES_FILE
    pin_file.write_text(overrides_text(pins, uses))
    try:
        _install(detected, venv, env, out, ["--overrides", str(pin_file)])
    finally:
        # The URLs are as the repo wrote them, credentials included: not kept on disk.
        pin_file.unlink(missing_ok=True)


def _install(
    detected: Detected, venv: Path, env: dict[str, str], out: OutputFn, overrides: list[str]
) -> None:
    python = str(venv_python(venv))
    folder = detected.project_dir
    if detected.mode == "uv-lock":
        root = detected.lock_root or folder
        args = ["sync", "--frozen", "--no-dev", "--python", python, "--project", str(root)]
        if detected.package is not None:
            args += ["--package", detected.package]
        # uv sync installs into the project environment; point it at the new venv.
        sync_env = {**env, "UV_PROJECT_ENVIRONMENT": str(venv)}
        run_uv(args, env=sync_env, cwd=root, on_output=out)
    elif detected.mode == "pyproject":
        args = ["pip", "install", "--python", python, *overrides, "-e", str(folder)]
        run_uv(args, env=env, on_output=out)
    elif detected.mode == "requirements":
        args = ["pip", "install", "--python", python, *overrides]
        args += ["-r", str(folder / "requirements.txt")]
        # cwd: relative paths inside requirements.txt are meant from the project folder.
        run_uv(args, env=env, cwd=folder, on_output=out)
    if detected.mode in ("requirements", "bare"):
        _add_pth(venv, folder)


def _add_pth(venv: Path, folder: Path) -> None:
    """Make ``folder`` importable in ``venv``, so ``repo:module.func`` resolves."""
    site = next(venv.glob("lib/python*/site-packages"), None) or venv / "Lib" / "site-packages"
    site.mkdir(parents=True, exist_ok=True)
    (site / PTH_NAME).write_text(str(folder) + "\n")


def check(venv: Path, detected: Detected) -> None:
    """Start the interpreter and import what the project declares.

    Raises ``subprocess.CalledProcessError`` (with the output) when it fails.
    """
    modules = _declared_modules(detected)
    script = "import importlib, sys\n"
    if detected.mode in ("requirements", "bare"):
        script += f"assert {str(detected.project_dir)!r} in sys.path, sys.path\n"
    script += f"for m in {modules!r}:\n    importlib.import_module(m)\n"
    subprocess.run(
        [str(venv_python(venv)), "-I", "-c", script],
        check=True,
        capture_output=True,
        text=True,
        timeout=CHECK_TIMEOUT,
        cwd=venv,
    )


def _declared_modules(detected: Detected) -> list[str]:
    """Top-level modules of the project's own package, found next to its pyproject."""
    name = detected.dist_name
    if name is None:
        return []
    module = re.sub(r"[-_.]+", "_", name).lower()
    for base in (detected.project_dir / "src", detected.project_dir):
        if (base / module / "__init__.py").is_file() or (base / f"{module}.py").is_file():
            return [module]
    return []


def deps_hash(venv: Path, env: dict[str, str]) -> str:
    """sha256 of the sorted ``name==version`` lines of what is installed in ``venv``.

    Editable packages (the project itself, workspace members) are listed as
    ``name @ editable``: their path and version come from the checkout, whose
    code the step fingerprint already covers through the git tree.
    """
    out = uv_stdout(
        ["pip", "list", "--format", "json", "--python", str(venv_python(venv))], env=env
    )
    lines = []
    for item in json.loads(out or "[]"):
        name = re.sub(r"[-_.]+", "-", str(item["name"])).lower()
        editable = "editable_project_location" in item
        lines.append(f"{name} @ editable" if editable else f"{name}=={item['version']}")
    return hashlib.sha256("\n".join(sorted(lines)).encode()).hexdigest()
