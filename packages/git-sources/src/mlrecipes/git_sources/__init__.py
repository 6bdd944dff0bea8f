"""Pinned git checkouts from a shared mirror cache.

Turns ``(url, rev, subdir)`` into a checkout at an exact commit: a bare mirror
per remote under the cache dir (no network when the commit is already there),
checkouts materialized atomically, parallel syncs, file locks against
concurrent workspaces, and credentials that never leave memory. It knows
nothing of steps, manifests, uv or MLflow.
"""

from mlrecipes.git_sources.checkout import checkout_state
from mlrecipes.git_sources.commits import SHORT_LENGTH, short_commit
from mlrecipes.git_sources.errors import (
    CheckoutInUseError,
    CheckoutMovedError,
    DirtyCheckoutError,
    DiskFaultError,
    GitSourceError,
    NotARepositoryError,
    RemoteError,
    RevNotFoundError,
    SubdirMissingError,
    UnsafeSourceError,
)
from mlrecipes.git_sources.in_use import hold_checkouts
from mlrecipes.git_sources.mirror import default_cache_dir, mirrors_dir
from mlrecipes.git_sources.shareable import (
    FolderRepo,
    ShareableUrl,
    fetch_url,
    folder_repo,
    shareable_url,
)
from mlrecipes.git_sources.spec import Resolved, SourceEvent, SourceSpec, check_safe
from mlrecipes.git_sources.sync import resolve_rev, sync_sources
from mlrecipes.git_sources.trees import folder_of, folder_tree
from mlrecipes.git_sources.upstream import RemoteHead, commits_between, mirror_head, remote_heads
from mlrecipes.git_sources.urls import normalize_url, redact_text, redact_url
from mlrecipes.git_sources.worktree import dev_source

__all__ = [
    "SHORT_LENGTH",
    "CheckoutInUseError",
    "CheckoutMovedError",
    "DirtyCheckoutError",
    "DiskFaultError",
    "FolderRepo",
    "GitSourceError",
    "NotARepositoryError",
    "RemoteError",
    "RemoteHead",
    "Resolved",
    "RevNotFoundError",
    "ShareableUrl",
    "SourceEvent",
    "SourceSpec",
    "SubdirMissingError",
    "UnsafeSourceError",
    "check_safe",
    "checkout_state",
    "commits_between",
    "default_cache_dir",
    "dev_source",
    "fetch_url",
    "folder_of",
    "folder_repo",
    "folder_tree",
    "hold_checkouts",
    "mirror_head",
    "mirrors_dir",
    "normalize_url",
    "redact_text",
    "redact_url",
    "remote_heads",
    "resolve_rev",
    "shareable_url",
    "short_commit",
    "sync_sources",
]
