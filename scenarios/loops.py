"""The shape of loops in a graph: which nodes a Loop over items runs per item, and what is refused.

A loop's body is every node reached from its `item` port up to (not through) an Aggregate. A body
must end in exactly one Aggregate, take input only from the loop's `item` port or from itself, and
hold no other Loop: loops cannot be nested yet (one level only). `$item` and `$index` may be used in
a body and in its Aggregate only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from nodes import expressions
from nodes.types.loops import AGGREGATE, ITEM_PORT, LOOP
from scenarios.graph import Link


class Plan(Protocol):
    """What is read of a graph here (scenarios.snapshot.Plan, which asks this module for problems)."""

    nodes: dict[int, dict[str, Any]]
    edges: list[Link]
    inputs: dict[int, list[Link]]


NESTED = "loops cannot be nested yet (a Loop over items inside another one's body)"
# Nodes that park or start a whole execution: an item of a loop is not one, so they stay outside.
OUTSIDE_LOOPS = {"flow.wait": "a Wait", "flow.run_scenario": "a Run scenario node"}


@dataclass(frozen=True)
class Region:
    """A loop: its Loop node, its body (the nodes run per item) and its Aggregate."""

    loop: int
    aggregate: int
    body: frozenset[int]

    @property
    def inner(self) -> frozenset[int]:
        """The nodes run once per item: the body and the Aggregate."""
        return self.body | {self.aggregate}


def _kind_numbers(plan: Plan, key: str) -> list[int]:
    return sorted(n for n, spec in plan.nodes.items() if spec.get("kind") == key)


def _reach(plan: Plan, loop: int) -> tuple[set[int], set[int]]:
    """The body nodes and the Aggregates reached from `loop`'s item port."""
    body: set[int] = set()
    aggregates: set[int] = set()
    todo = [link.target for link in plan.edges if link.source == loop and link.port == ITEM_PORT]
    while todo:
        number = todo.pop()
        if number in body or number in aggregates or number == loop:
            continue
        if plan.nodes.get(number, {}).get("kind") == AGGREGATE.key:
            aggregates.add(number)
            continue
        body.add(number)
        todo.extend(link.target for link in plan.edges if link.source == number)
    return body, aggregates


def regions(plan: Plan) -> dict[int, Region]:
    """The well-formed loops of `plan` by Loop number (a graph with problems may have fewer)."""
    found = {}
    for loop in _kind_numbers(plan, LOOP.key):
        body, aggregates = _reach(plan, loop)
        if len(aggregates) == 1:
            found[loop] = Region(loop, aggregates.pop(), frozenset(body))
    return found


def problems(plan: Plan, title_of: Callable[[dict[str, Any]], str]) -> list[str]:
    """What is wrong with the loops of `plan`, as messages naming the nodes (`title_of` a node's spec)."""

    def title(number: int) -> str:
        return title_of(plan.nodes[number])

    found: list[str] = []
    ended_by: dict[int, list[int]] = {}
    inside: set[int] = set()
    for loop in _kind_numbers(plan, LOOP.key):
        body, aggregates = _reach(plan, loop)
        if not str((plan.nodes[loop].get("params") or {}).get("items") or "").strip():
            found.append(
                f"{title(loop)}: Items is empty; name the list to go through, such as {{{{$1.body.items}}}}."
            )
        if not any(link.source == loop and link.port == ITEM_PORT for link in plan.edges):
            found.append(
                f"{title(loop)}: connect its “item” port to the nodes to run for each item, ending in "
                "an Aggregate."
            )
            continue
        if not aggregates:
            found.append(f"{title(loop)}: the nodes after its “item” port must end in an Aggregate.")
        elif len(aggregates) > 1:
            names = ", ".join(title(n) for n in sorted(aggregates))
            found.append(
                f"{title(loop)}: the nodes after its “item” port must end in one Aggregate, not {names}."
            )
        for number in sorted(body):
            if plan.nodes[number].get("kind") == LOOP.key:
                found.append(f"{title(number)}: {NESTED}; move it out of the body of {title(loop)}.")
            what = OUTSIDE_LOOPS.get(str(plan.nodes[number].get("kind")))
            if what:
                found.append(
                    f"{title(number)}: {what} cannot run once per item yet; move it out of the body of "
                    f"{title(loop)}."
                )
        allowed = body | {loop}
        for number in sorted(body | aggregates):
            for link in plan.inputs.get(number, []):
                if link.source not in allowed or (link.source == loop and link.port != ITEM_PORT):
                    found.append(
                        f"{title(number)} runs once per item of {title(loop)}, so it can take input only "
                        f"from the loop's “item” port or the nodes after it, not from {title(link.source)}."
                    )
        for aggregate in aggregates:
            ended_by.setdefault(aggregate, []).append(loop)
        inside |= body | aggregates
    for aggregate in _kind_numbers(plan, AGGREGATE.key):
        loops = ended_by.get(aggregate, [])
        if not loops:
            found.append(
                f"{title(aggregate)} ends a loop: put it after the nodes of a Loop over items' “item” port."
            )
        elif len(loops) > 1:
            found.append(
                f"{title(aggregate)} ends more than one loop ({', '.join(title(n) for n in loops)})."
            )
    for number, spec in sorted(plan.nodes.items()):
        if number in inside:
            continue
        try:
            refs = expressions.references(spec.get("params", {}))
        except expressions.ExpressionError:
            continue  # reported by the expression check
        for ref in refs:
            if isinstance(ref.node, str):
                found.append(
                    f"{title(number)}: {ref.source} exists only in the nodes after a Loop over items' "
                    "“item” port."
                )
                break
    return found
