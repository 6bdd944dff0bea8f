"""Code records: what the runner observes in a real step process, hashing, verifying."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from mlrecipes.core.codedeps import CodeRecord, hash_observed, verify
from mlrecipes.core.executors import runner
from mlrecipes.core.executors.task import StepTask

STEP = """
    import os
    import pkgutil
    import subprocess
    from pathlib import Path

    from pkg import helper

    try:
        import optional_thing  # noqa: F401
    except ImportError:
        pass


    def run(out: Path, spawn: bool = False) -> dict:
        here = Path(__file__).parent
        out.write_text((here / "table.txt").read_text())
        os.listdir(here / "data")
        pkgutil.get_data("pkg", "data/a.csv")  # through the import system's loader
        if spawn:
            subprocess.run(["true"], check=True)
        return {"v": helper.VALUE}
"""


def _repo(root: Path) -> Path:
    files = {
        "pkg/__init__.py": "",
        "pkg/helper.py": "VALUE = 3\n",
        "pkg/step.py": textwrap.dedent(STEP),
        "pkg/table.txt": "1 2\n",
        "pkg/data/a.csv": "x\n",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _observe(tmp_path: Path, repo: Path, *, spawn: bool = False) -> dict[str, Any]:
    task = StepTask(
        key="k", step="s", fingerprint="f", python=Path(sys.executable), cwd=repo,
        module="pkg.step", func="run", params={"spawn": spawn}, inputs={},
        outputs={"out": "o.txt"}, code_roots={"feats": repo},
    )  # fmt: skip
    observed = tmp_path / "observed.json"
    spec = runner.build_spec(task, entry=tmp_path / "entry", result=tmp_path / "r.json",
                             observed=observed)  # fmt: skip
    spec_path = tmp_path / "spec.json"
    runner.write_spec(spec_path, spec)
    done = subprocess.run(runner.runner_argv(sys.executable, spec_path), cwd=repo,
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(observed.read_text())
    return data


def test_the_runner_records_imports_opens_listings_and_searches(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    observed = _observe(tmp_path, repo)
    read = ("pkg/step.py", "pkg/helper.py", "pkg/table.txt", "pkg/data/a.csv")
    assert {str(repo / p) for p in read} <= set(observed["files"])
    assert observed["listings"] == [str(repo / "pkg" / "data")]
    searches = {tuple(s) for s in observed["searches"]}
    assert (str(repo), "pkg") in searches and (str(repo / "pkg"), "helper") in searches
    assert (str(repo), "optional_thing") in searches  # looked for everywhere, never found
    assert observed["unseen"] == []
    record = hash_observed(observed, {"feats": repo})
    blob = hashlib.sha1(b"blob 10\0VALUE = 3\n", usedforsecurity=False).hexdigest()
    assert ("feats", "pkg/helper.py", blob) in record.files  # what `git hash-object` says
    assert record.vouches and verify(record, {"feats": repo}) == []


def test_a_process_started_by_the_step_is_unseen(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    record = hash_observed(_observe(tmp_path, repo, spawn=True), {"feats": repo})
    assert not record.vouches
    assert record.unseen == ("started a process (subprocess.Popen)",)


def _record(repo: Path) -> CodeRecord:
    observed = {
        "files": [str(repo / "pkg/helper.py"), str(repo / "pkg/missing.txt")],
        "listings": [str(repo / "pkg/data")],
        "searches": [[str(repo), "helper"], ["/elsewhere", "x"]],
        "unseen": [],
    }
    return hash_observed(observed, {"feats": repo})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"pkg/helper.py": "VALUE = 4\n"}, "feats/pkg/helper.py"),
        ({"pkg/missing.txt": "now here\n"}, "feats/pkg/missing.txt (new)"),
        ({"helper.py": "X = 1\n"}, "feats/helper.py (new: could shadow import helper)"),
        ({"pkg/data/b.csv": "y\n"}, "feats/pkg/data (listing changed)"),
    ],
)
def test_verify_names_what_changed(tmp_path: Path, change: dict[str, str], expected: str) -> None:
    repo = _repo(tmp_path / "repo")
    record = _record(repo)
    assert verify(record, {"feats": repo}) == []
    (repo / "pkg" / "other.py").write_text("unrelated\n")  # not read: no change
    assert verify(record, {"feats": repo}) == []
    for rel, text in change.items():
        (repo / rel).write_text(text)
    assert verify(record, {"feats": repo}) == [expected]


def test_verify_a_deleted_file_and_a_repo_gone(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo")
    record = _record(repo)
    (repo / "pkg" / "helper.py").unlink()
    assert verify(record, {"feats": repo}) == ["feats/pkg/helper.py (deleted)"]
    assert verify(record, {}) == ["repo feats (no longer in the workspace)"]


def test_records_round_trip_and_damage_is_refused(tmp_path: Path) -> None:
    record = _record(_repo(tmp_path / "repo"))
    assert CodeRecord.from_json(json.loads(json.dumps(record.to_json()))) == record
    for damaged in ({}, {"version": 2}, {**record.to_json(), "files": 7},
                    {**record.to_json(), "files": [["feats", "x"]]}):  # fmt: skip
        with pytest.raises(ValueError, match="code record"):
            CodeRecord.from_json(damaged)
