"""sync_sources against real local repositories: checkouts, the mirror, pins and edits."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlrecipes.git_sources import (
    DirtyCheckoutError,
    DiskFaultError,
    NotARepositoryError,
    Resolved,
    SourceEvent,
    SourceSpec,
    SubdirMissingError,
    checkout_state,
    sync_sources,
)

from .conftest import GitHelpers, Upstreams


def _sync(specs: list[SourceSpec], tmp: Path, **kw: object) -> list[Resolved]:
    return sync_sources(specs, checkouts_dir=tmp / "co", cache_dir=tmp / "cache", **kw)  # type: ignore[arg-type]


def _head(path: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True)
    return out.stdout.strip()


def test_sync_checks_out_each_repo_detached(
    upstreams: Upstreams, tmp_path: Path, gh: type[GitHelpers]
) -> None:
    events: list[SourceEvent] = []
    specs = [
        SourceSpec("app", str(upstreams.app), "v1.0"),
        SourceSpec("alpha", str(upstreams.mono), "main", subdir="packages/alpha"),
        SourceSpec("beta", str(upstreams.mono), "main", subdir="packages/beta/"),
    ]
    app, alpha, beta = _sync(specs, tmp_path, on_event=events.append)
    assert app.commit == upstreams.v1_0 == _head(app.path)
    assert (app.path / "app" / "__init__.py").read_text() == "VERSION = 1\n"
    assert (app.path / ".git" / "HEAD").read_text().strip() == upstreams.v1_0  # detached
    assert app.tree == gh.git(upstreams.app, "rev-parse", "v1.0^{tree}")
    assert alpha.tree == gh.git(upstreams.mono, "rev-parse", "main:packages/alpha")
    assert beta.subdir == "packages/beta"
    assert beta.project_dir == tmp_path / "co" / "beta" / "packages" / "beta"
    assert alpha.url == str(upstreams.mono) and not alpha.dirty
    # Two sources of one monorepo share one mirror.
    assert len(list((tmp_path / "cache" / "git").glob("*-*[!k]"))) == 2
    assert [e.phase for e in events if e.name == "app"] == ["fetching", "checking-out", "ready"]
    assert checkout_state(app.path, upstreams.v1_0) == "clean"


def test_pinned_resync_needs_no_network(
    upstreams: Upstreams, app_copy: Path, tmp_path: Path
) -> None:
    spec = SourceSpec("app", str(app_copy), "main")
    (first,) = _sync([spec], tmp_path)
    app_copy.rename(app_copy.with_name("gone"))  # the upstream is unreachable from now on
    events: list[SourceEvent] = []
    (again,) = _sync([spec], tmp_path, pinned={"app": first.commit}, on_event=events.append)
    assert again == first
    assert [e.phase for e in events] == ["ready"]  # neither fetch nor checkout
    # A fresh workspace sharing the cache checks out from the mirror alone.
    other = tmp_path / "other"
    (fresh,) = sync_sources(
        [spec], checkouts_dir=other, cache_dir=tmp_path / "cache", pinned={"app": first.commit}
    )
    assert fresh.commit == first.commit and (other / "app" / "README.md").exists()
    # An unpinned branch is a moving rev: it must fetch, and so it fails now.
    with pytest.raises(NotARepositoryError):
        _sync([spec], tmp_path)


def test_checkout_survives_cache_deletion(upstreams: Upstreams, tmp_path: Path) -> None:
    (res,) = _sync([SourceSpec("app", str(upstreams.app), "main")], tmp_path)
    subprocess.run(["rm", "-rf", str(tmp_path / "cache")], check=True)
    assert _head(res.path) == upstreams.main
    assert checkout_state(res.path, upstreams.main) == "clean"


def test_branch_moves_and_update(app_copy: Path, tmp_path: Path, gh: type[GitHelpers]) -> None:
    spec = SourceSpec("app", str(app_copy), "main")
    (first,) = _sync([spec], tmp_path)
    moved = gh.commit_file(app_copy, "NEW.md", "new\n", "move main")
    (pinned,) = _sync([spec], tmp_path, pinned={"app": first.commit})
    assert pinned.commit == first.commit
    (updated,) = _sync([spec], tmp_path, pinned={"app": first.commit}, update={"app"})
    assert updated.commit == moved == _head(updated.path)
    assert (updated.path / "NEW.md").exists()
    # Unpinned, a branch always follows its upstream.
    newer = gh.commit_file(app_copy, "NEWER.md", "x\n", "again")
    (latest,) = _sync([spec], tmp_path)
    assert latest.commit == newer
    # Back to the old pin: the clean checkout is moved to it.
    (back,) = _sync([spec], tmp_path, pinned={"app": first.commit})
    assert _head(back.path) == first.commit and not (back.path / "NEW.md").exists()


def test_pinned_commit_missing_from_mirror_is_fetched(
    app_copy: Path, tmp_path: Path, gh: type[GitHelpers]
) -> None:
    spec = SourceSpec("app", str(app_copy), "v1.0")
    _sync([spec], tmp_path)
    later = gh.commit_file(app_copy, "L.md", "l\n", "later")
    (res,) = _sync([spec], tmp_path, pinned={"app": later})
    assert res.commit == later


def test_subdir_missing(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec("gamma", str(upstreams.mono), "main", subdir="packages/gamma")
    events: list[SourceEvent] = []
    with pytest.raises(SubdirMissingError) as info:
        _sync([spec], tmp_path, on_event=events.append)
    assert info.value.subdir == "packages/gamma"
    assert info.value.commit == upstreams.mono_main
    assert "packages" in (info.value.hint or "")
    assert events[-1].phase == "failed"
    assert not (tmp_path / "co" / "gamma").exists()


def test_dirty_checkout_refused_then_forced(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec("app", str(upstreams.app), "v1.0")
    (res,) = _sync([spec], tmp_path)
    init = res.path / "app" / "__init__.py"
    init.write_text("VERSION = 'hacked'\n")
    assert checkout_state(res.path, upstreams.v1_0) == "dirty"
    for pin in ({"app": upstreams.v1_0}, {"app": upstreams.v1_1}, None):
        with pytest.raises(DirtyCheckoutError) as info:
            _sync([spec], tmp_path, pinned=pin)
        assert info.value.path == res.path
    assert init.read_text() == "VERSION = 'hacked'\n"  # nothing was thrown away
    (forced,) = _sync([spec], tmp_path, pinned={"app": upstreams.v1_1}, force=True)
    assert forced.commit == upstreams.v1_1 == _head(forced.path)
    assert init.read_text() == "VERSION = 2\n"
    assert checkout_state(forced.path, upstreams.v1_1) == "clean"


def test_untracked_file_counts_as_edit_unless_ignored(upstreams: Upstreams, tmp_path: Path) -> None:
    (res,) = _sync([SourceSpec("app", str(upstreams.app), "main")], tmp_path)
    (res.path / ".git" / "info").mkdir(exist_ok=True)  # clones are made without a template
    (res.path / ".git" / "info" / "exclude").write_text("*.log\n")
    (res.path / "run.log").write_text("ignored\n")
    assert checkout_state(res.path, upstreams.main) == "clean"
    (res.path / "new.py").write_text("x = 1\n")
    assert checkout_state(res.path, upstreams.main) == "dirty"


def test_checkout_state_values(upstreams: Upstreams, tmp_path: Path) -> None:
    assert checkout_state(tmp_path / "nope", upstreams.main) == "missing"
    (res,) = _sync([SourceSpec("app", str(upstreams.app), "main")], tmp_path)
    assert checkout_state(res.path, upstreams.v1_0) == "wrong-commit"
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    assert checkout_state(stranger, upstreams.main) == "dirty"


def test_half_built_checkout_is_ignored_and_cleaned(upstreams: Upstreams, tmp_path: Path) -> None:
    half = tmp_path / "co" / "app.tmp-dead"
    (half / ".git").mkdir(parents=True)
    (res,) = _sync([SourceSpec("app", str(upstreams.app), "main")], tmp_path)
    assert res.commit == upstreams.main
    assert sorted(p.name for p in (tmp_path / "co").iterdir() if not p.name.startswith(".")) == [
        "app"
    ]


def test_inherited_git_variables_are_scrubbed(
    upstreams: Upstreams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bogus = tmp_path / "bogus"
    bogus.mkdir()
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        monkeypatch.setenv(name, str(bogus / name.lower()))
    (res,) = _sync([SourceSpec("app", str(upstreams.app), "feature/x")], tmp_path)
    assert res.commit == upstreams.feature
    (again,) = _sync([SourceSpec("app", str(upstreams.app), "feature/x")], tmp_path,
                     pinned={"app": upstreams.feature})  # fmt: skip
    assert again == res
    assert list(bogus.iterdir()) == []


def test_failures_are_reported_per_source(upstreams: Upstreams, tmp_path: Path) -> None:
    events: list[SourceEvent] = []
    specs = [
        SourceSpec("good", str(upstreams.app), "main"),
        SourceSpec("bad", str(upstreams.app), "no-such-branch"),
    ]
    with pytest.raises(Exception, match="no-such-branch"):
        _sync(specs, tmp_path, on_event=events.append)
    phases = {(e.name, e.phase) for e in events}
    assert ("good", "ready") in phases and ("bad", "failed") in phases


def _git_failing_on(bin_dir: Path, command: str, message: str) -> None:
    """A ``git`` first on PATH that says ``message`` and exits 128 for ``command``."""
    real = shutil.which("git")
    assert real is not None
    bin_dir.mkdir()
    script = bin_dir / "git"
    script.write_text(
        "#!/bin/sh\n"
        f'for a in "$@"; do [ "$a" = {command} ] && {{ echo "{message}" >&2; exit 128; }}; done\n'
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)


def test_a_full_disk_in_git_s_own_words_is_no_local_change(
    upstreams: Upstreams, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 25 item 18: git says ``... index.lock write error. Out of diskspace`` (no
    strerror) when the index cannot be written; that is a full disk, not an edit."""
    spec = SourceSpec("app", str(upstreams.app), "v1.0")
    (res,) = _sync([spec], tmp_path)
    said = f"fatal: sha1 file '{res.path}/.git/index.lock' write error. Out of diskspace"
    _git_failing_on(tmp_path / "bin", "status", said)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(DiskFaultError) as info:
        _sync([spec], tmp_path, pinned={"app": upstreams.v1_1})
    text = f"{info.value.message} (hint: {info.value.hint})"
    assert "the disk is full" in text and "Out of diskspace" in text, text
    assert "local changes" not in text and "df -h" in text, text
