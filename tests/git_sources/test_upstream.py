"""Has a branch moved? ls-remote per branch, the mirror's last fetch, commits between."""

from __future__ import annotations

from pathlib import Path

from mlrecipes.git_sources import (
    SourceSpec,
    commits_between,
    mirror_head,
    remote_heads,
    resolve_rev,
)

from .conftest import Upstreams, free_port


def _spec(upstreams: Upstreams, rev: str, name: str = "app") -> SourceSpec:
    return SourceSpec(name=name, url=str(upstreams.app), rev=rev)


def test_remote_heads_answer_for_branches_only(upstreams: Upstreams) -> None:
    specs = [
        _spec(upstreams, "main", "a"),
        _spec(upstreams, "v1.0", "b"),
        _spec(upstreams, upstreams.v1_0, "c"),
    ]
    heads = remote_heads(specs, timeout=10)
    assert [(h.name, h.head, h.error) for h in heads] == [
        ("a", upstreams.main, None),
        ("b", None, None),  # a tag never moves
        ("c", None, None),  # nor a SHA
    ]


def test_a_remote_that_cannot_be_asked_says_why(upstreams: Upstreams, tmp_path: Path) -> None:
    gone = SourceSpec(name="gone", url=str(tmp_path / "nowhere"), rev="main")
    closed = SourceSpec(name="closed", url=f"git://127.0.0.1:{free_port()}/x.git", rev="main")
    answers = {h.name: h for h in remote_heads([gone, closed], timeout=10)}
    assert answers["gone"].head is None and "not appear to be a git repository" in str(
        answers["gone"].error
    )
    assert answers["closed"].head is None and answers["closed"].error


def test_mirror_head_and_commits_between(upstreams: Upstreams, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    spec = _spec(upstreams, "main")
    assert mirror_head(spec, cache_dir=cache) is None  # no mirror yet: nothing known, no fetch
    resolve_rev(spec, cache_dir=cache)
    assert mirror_head(spec, cache_dir=cache) == upstreams.main
    assert mirror_head(_spec(upstreams, "v1.0"), cache_dir=cache) is None
    resolve_rev(_spec(upstreams, "feature/x"), cache_dir=cache)
    count = commits_between(spec, upstreams.main, upstreams.feature, cache_dir=cache)
    assert count is not None and count >= 1
    assert commits_between(spec, upstreams.feature, upstreams.feature, cache_dir=cache) == 0
    assert commits_between(spec, "f" * 40, upstreams.main, cache_dir=cache) is None


def test_a_remote_that_never_answers_is_given_up(tmp_path: Path) -> None:
    import socket

    with socket.socket() as silent:  # accepts connections (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        spec = SourceSpec(name="slow", url=f"git://127.0.0.1:{port}/x.git", rev="main")
        (answer,) = remote_heads([spec], timeout=0.5)
    assert answer.head is None and "no answer within 0.5 s" in str(answer.error)


def test_mirror_head_reads_packed_refs(upstreams: Upstreams, tmp_path: Path) -> None:
    import subprocess

    from mlrecipes.git_sources.mirror import mirror_dir, remote_of

    cache = tmp_path / "c"
    spec = _spec(upstreams, "main")
    resolve_rev(spec, cache_dir=cache)
    path = mirror_dir(cache, remote_of(spec).key)
    subprocess.run(["git", "pack-refs", "--all", "--prune"], cwd=path, check=True)
    assert not (path / "refs" / "heads" / "main").exists()
    assert mirror_head(spec, cache_dir=cache) == upstreams.main
