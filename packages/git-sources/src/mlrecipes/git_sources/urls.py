"""Source URLs: classify, normalize (the mirror key) and redact credentials.

Accepted forms: a local path (relative ones are relative to the manifest's
folder), ``file://``, ``git://``, ``http(s)://`` (credentials inline or from a
credential helper), ``ssh://`` and scp-style ``user@host:org/repo.git``.

Redaction rules: over http(s) and git the whole userinfo goes (a "username" is
often a token); over ssh the user name is kept (``git@``) because ssh needs it
and it is no secret, but a password never survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

Kind = Literal["local", "file", "git", "http", "ssh"]

_SCHEMES: dict[str, Kind] = {
    "file": "file",
    "git": "git",
    "http": "http",
    "https": "http",
    "ssh": "ssh",
    "git+ssh": "ssh",
    "ssh+git": "ssh",
}
SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEME_RE = SCHEME_RE
# git's own rule: "host:path" is scp-like when a colon comes before any slash.
_SCP_RE = re.compile(r"^(?:(?P<user>[^@/]+)@)?(?P<host>[^/:@]+):(?P<path>.*)$")
# A URL's start in free text (git's stderr, exception text, a log line); where its
# userinfo ends is decided by :func:`_userinfo_end`, not by a regular expression.
_TEXT_SCHEME_RE = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)")
_URL_END = re.compile(r"[\s'\"<>`]")
# Credentials carried as a query parameter or ``name=value`` (pre-signed URLs, tokens).
_QUERY_RE = re.compile(
    r"\?[^\s'\"]*(?:signature|token|password|secret|credential|key)[^\s'\"]*", re.IGNORECASE
)
_SECRET_ASSIGN_RE = re.compile(r"(?i)\b(token|password|secret|signature|credential)=[^\s&'\"]+")
# user:secret@host: in scp-ish text.
_TEXT_SCP_RE = re.compile(r"(?<![\w/])[\w.+%-]+:[^@\s/'\"]+@(?=[\w.-]+:)")


@dataclass(frozen=True)
class Credentials:
    """Userinfo split from an http(s) URL; never persisted, never printed."""

    username: str
    password: str

    def __repr__(self) -> str:  # keeps secrets out of tracebacks and logs
        return "Credentials(<redacted>)"


def classify(url: str) -> Kind | None:
    """The transport of ``url``, or None for a scheme this package does not support."""
    match = _SCHEME_RE.match(url)
    if match:
        return _SCHEMES.get(match.group(1).lower())
    if _SCP_RE.match(url) and not url.startswith(("/", ".", "~")):
        return "ssh"
    return "local"


def userinfo_of(url: str) -> str | None:
    """The userinfo of a ``scheme://`` URL, or None (see :func:`_userinfo_end`)."""
    match = _SCHEME_RE.match(url)
    if not match:
        return None
    end = _userinfo_end(url[match.end() :], match.group(1))
    return url[match.end() : match.end() + end] if end is not None else None


def _userinfo_end(rest: str, scheme: str) -> int | None:
    """Where the userinfo of ``scheme://`` + ``rest`` ends (at an ``@``), or None.

    Not :func:`urllib.parse.urlsplit`'s netloc: a token holding an unencoded
    ``/``, ``#``, ``?`` or ``@`` would end its netloc early and leave the rest of
    the token in the "path" (or in a "port" that an error message then quotes),
    so the userinfo runs to the LAST ``@`` (over-redacting a path is harmless).
    Except in pip's ``git+https://host/repo.git@rev``: there an ``@`` after a path
    is a revision, so the userinfo ends at the first ``@`` with a credential
    before it (``user:secret``, or a bare token without ``/?#``) and a host after
    it; such a URL must percent-encode ``/?#@`` in its token (``validate`` asks
    the same of every source URL).
    """
    if rest.startswith("/"):  # file:///path, git+file:///path@rev: no authority at all
        return None
    if not scheme.lower().startswith("git+"):
        at = rest.rfind("@")
        return at if at >= 0 else None
    at = rest.find("@")
    while at > 0:
        user, colon, _ = rest[:at].partition(":")
        credential = not any(c in (user if colon else rest[:at]) for c in "/?#")
        host = re.match(r"[^/?#@]*", rest[at + 1 :])
        followed_by_host = host is not None and not rest[at + 1 + host.end() :].startswith("@")
        if credential and followed_by_host:
            return at
        at = rest.find("@", at + 1)
    return None


def redact_url(url: str) -> str:
    """``url`` without credentials: no userinfo over http(s)/git, no password over ssh."""
    match = _SCHEME_RE.match(url)
    if match:
        userinfo = userinfo_of(url)
        if userinfo is None:
            return url
        hostpart = url[match.end() + len(userinfo) + 1 :]
        user, has_password, _ = userinfo.partition(":")
        plain_user = not has_password and not any(c in user for c in "/?#")
        keep_user = classify(url) == "ssh" and plain_user
        return match.group(0) + (f"{user}@" if keep_user else "") + hostpart
    scp = _SCP_RE.match(url)
    if scp and classify(url) == "ssh" and scp.group("user"):
        user = scp.group("user").partition(":")[0]
        return f"{user}@{scp.group('host')}:{scp.group('path')}"
    return url


def redact_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """``text`` (git output, an error) with every URL's userinfo and each secret removed.

    A secret that is a URL also removes its userinfo and each part of it, raw
    and percent-decoded, wherever they appear alone (an error may quote a piece).
    """
    pieces: list[str] = []
    for secret in secrets:
        pieces += [secret, *_credential_pieces(secret)]
    for piece in sorted({p for p in pieces if len(p) >= 3}, key=len, reverse=True):
        text = text.replace(piece, "***")
    text = _without_userinfo(text)
    text = _SECRET_ASSIGN_RE.sub(r"\1=***", _QUERY_RE.sub("?***", text))
    return _TEXT_SCP_RE.sub("", text)


def _without_userinfo(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _TEXT_SCHEME_RE.finditer(text):
        if match.start() < pos:  # inside a URL already handled
            continue
        start = match.end()
        stop = _URL_END.search(text, start)
        rest = text[start : stop.start() if stop else len(text)]
        end = _userinfo_end(rest, match.group(1).removesuffix("://"))
        out.append(text[pos:start])
        pos = start + end + 1 if end is not None else start
    return "".join(out) + text[pos:]


def credential_pieces(url: str) -> tuple[str, ...]:
    """The userinfo of ``url`` and each piece of it, raw and percent-decoded.

    Give them to :func:`redact_text` as ``secrets`` to remove them wherever a
    library quotes them alone, while the rest of the URL stays readable.
    """
    return tuple(p for p in dict.fromkeys(_credential_pieces(url)) if p)


def _credential_pieces(url: str) -> list[str]:
    userinfo = userinfo_of(url)
    if not userinfo:
        return []
    parts = [userinfo, *userinfo.split(":", 1)]
    # The pieces a parser that stops at '/', '?' or '#' may quote (a "port", a "path").
    parts += [p for part in parts for p in re.split(r"[/?#]", part)]
    return parts + [unquote(p) for p in parts]


def split_credentials(url: str) -> tuple[str, Credentials | None]:
    """An http(s) URL without its userinfo, and the credentials it held (percent-decoded)."""
    if classify(url) != "http":
        return url, None
    userinfo = userinfo_of(url)
    if userinfo is None:
        return url, None
    username, _, password = userinfo.partition(":")
    creds = Credentials(unquote(username), unquote(password))
    return redact_url(url), creds


def local_path(url: str, base_dir: Path | None) -> Path | None:
    """The absolute folder a local or ``file://`` URL names, else None."""
    kind = classify(url)
    if kind == "file":
        return Path(unquote(urlsplit(url).path)).resolve()
    if kind == "local":
        path = Path(url).expanduser()
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        return path.resolve()
    return None


def normalize_url(url: str, base_dir: Path | None = None) -> str:
    """The mirror key of ``url``: no credentials, lowercase host, no trailing ``/`` or ``.git``.

    Local paths normalize to their resolved absolute path (``.git`` kept: two
    folders ``x`` and ``x.git`` may both exist).
    """
    path = local_path(url, base_dir)
    if path is not None:
        return str(path)
    match = _SCHEME_RE.match(url)
    if match:
        parts = urlsplit(redact_url(url))  # never parse a token: it may hold '/', '#', '?'
        scheme = _SCHEMES.get(parts.scheme.lower(), parts.scheme.lower())
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
        scheme_name = "https" if scheme == "http" and parts.scheme.lower() == "https" else scheme
        return f"{scheme_name}://{host}{port}/{_strip_path(parts.path)}"
    scp = _SCP_RE.match(url)
    if scp is None:  # classify() said ssh, so this cannot happen
        raise ValueError(f"not a URL: {redact_url(url)!r}")
    return f"ssh://{scp.group('host').lower()}/{_strip_path(scp.group('path'))}"


def _strip_path(path: str) -> str:
    path = path.strip("/")
    while path.endswith(".git") or path.endswith("/"):
        path = path.removesuffix(".git").rstrip("/")
    return path
