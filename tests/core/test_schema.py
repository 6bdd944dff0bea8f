"""The JSON Schema accepts valid manifests (tags read as strings) and rejects broken ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from mlrecipes.core.manifest import manifest_json_schema
from mlrecipes.core.manifest._build import (
    EXECUTOR_KEYS,
    MLFLOW_KEYS,
    REPO_KEYS,
    STORE_KEYS,
    TOP_KEYS,
)
from mlrecipes.core.manifest._steps import RESOURCE_KEYS, STEP_KEYS

MANIFESTS = Path(__file__).parent / "manifests"


class _TagsAsStrings(yaml.SafeLoader):
    """What an editor sees: every tagged scalar is its plain string."""


def _as_string(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("!path", "!out", "!param", "!env"):
    _TagsAsStrings.add_constructor(_tag, _as_string)
# Dates stay text in manifests, so the editor view keeps them as text too.
_TagsAsStrings.add_constructor("tag:yaml.org,2002:timestamp", _as_string)


def _load(text: str) -> Any:
    return yaml.load(text, Loader=_TagsAsStrings)  # noqa: S506 - a SafeLoader subclass


def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(manifest_json_schema())


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = manifest_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "tagged value is the plain string" in schema["description"]


def test_schema_knows_the_same_keys_as_the_loader() -> None:
    schema = manifest_json_schema()
    defs = schema["$defs"]
    assert set(schema["properties"]) == set(TOP_KEYS)
    assert set(defs["repo"]["properties"]) == set(REPO_KEYS)
    assert set(defs["step"]["properties"]) == set(STEP_KEYS)
    assert set(defs["step"]["properties"]["resources"]["properties"]) == set(RESOURCE_KEYS)
    assert set(schema["properties"]["mlflow"]["properties"]) == set(MLFLOW_KEYS)
    assert set(schema["properties"]["executor"]["properties"]) == set(EXECUTOR_KEYS)
    assert set(schema["properties"]["store"]["properties"]) == set(STORE_KEYS)


def test_every_property_has_a_description() -> None:
    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                assert "description" in sub or "$ref" in sub, f"{where}.{name}"
            for key, sub in node.items():
                walk(sub, f"{where}.{key}")

    walk(manifest_json_schema(), "schema")


def test_valid_full_manifest_validates() -> None:
    document = _load((MANIFESTS / "valid_full.yaml").read_text())
    errors = [e.message for e in _validator().iter_errors(document)]
    assert errors == []


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("version: 1\nname: x\nstpes: {}\n", "'stpes' does not match any of the regexes"),
        ("version: 2\nname: x\n", "2 is not one of [1]"),
        ("name: x\n", "'version' is a required property"),
        ("version: 1\nname: x\nsteps: {a: {params: {}}}\n", "'fn' is a required property"),
        ("version: 1\nname: x\nsteps: {a: {fn: nope}}\n", "does not match"),
        ("version: 1\nname: x\nrepos: {r: {url: ../r}}\n", "'rev' is a required property"),
        ("version: 1\nname: x\nrepos: {r: {url: ../r, rev: -x}}\n", "does not match"),
        ("version: 1\nname: x\nexecutor: {kind: slurm}\n", "'slurm' is not one of"),
        ("version: 1\nname: x\nstore: {share: always}\n", "'always' is not one of"),
        ("version: 1\nname: x\nsteps: {a: {fn: 'r:m.f', resources: {memory: lots}}}\n", "lots"),
        ("version: 1\nname: x\nsteps: {a: {fn: 'r:m.f', params: {class-x: 1}}}\n", "class-x"),
        ("version: 1\nname: x\nsteps: {a: {fn: 'r:m.f', cache: {code: all}}}\n", "'all' is not"),
    ],
)
def test_invalid_documents_fail(text: str, fragment: str) -> None:
    messages = [e.message for e in _validator().iter_errors(_load(text))]
    assert any(fragment in m for m in messages), messages
