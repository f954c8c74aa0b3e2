"""Edit fields (Set): an object built from named, typed fields, on top of the input's own fields.

The input is an object (by default the output of the highest-numbered upstream node, as Flow's
nodes do). "Include" says which of its fields stay: all, none, only the ones listed, or all but the
ones listed; the named fields are then set, each converted to its type (text, number, true/false,
JSON), later rows winning. A value that does not convert is an error naming the field and its type.
"""

from __future__ import annotations

from typing import Any

from nodes import field_rows
from nodes.base import Field, NodeContext, NodeError, NodeType
from nodes.expressions import as_text

MAX_FIELDS = 50

INPUT = Field(
    "input",
    "Input",
    kind="long_text",
    keeps_type=True,
    placeholder="{{$1.body}}",
    help="The object whose fields are kept or dropped, usually one expression such as {{$1.body}}. "
    "Empty: the output of the highest-numbered upstream node (usually the one just before).",
)
FIELDS = Field(
    "fields",
    "Fields to set",
    kind="field_rows",
    max_items=MAX_FIELDS,
    help="Each field: a name, a type and a value (text with expressions such as {{$1.body.age}}). "
    "JSON takes a list or object, written out or from one expression.",
)
INCLUDE = Field(
    "include",
    "Include input fields",
    kind="select",
    required=True,
    default="all",
    expressions=False,
    choices=(
        ("all", "All of them"),
        ("none", "None: only the fields set here"),
        ("selected", "Only the ones listed"),
        ("except", "All except the ones listed"),
    ),
)


def _names_field(name: str, label: str, include: str, placeholder: str) -> Field:
    return Field(
        name,
        label,
        required=True,
        expressions=False,
        max_length=2000,
        placeholder=placeholder,
        show_if=(("include", include),),
        help="Names of the input's fields, separated by commas.",
    )


KEEP = _names_field("keep", "Input fields to keep", "selected", "id, email")
DROP = _names_field("drop", "Input fields to drop", "except", "password, internal_note")


def _names(text: Any) -> list[str]:
    return [name.strip() for name in as_text(text).split(",") if name.strip()]


def _input(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    fallback = ctx.upstream[max(ctx.upstream)] if ctx.upstream else {}
    value = params.get("input", fallback)
    if value is None:
        return {}
    if not isinstance(value, dict):
        kind = {list: "a list", str: "text", bool: "true/false"}.get(type(value), "a number")
        message = f"The input is {kind}, not an object with fields; point Input at an object such as {{{{$1.body}}}}."
        raise NodeError(f"Input: {message}", fields={"input": [message]})
    return value


async def run_edit_fields(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    source = _input(ctx, params)
    include = params.get("include", "all")
    if include == "all":
        output = dict(source)
    elif include == "selected":
        output = {name: source[name] for name in _names(params.get("keep")) if name in source}
    elif include == "except":
        dropped = set(_names(params.get("drop")))
        output = {name: value for name, value in source.items() if name not in dropped}
    else:
        output = {}
    problems: list[str] = []
    for row in params.get("fields") or []:
        try:
            output[row["name"]] = field_rows.convert(row)
        except field_rows.RowsInvalid as exc:
            problems.extend(exc.messages)
    if problems:
        raise NodeError(f"Fields to set: {' '.join(problems)}", fields={"fields": problems})
    return output


EDIT_FIELDS = NodeType(
    key="data.set",
    app="Data",
    title="Edit fields",
    description="Builds an object: sets named, typed fields and keeps, drops or selects the input's.",
    kind="action",
    fields=(INPUT, FIELDS, INCLUDE, KEEP, DROP),
    execute=run_edit_fields,
    color="#7c3aed",
    icon="edit",
    reads_upstream=True,
)

TYPES = (EDIT_FIELDS,)
