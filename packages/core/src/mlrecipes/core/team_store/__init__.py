"""The team store: step outputs shared through the MLflow server's artifact store.

After a step executes, its store entry is uploaded to its MLflow step run
(:mod:`.publish`, as a post-run job of the tracker process) with a checksum manifest
(:mod:`.manifest`); before a step runs on another machine, a complete upload of
its fingerprint is looked up, downloaded, verified and published into the
local store (:mod:`.fetch`). :mod:`.config` says when sharing is on;
:mod:`.session` is what ``run`` uses. ``import`` of this package does not
import MLflow.
"""

from mlrecipes.core.team_store.config import ShareSettings, share_settings
from mlrecipes.core.team_store.fetch import FetchResult, RemoteEntry, fetch_entry, find_remote_entry
from mlrecipes.core.team_store.manifest import FileEntry, ManifestProblem, OutputsManifest
from mlrecipes.core.team_store.publish import PublishJob, PublishResult, publish_outputs
from mlrecipes.core.team_store.session import TeamStore

__all__ = [
    "FetchResult",
    "FileEntry",
    "ManifestProblem",
    "OutputsManifest",
    "PublishJob",
    "PublishResult",
    "RemoteEntry",
    "ShareSettings",
    "TeamStore",
    "fetch_entry",
    "find_remote_entry",
    "publish_outputs",
    "share_settings",
]
