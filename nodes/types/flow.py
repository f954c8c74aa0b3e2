"""Flow control: IF, Switch, Filter and Merge. They compute only from upstream outputs.

Switch's routes and its ports. Ports are declared by the node type, so a Switch has fixed ports
`route1` … `route10` and `fallback`; route i of a node is its fields `route{i}_name` and
`route{i}_conditions`, and the name is the port's label on the canvas (`switch_port_labels`). A route
with neither name nor conditions is unused: its port never fires.

Merge's inputs. A node sees the outputs of all its upstream nodes (NodeContext.upstream), not which
of them are its direct inputs, so a Merge names what it combines: references without braces, such as
`$3, $4.body.items`. An input whose node did not run (a route not taken) is left out, which is what
makes a Merge after an IF work; a path missing from an output that did arrive is an error.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nodes import conditions, expressions
from nodes.base import DEFAULT_PORT, ExecuteFn, Field, NodeContext, NodeError, NodeType, Routed
from nodes.expressions import as_text

APP = "Flow"
COLOR = "#d97706"
MAX_ROUTES = 10
FALLBACK = "fallback"
MAX_MERGE_INPUTS = 10
MAX_MERGE_ITEMS = 10_000

VALUE = Field(
    "value",
    "Value",
    kind="long_text",
    keeps_type=True,
    placeholder="{{$1}}",
    help="What the node passes on, usually one expression such as {{$2}}. Empty: the output of the "
    "highest-numbered upstream node (usually the one just before).",
)


def conditions_field(name: str = "conditions", label: str = "Conditions", required: bool = True) -> Field:
    return Field(
        name,
        label,
        kind="conditions",
        required=required,
        max_items=conditions.MAX_RULES,
        help="Each condition compares a value (an expression such as {{$1.body.age}}) with another, as "
        "text, a number, true/false or a date (2026-12-31). For “exists”, write the reference without "
        "braces ($1.body.email): a missing value then does not exist instead of failing.",
    )


def _value(ctx: NodeContext, params: dict[str, Any]) -> Any:
    if "value" in params:
        return params["value"]
    if not ctx.upstream:
        return None
    return ctx.upstream[max(ctx.upstream)]


def _holds(
    ctx: NodeContext, params: dict[str, Any], name: str = "conditions", label: str = "Conditions"
) -> bool:
    try:
        parsed = conditions.parse(params.get(name) or {})
        return conditions.evaluate(parsed, ctx.upstream)
    except conditions.ConditionError as exc:
        raise NodeError(f"{label}: {' '.join(exc.messages)}", fields={name: exc.messages}) from None


def _needs_rules(name: str, label: str) -> Any:
    def check(params: dict[str, Any]) -> dict[str, list[str]]:
        value = params.get(name)
        if isinstance(value, dict) and not value.get("rules"):
            return {name: [f"{label}: add at least one condition."]}
        return {}

    return check


# -- IF ------------------------------------------------------------------------------------------


async def run_if(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    return Routed(_value(ctx, params), ("true",) if _holds(ctx, params) else ("false",))


def _flow_type(key: str, title: str, description: str, execute: ExecuteFn, **data: Any) -> NodeType:
    """A node type of this family: an action of the Flow app, conditions and value by default."""
    data.setdefault("fields", (conditions_field(), VALUE))
    data.setdefault("check", _needs_rules("conditions", "Conditions"))
    return NodeType(
        key=key,
        app=APP,
        title=title,
        description=description,
        kind="action",
        execute=execute,
        color=COLOR,
        **data,
    )


IF = _flow_type(
    "flow.if",
    "IF",
    "Sends its value down “true” or “false” depending on conditions.",
    run_if,
    icon="branch",
    outputs=("true", "false"),
)


# -- Filter --------------------------------------------------------------------------------------


async def run_filter(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    # When the conditions fail the route ends quietly: the nodes after it are skipped, not failed.
    return Routed(_value(ctx, params), (DEFAULT_PORT,) if _holds(ctx, params) else ())


FILTER = _flow_type(
    "flow.filter",
    "Filter",
    "Lets the route continue only when its conditions hold; otherwise it ends quietly.",
    run_filter,
    icon="filter",
)


# -- Switch --------------------------------------------------------------------------------------

SWITCH_MODE = Field(
    "mode",
    "Mode",
    kind="select",
    required=True,
    default="first",
    choices=(("first", "First matching route"), ("every", "Every matching route")),
    expressions=False,
    help="First: the value goes down the first route whose conditions hold. Every: down each of them. "
    "When none holds, it goes down “fallback”.",
)


def _route_fields(number: int) -> tuple[Field, Field]:
    return (
        Field(
            f"route{number}_name",
            f"Route {number} name",
            required=number == 1,
            max_length=40,
            after=f"route{number - 1}_name" if number > 1 else "",
            expressions=False,
            placeholder="e.g. urgent" if number == 1 else "",
            help="The label of this route's port on the canvas." if number == 1 else "",
        ),
        replace(
            conditions_field(f"route{number}_conditions", f"Route {number} conditions", required=number == 1),
            after=f"route{number}_name" if number > 1 else "",
        ),
    )


def _routes_used(params: dict[str, Any]) -> list[tuple[int, str]]:
    used = []
    for number in range(1, MAX_ROUTES + 1):
        name = as_text(params.get(f"route{number}_name")).strip()
        rules = (
            (params.get(f"route{number}_conditions") or {}).get("rules")
            if isinstance(params.get(f"route{number}_conditions"), dict)
            else None
        )
        if name or rules:
            used.append((number, name))
    return used


def check_switch(params: dict[str, Any]) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    used = _routes_used(params)
    for number, name in used:
        value = params.get(f"route{number}_conditions")
        if not name:
            problems[f"route{number}_name"] = [f"Route {number} has conditions: give it a name."]
        elif name.lower() == FALLBACK:
            problems[f"route{number}_name"] = ["“fallback” is the route taken when no other matches."]
        elif name.lower() in seen:
            problems[f"route{number}_name"] = [
                f"Route {seen[name.lower()]} is already named '{name}': route names must differ."
            ]
        else:
            seen[name.lower()] = number
        if not (isinstance(value, dict) and value.get("rules")):
            problems[f"route{number}_conditions"] = [
                f"Route {number} ('{name}'): add at least one condition."
            ]
    if not used:
        problems["route1_name"] = ["Add at least one route: a name and its conditions."]
    return problems


async def run_switch(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    # The params arrive checked by check_switch (the engine's clean_for_run).
    chosen: list[str] = []
    for number, name in _routes_used(params):
        field = f"route{number}_conditions"
        if _holds(ctx, params, field, f"Route {number} ('{name}') conditions"):
            chosen.append(f"route{number}")
            if params.get("mode", "first") == "first":
                break
    return Routed(_value(ctx, params), tuple(chosen) or (FALLBACK,))


def switch_port_labels(params: dict[str, Any]) -> dict[str, str]:
    """The canvas labels of a Switch's ports: its routes' names (unused routes keep their port id)."""
    return {f"route{number}": name for number, name in _routes_used(params) if name}


SWITCH = _flow_type(
    "flow.switch",
    "Switch",
    "Sends its value down the named routes whose conditions hold, else down “fallback”.",
    run_switch,
    fields=(SWITCH_MODE, *(f for n in range(1, MAX_ROUTES + 1) for f in _route_fields(n)), VALUE),
    check=check_switch,
    icon="branch",
    outputs=(*(f"route{n}" for n in range(1, MAX_ROUTES + 1)), FALLBACK),
    port_labels=switch_port_labels,
)


# -- Merge ---------------------------------------------------------------------------------------

MERGE_INPUTS = Field(
    "inputs",
    "Inputs",
    kind="references",
    required=True,
    expressions=False,
    placeholder="$3, $4",
    max_length=500,
    help="The outputs to combine, in order: node references without braces, with a path if needed "
    "($3, $4.body.items). One whose node did not run (its route was not taken) is left out.",
)
MERGE_MODE = Field(
    "mode",
    "Combine",
    kind="select",
    required=True,
    default="append",
    expressions=False,
    choices=(
        ("append", "Append: one list of everything"),
        ("position", "By position: item 1 with item 1, …"),
        ("key", "By matching key: join two lists of objects"),
    ),
)
MERGE_KEY = Field(
    "key",
    "Key",
    required=True,
    expressions=False,
    max_length=200,
    placeholder="id",
    show_if=(("mode", "key"),),
    help="The field both lists' objects share; objects with equal values are joined into one.",
)


def _merge_refs(text: str) -> list[expressions.Reference]:
    """The Inputs field as references; NodeError naming the field."""
    try:
        return expressions.bare_references(text)
    except expressions.ExpressionError as exc:
        raise NodeError(f"Inputs: {exc}", fields={"inputs": [str(exc)]}) from None


def check_merge(params: dict[str, Any]) -> dict[str, list[str]]:
    try:
        refs = _merge_refs(as_text(params.get("inputs")))
    except NodeError as exc:
        return {"inputs": exc.details["fields"]["inputs"]}
    if not refs:
        return {"inputs": ["Name at least one input, such as $3."]}
    if len(refs) > MAX_MERGE_INPUTS:
        return {"inputs": [f"At most {MAX_MERGE_INPUTS} inputs (this has {len(refs)})."]}
    if params.get("mode") in ("position", "key") and len(refs) < 2:
        return {"inputs": ["Name two inputs to combine by position or by key, such as $3, $4."]}
    if params.get("mode") == "key" and len(refs) != 2:
        return {"inputs": ["Joining by key combines exactly two inputs."]}
    return {}


def _delivered(ctx: NodeContext, refs: list[expressions.Reference]) -> list[tuple[str, Any]]:
    found = []
    for ref in refs:
        if ref.node not in ctx.upstream:
            continue  # its node did not run here: a route not taken
        try:
            found.append(
                (f"${ref.node}{''.join(f'.{p}' for p in ref.path)}", expressions.lookup(ctx.upstream, ref))
            )
        except expressions.ExpressionError as exc:
            raise NodeError(f"Inputs: {exc}", fields={"inputs": [str(exc)]}) from None
    return found


def _as_list(name: str, value: Any, mode: str) -> list[Any]:
    if not isinstance(value, list):
        message = f"Inputs: {name} is {type(value).__name__} data, not a list; {mode} combines lists."
        raise NodeError(message, fields={"inputs": [message]})
    return value


async def run_merge(ctx: NodeContext, params: dict[str, Any]) -> Routed:
    delivered = _delivered(ctx, _merge_refs(params["inputs"]))
    mode = params.get("mode", "append")
    if mode == "append":
        merged: list[Any] = []
        for _, value in delivered:
            merged.extend(value if isinstance(value, list) else [value])
    elif mode == "position":
        lists = [_as_list(name, value, "by position") for name, value in delivered]
        merged = [_combine(items) for items in zip(*lists, strict=False)] if lists else []
    else:
        if len(delivered) != 2:
            got = ", ".join(name for name, _ in delivered) or "none"
            message = f"Inputs: joining by key needs both inputs, but only {got} arrived."
            raise NodeError(message, fields={"inputs": [message]})
        merged = _join(delivered, as_text(params.get("key")).strip())
    if len(merged) > MAX_MERGE_ITEMS:
        raise NodeError(f"The merged list has {len(merged):,} items, over the limit of {MAX_MERGE_ITEMS:,}.")
    return Routed(merged, (DEFAULT_PORT,))


def _combine(items: tuple[Any, ...]) -> Any:
    """Items at one position: objects are merged into one (later inputs win), anything else listed."""
    if all(isinstance(item, dict) for item in items):
        combined: dict[str, Any] = {}
        for item in items:
            combined.update(item)
        return combined
    return list(items)


def _join(delivered: list[tuple[str, Any]], key: str) -> list[Any]:
    (left_name, left), (right_name, right) = delivered
    left_items = _as_list(left_name, left, "by matching key")
    right_items = _as_list(right_name, right, "by matching key")
    by_key: dict[str, list[dict[str, Any]]] = {}
    for number, item in enumerate(right_items, start=1):
        if not isinstance(item, dict):
            message = f"Inputs: item {number} of {right_name} is not an object, so it has no '{key}'."
            raise NodeError(message, fields={"inputs": [message]})
        if key in item:
            by_key.setdefault(as_text(item[key]), []).append(item)
    joined: list[dict[str, Any]] = []
    for number, item in enumerate(left_items, start=1):
        if not isinstance(item, dict):
            message = f"Inputs: item {number} of {left_name} is not an object, so it has no '{key}'."
            raise NodeError(message, fields={"inputs": [message]})
        if key in item:
            joined.extend({**item, **match} for match in by_key.get(as_text(item[key]), []))
    return joined


MERGE = _flow_type(
    "flow.merge",
    "Merge",
    "Waits for its inputs and combines them: appended, by position or by a matching key.",
    run_merge,
    fields=(MERGE_INPUTS, MERGE_MODE, MERGE_KEY),
    check=check_merge,
    icon="merge",
)

TYPES = (IF, SWITCH, FILTER, MERGE)
