"""The one place text is made safe for a terminal: credentials out, control characters escaped.

Everything the CLI prints that it did not write itself (step output, error
messages, git's and MLflow's words, manifest snippets, tracebacks) goes through
:func:`clean`: URL credentials are redacted (git_sources owns that rule) and
control characters, escape sequences, bidi overrides and lone surrogates are
shown escaped (``\\x1b``), so a step cannot move the cursor, retitle the window
or hide text. Newlines and tabs stay.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from typing import Any, TypeVar

from rich.markup import escape as _markup_escape

from mlrecipes.git_sources.urls import redact_text

_E = TypeVar("_E")
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: str) -> str:
    """``text`` without URL credentials and with unsafe characters escaped."""
    return _UNSAFE.sub(_escaped, redact_text(text))


def escape(text: str) -> str:
    """:func:`clean`, then rich markup escaped: for text inside a markup string."""
    return _markup_escape(clean(text))


def clean_event(event: _E) -> _E:
    """``event`` (a core event dataclass) with every text in it cleaned.

    The one boundary for what steps and stores report: a metric name, a log
    line or a message is cleaned here, once, before any renderer formats it.
    """
    if not dataclasses.is_dataclass(event) or isinstance(event, type):
        return event
    changes = {
        f.name: _clean_value(getattr(event, f.name)) for f in dataclasses.fields(event) if f.init
    }
    return dataclasses.replace(event, **changes)


def _clean_value(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, tuple):
        return tuple(_clean_value(item) for item in value)
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    if isinstance(value, Mapping):
        return {_clean_value(k): _clean_value(v) for k, v in value.items()}
    return value


def install_log_redaction() -> None:
    """Redact credentials from every log record (MLflow logs request URLs at debug level).

    A record factory rather than a handler filter: libraries add their own
    handlers (MLflow does at import), and a factory reaches all of them.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "mlrecipes_redacts", False):
        return

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: let logging report it as usual
            return record
        safe = clean(message)
        if safe != message:
            record.msg, record.args = safe, None
        return record

    factory.mlrecipes_redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
