"""``mlrecipes schema``: the manifest's JSON Schema, for editors."""

from __future__ import annotations

import json

import typer

from mlrecipes.core import manifest_json_schema


def schema() -> None:
    """Print the JSON Schema of workspace.yaml (point your editor's YAML plugin at it)."""
    typer.echo(json.dumps(manifest_json_schema(), indent=2, sort_keys=True))
