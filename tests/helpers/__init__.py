"""Helpers shared by every test suite: real git repos, workspaces, MLflow stores and servers."""
