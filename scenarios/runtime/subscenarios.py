"""Sub-scenarios: what a Run scenario node (nodes/types/subscenario.py) does within an execution.

- The scenario is found by name in the parent's team (another team's is never found).
- Calls go at most MAX_DEPTH deep, and a scenario already running in the chain of callers is
  refused: each a NodeError naming the node's Scenario field.
- The child execution is linked to its parent (`Execution.parent`, `parent_node`), and a unique
  constraint makes (parent, node) start one child only: a worker that takes the parent over finds
  the child its predecessor started and waits for it, so nothing runs twice.
- The child runs on the parent's own executor, beyond its concurrency when it is full, so a parent
  never waits for a slot that other waiting parents hold; the parent's slot stays taken while it
  waits (bounded: one per level, at most MAX_DEPTH levels), and the wait itself is wake-ups and a
  database poll (scenarios/runtime/waiting.py), not a busy task.
- The result is the child's Webhook response body when it has one, else the output of its last
  node to finish; a failed or cancelled child fails the node with the child's error.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from django.db import IntegrityError, transaction

from durable.executor import db
from nodes.base import NodeError
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import waiting

log = logging.getLogger(__name__)

MAX_DEPTH = 5
# How long a parent waits for its child's answer before the node fails (a child still running goes on).
MAX_WAIT_SECONDS = 24 * 3600.0

Create = Callable[..., Execution]


async def call(
    name: str,
    input: Any,
    *,
    parent: Execution,
    node_number: int,
    create: Create,
    started: Callable[[Execution], Awaitable[None]] | None = None,
) -> dict[str, Any]:
    """Run the team's scenario `name` as a child of `parent`'s node `node_number` and wait for its
    result; `create` is the engine's create_execution, `started` hears of the child (live news)."""
    child = await db(start_child, name, input, parent, node_number, create)
    if started is not None:
        await started(child)
    async with waiting.waiter(child.pk) as waiter:
        answer = await waiter.answer(MAX_WAIT_SECONDS)
    if answer is None:
        raise NodeError(
            f"The scenario '{name}' gave no answer within {MAX_WAIT_SECONDS:g} s.", execution_id=str(child.pk)
        )
    return await db(result_of, name, answer)


def start_child(name: str, input: Any, parent: Execution, node_number: int, create: Create) -> Execution:
    """The child of (parent, node): the one an earlier attempt started, or a new one."""
    existing = Execution.objects.filter(parent=parent, parent_node=node_number).first()
    if existing is not None:
        return existing
    target = _target(name, parent)
    if parent.depth + 1 > MAX_DEPTH:
        raise NodeError(
            f"Scenario: '{name}' would run {parent.depth + 1} calls deep; Run scenario nodes may nest "
            f"{MAX_DEPTH} deep at most.",
            fields={"scenario": [f"At most {MAX_DEPTH} scenarios deep."]},
        )
    chain = _chain(parent)
    if target.pk in {scenario_id for scenario_id, _ in chain}:
        names = " → ".join([name for _, name in reversed(chain)] + [target.name])
        raise NodeError(
            f"Scenario: '{name}' is already running in this chain of calls ({names}); a scenario "
            "cannot call itself, directly or through others.",
            fields={"scenario": ["A scenario cannot call itself, directly or through others."]},
        )
    body = {"method": "POST", "headers": {}, "query": {}, "body": input}
    try:
        with transaction.atomic():
            return create(target, Execution.Trigger.SUBSCENARIO, body, parent=parent, parent_node=node_number)
    except IntegrityError:
        # Another attempt of the parent started it meanwhile: wait for that one.
        return Execution.objects.get(parent=parent, parent_node=node_number)


def _target(name: str, parent: Execution) -> Scenario:
    team_scenarios = Scenario.objects.filter(team__scenarios=parent.scenario_id)
    found = team_scenarios.filter(name=name.strip()).order_by("created_at").first()
    if found is None:
        found = team_scenarios.filter(name__iexact=name.strip()).order_by("created_at").first()
    if found is None:
        raise NodeError(
            f"Scenario: this team has no scenario named '{name}'.",
            fields={"scenario": [f"No scenario named '{name}' in this team."]},
        )
    return found


def _chain(execution: Execution) -> list[tuple[Any, str]]:
    """(scenario id, name) of `execution` and of each Run scenario caller above it."""
    chain: list[tuple[Any, str]] = []
    current: Execution | None = execution
    while current is not None and len(chain) <= MAX_DEPTH + 1:
        name = Scenario.objects.filter(pk=current.scenario_id).values_list("name", flat=True).first()
        chain.append((current.scenario_id, name or ""))
        if current.parent_id is None or current.parent_node is None:
            break
        current = Execution.objects.filter(pk=current.parent_id).first()
    return chain


def result_of(name: str, child: Execution) -> dict[str, Any]:
    """The node's output from its child's answer; NodeError when the child failed."""
    if child.response is not None:
        body = child.response.get("body") if isinstance(child.response, dict) else None
        return {"execution_id": str(child.pk), "result": body}
    if child.status != Execution.Status.SUCCEEDED:
        raise NodeError(
            f"The scenario '{name}' {child.status}: {child.error or 'no reason given'}",
            execution_id=str(child.pk),
        )
    last = (
        NodeRun.objects.filter(execution_id=child.pk, status=NodeRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-node_number")
        .values_list("output", flat=True)
        .first()
    )
    return {"execution_id": str(child.pk), "result": last}
