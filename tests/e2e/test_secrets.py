"""Secrets: `!env` and `!secret` params reach the step and nothing else (issue 16, items 1-3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from tests.helpers.mlflow_db import seed_mlflow_db
from tests.helpers.waiting import wait_for
from tests.helpers.workspaces import CLI, make_repo, write_manifest
from typer.testing import CliRunner

from mlrecipes.cli.main import app

pytestmark = pytest.mark.slow

TOKEN = "s3cr/et#to?ken%2F=="  # noqa: S105 - a fake token to look for
PLAIN = "plain-secret-value-42"
STEP = {
    "w.py": """
from pathlib import Path


def f(api_key: str, tok: str, url: str, out: Path) -> dict:
    # The step sees the values in clear: prove it without writing them.
    ok = "#" in api_key and tok.endswith("42") and url.count("?") == 1
    out.write_text("ok" if ok else "wrong")
    return {"n": float(len(api_key))}
"""
}
MANIFEST = """
version: 1
name: sec
paths: {out: outputs}
repos:
  a: {url: ../up/a, rev: main}
steps:
  s:
    fn: "a:w.f"
    params:
      api_key: !env API_KEY
      tok: !secret plain-secret-value-42
      url: !env "https://ci:${API_KEY}@host/x.git"
    outs: {out: !path out/o.txt}
"""


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {n!r}" for n in needles if n in data]
    return found


def _workspace(
    root: Path,
    blank_db: Path,
    repos: Mapping[str, Mapping[str, str]] | None = None,
    text: str = MANIFEST,
) -> Path:
    """The repos ``root/up/<name>`` (``a`` holding STEP unless told) and the workspace
    ``root/ws`` of the manifest ``text``, its MLflow db seeded; the manifest's path."""
    for name, files in (repos or {"a": STEP}).items():
        make_repo(root / "up" / name, files)
    manifest = write_manifest(root / "ws", text)
    seed_mlflow_db(blank_db, manifest.parent)
    return manifest


@pytest.fixture
def manifest(tmp_path: Path, blank_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The workspace of STEP and MANIFEST, with ``API_KEY`` set to TOKEN."""
    monkeypatch.setenv("API_KEY", TOKEN)
    return _workspace(tmp_path, blank_mlflow_db)


def test_env_and_secret_params_are_masked_everywhere(
    manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    first = runner.invoke(app, ["-v", "run", "-f", str(manifest)])
    assert first.exit_code == 0, first.output
    assert (manifest.parent / "outputs" / "o.txt").read_text() == "ok"

    monkeypatch.setenv("API_KEY", TOKEN + "new")
    dry = runner.invoke(app, ["run", "--dry-run", "-f", str(manifest)])
    assert dry.exit_code == 0, dry.output
    assert "api_key: <from env API_KEY> (value changed)" in dry.output
    call = runner.invoke(app, ["step", "call", "s", "-f", str(manifest)])
    assert call.exit_code == 0, call.output
    # issue 25 item 20: the snippet reads the environment instead of pasting the mask
    assert "api_key=os.environ['API_KEY']" in call.output and "'<secret>'" in call.output
    assert "url=''.join(['https://ci:', os.environ['API_KEY'], '@host/x.git'])" in call.output
    second = runner.invoke(app, ["run", "-f", str(manifest)])
    assert second.exit_code == 0, second.output  # a new token reruns the step

    needles = [TOKEN.encode(), PLAIN.encode()]
    for out in (first.output, dry.output, call.output, second.output):
        assert not [n for n in needles if n in out.encode()], out
    (manifest.parent / "workspace.yaml").unlink()  # the only place it was written
    leaks = _files_holding(manifest.parent, needles)
    assert leaks == [], "\n".join(leaks)
    latest = json.loads((manifest.parent / ".mlrecipes/store/s/latest.json").read_text())
    assert latest["params"]["tok"].startswith("<secret> sha256:")


def test_an_overridden_secret_stays_masked_everywhere(manifest: Path) -> None:
    """Issue 25 item 14: `-S tok=...` on a `!secret` is logged nowhere in clear."""
    new = "overridden-secret-value-42"  # the step checks it ends with 42
    runner = CliRunner()
    ran = runner.invoke(app, ["-v", "run", "-f", str(manifest), "-S", f"s.tok={new}"])
    assert ran.exit_code == 0, ran.output
    assert (manifest.parent / "outputs" / "o.txt").read_text() == "ok"
    shown = runner.invoke(app, ["exp", "show", "--json", "-f", str(manifest)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)[0]["overrides"] == "s.tok=<secret>"
    for out in (ran.output, shown.output):
        assert new not in out
    leaks = _files_holding(manifest.parent, [new.encode(), TOKEN.encode()])
    assert leaks == [], "\n".join(leaks)


def test_metric_names_cannot_drive_the_terminal(tmp_path: Path, blank_mlflow_db: Path) -> None:
    """Issue 25 item 16: a metric named with escapes cleared the screen (run, -v run, step run)."""
    step = {"m.py": 'def f() -> dict:\n    return {"\\x1b[2J\\x1b[31mFAKE": 1.0}\n'}
    repos = "repos: {m: {url: ../up/m, rev: main}}\n"
    text = f"version: 1\nname: esc\n{repos}steps: {{s: {{fn: 'm:m.f'}}}}\n"
    manifest = _workspace(tmp_path, blank_mlflow_db, {"m": step}, text)
    runner = CliRunner()
    for args in (["run"], ["-v", "run", "--force", "s"], ["step", "run", "s"]):
        result = runner.invoke(app, [*args, "-f", str(manifest)])
        assert result.exit_code == 0, (args, result.output)
        assert "\x1b" not in result.output and "FAKE" in result.output, (args, result.output)


def test_a_failed_step_and_step_run_leave_no_secret_on_disk(
    tmp_path: Path, blank_mlflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25 item 20: the runner spec (secrets in clear) outlived failed steps and `step run`."""
    failing = {
        "w.py": STEP["w.py"]
        + "\n\ndef g(api_key: str, tok: str) -> None:\n    raise ValueError('no')\n"
    }
    params = "{api_key: !env API_KEY, tok: !secret plain-secret-value-42}"
    text = MANIFEST + f"  bad:\n    fn: 'a:w.g'\n    params: {params}\n"
    manifest = _workspace(tmp_path, blank_mlflow_db, {"a": failing}, text)
    monkeypatch.setenv("API_KEY", TOKEN)
    runner = CliRunner()
    failed = runner.invoke(app, ["run", "-f", str(manifest)])
    assert failed.exit_code == 4, failed.output
    foreground = runner.invoke(app, ["step", "run", "s", "-f", str(manifest)])
    assert foreground.exit_code == 0, foreground.output
    (manifest.parent / "workspace.yaml").unlink()  # the only place it was written
    leaks = _files_holding(manifest.parent, [TOKEN.encode(), PLAIN.encode()])
    assert leaks == [], "\n".join(leaks)


def test_reproduce_never_passes_a_mask_to_the_step(
    tmp_path: Path, manifest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25 item 20: reproduce passed `<secret>` to the step and then reported drift."""
    runner = CliRunner()
    ran = runner.invoke(app, ["run", "-f", str(manifest)])
    assert ran.exit_code == 0, ran.output
    run_id = next(x.split()[-1] for x in ran.output.splitlines() if x.startswith("finished run"))
    args = ["reproduce", run_id, "-f", str(manifest), "--workdir", str(tmp_path / "rep")]
    again = runner.invoke(app, args)
    assert again.exit_code == 1, again.output
    said = " ".join(again.output.split())
    assert "secret value(s) that were never logged: s.tok" in said
    assert not (tmp_path / "rep" / "outputs" / "o.txt").exists()  # the step never ran
    monkeypatch.delenv("API_KEY")
    unset = runner.invoke(app, [*args[:-2], "--workdir", str(tmp_path / "rep2")])
    assert unset.exit_code == 1 and "'API_KEY', which is not set" in unset.output, unset.output


def test_no_file_under_mlrecipes_holds_a_secret_while_a_step_runs(
    tmp_path: Path, blank_mlflow_db: Path
) -> None:
    """Issue 25 item 20: the spec lives only until the runner has read it."""
    import os
    import subprocess

    gated = {
        "w.py": STEP["w.py"]
        + """

def g(api_key: str, tok: str, started: str, go: str) -> dict:
    import time
    Path(started).write_text("started")
    while not Path(go).exists():  # the test scans the workspace meanwhile
        time.sleep(0.02)
    return {"ok": float(tok.endswith("42"))}
"""
    }
    started, go = tmp_path / "started", tmp_path / "go"
    params = f'{{api_key: !env API_KEY, tok: !secret {PLAIN}, started: "{started}", go: "{go}"}}'
    text = MANIFEST + f"  held:\n    fn: 'a:w.g'\n    params: {params}\n"
    manifest = _workspace(tmp_path, blank_mlflow_db, {"a": gated}, text)
    needles = [TOKEN.encode(), PLAIN.encode()]
    proc = subprocess.Popen(
        [*CLI, "run", "held", "-f", str(manifest)],
        cwd=manifest.parent,
        env={**os.environ, "API_KEY": TOKEN},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: started.exists() or proc.poll() is not None, timeout=180)
        assert started.exists(), "the step never started"
        during = _files_holding(manifest.parent / ".mlrecipes", needles)
        go.touch()
        assert proc.wait(timeout=120) == 0
    finally:
        go.touch()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert during == [], "\n".join(during)
    after = _files_holding(manifest.parent / ".mlrecipes", needles)
    assert after == [], "\n".join(after)
