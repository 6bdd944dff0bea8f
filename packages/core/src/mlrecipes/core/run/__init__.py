"""The run layer: executing a plan and recording it (``mlrecipes run``).

Data flows down: :func:`~mlrecipes.core.run.pipeline.run_pipeline` is handed
the manifest, the workspace paths and a sync function, never the
``Workspace``; the tracker and the executor are built by
:mod:`~mlrecipes.core.run.compose` and passed in, so tests swap them.
"""
