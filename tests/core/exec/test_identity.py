"""A step's identity digests and explains itself from one value (issue #23)."""

from __future__ import annotations

from typing import Any

import pytest

from mlrecipes.core.fingerprint import step_fingerprint
from mlrecipes.core.plan.explain import EXPLAINERS, explain_change
from mlrecipes.core.plan.identity import HASHED, StepIdentity

BASE: dict[str, Any] = {
    "fn": "feats:pkg.hello.run",
    "code": "feats@" + "a" * 40,
    "commit": "feats@" + "1" * 40,
    "dirty": False,
    "env": "e" * 64,
    "params": {"lr": 0.1},
    "inputs": {"raw": "file:" + "f" * 64},
    "outputs": {"out": "out/o.txt"},
    "uses": {},
    "packages": {"six": "1.16.0"},
    "project": "feats:",
    "env_without_code": "c" * 64,
}
CHANGED: dict[str, Any] = {
    "fn": "feats:pkg.hello.other",
    "code": "feats@" + "b" * 40,
    "env": "d" * 64,
    "params": {"lr": 0.2},
    "inputs": {"raw": "file:" + "0" * 64},
    "outputs": {"out": "out/p.txt"},
}


def test_the_fingerprint_is_the_golden_step_fingerprint() -> None:
    assert StepIdentity(BASE).fingerprint == step_fingerprint(
        fn=BASE["fn"],
        code_tree="a" * 40,
        env_hash=BASE["env"],
        params={"params": BASE["params"], "outputs": BASE["outputs"]},
        inputs=BASE["inputs"],
    )


@pytest.mark.parametrize("field", HASHED)
def test_each_hashed_field_changes_the_digest_and_is_explained(field: str) -> None:
    now = {**BASE, field: CHANGED[field]}
    assert StepIdentity(now).fingerprint != StepIdentity(BASE).fingerprint
    assert explain_change(BASE, now)


@pytest.mark.parametrize("field", sorted(set(BASE) - set(HASHED)))
def test_labels_neither_digest_nor_explain(field: str) -> None:
    now = {**BASE, field: "something else"}
    assert StepIdentity(now).fingerprint == StepIdentity(BASE).fingerprint
    assert explain_change(BASE, now) == ()


def test_hashed_fields_are_exactly_the_explained_ones() -> None:
    assert set(HASHED) == set(EXPLAINERS) == set(CHANGED)


def test_the_key_without_code_ignores_trees_but_not_the_rest() -> None:
    key = StepIdentity(BASE).code_free_key
    assert (
        StepIdentity({**BASE, "code": CHANGED["code"], "env": CHANGED["env"]}).code_free_key == key
    )
    for field in ("fn", "params", "inputs", "outputs", "project", "env_without_code"):
        assert StepIdentity({**BASE, field: "x"}).code_free_key != key, field


def test_the_environment_without_code_drops_only_trees_imported_in_place() -> None:
    from mlrecipes.core.sync.env_identity import EnvIdentity

    def identity(tree: str, *, editable: bool = True, six: str = "1.16.0") -> EnvIdentity:
        packages = (
            {"name": "six", "version": six, "source": "index"},
            {"name": "lib", "version": "0.1", "source": "path", "editable": editable,
             "repo": "lib", "folder": ".", "tree": tree, "path": "/abs/lib"},
        )  # fmt: skip
        return EnvIdentity(digest=tree, packages=packages)

    # An editable install of a checkout is read in place: its tree is the record's job.
    assert identity("a").without_checkout_code() == identity("b").without_checkout_code()
    # A copy in site-packages is not observed in the checkout: its tree still counts.
    copied = identity("a", editable=False).without_checkout_code()
    assert copied != identity("b", editable=False).without_checkout_code()
    # Third-party packages stay in the identity.
    assert (
        identity("a").without_checkout_code() != identity("a", six="1.17.0").without_checkout_code()
    )


def test_a_record_names_the_changed_file_even_when_only_a_used_repo_moved() -> None:
    from mlrecipes.core.plan.explain import nearest_reasons

    before = {**BASE, "uses": {"lib": {"commit": "1" * 40, "tree": "2" * 40}}}
    now = {**BASE, "env": "d" * 64, "uses": {"lib": {"commit": "3" * 40, "tree": "4" * 40}}}
    assert nearest_reasons(now, [before], code_note="lib/tools.py", code_files=True) == (
        "used repo changed: lib@1111111 -> lib@3333333: lib/tools.py",
    )
    # A tree-rule note details the code line and adds none.
    moved = {**now, "code": CHANGED["code"]}
    reasons = nearest_reasons(moved, [before], code_note="tree rule: x")
    assert reasons[0].startswith("code changed: feats@") and reasons[0].endswith("(tree rule: x)")
    assert nearest_reasons(now, [before], code_note="tree rule: x") == reasons[1:]
