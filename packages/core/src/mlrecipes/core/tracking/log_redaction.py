"""A text stream that redacts credentials line by line, for the logs mlrecipes writes.

MLflow writes the tracking URI it was given into its own output ("View run ...
at: http://alice:TOKEN@host/...", ``MlflowException: API request to ...``);
in a process whose stdout and stderr go to a file (the tracker process and its
``.mlrecipes/logs/tracker.log``), :func:`redact_process_output` makes both
streams a :class:`RedactingStream`, so nothing Python writes there (``print``,
``sys.stdout.write``, logging handlers, tracebacks) reaches the file with a
credential in it. git_sources owns the redaction rule.
"""

from __future__ import annotations

import io
import sys
from typing import TextIO

from mlrecipes.git_sources.urls import credential_pieces, redact_text


class RedactingStream(io.TextIOBase):
    """Writes whole lines to ``target`` through :func:`redact_text`.

    A partial line waits for its end (a URL cut between two writes would
    otherwise pass in halves); :meth:`close` writes what is left.
    """

    def __init__(self, target: TextIO, secrets: tuple[str, ...] = ()) -> None:
        self._target = target
        self._secrets = secrets
        self._pending = ""

    def add_url_credentials(self, url: str) -> None:
        """Also remove each piece of ``url``'s userinfo wherever it appears alone."""
        self._secrets = (*self._secrets, *credential_pieces(url))

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        if lines:
            self._target.write(redact_text("\n".join(lines) + "\n", self._secrets))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def close(self) -> None:
        if self._pending:
            self._target.write(redact_text(self._pending, self._secrets))
            self._pending = ""
        self._target.flush()
        super().close()

    def fileno(self) -> int:
        return self._target.fileno()


def redact_process_output() -> RedactingStream:
    """Make this process's ``sys.stdout`` and ``sys.stderr`` one redacting stream to stderr."""
    stream = RedactingStream(sys.__stderr__ or sys.stderr)
    sys.stdout = sys.stderr = stream
    return stream
