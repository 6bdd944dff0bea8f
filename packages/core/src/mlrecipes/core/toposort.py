"""The two orders of a DAG that every ``run`` needs, on the standard library's graphlib.

A DAG is given as ``{node: its predecessors}``. Both orders are stable (ties broken
by name), so plans, logs and drawings come out the same each time. networkx
answers the rarer questions (closures, cycles named with their path; see
:mod:`mlrecipes.core.manifest.graph`); importing it costs 0.2-0.7 s, more than a
one-step rerun, so these two do not.

A cycle raises :class:`graphlib.CycleError`; callers name it.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Mapping


def _sorter(predecessors: Mapping[str, Iterable[str]]) -> graphlib.TopologicalSorter[str]:
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node, ups in predecessors.items():
        sorter.add(node, *ups)
    sorter.prepare()
    return sorter


def name_order(predecessors: Mapping[str, Iterable[str]]) -> list[str]:
    """Every node, upstream first, the smallest name among the ready ones each time
    (networkx's ``lexicographical_topological_sort``)."""
    sorter = _sorter(predecessors)
    ready = list(sorter.get_ready())
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        sorter.done(node)
        for down in sorter.get_ready():
            heapq.heappush(ready, down)
    return order


def generations(predecessors: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The nodes by generation, each sorted by name: those with no predecessor, then
    those whose predecessors are all in the first, and so on (networkx's
    ``topological_generations``: graphlib hands out exactly one generation per round)."""
    sorter = _sorter(predecessors)
    layers: list[list[str]] = []
    while sorter.is_active():
        layer = sorted(sorter.get_ready())
        layers.append(layer)
        sorter.done(*layer)
    return layers
