"""Several processes syncing at once against one mirror cache."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .conftest import Upstreams

_CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from mlrecipes.git_sources import SourceSpec, sync_sources
    app, mono, work, cache = sys.argv[1:5]
    specs = [SourceSpec("app", app, "main"), SourceSpec("old", app, "v1.0"),
             SourceSpec("alpha", mono, "main", subdir="packages/alpha"),
             SourceSpec("beta", mono, "main", subdir="packages/beta")]
    for res in sync_sources(specs, checkouts_dir=Path(work), cache_dir=Path(cache)):
        print(res.name, res.commit, res.tree)
    """
)


def test_four_processes_share_one_cache(upstreams: Upstreams, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _CHILD,
                str(upstreams.app),
                str(upstreams.mono),
                str(tmp_path / f"ws{i}" / "checkouts"),
                str(cache),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    assert len(set(outputs)) == 1
    lines = dict(line.split(" ", 1) for line in outputs[0].splitlines())
    assert lines["app"].split()[0] == upstreams.main
    assert lines["old"].split()[0] == upstreams.v1_0
    assert lines["beta"].split()[0] == upstreams.mono_main
    mirrors = [p for p in (cache / "git").iterdir() if p.is_dir()]
    assert len(mirrors) == 2
    for i in range(4):
        assert (tmp_path / f"ws{i}" / "checkouts" / "beta" / "packages" / "beta").is_dir()
