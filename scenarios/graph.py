"""Pure graph helpers over node numbers and (source, target) edges."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable


class CycleError(ValueError):
    pass


def parents_of(edges: Iterable[tuple[int, int]]) -> dict[int, set[int]]:
    parents: dict[int, set[int]] = defaultdict(set)
    for source, target in edges:
        parents[target].add(source)
    return parents


def ancestors(node: int, edges: Iterable[tuple[int, int]]) -> set[int]:
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


def topological_order(nodes: Iterable[int], edges: Iterable[tuple[int, int]]) -> list[int]:
    """Nodes in an order where every edge goes forward; raises CycleError naming the nodes in a cycle."""
    node_list = sorted(set(nodes))
    edge_list = list(edges)
    indegree = dict.fromkeys(node_list, 0)
    children: dict[int, list[int]] = defaultdict(list)
    for source, target in edge_list:
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


def would_create_cycle(edges: Iterable[tuple[int, int]], new_edge: tuple[int, int]) -> bool:
    source, target = new_edge
    return source == target or source in descendants(target, edges)


def descendants(node: int, edges: Iterable[tuple[int, int]]) -> set[int]:
    return ancestors(node, [(t, s) for s, t in edges])
