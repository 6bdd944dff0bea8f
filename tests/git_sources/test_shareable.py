"""URLs runs record for a teammate: git's relative-URL rule, remotes, local-only."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.helpers.workspaces import commit, git, make_repo

from mlrecipes.git_sources import ShareableUrl, fetch_url, folder_repo, shareable_url
from mlrecipes.git_sources.shareable import RelativeUrlError, join_relative


@pytest.mark.parametrize(
    ("remote", "relative", "expected"),
    [
        ("git@host:team/experiments.git", "../models.git", "git@host:team/models.git"),
        ("git@host:experiments.git", "../models.git", "git@host:models.git"),
        ("ssh://git@host/team/exp.git", "../models", "ssh://git@host/team/models"),
        ("https://host/team/exp.git", "../models.git", "https://host/team/models.git"),
        ("https://host/team/exp.git", "../../other/m.git", "https://host/other/m.git"),
        ("https://host/team/exp.git/", "./../m", "https://host/team/m"),
        ("git://127.0.0.1:9418/exp.git", "../features.git", "git://127.0.0.1:9418/features.git"),
        ("/srv/git/exp.git", "../features.git", "/srv/git/features.git"),
        ("https://host/team/exp.git", ".", "https://host/team/exp.git"),
    ],
)
def test_relative_urls_resolve_as_git_resolves_submodule_urls(
    remote: str, relative: str, expected: str
) -> None:
    assert join_relative(remote, relative) == expected


def test_a_relative_url_cannot_climb_above_the_host() -> None:
    with pytest.raises(RelativeUrlError):
        join_relative("https://host/exp.git", "../../x.git")


def test_remote_urls_are_recorded_without_credentials(tmp_path: Path) -> None:
    assert shareable_url("https://ci:s3cr%2Ft@host/team/x.git", tmp_path) == ShareableUrl(
        "https://host/team/x.git"
    )
    assert shareable_url("ssh://git:pw@host/x.git", tmp_path).url == "ssh://host/x.git"
    assert shareable_url("git@host:team/x.git", tmp_path).url == "git@host:team/x.git"


def _workspace_repo(tmp_path: Path, remote: str | None) -> Path:
    ws = make_repo(tmp_path / "exp" / "ws", {"workspace.yaml": "version: 1\n"})
    if remote:
        git(ws, "remote", "add", "origin", remote)
    return ws


def test_relative_urls_resolve_against_the_workspace_repos_remote(tmp_path: Path) -> None:
    ws = _workspace_repo(tmp_path, "https://tok:en@host/team/experiments.git")
    assert shareable_url("../models.git", ws) == ShareableUrl("https://host/team/models.git")
    assert shareable_url(".", ws) == ShareableUrl("https://host/team/experiments.git")
    # the manifest in a subfolder: its path inside the repo counts, as for submodules
    sub = ws / "exp1"
    sub.mkdir()
    assert shareable_url("../../models.git", sub).url == "https://host/team/models.git"
    # the rule applies to fetching a relative path this machine does not have
    assert fetch_url("../models.git", ws) == "https://tok:en@host/team/models.git"
    assert fetch_url(".", ws) == "."


def test_a_local_path_is_recorded_as_its_own_remote(tmp_path: Path) -> None:
    feats = make_repo(tmp_path / "feats", {"a.py": ""})
    git(feats, "remote", "add", "origin", "git@host:team/feats.git")
    assert shareable_url(str(feats), None) == ShareableUrl("git@host:team/feats.git")
    ws = _workspace_repo(tmp_path, None)  # no remote: the path's own repo decides
    assert shareable_url("../../feats", ws) == ShareableUrl("git@host:team/feats.git")
    assert shareable_url(feats.as_uri(), None) == ShareableUrl("git@host:team/feats.git")


def test_a_folder_without_a_remote_is_local_only(tmp_path: Path) -> None:
    lonely = make_repo(tmp_path / "lonely", {"a.py": ""})
    ws = _workspace_repo(tmp_path, None)
    assert shareable_url("../../lonely", ws) == ShareableUrl(str(lonely), local_only=True)
    assert fetch_url("../../missing", ws) == "../../missing"  # nothing to resolve against


def test_the_upstream_remote_of_the_branch_wins_over_origin(tmp_path: Path) -> None:
    ws = _workspace_repo(tmp_path, "https://host/fork/experiments.git")
    git(ws, "remote", "add", "team", "https://host/team/experiments.git")
    git(ws, "config", "branch.main.remote", "team")
    assert shareable_url("../models", ws).url == "https://host/team/models"


def test_the_workspace_repo_with_its_commit_and_dirty_flag(tmp_path: Path) -> None:
    ws = _workspace_repo(tmp_path, "git@host:team/experiments.git")
    head = git(ws, "rev-parse", "HEAD")
    repo = folder_repo(ws)
    assert repo is not None
    assert (repo.commit, repo.dirty, repo.folder) == (head, False, ".")
    assert repo.url == ShareableUrl("git@host:team/experiments.git")
    (ws / "workspace.yaml").write_text("version: 1\nname: x\n")
    (ws / "sub").mkdir()
    dirty = folder_repo(ws / "sub")
    assert dirty is not None and dirty.dirty and dirty.folder == "sub"
    commit(ws, {"workspace.yaml": "version: 1\nname: y\n"})
    git(ws, "remote", "remove", "origin")
    alone = folder_repo(ws)
    assert alone is not None and alone.url == ShareableUrl(str(ws), local_only=True)
    assert folder_repo(tmp_path) is None  # no repository at all
