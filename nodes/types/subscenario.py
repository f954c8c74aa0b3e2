"""Run scenario: calls another scenario of the same team with an input and waits for its result.

The scenario is named (its name, as in the scenario list), so an exported scenario finds its
namesake in the team it is imported into. The child gets a request-shaped input whose body is the
node's Input, like a webhook call, so its trigger reads it as {{$1.body…}}. The node's output is
`{"execution_id", "result"}`: the child's Webhook response body if it has one, else the output of
the child's last node to finish. How deep calls may go, cycles and the wait are the runtime's
(scenarios/runtime/subscenarios.py).
"""

from __future__ import annotations

from typing import Any

from nodes.base import Field, NodeContext, NodeError
from nodes.params import define

SCENARIO = Field(
    "scenario",
    "Scenario",
    required=True,
    max_length=200,
    expressions=False,
    placeholder="Send the invoice",
    help="The name of another scenario of this team, as in the scenario list.",
)
INPUT = Field(
    "input",
    "Input",
    kind="long_text",
    keeps_type=True,
    placeholder='{{$1.body}} or {"order": "{{$1.body.id}}"}',
    help="What the scenario receives as its trigger's body ({{$1.body}} there). Empty: an empty object.",
)


async def run_scenario(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    if ctx.call_scenario is None:
        raise NodeError("Run scenario runs only within a whole execution (Run scenario), not alone.")
    value = params.get("input")
    return await ctx.call_scenario(params["scenario"], {} if value is None else value)


RUN_SCENARIO = define(
    key="flow.run_scenario",
    app="Flow",
    title="Run scenario",
    description="Calls another scenario of this team with an input and waits for its result.",
    kind="action",
    fields=(SCENARIO, INPUT),
    run=run_scenario,
    color="#d97706",
    icon="branch",
)

TYPES = (RUN_SCENARIO,)
