"""Downloading one file of a team-store entry, never more than its manifest's size.

A file the manifest says has ``size`` bytes is compared with what the server
says before its body is read (``Content-Length`` of the tracking server's
artifact proxy, the size of a file in an artifact folder), and a body without
a length is read only up to ``size + 1`` bytes: a tampered or swapped file of
300 MB costs one request, not 300 MB of download. Other artifact stores (S3...)
are downloaded by MLflow and checked by size and checksum afterwards.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from mlrecipes.core.team_store.manifest import ManifestProblem

CHUNK = 1024 * 1024


def download_file(repo: Any, remote_path: str, target: Path, size: int, shown: str) -> None:
    """Write the artifact ``remote_path`` of ``repo`` to ``target`` (``shown`` in messages).

    Raises :class:`ManifestProblem` as soon as the file is known to differ in
    size from ``size``.
    """
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository
    from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

    if isinstance(repo, HttpArtifactRepository):
        _download_http(repo, remote_path, target, size, shown)
        return
    if isinstance(repo, LocalArtifactRepository):
        _check_size(Path(repo.get_local_path(remote_path)).stat().st_size, size, shown)
    repo._download_file(remote_path, str(target))


def _download_http(repo: Any, remote_path: str, target: Path, size: int, shown: str) -> None:
    from mlflow.utils.request_utils import augmented_raise_for_status
    from mlflow.utils.rest_utils import http_request

    endpoint = posixpath.join("/", remote_path)
    resp = http_request(repo._host_creds, endpoint, "GET", stream=True)  # type: ignore[no-untyped-call]
    with resp:
        augmented_raise_for_status(resp)  # type: ignore[no-untyped-call]
        length = resp.headers.get("Content-Length")
        if length is not None and length.isdigit() and "Content-Encoding" not in resp.headers:
            _check_size(int(length), size, shown)
        written = 0
        with target.open("wb") as fh:
            for chunk in resp.iter_content(chunk_size=min(CHUNK, size + 1)):
                written += len(chunk)
                if written > size:
                    raise ManifestProblem(
                        f"size mismatch on {shown}: more than {size} bytes, expected {size}"
                    )
                fh.write(chunk)


def _check_size(actual: int, size: int, shown: str) -> None:
    if actual != size:
        raise ManifestProblem(f"size mismatch on {shown}: {actual} bytes, expected {size}")
