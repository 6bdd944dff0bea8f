"""StepGraph: order, closures, cycles and the three renderings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlrecipes.core.errors import UnknownStepError
from mlrecipes.core.manifest import FnRef, OutRef, StepSpec, StoreOut, load_manifest
from mlrecipes.core.manifest.graph import CycleError, StepGraph

FULL = Path(__file__).parent / "manifests" / "valid_full.yaml"


def _step(name: str, *reads: str) -> StepSpec:
    """A step reading output ``o`` of each step in ``reads``."""
    deps = {f"i{n}": OutRef(up, "o") for n, up in enumerate(reads)}
    return StepSpec(name, FnRef("r", "mod", name), {}, deps, {"o": StoreOut("o")})


def _graph(*steps: StepSpec) -> StepGraph:
    return StepGraph({s.name: s for s in steps})


# z and y only need a; b needs y and z; c needs b; lone stands alone.
DIAMOND = _graph(
    _step("c", "b"),
    _step("b", "z", "y"),
    _step("z", "a"),
    _step("y", "a"),
    _step("a"),
    _step("lone"),
)


def test_order_is_topological_with_ties_by_name() -> None:
    assert DIAMOND.order() == ["a", "lone", "y", "z", "b", "c"]
    # Insertion order does not matter.
    shuffled = _graph(*(DIAMOND.steps[n] for n in ["lone", "a", "b", "c", "y", "z"]))
    assert shuffled.order() == DIAMOND.order()


def test_upstream_closure() -> None:
    assert DIAMOND.upstream_closure(["b"]) == ["a", "y", "z", "b"]
    assert DIAMOND.upstream_closure(["y", "lone"]) == ["a", "lone", "y"]
    assert DIAMOND.upstream_closure([]) == []


def test_downstream_closure() -> None:
    assert DIAMOND.downstream_closure(["y"]) == ["y", "b", "c"]
    assert DIAMOND.downstream_closure(["a"]) == ["a", "y", "z", "b", "c"]


def test_unknown_step_has_did_you_mean() -> None:
    with pytest.raises(UnknownStepError) as info:
        DIAMOND.upstream_closure(["lnoe"])
    assert info.value.step == "lnoe"
    assert info.value.hint == "did you mean 'lone'?"
    with pytest.raises(UnknownStepError):
        DIAMOND.downstream_closure(["nope"])


def test_cycles_are_named() -> None:
    assert DIAMOND.find_cycle() is None
    graph = _graph(_step("a", "c"), _step("b", "a"), _step("c", "b"), _step("d", "d"), _step("e"))
    assert graph.cycles() == [["a", "b", "c", "a"], ["d", "d"]]
    assert graph.find_cycle() == ["a", "b", "c", "a"]
    with pytest.raises(CycleError, match=r"a -> b -> c -> a") as info:
        graph.order()
    assert info.value.cycle == ["a", "b", "c", "a"]


def test_cycles_take_a_shortest_way_back_and_long_chains_do_not_recurse() -> None:
    # a -> b -> a is shorter than a -> c -> d -> a; both are in one group.
    graph = _graph(_step("a", "b", "d"), _step("b", "a"), _step("c", "a"), _step("d", "c"))
    assert graph.cycles() == [["a", "b", "a"]]
    chain = _graph(*(_step(f"s{i:04d}", f"s{i - 1:04d}") for i in range(1, 3000)), _step("s0000"))
    assert chain.order()[:2] == ["s0000", "s0001"] and chain.cycles() == []


def test_layers_are_generations_sorted_by_name() -> None:
    assert DIAMOND.layers() == [["a", "lone"], ["y", "z"], ["b"], ["c"]]
    assert StepGraph({}).layers() == []
    with pytest.raises(CycleError):
        _graph(_step("a", "b"), _step("b", "a")).layers()


def test_edges_to_unknown_steps_are_ignored() -> None:
    """Validation reports them; the graph of a draft must still be buildable."""
    assert _graph(_step("a", "ghost")).order() == ["a"]


def test_from_manifest_and_text() -> None:
    graph = StepGraph.from_manifest(load_manifest(FULL))
    assert graph.order() == ["featurize", "lint", "train", "evaluate"]
    assert graph.to_text() == (
        "featurize  features:churn_features.build.make_features\n"
        "lint       private:checks.run\n"
        "train      models:churn_model.train.fit  <- featurize\n"
        "evaluate   models:churn_model.eval.score  <- featurize, train\n"
    )


def test_mermaid() -> None:
    graph = StepGraph.from_manifest(load_manifest(FULL))
    assert graph.to_mermaid() == (
        "flowchart TD\n"
        '    s0["evaluate<br/>models:churn_model.eval.score"]\n'
        '    s1["featurize<br/>features:churn_features.build.make_features"]\n'
        '    s2["lint<br/>private:checks.run"]\n'
        '    s3["train<br/>models:churn_model.train.fit"]\n'
        "    s1 -->|features, report| s0\n"
        "    s1 -->|features| s3\n"
        "    s3 -->|model| s0\n"
    )


def test_mermaid_ids_are_safe_for_any_name() -> None:
    """Names like `end` or with '-' would break Mermaid as ids; the ids never use names."""
    text = _graph(_step("end"), _step("my-step", "end")).to_mermaid()
    assert '    s0["end<br/>r:mod.end"]' in text
    assert "    s0 -->|o| s1" in text


def test_dot() -> None:
    graph = StepGraph.from_manifest(load_manifest(FULL))
    assert graph.to_dot() == (
        "digraph steps {\n"
        "    rankdir=TB;\n"
        "    node [shape=box];\n"
        '    "evaluate" [label="evaluate\\nmodels:churn_model.eval.score"];\n'
        '    "featurize" [label="featurize\\nfeatures:churn_features.build.make_features"];\n'
        '    "lint" [label="lint\\nprivate:checks.run"];\n'
        '    "train" [label="train\\nmodels:churn_model.train.fit"];\n'
        '    "featurize" -> "evaluate" [label="features, report"];\n'
        '    "featurize" -> "train" [label="features"];\n'
        '    "train" -> "evaluate" [label="model"];\n'
        "}\n"
    )


def test_empty_graph_renders() -> None:
    empty = StepGraph({})
    assert (empty.order(), empty.to_text(), empty.to_mermaid()) == ([], "", "flowchart TD\n")
