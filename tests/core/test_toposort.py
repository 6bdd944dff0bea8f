"""The stdlib orders agree with networkx's on random DAGs (networkx is the reference)."""

from __future__ import annotations

import graphlib
import random

import networkx as nx
import pytest

from mlrecipes.core.toposort import generations, name_order


def _random_dag(seed: int) -> dict[str, set[str]]:
    rng = random.Random(seed)  # noqa: S311 (test data)
    names = [f"s{i:02d}" for i in range(rng.randint(1, 30))]
    rng.shuffle(names)  # the DAG's order is not the names' order
    return {name: {up for up in names[:i] if rng.random() < 0.15} for i, name in enumerate(names)}


@pytest.mark.parametrize("seed", range(40))
def test_both_orders_are_networkx_s(seed: int) -> None:
    predecessors = _random_dag(seed)
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(predecessors)
    graph.add_edges_from((up, n) for n, ups in predecessors.items() for up in ups)
    assert name_order(predecessors) == list(nx.lexicographical_topological_sort(graph))
    assert generations(predecessors) == [sorted(g) for g in nx.topological_generations(graph)]


def test_a_node_named_only_as_a_predecessor_is_a_node() -> None:
    assert generations({"b": {"a"}}) == [["a"], ["b"]]
    assert name_order({}) == [] and generations({}) == []


def test_a_cycle_raises_graphlib_s_error() -> None:
    with pytest.raises(graphlib.CycleError):
        generations({"a": {"b"}, "b": {"a"}})
