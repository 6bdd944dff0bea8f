"""Python requests decided without packaging give packaging's answers, and skip its import."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from mlrecipes.core.envs._python import Interpreter, check_python
from mlrecipes.core.envs.spec import PythonRequest
from mlrecipes.core.errors import PythonNotAvailable

REQUESTS = [
    "3", "3.11", "3.10", "3.11.0", "3.11.7", "3.11.8", "cpython-3.11", "cpython@3.12",
    ">=3.10", ">=3.11", ">=3.12", ">= 3.9", "<3.12", "<4", ">=3.10,<3.12", ">=3.10, <3.11.5",
    ">=3.11.7", "<3.11.7", ">=3.11.8", "<3.11.8",
    "~=3.10", "==3.11.*", ">3.10", "!=3.11.7", ">=3.10,!=3.11.0",  # packaging decides these
]  # fmt: skip
VERSIONS = ["3.11.7", "3.11.0", "3.12.1", "3.9.18", "3.10.0", "3.11.0rc1"]


def _packaging_says(request: str, version: str) -> bool:
    text = request.removeprefix("cpython-").removeprefix("cpython@")
    if text[:1].isdigit():
        wanted = Version(text).release
        return Version(version).release[: len(wanted)] == wanted
    return SpecifierSet(text).contains(version, prereleases=True)


@pytest.mark.parametrize(("request_", "version"), list(itertools.product(REQUESTS, VERSIONS)))
def test_same_answer_as_packaging(request_: str, version: str) -> None:
    machine = Interpreter(Path(sys.executable), version)
    try:
        check_python("demo", PythonRequest(request_, "test"), machine)
        satisfied = True
    except PythonNotAvailable:
        satisfied = False
    assert satisfied == _packaging_says(request_, version)


def test_common_requests_do_not_import_packaging() -> None:
    script = (
        "import sys\n"
        "from mlrecipes.core.envs._python import Interpreter, check_python\n"
        "from mlrecipes.core.envs.spec import PythonRequest\n"
        "me = Interpreter(sys.executable, '3.11.7')\n"
        "for text in ('3.11', '>=3.10', '>=3.10,<3.13'):\n"
        "    check_python('demo', PythonRequest(text, 'test'), me)\n"
        "print('packaging' in sys.modules, 'filelock' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
