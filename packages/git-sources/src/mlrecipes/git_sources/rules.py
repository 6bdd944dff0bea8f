"""The one rule for what a rev and a URL may be (pure: no git, no I/O).

The manifest validator calls these predicates so that a bad value is reported
at ``validate`` with its location; :func:`mlrecipes.git_sources.check_safe`
calls the same ones right before git runs (for ``!env`` URLs, whose value is
only known then). Each returns ``None`` when the value is fine, else a short
reason to follow the value's name ("rev 'x' ...").
"""

from __future__ import annotations

import re

from mlrecipes.git_sources.urls import SCHEME_RE, classify, userinfo_of

# A branch, tag or (short) SHA: no refspec ':', no rev syntax (~ ^ @{ ..), no globs.
_REV_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# git's `transport::address` syntax (ext::, fd::) runs commands; a manifest has no use for it.
_REMOTE_HELPER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
# Characters that end the userinfo of a URL (RFC 3986): inside a token they must be
# percent-encoded, else every parser (Python's, curl's, git's) reads another host.
_USERINFO_ENDS = "/?#"

REV_HINT = "a rev is a branch, tag or commit SHA: no '~', '^', '@{', ':', '..', spaces or globs"
URL_HINT = "use a local path, file://, git://, http(s)://, ssh:// or user@host:path"


def rev_problem(rev: str) -> str | None:
    """Why ``rev`` is not a plain branch, tag or commit name, or None."""
    if not rev:
        return "is empty"
    if rev.startswith("-"):
        return "must not start with '-'"
    if _CONTROL_RE.search(rev) or any(c.isspace() for c in rev):
        return "must not contain spaces or control characters"
    if ".." in rev:
        return "must not contain '..'"
    if not _REV_RE.match(rev) or "//" in rev or rev.endswith(("/", ".", ".lock")):
        return "is not a plain branch, tag or commit name (rev expressions are not pinned names)"
    return None


def url_problem(url: str) -> str | None:
    """Why git must not be given ``url``, or None. Never quotes the URL (it may hold a token)."""
    if not url.strip():
        return "is empty"
    if url != url.strip():
        return "must not start or end with spaces"
    if url.startswith("-"):
        return "must not start with '-'"
    if _CONTROL_RE.search(url):
        return "must not contain control characters"
    if _REMOTE_HELPER_RE.match(url):
        return "must not use a 'transport::' remote helper (such as ext:: or fd::)"
    if classify(url) is None:
        return "uses an unsupported transport"
    userinfo = userinfo_of(url) if SCHEME_RE.match(url) else None
    if userinfo and any(c in userinfo for c in _USERINFO_ENDS):
        return (
            "holds credentials with '/', '?' or '#': percent-encode them "
            "(%2F, %3F, %23; an '@' in a path is %40)"
        )
    return None
