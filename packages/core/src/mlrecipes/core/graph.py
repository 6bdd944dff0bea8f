"""The DAG of steps: edges come from ``!out`` dependencies.

:class:`StepGraph` is data (a networkx ``DiGraph`` of step names, an edge
``a -> b`` when ``b`` reads an output of ``a``) with queries (order, closures,
cycles) and renderers (text, Mermaid, Graphviz dot). Validation builds one to
find cycles; a validated manifest's graph has none.

networkx is imported when the first graph is built, not with this module: its
import (~0.2 s, every algorithm it ships) is then paid only by commands that
load a manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx

from mlrecipes.core.errors import UnknownStepError, UserError
from mlrecipes.core.manifest.model import Manifest, OutRef, StepSpec


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
        import networkx as nx

        self.steps = dict(steps)
        graph: nx.DiGraph[str] = nx.DiGraph()
        graph.add_nodes_from(sorted(steps))
        for name in sorted(steps):
            for _, dep in sorted(steps[name].deps.items()):
                if isinstance(dep, OutRef) and dep.step in steps:
                    outs = graph.get_edge_data(dep.step, name, {}).get("outs", ())
                    graph.add_edge(dep.step, name, outs=(*outs, dep.name))
        self.graph = graph

    @classmethod
    def from_manifest(cls, manifest: Manifest) -> StepGraph:
        """The graph of a manifest's steps."""
        return cls(manifest.steps)

    def order(self) -> list[str]:
        """Every step, upstream first; ties are broken by name so the order is stable."""
        import networkx as nx

        cycle = self.find_cycle()
        if cycle is not None:
            raise CycleError(cycle)
        return list(nx.lexicographical_topological_sort(self.graph))

    def _check(self, names: Iterable[str]) -> list[str]:
        wanted = list(names)
        for name in wanted:
            if name not in self.steps:
                raise UnknownStepError(name, known=sorted(self.steps))
        return wanted

    def upstream_closure(self, names: Iterable[str]) -> list[str]:
        """The steps needed to run ``names`` (them included), in order."""
        import networkx as nx

        needed: set[str] = set()
        for name in self._check(names):
            needed |= nx.ancestors(self.graph, name) | {name}
        return [name for name in self.order() if name in needed]

    def downstream_closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and every step that reads their outputs, directly or not, in order."""
        import networkx as nx

        affected: set[str] = set()
        for name in self._check(names):
            affected |= nx.descendants(self.graph, name) | {name}
        return [name for name in self.order() if name in affected]

    def cycles(self) -> list[list[str]]:
        """One cycle per group of steps that depend on each other, each as ``[a, b, ..., a]``.

        Each cycle starts at its smallest name; a step reading its own output is ``[a, a]``.
        """
        import networkx as nx

        found: list[list[str]] = []
        for component in nx.strongly_connected_components(self.graph):
            start = min(component)
            if len(component) == 1 and not self.graph.has_edge(start, start):
                continue
            found.append(self._cycle_from(start, component))
        return sorted(found)

    def _cycle_from(self, start: str, component: set[str]) -> list[str]:
        """A shortest way from ``start`` back to itself inside its component."""
        import networkx as nx

        sub = self.graph.subgraph(component)
        best: list[str] | None = None
        for succ in sorted(sub.successors(start)):
            path: list[str] = nx.shortest_path(sub, succ, start)
            if best is None or len(path) < len(best):
                best = path
        assert best is not None  # noqa: S101 - a strongly connected component has a cycle
        return [start, *best]

    def find_cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, a]``, or None when the graph is a DAG."""
        cycles = self.cycles()
        return cycles[0] if cycles else None

    def _edges(self) -> list[tuple[str, str, tuple[str, ...]]]:
        return sorted((a, b, tuple(d["outs"])) for a, b, d in self.graph.edges(data=True))

    def to_text(self) -> str:
        """One line per step in order: name, function, and the steps it reads from."""
        order = self.order()
        width = max((len(name) for name in order), default=0)
        lines = []
        for name in order:
            ups = sorted(self.graph.predecessors(name))
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
