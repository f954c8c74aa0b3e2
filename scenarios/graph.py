"""Pure graph helpers over node numbers and edges: (source, target) pairs, or `Link`s that also
name the source's output port. The helpers that only follow the arrows accept either.

In JSON (snapshots, exports) an edge is `[source, target]` from the source's default port, or
`[source, target, port]` from another: snapshots and exports written before ports existed read
unchanged.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any, NamedTuple

from nodes.base import DEFAULT_PORT

type Arrow = tuple[int, int] | Link


class Link(NamedTuple):
    """An edge: from the output `port` of node `source` to node `target`."""

    source: int
    target: int
    port: str = DEFAULT_PORT

    def as_json(self) -> list[Any]:
        if self.port == DEFAULT_PORT:
            return [self.source, self.target]
        return [self.source, self.target, self.port]


def link_of(raw: Any) -> Link | None:
    """A JSON edge as a Link, None when it is not `[source, target]` or `[source, target, port]`."""
    if not isinstance(raw, list | tuple) or len(raw) not in (2, 3):
        return None
    source, target = raw[0], raw[1]
    port = raw[2] if len(raw) == 3 else DEFAULT_PORT
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in (source, target)):
        return None
    if not isinstance(port, str) or not port:
        return None
    return Link(source, target, port)


class CycleError(ValueError):
    pass


def parents_of(edges: Iterable[Arrow]) -> dict[int, set[int]]:
    parents: dict[int, set[int]] = defaultdict(set)
    for edge in edges:
        parents[edge[1]].add(edge[0])
    return parents


def ancestors(node: int, edges: Iterable[Arrow]) -> set[int]:
    """Every node from which `node` can be reached (its upstream)."""
    parents = parents_of(edges)
    seen: set[int] = set()
    stack = list(parents.get(node, ()))
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(parents.get(current, ()))
    return seen


def topological_order(nodes: Iterable[int], edges: Iterable[Arrow]) -> list[int]:
    """Nodes in an order where every edge goes forward; raises CycleError naming the nodes in a cycle."""
    node_list = sorted(set(nodes))
    edge_list = list(edges)
    indegree = dict.fromkeys(node_list, 0)
    children: dict[int, list[int]] = defaultdict(list)
    for edge in edge_list:
        source, target = edge[0], edge[1]
        children[source].append(target)
        indegree[target] = indegree.get(target, 0) + 1
    ready = deque(sorted(n for n, d in indegree.items() if d == 0))
    order = []
    while ready:
        current = ready.popleft()
        order.append(current)
        for child in sorted(children[current]):
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) < len(indegree):
        stuck = sorted(n for n in indegree if n not in order)
        raise CycleError("These nodes form a cycle: " + ", ".join(f"${n}" for n in stuck) + ".")
    return order


def would_create_cycle(edges: Iterable[Arrow], new_edge: Arrow) -> bool:
    source, target = new_edge[0], new_edge[1]
    return source == target or source in descendants(target, edges)


def descendants(node: int, edges: Iterable[Arrow]) -> set[int]:
    return ancestors(node, [(edge[1], edge[0]) for edge in edges])
