"""A JSON Schema (draft 2020-12) of ``workspace.yaml`` for editors.

JSON Schema cannot express YAML tags: in this view a tagged value (``!path
raw/x``, ``!out step.name``, ``!param seed``, ``!env NAME``) is the plain string
after its tag. Editors such as VS Code's YAML extension validate tagged values
the same way once the tags are declared as scalars (``yaml.customTags``).
"""

from __future__ import annotations

from typing import Any

from mlrecipes.core.manifest._build import EXECUTOR_KINDS
from mlrecipes.core.manifest._formats import MEMORY_PATTERN, NAME_PATTERN, PYTHON_PATTERN
from mlrecipes.core.manifest.model import RAY_STORAGES, SHARE_MODES, SUPPORTED_VERSIONS

SCHEMA_ID = "https://mlrecipes.dev/schemas/workspace.schema.json"
_KWARG = r"^[A-Za-z_][A-Za-z0-9_]*$"


_CACHE = {
    "type": "object",
    "description": "How the cache identifies a step's code.",
    "additionalProperties": False,
    "properties": {
        "code": {
            "enum": ["files", "tree"],
            "description": "files (default): a commit keeps the step cached when no file "
            "of the checkouts it read last time (recorded while it ran) changed; tree: any "
            "commit to its repo's folder reruns it (for code that reads files unobserved).",
        }
    },
}


def _obj(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": properties,
        "additionalProperties": False,
        **extra,
    }


def _named(description: str, value: dict[str, Any], pattern: str = NAME_PATTERN) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "propertyNames": {"pattern": pattern},
        "additionalProperties": value,
    }


def _text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _defs() -> dict[str, Any]:
    number = {"type": "number", "minimum": 0}
    return {
        "value": {
            "description": "A parameter: a YAML scalar, list or mapping; `!param NAME`, "
            "`!env NAME[:default]` or `!secret TEXT` (a string in this view; `!env` and "
            "`!secret` values are masked wherever params are shown or stored).",
            "type": ["string", "number", "integer", "boolean", "null", "array", "object"],
            "items": {"$ref": "#/$defs/value"},
            "additionalProperties": {"$ref": "#/$defs/value"},
        },
        "repo": _obj(
            "A git repository (or a package of a monorepo) pinned by `rev`.",
            {
                "url": _text(
                    "https, ssh, file:// URL or a local path (relative to the "
                    'manifest); may be `!env "...${TOKEN}..."`.',
                    pattern="^(?!-)",
                ),
                "rev": _text(
                    "Branch, tag or (short) commit SHA; the lock pins the commit.",
                    pattern=r"^(?!-)(?!.*\.\.)[^\s]+$",
                ),
                "subdir": _text("Folder of the package inside the repository (monorepos)."),
                "python": _text(
                    'Python version of the repo\'s environment, e.g. "3.11".',
                    pattern=PYTHON_PATTERN,
                ),
                "uses": {
                    "type": "array",
                    "description": "Repos of this workspace whose code this repo imports: "
                    "their locked checkouts are installed into its environment.",
                    "items": {"type": "string", "pattern": NAME_PATTERN},
                    "uniqueItems": True,
                },
                "cache": _CACHE,
            },
            required=["url", "rev"],
        ),
        "step": _obj(
            "A step: one call of a Python function in its repo's environment.",
            {
                "fn": _text(
                    "The function, `repo:module.func` (the module may be dotted).",
                    pattern=r"^[A-Za-z_][A-Za-z0-9_-]*:[A-Za-z_][\w.]*\.[A-Za-z_]\w*$",
                ),
                "params": _named(
                    "Keyword arguments with values (`!param`, `!env` allowed).",
                    {"$ref": "#/$defs/value"},
                    _KWARG,
                ),
                "deps": _named(
                    "Inputs: `!path ROOT/rel` (a file) or `!out STEP.OUTPUT`.",
                    {"type": "string"},
                    _KWARG,
                ),
                "outs": _named(
                    "Outputs: `!path ROOT/rel` (a declared place) or a relative path "
                    "kept in the step's store entry only.",
                    {"type": "string"},
                    _KWARG,
                ),
                "resources": _obj(
                    "What the step needs from an executor that schedules resources (Ray).",
                    {
                        "cpus": {**number, "description": "CPU cores."},
                        "gpus": {**number, "description": "GPUs."},
                        "custom": {
                            "type": "object",
                            "description": "Ray custom resources by name (`ray start "
                            "--resources`), e.g. `{sandbox: 1}`.",
                            "additionalProperties": number,
                        },
                        "memory": {
                            "description": 'Bytes, or a size like "4GB" or "512MiB".',
                            "oneOf": [
                                {"type": "integer", "minimum": 0},
                                {"type": "string", "pattern": MEMORY_PATTERN},
                            ],
                        },
                    },
                ),
                "cache": _CACHE,
            },
            required=["fn"],
        ),
    }


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema of the manifest (a fresh dict on each call)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "mlrecipes workspace manifest (workspace.yaml)",
        "description": "Pins the repositories of a pipeline and declares its steps. YAML tags "
        "(!path, !out, !param, !env, !secret) cannot be expressed in JSON Schema: in this schema a "
        "tagged value is the plain string after its tag.",
        "type": "object",
        "additionalProperties": False,
        "patternProperties": {"^x-": {"description": "Ignored: a place for YAML anchors."}},
        "required": ["version", "name"],
        "properties": {
            "version": {
                "description": "Manifest format version.",
                "enum": list(SUPPORTED_VERSIONS),
            },
            "name": _text("Workspace name; the default MLflow experiment.", minLength=1),
            "mlflow": _obj(
                "MLflow tracking.",
                {
                    "tracking_uri": _text(
                        "Tracking URI (may be `!env`); default: the embedded "
                        "sqlite store under .mlrecipes/."
                    ),
                    "experiment": _text("Experiment name; default: `name`."),
                },
            ),
            "paths": _named(
                "Named roots for `!path`, relative to the manifest's folder and inside it.",
                _text("A relative folder.", pattern=r"^(?![/~])"),
            ),
            "params": _named(
                "Global parameters, referenced with `!param NAME`.", {"$ref": "#/$defs/value"}
            ),
            "repos": _named("Repositories by name.", {"$ref": "#/$defs/repo"}),
            "steps": _named(
                "Steps by name; `!out` dependencies make the DAG.", {"$ref": "#/$defs/step"}
            ),
            "executor": _obj(
                "Where steps run.",
                {
                    "kind": {
                        "description": "`local` (subprocesses) or `ray`.",
                        "enum": list(EXECUTOR_KINDS),
                    },
                    "address": _text("Ray cluster address, e.g. `auto`."),
                    "storage": {
                        "description": "How Ray nodes get code and data: `shared` (every "
                        "node mounts the workspace folder) or `store` (nodes check out the "
                        "locked commits, build environments and move data through the team "
                        "store).",
                        "enum": list(RAY_STORAGES),
                    },
                },
            ),
            "store": _obj(
                "The step store; with `share`, a team store through MLflow's artifacts.",
                {
                    "share": {
                        "description": "Share step outputs through the MLflow artifact "
                        "store: `auto` (on when the tracking URI is an http(s) server), "
                        "`on`, or `off` (YAML 1.1 reads a bare on/off as true/false: "
                        "the same).",
                        "enum": [*SHARE_MODES, True, False],
                    },
                    "max_size": {
                        "description": "Largest outputs of one step that are uploaded: "
                        'bytes, or a size like "1GB" (the default) or "500MiB".',
                        "oneOf": [
                            {"type": "integer", "minimum": 0},
                            {"type": "string", "pattern": MEMORY_PATTERN},
                        ],
                    },
                },
            ),
        },
        "$defs": _defs(),
    }
