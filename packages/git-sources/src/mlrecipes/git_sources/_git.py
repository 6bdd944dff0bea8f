"""The only module that talks to git (and the only one importing GitPython).

Two ways in, each where it fits:

* **Reads** (refs, commits, trees) go through GitPython ``Repo`` objects,
  always closed; inherited repo-redirecting variables are kept out of their
  way (see :class:`_ScrubbedEnviron`).
* **Commands** (init, fetch, clone, checkout, status, add, write-tree) run the
  ``git`` executable through :mod:`subprocess` with an environment built here.
  GitPython's ``Git.execute`` starts from ``os.environ`` and can only *add*
  variables, so it cannot scrub an inherited ``GIT_DIR`` or ``GIT_INDEX_FILE``
  that would point git at another repository.

GitPython's ``allow_unsafe_protocols``/``allow_unsafe_options`` stay off: this
module never passes them, and :func:`check_protocol` reuses GitPython's own
unsafe-protocol check on every URL it fetches from.

GitPython is imported on first use, not with this module: a no-op sync (every
checkout clean at its pinned commit, tree SHAs cached) never reads objects, and
importing it costs about 0.1 s of every CLI start.
"""

from __future__ import annotations

import functools
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import git

from mlrecipes.git_sources.errors import UnsafeSourceError
from mlrecipes.git_sources.urls import Credentials, redact_text

RefKind = Literal["branch", "tag", "commit"]

# GitPython's `Git.re_unsafe_protocol` (3.1.x): remote helpers (`<transport>::`)
# and `ext://`. Checked here without importing GitPython; GitPython's own check
# runs again on every URL right before it is fetched (see check_fetch_url).
_UNSAFE_TRANSPORT = re.compile(r"([A-Za-z0-9][A-Za-z0-9+.-]*|)::|ext://")

# What `git rev-parse --local-env-vars` printed on git 2.39; used if it fails.
_FALLBACK_LOCAL_VARS = (
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY", "GIT_DIR", "GIT_WORK_TREE", "GIT_IMPLICIT_WORK_TREE", "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE", "GIT_NO_REPLACE_OBJECTS", "GIT_REPLACE_REF_BASE", "GIT_PREFIX",
    "GIT_INTERNAL_SUPER_PREFIX", "GIT_SHALLOW_FILE", "GIT_COMMON_DIR",
)  # fmt: skip
# Inline credentials reach git through this helper, reading two variables of the
# git process' own environment: they never appear in argv (visible in `ps`),
# in the mirror's config, or in FETCH_HEAD.
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || return 0; '
    "printf 'username=%s\\npassword=%s\\n' \"$MLRECIPES_GIT_USERNAME\" "
    '"$MLRECIPES_GIT_PASSWORD"; }; f'
)


class GitFailed(Exception):
    """A git command exited non-zero; ``stderr`` is already redacted."""

    def __init__(self, command: str, returncode: int, stderr: str, cwd: Path | None = None) -> None:
        super().__init__(f"`{command}` failed ({returncode}): {stderr.strip()}")
        self.command = command
        self.returncode = returncode
        self.stderr = stderr
        self.cwd = cwd  # where git ran (a mirror or a checkout): its disk is checked too

    def disk_fault(self, path: Path) -> str | None:
        """What the machine refused while git wrote under ``path`` (or where it ran), or None.

        Read from the file system first (a read-only mount, no free space left),
        since git words a short write differently at each place that writes
        (``index.lock``, ``config.lock``, a pack); git's own words are the fallback.
        """
        places = [path] if self.cwd is None else [path, self.cwd]
        return next(filter(None, map(filesystem_fault, places)), None) or next(
            (what for needle, what in _DISK_FAULTS if needle in self.stderr), None
        )


# Below this many free bytes a failed git write is taken for a full disk: no
# checkout or mirror update fits in it, and git's message varies with where it stopped.
_FULL_BELOW = 1 << 20


def filesystem_fault(path: Path) -> str | None:
    """ "the disk is full" / "the file system is read-only" for the disk holding ``path``."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        st = os.statvfs(probe)
    except OSError:
        return None
    if st.f_flag & os.ST_RDONLY:
        return "the file system is read-only"
    if st.f_bavail * st.f_frsize < _FULL_BELOW:
        return "the disk is full"
    return None


# git prints strerror(); these are the faults of the machine, not of the repository.
# Where a write() returns short, git says it in its own words instead
# ("sha1 file '.git/index.lock' write error. Out of diskspace", csum-file.c).
_DISK_FAULTS = (
    ("No space left on device", "the disk is full"),
    ("Out of diskspace", "the disk is full"),
    ("Disk quota exceeded", "the disk quota is exceeded"),
    ("Read-only file system", "the file system is read-only"),
    ("Permission denied", "permission denied"),
)


@functools.cache
def _local_env_vars() -> tuple[str, ...]:
    """The variables that redirect git to another repository (GIT_DIR, GIT_INDEX_FILE...)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--local-env-vars"],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return tuple(_FALLBACK_LOCAL_VARS)
    return tuple(sorted(set(out.split()) | set(_FALLBACK_LOCAL_VARS)))


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every git command: scrubbed, never prompting, C locale.

    Identity, ``GIT_CONFIG_GLOBAL``/``GIT_CONFIG_NOSYSTEM`` and ssh settings are kept.
    """
    # Every such variable starts with GIT_: without one, git need not be asked which.
    inherited = any(name.startswith("GIT_") for name in os.environ)
    drop = set(_local_env_vars()) if inherited else set()
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GCM_INTERACTIVE="never",
        LC_ALL="C",
        LANGUAGE="C",
    )
    if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
        env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    env.update(extra or {})
    return env


def credential_env(creds: Credentials | None) -> dict[str, str]:
    """Extra environment feeding inline credentials to git through a one-off helper."""
    if creds is None:
        return {}
    return {
        "GIT_CONFIG_COUNT": "2",
        # An empty helper first resets the user's list, so these credentials win.
        "GIT_CONFIG_KEY_0": "credential.helper",
        "GIT_CONFIG_VALUE_0": "",
        "GIT_CONFIG_KEY_1": "credential.helper",
        "GIT_CONFIG_VALUE_1": _CREDENTIAL_HELPER,
        "MLRECIPES_GIT_USERNAME": creds.username,
        "MLRECIPES_GIT_PASSWORD": creds.password,
    }


def run(
    args: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    secrets: tuple[str, ...] = (),
    timeout: float | None = None,
) -> str:
    """Run ``git <args>``, output buffered; return stdout or raise :class:`GitFailed`.

    With ``timeout`` (seconds) a git that takes longer is killed and reported as failed.
    """
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            env=git_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        shown = redact_text(" ".join(["git", *args[:2]]), secrets)
        raise GitFailed(shown, -1, f"no answer within {timeout:g} s", cwd) from None
    if proc.returncode != 0:
        shown = redact_text(" ".join(["git", *args[:2]]), secrets)
        raise GitFailed(shown, proc.returncode, redact_text(proc.stderr, secrets), cwd)
    return proc.stdout


def check_protocol(url: str, shown: str) -> None:
    """Refuse ``ext::``-style transports (GitPython's rule, without importing it)."""
    if _UNSAFE_TRANSPORT.match(url):
        raise _unsafe_transport(shown)


def check_fetch_url(url: str, shown: str) -> None:
    """GitPython's own guard against ``ext::``-style transports, as an UnsafeSourceError.

    Called right before git is given ``url`` to fetch from, so that a rule a
    newer GitPython adds applies even where :func:`check_protocol` lags behind.
    """
    import git
    from git.exc import UnsafeProtocolError

    check_protocol(url, shown)
    try:
        git.Git.check_unsafe_protocols(url)
    except UnsafeProtocolError:
        raise _unsafe_transport(shown) from None


def _unsafe_transport(shown: str) -> UnsafeSourceError:
    return UnsafeSourceError(f"refusing URL {shown!r}: unsafe transport", value=shown, hint=None)


class _ScrubbedEnviron:
    """Removes inherited repo-redirecting variables from ``os.environ`` while in use.

    GitPython reads ``GIT_OBJECT_DIRECTORY``, ``GIT_COMMON_DIR``... straight from
    ``os.environ`` (to find a repository and to start its cat-file processes)
    and offers no way to ignore them. So, only while a ``Repo`` is open and only
    when such variables are inherited (say, mlrecipes run from a git hook), they
    are taken out and put back when the last reader is done. A count, not a
    plain flag, so that parallel readers never see them come back mid-read.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._saved: dict[str, str] = {}

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                names = [n for n in _local_env_vars() if n in os.environ]
                self._saved = {name: os.environ.pop(name) for name in names}
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    os.environ.update(self._saved)
                    self._saved = {}


_scrubbed_environ = _ScrubbedEnviron()


@contextmanager
def _repo(path: Path) -> Iterator[git.Repo]:
    """A GitPython repo for reads; always closed (that also ends its cat-file processes)."""
    import git

    with _scrubbed_environ():
        repo = git.Repo(path, search_parent_directories=False)
        try:
            yield repo
        finally:
            repo.close()


def is_repository(path: Path) -> bool:
    """True when ``path`` itself is a git repository (bare or with a work tree)."""
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    try:
        with _repo(path):
            return True
    except (InvalidGitRepositoryError, NoSuchPathError):
        return False


def _peel_to_commit(obj: git.Object) -> str | None:
    import git

    while isinstance(obj, git.TagObject):
        obj = obj.object
    return obj.hexsha if isinstance(obj, git.Commit) else None


def lookup(repo_dir: Path, rev: str) -> tuple[str, RefKind] | None:
    """The commit ``rev`` names in ``repo_dir`` (branch, then tag, then SHA), and its kind."""
    import git
    from git.exc import AmbiguousObjectName, BadName, BadObject, GitError

    with _repo(repo_dir) as repo:
        for kind, ref in (("branch", f"refs/heads/{rev}"), ("tag", f"refs/tags/{rev}")):
            try:
                sha = _peel_to_commit(git.Reference(repo, ref).object)
            except (ValueError, BadName, BadObject, GitError):
                continue
            if sha is not None:
                return sha, kind  # type: ignore[return-value]  # kind is a RefKind
        if len(rev) >= 4 and all(c in "0123456789abcdef" for c in rev):
            try:
                binsha = repo.odb.partial_to_complete_sha_hex(rev)
                sha = _peel_to_commit(git.Object.new_from_sha(repo, binsha))
            except (BadName, BadObject, AmbiguousObjectName, ValueError):
                return None
            return (sha, "commit") if sha is not None else None
    return None


def has_commit(repo_dir: Path, sha: str) -> bool:
    """True when the commit ``sha`` (40-hex) is in ``repo_dir``'s object database."""
    import git
    from git.exc import BadName, BadObject

    with _repo(repo_dir) as repo:
        try:
            return isinstance(git.Object.new_from_sha(repo, bytes.fromhex(sha)), git.Commit)
        except (BadName, BadObject, ValueError):
            return False


def branches_and_tags(repo_dir: Path) -> tuple[list[str], list[str]]:
    """The branch names and the tag names of ``repo_dir``, each sorted."""
    import git

    found: dict[str, list[str]] = {"heads": [], "tags": []}
    with _repo(repo_dir) as repo:
        for kind, names in found.items():
            for ref in git.Reference.iter_items(repo, common_path=f"refs/{kind}"):
                names.append(ref.path.removeprefix(f"refs/{kind}/"))
    return sorted(found["heads"]), sorted(found["tags"])


def tree_of(repo_dir: Path, commit: str, subdir: str | None) -> str | None:
    """The tree SHA of ``<commit>:<subdir>`` (root tree without subdir); None if missing."""
    with _repo(repo_dir) as repo:
        return _descend(repo.commit(commit).tree, subdir)


def subtree(repo_dir: Path, tree: str, subdir: str | None) -> str | None:
    """The tree SHA of ``<tree>:<subdir>``; None if that is no folder."""
    import git

    with _repo(repo_dir) as repo:
        return _descend(git.Tree(repo, bytes.fromhex(tree), path=""), subdir)


def _descend(tree: git.Tree, subdir: str | None) -> str | None:
    import git

    if not subdir:
        return str(tree.hexsha)
    try:
        obj = tree / subdir
    except KeyError:
        return None
    return str(obj.hexsha) if isinstance(obj, git.Tree) else None


def root_folders(repo_dir: Path, commit: str) -> list[str]:
    """Names of the folders at the root of ``commit`` (to hint at a wrong subdir)."""
    with _repo(repo_dir) as repo:
        return sorted(t.name for t in repo.commit(commit).tree.trees)
