"""The DAG of steps: edges come from ``!out`` dependencies.

:class:`StepGraph` is data (the step names and an edge ``a -> b`` when ``b``
reads an output of ``a``) with queries (order, closures, layers, cycles) and
renderers (text, Mermaid, Graphviz dot). Validation builds one to find cycles;
a validated manifest's graph has none.

networkx answers the graph questions (ancestors, descendants, strongly
connected components, shortest paths). It is imported inside the functions that
need it: ``import networkx`` costs 0.2-0.7 s, and loading a manifest (``--help``
aside, every command does) and every ``run`` (its ``pipeline.html`` included)
need only answers that the standard library's :mod:`graphlib` gives at no import
cost: is there a cycle, the order, the layers (:mod:`mlrecipes.core.toposort`).
A cycle found that way is named by networkx (an error path).
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from mlrecipes.core.errors import UnknownStepError, UserError
from mlrecipes.core.manifest.model import Manifest, OutRef, StepSpec
from mlrecipes.core.toposort import generations, name_order

if TYPE_CHECKING:  # imported at use (see the module doc)
    import networkx as nx


class CycleError(UserError):
    """The steps depend on each other in a circle; ``cycle`` is ``[a, b, a]``."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__(
            "cycle in the steps: " + " -> ".join(cycle),
            hint="a step cannot depend, even indirectly, on its own outputs",
        )
        self.cycle = cycle


class StepGraph:
    """Steps and the ``!out`` edges between them."""

    def __init__(self, steps: Mapping[str, StepSpec]) -> None:
        self.steps = dict(steps)
        # successors[a][b]: the outputs of a that b reads, in the order of b's deps.
        self.successors: dict[str, dict[str, tuple[str, ...]]] = {n: {} for n in sorted(steps)}
        self.predecessors: dict[str, set[str]] = {n: set() for n in sorted(steps)}
        self._nx: nx.DiGraph[str] | None = None  # built on first use
        for name in sorted(steps):
            for _, dep in sorted(steps[name].deps.items()):
                if isinstance(dep, OutRef) and dep.step in steps:
                    outs = self.successors[dep.step].get(name, ())
                    self.successors[dep.step][name] = (*outs, dep.name)
                    self.predecessors[name].add(dep.step)

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> StepGraph:
        """The graph of a manifest's steps."""
        return cls(manifest.steps)

    def order(self) -> list[str]:
        """Every step, upstream first; ties are broken by name so the order is stable."""
        try:
            return name_order(self.predecessors)
        except graphlib.CycleError:
            raise CycleError(self.cycles()[0]) from None

    def layers(self) -> list[list[str]]:
        """The steps by generation: those that read no other step's output, then those
        that read only the first layer's, and so on; each layer sorted by name."""
        try:
            return generations(self.predecessors)
        except graphlib.CycleError:
            raise CycleError(self.cycles()[0]) from None

    def _check(self, names: Iterable[str]) -> list[str]:
        wanted = list(names)
        for name in wanted:
            if name not in self.steps:
                raise UnknownStepError(name, known=sorted(self.steps))
        return wanted

    def upstream_closure(self, names: Iterable[str]) -> list[str]:
        """The steps needed to run ``names`` (them included), in order."""
        import networkx as nx

        wanted = self._check(names)
        graph = self._digraph()
        needed = set(wanted).union(*(nx.ancestors(graph, name) for name in wanted))
        return [name for name in self.order() if name in needed]

    def downstream_closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and every step that reads their outputs, directly or not, in order."""
        import networkx as nx

        wanted = self._check(names)
        graph = self._digraph()
        affected = set(wanted).union(*(nx.descendants(graph, name) for name in wanted))
        return [name for name in self.order() if name in affected]

    def cycles(self) -> list[list[str]]:
        """One cycle per group of steps that depend on each other, each as ``[a, b, ..., a]``.

        Each cycle starts at its smallest name; a step reading its own output is ``[a, a]``.
        """
        return find_cycles(self.successors)

    def find_cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, a]``, or None when the graph is a DAG."""
        cycles = self.cycles()
        return cycles[0] if cycles else None

    def _digraph(self) -> nx.DiGraph[str]:
        if self._nx is None:
            self._nx = _digraph(self.successors)
        return self._nx

    def _edges(self) -> list[tuple[str, str, tuple[str, ...]]]:
        edges = self.successors.items()
        return sorted((a, b, outs) for a, downs in edges for b, outs in downs.items())

    def to_text(self) -> str:
        """One line per step in order: name, function, and the steps it reads from."""
        order = self.order()
        width = max((len(name) for name in order), default=0)
        lines = []
        for name in order:
            ups = sorted(self.predecessors[name])
            after = f"  <- {', '.join(ups)}" if ups else ""
            lines.append(f"{name.ljust(width)}  {self.steps[name].fn}{after}")
        return "\n".join(lines) + ("\n" if lines else "")

    def to_mermaid(self) -> str:
        """A GitHub-renderable Mermaid flowchart; node ids are ``s0, s1, ...`` (always safe)."""
        ids = {name: f"s{index}" for index, name in enumerate(sorted(self.steps))}
        lines = ["flowchart TD"]
        for name in sorted(self.steps):
            label = _mermaid_text(f"{name}<br/>{self.steps[name].fn}")
            lines.append(f'    {ids[name]}["{label}"]')
        for a, b, outs in self._edges():
            lines.append(f"    {ids[a]} -->|{_mermaid_text(', '.join(outs))}| {ids[b]}")
        return "\n".join(lines) + "\n"

    def to_dot(self) -> str:
        """A Graphviz ``digraph`` with one box per step and edges labelled by output."""
        lines = ["digraph steps {", "    rankdir=TB;", "    node [shape=box];"]
        for name in sorted(self.steps):
            label = _dot_text(f"{name}\n{self.steps[name].fn}")
            lines.append(f"    {_dot_text(name)} [label={label}];")
        for a, b, outs in self._edges():
            lines.append(
                f"    {_dot_text(a)} -> {_dot_text(b)} [label={_dot_text(', '.join(outs))}];"
            )
        lines.append("}")
        return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    # Mermaid labels take HTML entities; quotes and pipes would end the label.
    return text.replace("&", "&amp;").replace('"', "#quot;").replace("|", "#124;")


def _dot_text(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def find_cycles(successors: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """One cycle per strongly connected group of ``successors``, as ``[a, b, ..., a]``.

    Each starts at the group's smallest name and is a shortest way back to it;
    sorted. :mod:`graphlib` says at no cost that a DAG has none; only a graph
    with a cycle imports networkx to name them.
    """
    try:
        graphlib.TopologicalSorter({n: tuple(succ) for n, succ in successors.items()}).prepare()
    except graphlib.CycleError:
        pass
    else:
        return []
    import networkx as nx

    graph = _digraph(successors)
    found: list[list[str]] = []
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        if graph.has_edge(start, start):
            found.append([start, start])
            continue
        inside = graph.subgraph(component)
        back = sorted(p for p in inside.predecessors(start) if p != start)
        ways: list[list[str]] = [nx.shortest_path(inside, start, p) for p in back]
        found.append([*min(ways, key=lambda way: (len(way), way)), start])
    return sorted(found)


def _digraph(successors: Mapping[str, Iterable[str]]) -> nx.DiGraph[str]:
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(sorted(successors))
    graph.add_edges_from((a, b) for a in sorted(successors) for b in sorted(successors[a]))
    return graph
