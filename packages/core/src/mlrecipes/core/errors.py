"""Errors raised by :mod:`mlrecipes.core`.

Every error carries data (the step, the path, the repo) as attributes, and a
``hint`` that tells the user what to do next. The CLI maps each class to a
message and an exit code in one table (``mlrecipes.cli.errors``)::

    MlrecipesError                      base; ``hint`` is optional
    ├── UserError                       exit 1: the user can fix it
    │   ├── ManifestError               problems: tuple[Problem, ...] (file:line:col)
    │   ├── LockError                   workspace.lock missing, stale or unreadable
    │   ├── EnvironmentBuildError      a uv environment could not be built
    │   ├── PythonNotAvailable          a repo asks for a Python this machine lacks
    │   ├── UnknownStepError            a step name on the command line
    │   ├── OverrideError               a -S KEY=VALUE that names nothing
    │   │   └── SearchSpaceError        a ``tune -S`` search space that does not parse
    │   ├── MissingExtra                an optional extra (``mlrecipes[tune]``) not installed
    │   ├── TrackingError               MLflow unreachable or misconfigured
    │   ├── StoreError                  an upstream output missing from the store
    │   └── ReproduceError              a run that cannot be reproduced
    ├── StepFailed                      exit 4: a step raised or was killed
    ├── DriftDetected                   exit 5: ``reproduce`` found other metrics
    └── TeamStoreError                  an upload to or download from the team store
                                        failed; never reaches users as an error: the
                                        run says why in one line and goes on

Errors of :mod:`mlrecipes.git_sources` (``GitSourceError``) are user errors too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


class MlrecipesError(Exception):
    """Base class of every error mlrecipes raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UserError(MlrecipesError):
    """Something the user can fix: a manifest, a lock, an argument."""


@dataclass(frozen=True)
class Problem:
    """One located problem in a manifest."""

    file: Path
    line: int
    col: int
    message: str
    key_path: str = ""
    hint: str | None = None

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}"
        key = f" [{self.key_path}]" if self.key_path else ""
        text = f"{where}: {self.message}{key}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ManifestError(UserError):
    """A manifest has one or more problems; all of them are in ``problems``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: (str(p.file), p.line, p.col)))
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the manifest"
        super().__init__(head + "\n" + "\n".join(p.format() for p in self.problems))


class LockError(UserError):
    """``workspace.lock`` is missing, unreadable or does not match the manifest."""

    def __init__(self, message: str, *, path: Path | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


class EnvironmentBuildError(UserError):
    """uv could not resolve or install a repo's environment."""

    def __init__(
        self, message: str, *, repo: str, output: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.repo = repo
        self.output = output


class PythonNotAvailable(UserError):
    """A repo asks for a Python version that is not installed on this machine."""

    def __init__(self, *, repo: str, requested: str, available: str, source: str) -> None:
        super().__init__(
            f"repo {repo!r} asks for Python {requested} (from {source}), "
            f"but this machine has Python {available}",
            hint="install that Python, or set `python:` for the repo in workspace.yaml "
            "to a version this machine has",
        )
        self.repo = repo
        self.requested = requested
        self.available = available


class UnknownStepError(UserError):
    """A step name given on the command line or in the API is not in the manifest."""

    def __init__(self, step: str, *, known: Sequence[str]) -> None:
        from mlrecipes.core.suggest import did_you_mean

        super().__init__(f"unknown step {step!r}", hint=did_you_mean(step, known))
        self.step = step


class OverrideError(UserError):
    """A ``-S KEY=VALUE`` override that is malformed or names nothing."""

    def __init__(self, message: str, *, key: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.key = key


class SearchSpaceError(OverrideError):
    """A ``tune -S`` item that does not parse: ``column`` (1-based) points at the problem."""

    def __init__(
        self, message: str, *, override: str, column: int, hint: str | None = None
    ) -> None:
        caret = " " * (column - 1) + "^"
        text = f"-S {override!r}: column {column}: {message}\n    {override}\n    {caret}"
        super().__init__(text, key=override.partition("=")[0].strip(), hint=hint)
        self.override = override
        self.column = column
        self.reason = message


class MissingExtra(UserError):
    """An optional dependency (``extra``, e.g. ``tune``) is not installed."""

    def __init__(self, message: str, *, extra: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.extra = extra


class TrackingError(UserError):
    """The MLflow tracking store cannot be reached or used."""

    def __init__(self, message: str, *, uri: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.uri = uri


class StoreError(UserError):
    """The step store lacks an entry that was needed (e.g. by ``step run``)."""

    def __init__(self, message: str, *, step: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.step = step


class ReproduceError(UserError):
    """A logged run cannot be reproduced (dirty source, missing artifacts, gone commit)."""

    def __init__(self, message: str, *, run_id: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.run_id = run_id


class StepFailed(MlrecipesError):
    """One or more steps failed; ``failures`` maps step name to a short reason
    (``(repo@sha): last lines of its error``)."""

    def __init__(self, failures: dict[str, str], *, hint: str | None = None) -> None:
        # Each name once: the progress lines above already showed every failed step.
        if len(failures) == 1:
            ((name, why),) = failures.items()
            message = f"step {name} failed {why}"
        else:
            body = "\n".join(f"  {name} {why}" for name, why in sorted(failures.items()))
            message = f"{len(failures)} steps failed:\n{body}"
        super().__init__(message, hint=hint)
        self.failures = failures


class DriftDetected(MlrecipesError):
    """``reproduce`` got metrics outside the tolerance."""

    def __init__(self, message: str, *, run_id: str) -> None:
        super().__init__(message)
        self.run_id = run_id


class TeamStoreError(MlrecipesError):
    """A team store upload or download could not be done (``reason`` says why).

    Caught by the run: an upload that fails leaves the run unshared, a download
    that fails makes the step run locally. The message never holds credentials.
    """

    def __init__(self, message: str, *, step: str) -> None:
        super().__init__(message)
        self.step = step
