"""The plan layer: which steps of which variants run, with which fingerprint, and why.

Planning reads the manifest, the sync result and the store; it runs nothing.
"""
