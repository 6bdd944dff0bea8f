"""Fetching over real servers on 127.0.0.1: git daemon, and HTTP with Basic auth."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from mlrecipes.git_sources import (
    RemoteError,
    SourceEvent,
    SourceSpec,
    sync_sources,
)

from .conftest import GitHTTPServer, Upstreams

SECRET = "s3cr3t-T0KEN-xyz"  # noqa: S105 - the test server's made-up password


def test_git_daemon_fetch_then_offline(
    upstreams: Upstreams, git_daemon: tuple[int, subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    port, proc = git_daemon
    specs = [
        SourceSpec("app", f"git://127.0.0.1:{port}/app", "feature/x"),
        SourceSpec("beta", f"git://127.0.0.1:{port}/mono", "main", subdir="packages/beta"),
        SourceSpec("old", f"git://127.0.0.1:{port}/app/", upstreams.v1_0[:10]),
    ]
    kw = {"checkouts_dir": tmp_path / "co", "cache_dir": tmp_path / "cache"}
    app, beta, old = sync_sources(specs, **kw)  # type: ignore[arg-type]
    assert (app.commit, beta.commit, old.commit) == (
        upstreams.feature,
        upstreams.mono_main,
        upstreams.v1_0,
    )
    assert app.url == f"git://127.0.0.1:{port}/app"
    assert len([p for p in (tmp_path / "cache" / "git").iterdir() if p.is_dir()]) == 2  # app/ = app
    proc.kill()
    proc.wait()
    pins = {r.name: r.commit for r in (app, beta, old)}
    again = sync_sources(specs, pinned=pins, **kw)  # type: ignore[arg-type]
    assert [r.commit for r in again] == [app.commit, beta.commit, old.commit]
    with pytest.raises(RemoteError) as info:  # a branch must be fetched: the server is gone
        sync_sources(specs[:1], **kw)  # type: ignore[arg-type]
    assert not info.value.auth


def _all_text(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_http_basic_auth_keeps_the_secret_secret(
    http_server: GitHTTPServer, upstreams: Upstreams, tmp_path: Path
) -> None:
    url = f"http://ci:{SECRET}@127.0.0.1:{http_server.server_address[1]}/app"
    events: list[SourceEvent] = []
    (res,) = sync_sources(
        [SourceSpec("app", url, "v1.1")],
        checkouts_dir=tmp_path / "co", cache_dir=tmp_path / "cache", on_event=events.append,
    )  # fmt: skip
    assert res.commit == upstreams.v1_1
    assert http_server.unauthorized >= 1  # the server did ask for credentials
    assert res.url == f"{http_server.url}/app"
    assert SECRET not in repr(res) and SECRET not in repr(events)
    assert SECRET.encode() not in _all_text(tmp_path / "cache")  # config, FETCH_HEAD, refs...
    assert SECRET.encode() not in _all_text(tmp_path / "co" / "app" / ".git")


def test_http_wrong_password_is_an_auth_error_without_secret(
    http_server: GitHTTPServer, tmp_path: Path
) -> None:
    wrong = "wr0ng-PASSWORD-abc"
    url = f"http://ci:{wrong}@127.0.0.1:{http_server.server_address[1]}/app"
    events: list[SourceEvent] = []
    with pytest.raises(RemoteError) as info:
        sync_sources(
            [SourceSpec("app", url, "main")],
            checkouts_dir=tmp_path / "co", cache_dir=tmp_path / "cache", on_event=events.append,
        )  # fmt: skip
    assert info.value.auth
    text = f"{info.value} {info.value.hint} {info.value.url} {events!r}"
    assert wrong not in text and SECRET not in text
    assert "127.0.0.1" in text
    assert wrong.encode() not in _all_text(tmp_path / "cache")


def test_http_without_credentials_never_prompts(http_server: GitHTTPServer, tmp_path: Path) -> None:
    with pytest.raises(RemoteError) as info:
        sync_sources(
            [SourceSpec("app", f"{http_server.url}/app", "main")],
            checkouts_dir=tmp_path / "co", cache_dir=tmp_path / "cache",
        )  # fmt: skip
    assert info.value.auth


_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlrecipes.git_sources import SourceSpec, sync_sources
    url, rev, work, cache = sys.argv[1:5]
    def show(event):
        print(event.phase, event.name, flush=True)
    res = sync_sources([SourceSpec("big", url, rev)], checkouts_dir=Path(work),
                       cache_dir=Path(cache), on_event=show)
    print("commit", res[0].commit, flush=True)
    """
)


def test_killed_fetch_is_recovered(upstreams: Upstreams, tmp_path: Path, gh: type[object]) -> None:
    big = upstreams.root / f"big-{os.getpid()}-{tmp_path.name}"
    helpers = gh
    helpers.make_app(big)  # type: ignore[attr-defined]
    for i in range(4):  # incompressible content: the pack takes a while to arrive
        (big / f"blob{i}.bin").write_bytes(os.urandom(256 * 1024))
    helpers.git(big, "add", "-A")  # type: ignore[attr-defined]
    helpers.git(big, "commit", "-q", "-m", "blobs")  # type: ignore[attr-defined]
    head = helpers.git(big, "rev-parse", "HEAD")  # type: ignore[attr-defined]
    server = GitHTTPServer(upstreams.root, None)
    server.stall = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"{server.url}/{big.name}"
    cache = tmp_path / "cache"
    try:
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, url, "main", str(tmp_path / "co1"), str(cache)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert server.stalled.wait(60), "the child never reached the pack download"
        child.kill()
        out, _ = child.communicate(timeout=10)  # reaps it and closes its pipes
        assert "fetching big" in out and "commit" not in out
        server.stall = False
        server.release.set()
        (res,) = sync_sources(
            [SourceSpec("big", url, "main")], checkouts_dir=tmp_path / "co2", cache_dir=cache
        )
        assert res.commit == head
        assert (res.path / "blob3.bin").stat().st_size == 256 * 1024
        leftovers = [p.name for p in (cache / "git").iterdir() if ".tmp-" in p.name]
        assert leftovers == []
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
