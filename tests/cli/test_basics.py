"""The CLI over the manifest: validate, dag, schema, --version, error rendering."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from mlrecipes.cli.main import app

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "tests" / "core" / "manifests"
INVALID = sorted(MANIFESTS.glob("invalid_*.yaml"))


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    # In a checkout git says which commit the code is at (a wheel carries it, see
    # tests/e2e/test_install.py).
    head = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short=7", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    pattern = rf"mlrecipes \d+\.\d+\.\d+\S* \(commit {head}(, dirty)?, checkout\)\n"
    assert re.fullmatch(pattern, result.output), result.output


def test_example_validates() -> None:
    result = invoke("validate", "-f", str(REPO / "workspace.example.yaml"))
    assert result.exit_code == 0, result.output
    assert "3 steps" in result.output


def test_manifest_found_in_a_parent_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copy(MANIFESTS / "valid_full.yaml", tmp_path / "workspace.yaml")
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    result = invoke("validate")
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "workspace.yaml") in result.output


def test_no_manifest_anywhere_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("validate")
    assert result.exit_code == 1
    assert "no workspace.yaml" in result.output and "hint:" in result.output


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_every_invalid_manifest_exits_1_with_location_and_no_traceback(path: Path) -> None:
    result = invoke("validate", "-f", str(path))
    assert result.exit_code == 1, result.output
    assert re.search(rf"{re.escape(path.name)}:\d+:\d+: ", result.output), result.output
    assert "Traceback" not in result.output


def test_three_problems_reported_at_once() -> None:
    result = invoke("validate", "-f", str(MANIFESTS / "invalid_three_problems.yaml"))
    assert result.exit_code == 1
    assert "3 problems" in result.output
    lines = re.findall(r"invalid_three_problems\.yaml:(\d+):\d+:", result.output)
    assert len(set(lines)) == 3


def test_verbose_shows_the_traceback() -> None:
    result = invoke("-v", "validate", "-f", str(MANIFESTS / "invalid_three_problems.yaml"))
    assert result.exit_code == 1
    assert "Traceback" in result.output


def test_dag_mermaid_renders_the_edges() -> None:
    result = invoke("dag", "--format", "mermaid", "-f", str(REPO / "workspace.example.yaml"))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("flowchart")
    edges = [line for line in lines if "-->" in line]
    assert len(edges) == 3  # featurize->train, featurize->evaluate, train->evaluate


def test_dag_dot_and_text() -> None:
    dot = invoke("dag", "--format", "dot", "-f", str(REPO / "workspace.example.yaml"))
    assert dot.exit_code == 0 and dot.output.startswith("digraph")
    text = invoke("dag", "-f", str(REPO / "workspace.example.yaml"))
    assert text.exit_code == 0
    assert text.output.index("featurize") < text.output.index("evaluate")


def test_bad_option_is_a_usage_error() -> None:
    result = invoke("dag", "--format", "png")
    assert result.exit_code == 2


def test_schema_validates_the_example() -> None:
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.output)

    class _Strings(yaml.SafeLoader):
        pass

    def as_string(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        assert isinstance(node, yaml.ScalarNode)
        return loader.construct_scalar(node)

    for tag in ("!path", "!out", "!param", "!env"):
        _Strings.add_constructor(tag, as_string)
    document = yaml.load((REPO / "workspace.example.yaml").read_text(), Loader=_Strings)  # noqa: S506
    jsonschema.Draft202012Validator(schema).validate(document)
