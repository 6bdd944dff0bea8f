"""Real upstream repositories (made with git in temp folders) and real git servers on 127.0.0.1."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


def _git_env(home: Path) -> dict[str, str]:
    """Session fixtures run before the per-test isolation: build the same isolation here."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    gitconfig = home / ".gitconfig"
    if not gitconfig.exists():
        home.mkdir(parents=True, exist_ok=True)
        gitconfig.write_text(
            "[user]\n\tname = Upstream\n\temail = upstream@example.invalid\n"
            "[init]\n\tdefaultBranch = main\n"
        )
    env.update(GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1")
    return env


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity; return stripped stdout."""
    env = _git_env(repo.parent / "_upstream_home")
    out = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def commit_file(repo: Path, rel: str, text: str, message: str) -> str:
    """Write ``rel`` in ``repo``, commit it, return the new commit SHA."""
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class Upstreams:
    """The session's upstream repositories and the commits that tests refer to."""

    root: Path
    app: Path  # branches main, feature/x; tags v1.0 (annotated), v1.1 (lightweight)
    mono: Path  # packages/alpha and packages/beta
    v1_0: str
    v1_1: str
    main: str
    feature: str
    mono_main: str


def make_app(repo: Path) -> dict[str, str]:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    first = commit_file(repo, "app/__init__.py", "VERSION = 1\n", "first")
    git(repo, "tag", "-a", "v1.0", "-m", "release 1.0")
    second = commit_file(repo, "app/__init__.py", "VERSION = 2\n", "second")
    git(repo, "tag", "v1.1")
    git(repo, "checkout", "-q", "-b", "feature/x")
    feature = commit_file(repo, "app/feature.py", "X = 1\n", "feature")
    git(repo, "checkout", "-q", "main")
    main = commit_file(repo, "README.md", "# app\n", "readme")
    return {"v1_0": first, "v1_1": second, "feature": feature, "main": main}


def make_mono(repo: Path) -> str:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    commit_file(repo, "packages/alpha/alpha.py", "A = 1\n", "alpha")
    return commit_file(repo, "packages/beta/beta.py", "B = 1\n", "beta")


@pytest.fixture(scope="session")
def upstreams(tmp_path_factory: pytest.TempPathFactory) -> Upstreams:
    root = tmp_path_factory.mktemp("upstreams")
    shas = make_app(root / "app")
    mono_main = make_mono(root / "mono")
    return Upstreams(root=root, app=root / "app", mono=root / "mono", mono_main=mono_main, **shas)


@pytest.fixture
def app_copy(upstreams: Upstreams, tmp_path: Path) -> Path:
    """A private copy of the app upstream, for tests that move its branches."""
    dest = tmp_path / "upstream" / "app"
    shutil.copytree(upstreams.app, dest, symlinks=True)
    return dest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def git_program(name: str) -> Path:
    """The dashed program behind ``git <name>``: ``git`` runs it as a child, so kill this one."""
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(exec_path) / f"git-{name}"


@pytest.fixture
def git_daemon(upstreams: Upstreams) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``git daemon`` serving the upstreams folder on a free 127.0.0.1 port."""
    daemon = git_program("daemon")
    if not daemon.exists():
        pytest.skip("git daemon is not installed")
    port = free_port()
    proc = subprocess.Popen(
        [str(daemon), "--reuseaddr", "--export-all", f"--base-path={upstreams.root}",
         "--listen=127.0.0.1", f"--port={port}", str(upstreams.root)],
        env=_git_env(upstreams.root / "_upstream_home"),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port)
        yield port, proc
    finally:
        proc.kill()
        proc.wait()


class GitHTTPServer(ThreadingHTTPServer):
    """``git http-backend`` behind Basic auth; can stall a fetch half way through its pack."""

    daemon_threads = True

    def __init__(self, project_root: Path, auth: tuple[str, str] | None) -> None:
        super().__init__(("127.0.0.1", 0), _GitHTTPHandler)
        self.project_root = project_root
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode() if auth else None
        self.expected_auth = f"Basic {token}" if token else None
        self.stall = False
        self.stalled = threading.Event()
        self.release = threading.Event()
        self.unauthorized = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _GitHTTPHandler(BaseHTTPRequestHandler):
    server: GitHTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def _cgi(self) -> None:
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if srv.expected_auth and self.headers.get("Authorization") != srv.expected_auth:
            srv.unauthorized += 1
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        path, _, query = self.path.partition("?")
        env = {
            "PATH": os.environ["PATH"], "GIT_PROJECT_ROOT": str(srv.project_root),
            "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": path, "QUERY_STRING": query,
            "REQUEST_METHOD": self.command, "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""), "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(srv.project_root),
        }  # fmt: skip
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, _, payload = out.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode().splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.split()[0])
            elif key:
                headers.append((key, value.strip()))
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if srv.stall and self.command == "POST" and b"command=fetch" in body:
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            srv.stalled.set()
            srv.release.wait(60)
            return
        self.wfile.write(payload)


@pytest.fixture
def http_server(upstreams: Upstreams) -> Iterator[GitHTTPServer]:
    """An authenticated git HTTP server (user ``ci``, password ``s3cr3t-T0KEN-xyz``)."""
    server = GitHTTPServer(upstreams.root, ("ci", "s3cr3t-T0KEN-xyz"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


class GitHelpers:
    """``git`` and ``commit_file`` for tests (conftest modules are not importable by name)."""

    git = staticmethod(git)
    commit_file = staticmethod(commit_file)
    make_app = staticmethod(make_app)


@pytest.fixture
def gh() -> type[GitHelpers]:
    return GitHelpers
