"""URL handling and the safety guard, without network."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrecipes.git_sources import SourceSpec, UnsafeSourceError, check_safe, redact_url
from mlrecipes.git_sources.urls import classify, normalize_url, redact_text, split_credentials


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ci:tok@github.com/acme/x.git", "https://github.com/acme/x.git"),
        ("https://tokenonly@github.com/acme/x.git", "https://github.com/acme/x.git"),
        ("http://u:p%40ss@127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
        ("ssh://git@host/org/repo.git", "ssh://git@host/org/repo.git"),
        ("ssh://git:pw@host/org/repo.git", "ssh://host/org/repo.git"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("user:token@host:org/repo.git", "user@host:org/repo.git"),
        ("../local/repo", "../local/repo"),
        ("file:///srv/repo", "file:///srv/repo"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_scrubs_urls_and_secrets() -> None:
    text = "fatal: unable to access 'https://ci:hunter2@host/x/': 401; pw hunter2; u:tok@h:o/r"
    out = redact_text(text, ("hunter2",))
    assert "hunter2" not in out
    assert "tok" not in out
    assert "https://host/x/" in out


@pytest.mark.parametrize(
    "text",
    [
        "git+https://github.com/karpathy/minbpe.git@1acefe8",
        "minbpe @ git+https://github.com/karpathy/minbpe.git@feature/x",
        "git+file:///srv/repos/minbpe@1acefe8",
        "git+file:///srv/repos/minbpe",
        "git@github.com:org/repo.git",
        "git+ssh://github.com/org/repo.git@v1",
        "file:///srv/repo",
        "see http://127.0.0.1:5000/#/experiments/1 for runs",
        "tokens=512 max_tokens=64 is this the key?",
    ],
)
def test_redact_text_keeps_urls_without_credentials(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "git+https://ci:tok@github.com/karpathy/minbpe.git@1acefe8",
            "git+https://github.com/karpathy/minbpe.git@1acefe8",
        ),
        (
            "git+https://tok@github.com/karpathy/minbpe.git@1acefe8",
            "git+https://github.com/karpathy/minbpe.git@1acefe8",
        ),
        ("https://u:to/k#e?n@host/x.git failed", "https://host/x.git failed"),
        ("git+https://u:to/k#e?n@host/x.git@v1 failed", "git+https://host/x.git@v1 failed"),
        ("https://u:to@k@en@host:8080/x", "https://host:8080/x"),
        ("'http://alice:s3/cr#t@127.0.0.1:5000/api'", "'http://127.0.0.1:5000/api'"),
        ("user:token@host:org/repo.git", "host:org/repo.git"),
        ("GET https://h/x?X-Amz-Signature=abc&k=v ok", "GET https://h/x?*** ok"),
        ("token=tok123 used", "token=*** used"),
    ],
)
def test_redact_text_drops_credentials(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_url_keeps_pip_style_revisions() -> None:
    url = "git+https://github.com/karpathy/minbpe.git@1acefe8"
    assert redact_url(url) == url
    assert redact_url("git+https://ci:tok@github.com/k/m.git@1acefe8") == (
        "git+https://github.com/k/m.git@1acefe8"
    )


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://ci:tok@GitHub.com/acme/X.git/", "https://github.com/acme/X"),
        ("https://github.com/acme/X", "https://github.com/acme/X"),
        ("git@GITHUB.com:acme/X.git", "ssh://github.com/acme/X"),
        ("ssh://git@github.com/acme/X.git", "ssh://github.com/acme/X"),
        ("git://127.0.0.1:9418/app.git", "git://127.0.0.1:9418/app"),
    ],
)
def test_normalize_url(url: str, key: str) -> None:
    assert normalize_url(url) == key


def test_normalize_local_paths(tmp_path: Path) -> None:
    (tmp_path / "repo").mkdir()
    assert normalize_url("repo", tmp_path) == str(tmp_path / "repo")
    assert normalize_url(f"file://{tmp_path}/repo") == str(tmp_path / "repo")
    assert normalize_url(str(tmp_path / "x" / ".." / "repo")) == str(tmp_path / "repo")


def test_classify_and_split_credentials() -> None:
    assert classify("https://h/x") == "http"
    assert classify("git@h:x") == "ssh"
    assert classify("./x") == "local"
    assert classify("ftp://h/x") is None
    url, creds = split_credentials("https://ci:p%3Ass@h/x.git")
    assert url == "https://h/x.git"
    assert creds is not None
    assert (creds.username, creds.password) == ("ci", "p:ss")
    assert "p:ss" not in repr(creds)


def _spec(**kw: str) -> SourceSpec:
    base = {"name": "app", "url": "https://host/x.git", "rev": "main"}
    base.update(kw)
    return SourceSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kw",
    [
        {"rev": "-x"},
        {"rev": "--upload-pack=touch /tmp/pwned"},
        {"rev": "main:refs/heads/evil"},
        {"rev": "a..b"},
        {"rev": "HEAD~1"},
        {"rev": "+main"},
        {"rev": "main lock"},
        {"url": "--upload-pack=touch /tmp/pwned"},
        {"url": "-oProxyCommand=evil"},
        {"url": "ext::sh -c touch% /tmp/pwned"},
        {"url": "fd::17"},
        {"url": "ftp://host/x.git"},
        {"url": "https://host/x\n.git"},
        {"name": "../evil"},
        {"name": "-rf"},
        {"subdir": "../outside"},
        {"subdir": "/etc"},
    ],
)
def test_unsafe_specs_are_refused(kw: dict[str, str]) -> None:
    with pytest.raises(UnsafeSourceError) as info:
        check_safe(_spec(**kw))
    assert info.value.hint


@pytest.mark.parametrize(
    "kw",
    [
        {"rev": "feature/x"},
        {"rev": "v1.0+build.2"},
        {"rev": "a" * 40},
        {"url": "git@github.com:org/repo.git"},
        {"url": "../sibling"},
        {"url": "file:///srv/repo"},
        {"subdir": "packages/models/"},
    ],
)
def test_safe_specs_pass(kw: dict[str, str]) -> None:
    check_safe(_spec(**kw))


def test_spec_repr_hides_credentials() -> None:
    spec = _spec(url="https://ci:hunter2@host/x.git")
    assert "hunter2" not in repr(spec)
