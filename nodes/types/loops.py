"""Loop over items and Aggregate: run a part of the scenario once per item of a list, and collect.

A Loop's `item` port leads to its body: the nodes that run once per item, which all lead to one
Aggregate (scenarios/loops.py checks the shape). Inside the body, `{{$item}}` is the current item,
`{{$index}}` its position (from 0), and the Loop's own output (`{{$2}}`) is the current item too.
The engine runs the body (scenarios/runtime/iterations.py); these execute functions only compute:
the Loop checks its list, the Aggregate gives what one iteration contributes (its Value), and the
engine puts those contributions, in item order, into the Aggregate's output. The Loop's `done` port
fires once every iteration has ended, with the whole list.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from nodes.base import DEFAULT_PORT, Field, NodeContext, NodeError, NodeType, Routed
from nodes.types.flow import APP, COLOR

ITEM_PORT = "item"
DONE_PORT = "done"
MAX_ITEMS = 1_000
MAX_CONCURRENCY = 10

ITEMS = Field(
    "items",
    "Items",
    kind="long_text",
    # Not `required`, which would refuse an empty list at run time; an empty field is a problem of
    # the graph instead (scenarios/loops.py).
    keeps_type=True,
    placeholder="{{$1.body.items}}",
    help=f"The list to go through, usually one expression such as {{{{$1.body.items}}}} (at most "
    f"{MAX_ITEMS:,} items). In the nodes after the “item” port, {{{{$item}}}} is the current item and "
    "{{$index}} its position, from 0.",
)
MODE = Field(
    "mode",
    "Mode",
    kind="select",
    required=True,
    default="sequential",
    expressions=False,
    choices=(("sequential", "One item after the other"), ("concurrent", "Several items at once")),
)
CONCURRENCY = Field(
    "concurrency",
    "Items at once",
    kind="number",
    default=4,
    min_value=1,
    max_value=MAX_CONCURRENCY,
    expressions=False,
    show_if=(("mode", "concurrent"),),
    help=f"How many items run at the same time (1 to {MAX_CONCURRENCY}).",
)


def items_of(params: dict[str, Any]) -> list[Any]:
    """The Loop's list, or a NodeError naming the Items field."""
    # Cleaning leaves an empty value out: here that is an empty list (the field is never saved empty).
    items = params.get("items", [])
    if isinstance(items, str):
        # A text that is not one expression, or an expression that gave text: the user may have
        # typed a JSON list by hand.
        with contextlib.suppress(ValueError):
            items = json.loads(items)
    if not isinstance(items, list):
        kind = "text" if isinstance(items, str) else type(items).__name__
        message = (
            f"Items: a Loop over items needs a list, but this is {kind} data; point it at a list, "
            "such as {{$1.body.items}}."
        )
        raise NodeError(message, fields={"items": [message]})
    if len(items) > MAX_ITEMS:
        message = f"Items: the list has {len(items):,} items, over the limit of {MAX_ITEMS:,} per loop."
        raise NodeError(message, fields={"items": [message]})
    return items


def concurrency_of(params: dict[str, Any]) -> int:
    if params.get("mode") != "concurrent":
        return 1
    try:
        wanted = int(params.get("concurrency") or 1)
    except (TypeError, ValueError):
        wanted = 1
    return max(1, min(MAX_CONCURRENCY, wanted))


async def run_loop(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    return Routed(items_of(params), (DONE_PORT,))


LOOP = NodeType(
    key="flow.loop",
    app=APP,
    title="Loop over items",
    description="Repeats the nodes after its “item” port for each item of a list, then goes on from “done”.",
    kind="action",
    fields=(ITEMS, MODE, CONCURRENCY),
    execute=run_loop,
    color=COLOR,
    icon="loop",
    outputs=(ITEM_PORT, DONE_PORT),
)

AGGREGATE_VALUE = Field(
    "value",
    "Collect",
    kind="long_text",
    keeps_type=True,
    placeholder="{{$3}}",
    help="What each iteration adds to the list, usually one expression such as {{$3.answer}}. Empty: "
    "the output of the node just before. An iteration whose route ended quietly adds nothing.",
)


async def run_aggregate(ctx: NodeContext, params: dict[str, Any]) -> Any:
    if "value" in params:
        return params["value"]
    numbered = [n for n in ctx.upstream if isinstance(n, int)]
    if not numbered:
        raise NodeError("Collect: there is nothing before this Aggregate to collect.")
    return ctx.upstream[max(numbered)]


AGGREGATE = NodeType(
    key="flow.aggregate",
    app=APP,
    title="Aggregate",
    description="Ends a loop: collects what each iteration gives into one list, in item order.",
    kind="action",
    fields=(AGGREGATE_VALUE,),
    execute=run_aggregate,
    color=COLOR,
    icon="merge",
    outputs=(DEFAULT_PORT,),
)

TYPES = (LOOP, AGGREGATE)
