"""The DAG of steps: edges come from ``!out`` dependencies.

:class:`StepGraph` is data (the step names and an edge ``a -> b`` when ``b``
reads an output of ``a``) with queries (order, closures, cycles) and renderers
(text, Mermaid, Graphviz dot). Validation builds one to find cycles; a validated
manifest's graph has none.

The algorithms are plain Python on adjacency dicts, not networkx: the graph
needs a lexicographic topological sort, ancestors and descendants, and the
strongly connected components that name a cycle, each a few lines, while
``import networkx`` costs ~0.2 s that every ``run``, ``dag`` and ``validate``
paid before it printed anything (issue 11: read-only commands stay fast).
``graphlib.TopologicalSorter`` is not enough on its own: it orders by levels,
and the order here must break ties by name so that it is stable.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterable, Mapping

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
        self.steps = dict(steps)
        # successors[a][b]: the outputs of a that b reads, in the order of b's deps.
        self.successors: dict[str, dict[str, tuple[str, ...]]] = {n: {} for n in sorted(steps)}
        self.predecessors: dict[str, set[str]] = {n: set() for n in sorted(steps)}
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
        cycle = self.find_cycle()
        if cycle is not None:
            raise CycleError(cycle)
        waiting = {name: len(ups) for name, ups in self.predecessors.items()}
        ready = [name for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            name = heapq.heappop(ready)
            order.append(name)
            for down in self.successors[name]:
                waiting[down] -= 1
                if waiting[down] == 0:
                    heapq.heappush(ready, down)
        return order

    def _check(self, names: Iterable[str]) -> list[str]:
        wanted = list(names)
        for name in wanted:
            if name not in self.steps:
                raise UnknownStepError(name, known=sorted(self.steps))
        return wanted

    def upstream_closure(self, names: Iterable[str]) -> list[str]:
        """The steps needed to run ``names`` (them included), in order."""
        needed = _reachable(self._check(names), lambda n: self.predecessors[n])
        return [name for name in self.order() if name in needed]

    def downstream_closure(self, names: Iterable[str]) -> list[str]:
        """``names`` and every step that reads their outputs, directly or not, in order."""
        affected = _reachable(self._check(names), lambda n: self.successors[n])
        return [name for name in self.order() if name in affected]

    def cycles(self) -> list[list[str]]:
        """One cycle per group of steps that depend on each other, each as ``[a, b, ..., a]``.

        Each cycle starts at its smallest name; a step reading its own output is ``[a, a]``.
        """
        found: list[list[str]] = []
        for component in _strongly_connected(self.successors):
            start = min(component)
            if len(component) == 1 and start not in self.successors[start]:
                continue
            found.append(self._cycle_from(start, component))
        return sorted(found)

    def _cycle_from(self, start: str, component: set[str]) -> list[str]:
        """A shortest way from ``start`` back to itself inside its component (BFS)."""
        came_from: dict[str, str] = {}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for succ in sorted(self.successors[node]):
                if succ == start:
                    path = [start]
                    while node != start:
                        path.append(node)
                        node = came_from[node]
                    return [start, *reversed(path[1:]), start]
                if succ in component and succ not in came_from:
                    came_from[succ] = node
                    queue.append(succ)
        raise AssertionError(f"no cycle through {start}")  # a strongly connected component has one

    def find_cycle(self) -> list[str] | None:
        """A cycle as ``[a, b, a]``, or None when the graph is a DAG."""
        cycles = self.cycles()
        return cycles[0] if cycles else None

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


def _reachable(starts: Iterable[str], neighbours: Callable[[str], Iterable[str]]) -> set[str]:
    """``starts`` and every node reachable from them through ``neighbours``."""
    seen = set(starts)
    todo = list(seen)
    while todo:
        for nxt in neighbours(todo.pop()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _strongly_connected(successors: Mapping[str, Mapping[str, object]]) -> list[set[str]]:
    """Tarjan's strongly connected components, iterative (a long chain of steps would
    exceed Python's recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in successors:
        if root in index:
            continue
        work = [(root, iter(successors[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(successors[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components
