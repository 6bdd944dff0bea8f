"""The sync layer: checkouts (git_sources), uv environments (envs) and ``workspace.lock``.

``workspace sync``, ``workspace update`` and ``workspace status`` live here; the
layers above (plan, run) are handed a :class:`~mlrecipes.core.sync.workspace_sync.SyncResult`.
"""
