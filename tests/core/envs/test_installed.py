"""Reading what an environment holds, and the moving git references of a repo's pins."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlrecipes.core.envs._gitrefs import parse_git_requirement
from mlrecipes.core.envs.installed import Installed, read_installed


def _dist(site: Path, folder: str, direct_url: Mapping[str, object] | None = None) -> None:
    (site / folder).mkdir()
    if direct_url is not None:
        (site / folder / "direct_url.json").write_text(json.dumps(direct_url))


def test_every_source_kind_is_read_from_site_packages(tmp_path: Path) -> None:
    site = tmp_path / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    _dist(site, "Six-1.16.0.dist-info")
    git = {
        "url": "https://tok:secret@x.org/a.git",
        "vcs_info": {"vcs": "git", "commit_id": "c" * 40},
    }
    _dist(site, "my_lib-0.2.dist-info", git)
    _dist(site, "mods-0.1.0.dist-info", {"url": "file:///w/mods", "dir_info": {"editable": True}})
    _dist(site, "w-1.0.dist-info", {"url": "https://x.org/w-1.0.whl", "archive_info": {}})
    (site / "extra.pth").write_text("import os\n# comment\n/w/plain\nrel\n")
    found = {i.name: i for i in read_installed(tmp_path)}
    assert found["six"] == Installed("six", "1.16.0", "index")
    assert found["my-lib"].kind == "git" and found["my-lib"].commit == "c" * 40
    assert found["my-lib"].url is not None and "secret" not in found["my-lib"].url
    assert found["mods"] == Installed("mods", "0.1.0", "path", path=Path("/w/mods"), editable=True)
    assert found["w"].kind == "url"
    pth = [i.path for i in read_installed(tmp_path) if i.kind == "pth"]
    assert set(pth) == {Path("/w/plain"), site / "rel"}  # `import` lines run code: skipped


def test_an_environment_without_site_packages_has_nothing(tmp_path: Path) -> None:
    assert read_installed(tmp_path) == ()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("pkg @ git+https://x.org/pkg.git@main", ("pkg", "https://x.org/pkg.git", "main")),
        ("pkg[extra] @ git+ssh://git@x.org/p.git@v1.2", ("pkg", "ssh://git@x.org/p.git", "v1.2")),
        ("pkg @ git+https://x.org/pkg.git", ("pkg", "https://x.org/pkg.git", "HEAD")),
        ("pkg @ git+file:///srv/pkg@dev#egg=pkg", ("pkg", "file:///srv/pkg", "dev")),
        ("pkg @ git+https://x.org/pkg.git@" + "a" * 40, None),  # a commit does not move
        ("pkg==1.0", None),
        ("-e ./local", None),
    ],
)
def test_moving_git_references_are_recognised(
    line: str, expected: tuple[str, str, str] | None
) -> None:
    ref = parse_git_requirement(line)
    assert (None if ref is None else (ref.name, ref.url, ref.ref)) == expected
