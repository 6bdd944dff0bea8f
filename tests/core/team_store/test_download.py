"""A team-store file is never read past its manifest's size (issue 25 item 21)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from mlrecipes.core.team_store._download import download_file
from mlrecipes.core.team_store.manifest import ManifestProblem

CHUNK = 1024 * 1024
TOTAL_CHUNKS = 256  # 256 MiB if read in full


class _Endless(BaseHTTPRequestHandler):
    """Serves a large body without ``Content-Length`` (ends when it closes)."""

    protocol_version = "HTTP/1.0"
    sent: ClassVar[list[int]] = []
    done: ClassVar[threading.Event] = threading.Event()

    def do_GET(self) -> None:
        try:
            self._send()
        finally:
            self.done.set()

    def _send(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        try:
            for _ in range(TOTAL_CHUNKS):
                self.wfile.write(b"x" * CHUNK)
                self.sent.append(CHUNK)
        except OSError:
            return  # the client hung up

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def endless() -> Iterator[str]:
    _Endless.sent = []
    _Endless.done = threading.Event()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/2.0/mlflow-artifacts/artifacts/x"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_body_without_a_length_is_read_only_to_its_size(endless: str, tmp_path: Path) -> None:
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository

    repo = HttpArtifactRepository(endless)  # type: ignore[no-untyped-call]
    target = tmp_path / "weights.json"
    with pytest.raises(ManifestProblem) as info:
        download_file(repo, "files/weights.json", target, 11, "model/weights.json")
    assert str(info.value) == "size mismatch on model/weights.json: more than 11 bytes, expected 11"
    assert target.stat().st_size <= 11  # nothing past the size was written
    assert _Endless.done.wait(timeout=60)  # the server gave up sending
    assert sum(_Endless.sent) < TOTAL_CHUNKS * CHUNK // 4  # the server was cut off early
