"""When the team store is on, and what a run may share.

``store.share: auto`` (the default) turns sharing on when the tracking URI is an
``http(s)`` server: a team's shared store. A local sqlite store is one person's,
and a file store has nobody to share with. ``on`` forces it (for example a
database and an artifact root on storage the team mounts), ``off`` and
``--no-share`` turn it off.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from mlrecipes.core.manifest import StoreConfig

SERVER_SCHEMES = frozenset({"http", "https"})
# Artifact URIs that every machine of a team can reach. A plain path (or file:)
# handed out by a server is a folder on the server's own disk: an `mlflow server`
# started without --serve-artifacts.
_LOCAL_SCHEMES = frozenset({"", "file"})


@dataclass(frozen=True)
class ShareSettings:
    """The resolved settings of one run: ``max_size`` in bytes, ``strict`` for ``on``."""

    tracking_uri: str
    max_size: int
    strict: bool


def share_settings(
    config: StoreConfig, tracking_uri: str, *, enabled: bool
) -> ShareSettings | None:
    """The team store settings of a run, or None when it does not share."""
    if not enabled or config.share == "off":
        return None
    server = urlsplit(tracking_uri).scheme in SERVER_SCHEMES
    if config.share == "auto" and not server:
        return None
    return ShareSettings(tracking_uri, config.max_size, strict=config.share == "on")


def unreachable_artifacts(settings: ShareSettings, artifact_uri: str) -> bool:
    """True when a server hands out artifact locations only its own machine can use."""
    if settings.strict:
        return False  # `share: on`: the user says the location is shared
    server = urlsplit(settings.tracking_uri).scheme in SERVER_SCHEMES
    return server and urlsplit(artifact_uri).scheme.lower() in _LOCAL_SCHEMES


def human_size(size: float) -> str:
    """``1.2 GB``, ``512 KB``: decimal units, as ``max_size: 1GB`` means."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
