"""What the inspector's data picker offers: the latest output of every node upstream of a node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodes.registry import NODE_TYPES
from nodes.types import webhook
from scenarios import canvas, graph
from scenarios.models import Execution, Node, NodeRun, Scenario


@dataclass
class UpstreamOutput:
    node: Node
    title: str
    has_output: bool
    output: Any
    source: str  # where the value comes from, said to the user


def latest_output(scenario: Scenario, node: Node) -> tuple[bool, Any, str]:
    # The same choice as a single-node run makes (scenarios/runtime/single.py), so what is picked is what runs.
    pinned = webhook.pinned_output(node.kind, node.params)
    if pinned is not None:
        return True, pinned, "the trigger's test data"
    run = (
        NodeRun.objects.filter(
            execution__scenario=scenario,
            node_number=node.number,
            node_kind=node.kind,
            status=NodeRun.Status.SUCCEEDED,
        )
        .order_by("-finished_at")
        .first()
    )
    if run is not None and run.output is not None:
        when = run.finished_at or run.started_at
        return True, run.output, f"from the run of {when:%Y-%m-%d %H:%M}" if when else "from an earlier run"
    node_type = NODE_TYPES.get(node.kind)
    if node_type is not None and node_type.kind == "trigger":
        last = last_webhook_inputs(scenario, 1)
        if last:
            return True, last[0].input, "from the last webhook call received"
    return False, None, "Run this node once (or the whole scenario) to see its output here."


def upstream_outputs(scenario: Scenario, node: Node) -> list[UpstreamOutput]:
    numbers = graph.ancestors(node.number, canvas.edge_numbers(scenario))
    found = []
    for upstream in scenario.nodes.filter(number__in=numbers).order_by("number"):
        node_type = NODE_TYPES.get(upstream.kind)
        has_output, output, source = latest_output(scenario, upstream)
        title = upstream.label or (node_type.title if node_type else upstream.kind)
        found.append(UpstreamOutput(upstream, title, has_output, output, source))
    return found


def last_webhook_inputs(scenario: Scenario, count: int = 5) -> list[Execution]:
    return list(
        Execution.objects.filter(scenario=scenario, trigger=Execution.Trigger.WEBHOOK).order_by(
            "-created_at"
        )[:count]
    )


def run_sample(scenario: Scenario) -> tuple[dict[str, Any] | None, str]:
    """What "Run scenario" starts with, and where it comes from: the trigger's test data, else the
    last webhook call received, else nothing."""
    for trigger in scenario.nodes.filter(kind__in=webhook.SAMPLE_TRIGGERS).order_by("number"):
        pinned = webhook.pinned_output(trigger.kind, trigger.params)
        if pinned is not None:
            return pinned, "test data"
    last = last_webhook_inputs(scenario, 1)
    if last:
        return last[0].input, "last call"
    return None, ""


def has_trigger(scenario: Scenario) -> bool:
    kinds = set(scenario.nodes.values_list("kind", flat=True))
    return any(NODE_TYPES[k].kind == "trigger" for k in kinds if k in NODE_TYPES)
