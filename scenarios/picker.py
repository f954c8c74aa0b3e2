"""What the inspector's data picker offers: the latest output of every node upstream of a node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nodes.registry import NODE_TYPES
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
    run = (
        NodeRun.objects.filter(
            execution__scenario=scenario, node_number=node.number, status=NodeRun.Status.SUCCEEDED
        )
        .order_by("-execution__created_at", "-attempt")
        .first()
    )
    if run is not None and run.output is not None:
        return True, run.output, f"from the run of {run.finished_at or run.started_at:%Y-%m-%d %H:%M}"
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
