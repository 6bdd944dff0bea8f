"""resolve_rev against real local repositories."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrecipes.git_sources import (
    NotARepositoryError,
    RemoteError,
    RevNotFoundError,
    SourceSpec,
    resolve_rev,
)

from .conftest import Upstreams, free_port


@pytest.mark.parametrize(
    ("rev", "attr"),
    [("main", "main"), ("feature/x", "feature"), ("v1.0", "v1_0"), ("v1.1", "v1_1")],
)
def test_resolve_names(upstreams: Upstreams, tmp_path: Path, rev: str, attr: str) -> None:
    spec = SourceSpec(name="app", url=str(upstreams.app), rev=rev)
    assert resolve_rev(spec, cache_dir=tmp_path / "c") == getattr(upstreams, attr)


def test_resolve_short_and_full_sha(upstreams: Upstreams, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    short = SourceSpec(name="app", url=str(upstreams.app), rev=upstreams.feature[:8])
    assert resolve_rev(short, cache_dir=cache) == upstreams.feature
    full = SourceSpec(name="app", url=str(upstreams.app), rev=upstreams.v1_0)
    assert resolve_rev(full, cache_dir=cache) == upstreams.v1_0


def test_relative_url_uses_base_dir(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec(name="app", url="../app", rev="main", base_dir=upstreams.root / "mono")
    assert resolve_rev(spec, cache_dir=tmp_path / "c") == upstreams.main


def test_unknown_rev_lists_nearest_names(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec(name="app", url=str(upstreams.app), rev="featur/x")
    with pytest.raises(RevNotFoundError) as info:
        resolve_rev(spec, cache_dir=tmp_path / "c")
    assert "feature/x" in info.value.candidates
    assert "feature/x" in (info.value.hint or "")
    tag = SourceSpec(name="app", url=str(upstreams.app), rev="v1.2")
    with pytest.raises(RevNotFoundError) as info:
        resolve_rev(tag, cache_dir=tmp_path / "c")
    assert {"v1.0", "v1.1"} <= set(info.value.candidates)


def test_not_a_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    spec = SourceSpec(name="app", url=str(plain), rev="main")
    with pytest.raises(NotARepositoryError) as info:
        resolve_rev(spec, cache_dir=tmp_path / "c")
    assert info.value.path == plain


def test_unreachable_remote(tmp_path: Path) -> None:
    url = f"git://127.0.0.1:{free_port()}/nothing.git"
    spec = SourceSpec(name="app", url=url, rev="main")
    with pytest.raises(RemoteError) as info:
        resolve_rev(spec, cache_dir=tmp_path / "c")
    assert not info.value.auth
    assert "127.0.0.1" in info.value.message
