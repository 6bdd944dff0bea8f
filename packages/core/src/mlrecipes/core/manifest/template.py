"""``mlrecipes init``: a commented ``workspace.yaml`` to start from.

The manifest names the repos given (``NewRepo``), one example step in the first
of them with its function in a comment, and the embedded MLflow store; it
passes ``validate`` as written. ``.mlrecipes/`` (and ``outputs/``, whose files are
links into it) and the manifest's local overlay (``workspace.local.yaml``) go into the
folder's ``.gitignore``. An existing manifest is never overwritten.
"""

from __future__ import annotations

import dataclasses
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlrecipes.core.errors import UserError
from mlrecipes.core.manifest._formats import name_problem
from mlrecipes.core.manifest._local import local_path
from mlrecipes.git_sources import GitSourceError, SourceSpec, fetch_url
from mlrecipes.git_sources.upstream import default_branch
from mlrecipes.git_sources.urls import userinfo_of

# The state folder, and the output root of the template whose files are links into it.
IGNORED = (".mlrecipes/", "outputs/")


@dataclass(frozen=True)
class NewRepo:
    """A repo for the new manifest: ``url`` as written (relative paths: from the manifest).

    ``rev`` None: the repository's default branch (its ``HEAD``), asked at init.
    """

    name: str
    url: str
    rev: str | None = None
    subdir: str | None = None


@dataclass(frozen=True)
class ChosenRev:
    """A rev init picked for a repo given without one: its default branch, or ``main``
    with the reason when the repository could not be asked."""

    repo: str
    rev: str
    problem: str | None = None


@dataclass(frozen=True)
class InitResult:
    manifest: Path
    gitignore: Path
    gitignore_changed: bool
    chosen: tuple[ChosenRev, ...] = ()


DEFAULT_BRANCH_TIMEOUT = 10.0
"""Seconds to wait for a remote to name its default branch."""


def choose_rev(repo: NewRepo, folder: Path) -> ChosenRev:
    """The default branch of ``repo`` (relative URLs from ``folder``), else ``main``."""
    spec = SourceSpec(repo.name, fetch_url(repo.url, folder), "main", base_dir=folder)
    try:
        return ChosenRev(repo.name, default_branch(spec, timeout=DEFAULT_BRANCH_TIMEOUT))
    except GitSourceError as exc:
        return ChosenRev(repo.name, "main", exc.message)


def _quoted(text: str) -> str:
    """A YAML scalar that stays a string (``1.10``, ``yes``, ``#`` and ``: `` included)."""
    return json.dumps(text)


def _workspace_name(folder: Path) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", folder.name).strip("-")
    return name if name and not name[0].isdigit() else f"ws-{name or 'new'}"


_HEADER = """\
# {file}: the mlrecipes workspace manifest (reference: the mlrecipes README).
#
#   mlrecipes validate          check this file
#   mlrecipes run               sync the repos, build their environments, run the steps
#   mlrecipes exp show          compare the runs; `mlrecipes ui` opens them in the MLflow UI
version: 1
name: {name}{name_pad}# the default MLflow experiment name
# mlflow: {{tracking_uri: http://mlflow.internal:5000}}   # default: .mlrecipes/mlflow.db here

paths:                            # named roots, relative to this file's folder
  output: outputs

params: {{}}                        # global parameters, referenced with !param NAME
"""

_NO_REPOS = """
repos: {}
  # models:
  #   url: ../models              # a local path (relative to this file), https://, ssh://, file://
  #   rev: main                   # a branch, tag or (short) SHA; workspace.lock pins the commit
  #   subdir: packages/models     # optional: the package's folder in a monorepo

steps: {}
  # hello:
  #   fn: models:hello.run        # repo:module.function
  #   params: {greeting: hello}
  #   outs: {message: !path output/hello.txt}
"""

_STEP = """
steps:
  hello:
    fn: {repo}:hello.run{pad}# repo:module.function
    params: {{greeting: hello}}     # keyword arguments; override: -S hello.greeting=hi
    outs: {{message: !path output/hello.txt}}   # paths the function writes
    # The function: hello.py {where}of repo {repo}. Commit it; once
    # workspace.lock pins {repo}, `mlrecipes workspace update {repo}` takes new commits.
    #
    #   from pathlib import Path
    #
    #   def run(message: Path, greeting: str) -> dict:
    #       message.write_text(f"{{greeting}}, world\\n")
    #       return {{"chars": len(greeting)}}    # numbers returned are logged as metrics
"""


def _url_line(repo: NewRepo) -> str:
    """The url line; credentials in the URL become ``!env`` (the file never holds a token)."""
    userinfo = userinfo_of(repo.url)
    scheme = repo.url.partition("://")[0].lower()
    if not userinfo or (":" not in userinfo and scheme not in ("http", "https")):
        return f"    url: {_quoted(repo.url)}"
    var = re.sub(r"[^A-Z0-9]", "_", repo.name.upper()) + "_TOKEN"
    user, colon, _secret = userinfo.partition(":")
    kept = f"{user}:${{{var}}}" if colon else f"${{{var}}}"
    start = len(scheme) + 3
    url = repo.url[:start] + kept + repo.url[start + len(userinfo) :]
    return f"    url: !env {_quoted(url)}  # set {var} in the environment"


def _repo_block(repo: NewRepo) -> str:
    rev = _quoted(repo.rev or "main")
    lines = [
        f"  {repo.name}:",
        _url_line(repo),
        f"    rev: {rev}{' ' * max(1, 25 - len(rev))}"
        "# branch, tag or (short) SHA; the lock pins its commit",
    ]
    if repo.subdir:
        pad = " " * max(1, 22 - len(_quoted(repo.subdir)))
        lines.append(f"    subdir: {_quoted(repo.subdir)}{pad}# the package's folder in the repo")
    return "\n".join(lines)


def manifest_text(file_name: str, name: str, repos: Sequence[NewRepo]) -> str:
    """The commented manifest ``init`` writes."""
    name_pad = " " * max(1, 28 - len(name))
    head = _HEADER.format(file=file_name, name=name, name_pad=name_pad)
    if not repos:
        return head + _NO_REPOS
    body = "\nrepos:\n" + "\n".join(_repo_block(r) for r in repos) + "\n"
    first = repos[0]
    where = f"in the folder {first.subdir}/ " if first.subdir else "at the root "
    pad = " " * max(1, 26 - len(first.name) - len(":hello.run"))
    return head + body + _STEP.format(repo=first.name, where=where, pad=pad)


def _check(repos: Sequence[NewRepo]) -> None:
    seen: set[str] = set()
    for repo in repos:
        problem = name_problem(repo.name)
        if problem:
            raise UserError(f"--repo {repo.name}: {problem}")
        if repo.name in seen:
            raise UserError(f"--repo {repo.name} is given twice", hint="give each repo once")
        seen.add(repo.name)


def _check_valid(text: str, manifest: Path) -> None:
    """Refuse to write a manifest that ``validate`` would refuse (``rev: -rf``, ``ext::``)."""
    from mlrecipes.core.errors import ManifestError
    from mlrecipes.core.manifest.load import load_manifest

    draft = manifest.with_name(f".{manifest.name}.init-{secrets.token_hex(4)}")
    draft.write_text(text, encoding="utf-8")
    try:
        load_manifest(draft, local=False)
    except ManifestError as exc:
        first = exc.problems[0]
        more = f" (and {len(exc.problems) - 1} more)" if len(exc.problems) > 1 else ""
        where = f" [{first.key_path}]" if first.key_path else ""
        raise UserError(
            f"init would write a manifest that validate refuses: {first.message}{where}{more}",
            hint=first.hint or "check the `repos` values",
        ) from None
    finally:
        draft.unlink(missing_ok=True)


def _ignore(manifest: Path) -> tuple[Path, bool]:
    path = manifest.parent / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    present = {line.strip().rstrip("/") for line in text.splitlines()}
    wanted = (*IGNORED, local_path(manifest).name)  # the README calls the overlay git-ignored
    missing = [entry for entry in wanted if entry.rstrip("/") not in present]
    if not missing:
        return path, False
    sep = "" if not text or text.endswith("\n") else "\n"
    path.write_text(text + sep + "".join(f"{entry}\n" for entry in missing), encoding="utf-8")
    return path, True


def init_workspace(manifest: Path, repos: Sequence[NewRepo] = ()) -> InitResult:
    """Write a new commented manifest at ``manifest``; refuses to overwrite one."""
    _check(repos)
    manifest = manifest.expanduser().absolute()
    if manifest.exists():
        raise UserError(
            f"{manifest} already exists; init never overwrites a manifest",
            hint="edit it, or give another file to `init_workspace(manifest)` (e.g. other.yaml)",
        )
    manifest.parent.mkdir(parents=True, exist_ok=True)
    chosen = tuple(choose_rev(r, manifest.parent) for r in repos if r.rev is None)
    revs = {c.repo: c.rev for c in chosen}
    repos = [dataclasses.replace(r, rev=r.rev or revs[r.name]) for r in repos]
    text = manifest_text(manifest.name, _workspace_name(manifest.parent), repos)
    _check_valid(text, manifest)
    try:
        with manifest.open("x", encoding="utf-8") as fh:  # "x": never clobber a racing writer
            fh.write(text)
    except FileExistsError:
        raise UserError(f"{manifest} already exists; init never overwrites a manifest") from None
    gitignore, changed = _ignore(manifest)
    return InitResult(manifest, gitignore, changed, chosen)
