"""A checkout held by a running pipeline is never moved under it (issue 25 item 11)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlrecipes.git_sources import (
    CheckoutInUseError,
    CheckoutMovedError,
    SourceSpec,
    hold_checkouts,
    sync_sources,
)

from .conftest import Upstreams


def _sync(spec: SourceSpec, tmp: Path, pin: str) -> None:
    sync_sources([spec], checkouts_dir=tmp / "co", cache_dir=tmp / "cache", pinned={spec.name: pin})


def _head(path: Path) -> str:
    return (path / ".git" / "HEAD").read_text().strip()


def test_a_held_checkout_is_not_moved_until_released(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec("app", str(upstreams.app), "main")
    _sync(spec, tmp_path, upstreams.v1_0)
    checkout = tmp_path / "co" / "app"
    with hold_checkouts(tmp_path / "co", {"app": upstreams.v1_0}):
        with pytest.raises(CheckoutInUseError, match="in use by a running pipeline"):
            _sync(spec, tmp_path, upstreams.v1_1)
        assert _head(checkout) == upstreams.v1_0
        with hold_checkouts(tmp_path / "co", {"app": upstreams.v1_0}):  # runs share it
            _sync(spec, tmp_path, upstreams.v1_0)  # the same commit: nothing moves
    _sync(spec, tmp_path, upstreams.v1_1)
    assert _head(checkout) == upstreams.v1_1


def test_the_hold_is_another_process_s_too_and_dies_with_it(
    upstreams: Upstreams, tmp_path: Path
) -> None:
    spec = SourceSpec("app", str(upstreams.app), "main")
    _sync(spec, tmp_path, upstreams.v1_0)
    code = (
        "import sys, pathlib\n"
        "from mlrecipes.git_sources.in_use import hold_checkouts\n"
        "with hold_checkouts(pathlib.Path(sys.argv[1]), {'app': sys.argv[2]}):\n"
        "    print('held', flush=True)\n"
        "    sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path / "co"), upstreams.v1_0],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "held\n"
            with pytest.raises(CheckoutInUseError):
                _sync(spec, tmp_path, upstreams.v1_1)
        finally:
            holder.kill()  # as kill -9: the kernel drops the lock
            holder.wait()
    _sync(spec, tmp_path, upstreams.v1_1)
    assert _head(tmp_path / "co" / "app") == upstreams.v1_1


def test_a_checkout_moved_before_the_hold_is_refused(upstreams: Upstreams, tmp_path: Path) -> None:
    spec = SourceSpec("app", str(upstreams.app), "main")
    _sync(spec, tmp_path, upstreams.v1_1)
    held = hold_checkouts(tmp_path / "co", {"app": upstreams.v1_0})
    with pytest.raises(CheckoutMovedError, match="moved to"), held:
        pass
