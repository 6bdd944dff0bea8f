"""The one masked view of step params (issue 16, item 3), unit-level."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlrecipes.core.manifest import load_manifest, public_params, resolve_params
from mlrecipes.core.manifest.redact import redact_secrets
from mlrecipes.core.plan.explain import explain_change

MANIFEST = """\
version: 1
name: t
params: {key: !env API_KEY}
repos: {r: {url: ../r, rev: main}}
steps:
  s:
    fn: r:m.f
    params:
      direct: !env API_KEY
      via_global: !param key
      nested: {urls: [!env "https://u:${API_KEY}@h/x", plain]}
      word: !secret hunter2
      lr: 0.1
"""
ENV = {"API_KEY": "tok/en#1"}


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "workspace.yaml"
    path.write_text(MANIFEST)
    return path


def test_clear_public_and_fingerprint_views(tmp_path: Path) -> None:
    manifest = load_manifest(_manifest(tmp_path))
    clear = resolve_params(manifest, "s", environ=ENV)
    assert clear["direct"] == "tok/en#1" and clear["word"] == "hunter2"
    assert clear["nested"] == {"urls": ["https://u:tok/en#1@h/x", "plain"]}
    shown = public_params(manifest, "s", environ=ENV)
    assert shown == {
        "direct": "<from env API_KEY>",
        "via_global": "<from env API_KEY>",
        "nested": {"urls": ["<from env API_KEY>", "plain"]},
        "word": "<secret>",
        "lr": 0.1,
    }
    hashed = resolve_params(manifest, "s", environ=ENV, view="fingerprint")
    other = resolve_params(manifest, "s", environ={"API_KEY": "other"}, view="fingerprint")
    assert hashed != other  # a new token reruns the step
    assert "tok/en#1" not in repr(hashed) and "hunter2" not in repr(hashed)


def test_dry_run_reasons_never_show_a_secret_even_from_an_old_record(tmp_path: Path) -> None:
    manifest = load_manifest(_manifest(tmp_path))
    now: dict[str, Any] = {
        "fn": "r:m.f", "code": "r@1", "env": "e", "inputs": {}, "outputs": {},
        "params": resolve_params(manifest, "s", environ=ENV, view="fingerprint"),
    }  # fmt: skip
    before = {**now, "params": {**now["params"], "direct": "OLD-CLEAR-TOKEN"}}
    reasons = explain_change(before, now)
    assert reasons == ("params changed: direct: <from env API_KEY> (value changed)",)


def test_the_logged_manifest_masks_secret_values() -> None:
    text = 'a: !secret "hunter2"\nb: !secret |\n  multi\n  line\nc: 1\n'
    assert redact_secrets(text) == 'a: !secret "<secret>"\nb: !secret "<secret>"\nc: 1\n'
    assert redact_secrets("a: 1\n") is None


def test_an_override_of_a_secret_stays_a_secret(tmp_path: Path) -> None:
    """Issue 25 item 14: `-S` on a `!secret`/`!env` value reaches the step, and only it."""
    from mlrecipes.core.manifest import apply_overrides, public_overrides

    manifest = load_manifest(_manifest(tmp_path))
    overrides = {"key": "new/token#2", "s.word": "hunter3", "s.via_global": "direct-3", "s.lr": "1"}
    applied = apply_overrides(manifest, overrides)
    clear = resolve_params(applied, "s", environ=ENV)
    assert (clear["via_global"], clear["word"], clear["lr"]) == ("direct-3", "hunter3", 1)
    assert resolve_params(applied, "s", environ=ENV, view="clear")["direct"] == "tok/en#1"
    shown = public_params(applied, "s", environ=ENV)
    assert (shown["via_global"], shown["word"], shown["lr"]) == ("<secret>", "<secret>", 1)
    assert public_overrides(manifest, overrides) == {
        "key": "<secret>",
        "s.word": "<secret>",
        "s.via_global": "<secret>",
        "s.lr": "1",
    }
