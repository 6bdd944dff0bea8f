"""Install-mode detection, Python requests and identity keys: files only, no uv."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlrecipes.core.envs import EnvSpec, environment_key
from mlrecipes.core.envs._python import Interpreter, check_python
from mlrecipes.core.envs._uv import relevant_output
from mlrecipes.core.envs.spec import PythonRequest, detect, python_request
from mlrecipes.core.errors import EnvironmentBuildError, PythonNotAvailable


@pytest.mark.parametrize("mode", ["pyproject", "requirements", "bare"])
def test_detects_mode(make_project: Callable[..., Path], mode: str) -> None:
    folder = make_project("demo", ["six"], mode=mode)
    assert detect(EnvSpec("demo", folder)).mode == mode


def test_uv_lock_in_project_dir_wins(make_project: Callable[..., Path]) -> None:
    folder = make_project("demo", ["six"])
    (folder / "uv.lock").write_text("version = 1\n")
    (folder / "requirements.txt").write_text("six\n")
    detected = detect(EnvSpec("demo", folder))
    assert (detected.mode, detected.lock_root, detected.package) == ("uv-lock", folder, None)


def _workspace(root: Path, pyproject: Callable[..., None], exclude: str = "[]") -> Path:
    (root / ".git").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[tool.uv.workspace]\nmembers = ["packages/*"]\nexclude = {exclude}\n'
    )
    (root / "uv.lock").write_text("version = 1\n")
    member = root / "packages" / "models"
    pyproject(member, "models", ["six"])
    return member


def test_workspace_member_uses_root_lock(tmp_path: Path, pyproject: Callable[..., None]) -> None:
    member = _workspace(tmp_path / "mono", pyproject)
    detected = detect(EnvSpec("models", member))
    assert detected.mode == "uv-lock"
    assert detected.lock_root == (tmp_path / "mono").resolve()
    assert detected.package == "models"


def test_excluded_member_falls_back_to_pyproject(
    tmp_path: Path, pyproject: Callable[..., None]
) -> None:
    member = _workspace(tmp_path / "mono", pyproject, exclude='["packages/models"]')
    assert detect(EnvSpec("models", member)).mode == "pyproject"


def test_workspace_above_the_checkout_root_is_ignored(
    tmp_path: Path, pyproject: Callable[..., None]
) -> None:
    member = _workspace(tmp_path / "mono", pyproject)
    (member / ".git").mkdir()  # the package is its own checkout inside a foreign workspace
    assert detect(EnvSpec("models", member)).mode == "pyproject"


def test_python_request_precedence(make_project: Callable[..., Path]) -> None:
    folder = make_project("demo")
    detected = detect(EnvSpec("demo", folder))
    from_pyproject = python_request(EnvSpec("demo", folder), detected)
    assert from_pyproject is not None and from_pyproject.value == ">=3.11"
    assert "requires-python" in from_pyproject.source
    (folder / ".python-version").write_text("# pinned\n3.12\n")
    from_file = python_request(EnvSpec("demo", folder), detected)
    assert from_file == PythonRequest("3.12", str(folder.resolve() / ".python-version"))
    from_manifest = python_request(EnvSpec("demo", folder, python="3.11"), detected)
    assert from_manifest is not None and from_manifest.value == "3.11"
    assert "workspace.yaml" in from_manifest.source


@pytest.mark.parametrize(
    ("request_", "ok"),
    [("3.11", True), ("3.11.7", True), ("3.11.2", False), ("3.12", False), ("3", True),
     (">=3.10", True), (">=3.99", False), ("==3.11.*", True), ("cpython-3.11", True)],
)  # fmt: skip
def test_python_check(request_: str, ok: bool) -> None:
    machine = Interpreter(Path("/usr/bin/python3.11"), "3.11.7")
    request = PythonRequest(request_, "test")
    if ok:
        check_python("demo", request, machine)
    else:
        with pytest.raises(PythonNotAvailable) as info:
            check_python("demo", request, machine)
        assert info.value.repo == "demo" and info.value.requested == request_
        assert "test" in info.value.message and "3.11.7" in info.value.message


def test_unreadable_python_request() -> None:
    machine = Interpreter(Path("/usr/bin/python3.11"), "3.11.7")
    with pytest.raises(EnvironmentBuildError, match="banana"):
        check_python("demo", PythonRequest("banana!", "test"), machine)


def test_key_ignores_what_does_not_change_dependencies(make_project: Callable[..., Path]) -> None:
    folder = make_project("demo", ["six==1.16.0"])
    spec = EnvSpec("demo", folder)
    key = environment_key(spec)
    assert len(key) == 24 and environment_key(spec) == key
    (folder / "src" / "demo" / "__init__.py").write_text("WHO = 'new code'\n")
    text = (folder / "pyproject.toml").read_text()
    text = text.replace('version = "0.1.0"', 'version = "0.2.0"\ndescription = "x"')
    (folder / "pyproject.toml").write_text(text + "\n[tool.ruff]\nline-length = 80\n")
    assert environment_key(spec) == key


def test_key_changes_with_dependencies_and_place(make_project: Callable[..., Path]) -> None:
    one = make_project("one", ["six==1.16.0"])
    key = environment_key(EnvSpec("one", one))
    two = make_project("two", ["six==1.16.0"])
    assert environment_key(EnvSpec("two", two)) != key  # editable installs point at the folder
    text = (one / "pyproject.toml").read_text()
    (one / "pyproject.toml").write_text(text.replace("1.16.0", "1.17.0"))
    assert environment_key(EnvSpec("one", one)) != key


def test_key_of_requirements_hashes_the_file(make_project: Callable[..., Path]) -> None:
    folder = make_project("demo", ["six==1.16.0"], mode="requirements")
    key = environment_key(EnvSpec("demo", folder))
    (folder / "demo.py").write_text("WHO = 'changed'\n")
    assert environment_key(EnvSpec("demo", folder)) == key
    (folder / "requirements.txt").write_text("six==1.17.0\n")
    assert environment_key(EnvSpec("demo", folder)) != key


def test_broken_pyproject_is_a_build_error(make_project: Callable[..., Path]) -> None:
    folder = make_project("demo")
    (folder / "pyproject.toml").write_text("[project\n")
    with pytest.raises(EnvironmentBuildError) as info:
        environment_key(EnvSpec("demo", folder))
    assert info.value.repo == "demo" and "pyproject.toml" in info.value.message


def test_relevant_output() -> None:
    noise = [f"line {i}" for i in range(100)]
    assert relevant_output("\n".join(noise)).splitlines() == noise[-30:]
    text = "\n".join([*noise, "error: No solution", "  cause: six==999"])
    assert relevant_output(text) == "error: No solution\n  cause: six==999"


def test_missing_project_folder(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentBuildError) as info:
        environment_key(EnvSpec("ghost", tmp_path / "nowhere"))
    assert info.value.repo == "ghost" and "does not exist" in info.value.message
