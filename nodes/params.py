"""Checking and normalising a node's parameter values, field kind by field kind.

One set of rules serves the inspector form (at save time, where values holding `{{…}}` skip the
checks that only make sense once resolved) and the run (after expressions were resolved, where
everything is checked). Every message names the problem the way the user sees the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from nodes import conditions, expressions, field_rows
from nodes.base import CheckFn, Field, NodeContext, NodeError, NodeKind, NodeType, as_bool
from nodes.expressions import as_text, has_expression
from nodes.json_limits import BadData, check_data

FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
FUNCTION_KEYS = {"name", "description", "parameters", "strict"}
MAX_ID_LENGTH = 256
MAX_HEADER_VALUE = 8192


class Invalid(Exception):
    """A value is not acceptable; `messages` are shown at the field."""

    def __init__(self, *messages: str) -> None:
        super().__init__(" ".join(messages))
        self.messages = list(messages)


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | dict):
        return not value
    return False


# -- one value ----------------------------------------------------------------------------------


def clean_value(field: Field, value: Any, *, saving: bool = False) -> Any:
    """The value checked and normalised, raising Invalid. `value` is not empty.

    `saving=True` (the inspector form): parts holding `{{…}}` are kept as written; their checks
    happen after they are resolved, at run time.
    """
    kind = field.kind
    if kind == "toggle":
        return as_bool(value)
    if saving and isinstance(value, str) and has_expression(value) and kind not in _STRUCTURED:
        return value
    if kind in ("text", "long_text", "code"):
        return _clean_text(field, value)
    if kind == "id":
        return _clean_id(field, value)
    if kind == "number":
        return _clean_number(field, value)
    if kind == "select":
        return _clean_select(field, value)
    if kind == "json":
        return _parse_json(field, value, saving=saving)
    if kind == "functions":
        return _clean_functions(field, value, saving=saving)
    if kind == "file_ids":
        return _clean_file_ids(field, value, saving=saving)
    if kind in ("metadata", "key_values"):
        return _clean_pairs(field, value, saving=saving)
    if kind == "references":
        try:
            return ", ".join(ref.source[2:-2] for ref in expressions.bare_references(as_text(value)))
        except expressions.ExpressionError as exc:
            raise Invalid(str(exc)) from None
    if kind == "field_rows":
        return _clean_field_rows(field, value, saving=saving)
    if kind == "conditions":
        try:
            return conditions.parse(value, saving=saving).as_data()
        except conditions.ConditionError as exc:
            raise Invalid(*exc.messages) from None
    return value


_STRUCTURED = {"json", "functions", "file_ids", "metadata", "key_values", "conditions", "field_rows"}


def _clean_field_rows(field: Field, value: Any, *, saving: bool) -> list[dict[str, Any]]:
    try:
        rows = field_rows.clean(field, value)
    except field_rows.RowsInvalid as exc:
        raise Invalid(*exc.messages) from None
    # Once resolved, each value is converted by the node; at save time only the literal ones.
    problems = field_rows.check_saved(rows) if saving else []
    if problems:
        raise Invalid(*problems)
    return rows


def _clean_text(field: Field, value: Any) -> Any:
    if field.keeps_type and not isinstance(value, str):
        return value
    text = as_text(value)
    if field.kind == "text":
        text = text.strip()
    if field.max_length is not None and len(text) > field.max_length:
        raise Invalid(f"At most {field.max_length:,} characters (this has {len(text):,}).")
    return text


def _clean_id(field: Field, value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise Invalid(f"Write an id such as asst_abc123, not {type(value).__name__} data.")
    text = str(value).strip()
    if len(text) > (field.max_length or MAX_ID_LENGTH):
        raise Invalid(f"At most {field.max_length or MAX_ID_LENGTH:,} characters (this has {len(text):,}).")
    if text in (".", "..") or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise Invalid(f"'{text[:80]}' is not a valid id: no spaces or control characters.")
    return text


def _clean_number(field: Field, value: Any) -> int | float:
    if isinstance(value, bool):
        raise Invalid("Enter a number.")
    number: int | float
    if isinstance(value, int | float):
        number = value
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            raise Invalid("Enter a number.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise Invalid("Enter a number.")
    if float(number).is_integer():
        number = int(number)
    if field.min_value is not None and number < field.min_value:
        raise Invalid(f"At least {field.min_value:g}.")
    if field.max_value is not None and number > field.max_value:
        raise Invalid(f"At most {field.max_value:g}.")
    return number


def _clean_select(field: Field, value: Any) -> str:
    text = as_text(value).strip()
    if field.live_choices:
        if len(text) > 200 or any(ch.isspace() for ch in text):
            raise Invalid(f"'{text[:80]}' is not a valid model ID.")
        return text
    allowed = [key for key, _ in field.choices]
    if text not in allowed:
        raise Invalid(f"Choose one of: {', '.join(allowed)}.")
    return text


def _parse_json(field: Field, value: Any, *, saving: bool) -> Any:
    parsed = value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError) as exc:
            if saving and has_expression(value):
                return value  # e.g. {{$3.data}}: a whole-value expression, checked once resolved
            where = (
                f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            )
            raise Invalid(f"This is not valid JSON{where}.") from None
    try:
        check_data(parsed, "value")
    except BadData as exc:
        raise Invalid(str(exc)) from None
    return parsed


def _clean_functions(field: Field, value: Any, *, saving: bool) -> Any:
    parsed = _parse_json(field, value, saving=saving)
    if saving and has_expression(parsed):
        return parsed
    if isinstance(parsed, dict):
        parsed = [parsed]
    example = (
        'Write a list like [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}].'
    )
    if not isinstance(parsed, list):
        raise Invalid(f"Functions must be a JSON list. {example}")
    tools: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, item in enumerate(parsed, start=1):
        where = f"Function {number}"
        if not isinstance(item, dict) or item.get("type", "function") != "function":
            problems.append(f"{where} is not a function definition. {example}")
            continue
        extra = set(item) - {"type", "function"}
        function = item.get("function")
        if extra or not isinstance(function, dict):
            problems.append(f'{where}: put name, description and parameters inside "function". {example}')
            continue
        name = function.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.match(name):
            problems.append(
                f"{where}: the name {json.dumps(name)[:80]} is not valid: use letters, digits, _ and -, "
                "at most 64 characters."
            )
        elif name in seen:
            problems.append(f"{where}: the name '{name}' is used twice.")
        else:
            seen.add(name)
        unknown = sorted(set(function) - FUNCTION_KEYS)
        if unknown:
            problems.append(f"{where}: unknown key {', '.join(repr(k) for k in unknown)}.")
        if "description" in function and not isinstance(function["description"], str):
            problems.append(f"{where}: the description must be text.")
        if "parameters" in function and not isinstance(function["parameters"], dict):
            problems.append(f"{where}: parameters must be a JSON Schema object, like {{}}.")
        if function.get("strict") is not None and not isinstance(function["strict"], bool):
            problems.append(f"{where}: strict must be true or false.")
        tools.append({"type": "function", "function": dict(function)})
    if problems:
        raise Invalid(*problems)
    if field.max_items is not None and len(tools) > field.max_items:
        raise Invalid(f"At most {field.max_items} functions (this has {len(tools)}).")
    return tools


def _clean_file_ids(field: Field, value: Any, *, saving: bool) -> Any:
    parsed = _parse_json(field, value, saving=saving)
    if saving and isinstance(parsed, str) and has_expression(parsed):
        return parsed
    if not isinstance(parsed, list):
        raise Invalid('Write the file IDs as a JSON list, like ["file-abc","file-def"].')
    ids: list[str] = []
    problems: list[str] = []
    for number, item in enumerate(parsed, start=1):
        if saving and isinstance(item, str) and has_expression(item):
            ids.append(item)
            continue
        if not isinstance(item, str) or not item.strip():
            problems.append(f'Item {number} is not a file ID (write text like "file-abc").')
            continue
        item = item.strip()
        if len(item) > MAX_ID_LENGTH or any(ch.isspace() or ord(ch) < 32 for ch in item):
            problems.append(f"Item {number} is not a valid file ID.")
        elif item in ids:
            problems.append(f"'{item}' is listed twice.")
        else:
            ids.append(item)
    if problems:
        raise Invalid(*problems)
    if field.max_items is not None and len(ids) > field.max_items:
        raise Invalid(f"At most {field.max_items} files (this has {len(ids)}).")
    return ids


def pairs_of(value: Any) -> list[tuple[Any, Any]]:
    """Key-value pairs from a dict, a list of [key, value] pairs or a JSON text of either."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise Invalid('Write key-value pairs, like {"customer": "42"}.') from None
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, list | tuple) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
        return [(p[0], p[1]) for p in value]
    raise Invalid('Write key-value pairs, like {"customer": "42"}.')


def _clean_pairs(field: Field, value: Any, *, saving: bool) -> dict[str, str]:
    headers = field.kind == "key_values"
    key_limit, value_limit = (64, 512) if not headers else (256, MAX_HEADER_VALUE)
    result: dict[str, str] = {}
    problems: list[str] = []
    seen: set[str] = set()
    for key, item in pairs_of(value):
        key = as_text(key).strip()
        item = as_text(item) if not isinstance(item, dict | list) else item
        if not key and is_empty(item):
            continue  # an empty row of the editor
        if not key:
            problems.append("Every value needs a key.")
            continue
        if not isinstance(item, str):
            problems.append(f"The value of '{key[:64]}' must be text, not a list or object.")
            continue
        folded = key.lower() if headers else key
        if folded in seen:
            problems.append(f"The key '{key[:64]}' appears twice.")
            continue
        seen.add(folded)
        if len(key) > key_limit:
            problems.append(f"The key '{key[:20]}…' is longer than {key_limit} characters ({len(key)}).")
        if not (saving and has_expression(item)) and len(item) > value_limit:
            problems.append(
                f"The value of '{key[:64]}' is longer than {value_limit} characters ({len(item)})."
            )
        if headers:
            problems.extend(_header_problems(field, key, item, saving=saving))
        result[key] = item
    limit = field.max_items
    if limit is not None and len(result) > limit:
        problems.insert(0, f"At most {limit} pairs (this has {len(result)}).")
    if problems:
        raise Invalid(*problems)
    return result


def _header_problems(field: Field, name: str, value: str, *, saving: bool) -> list[str]:
    """The node type's own rule for a header (Field.item_check). A value still holding {{…}} is
    checked once resolved; its name is checked now."""
    if field.item_check is None:
        return []
    reason = field.item_check(name, "" if saving and has_expression(value) else value)
    return [reason] if reason else []


# -- a whole node -------------------------------------------------------------------------------


def stored_value(field: Field, value: Any) -> Any:
    """A value as written, in the shape it is stored in (parsed JSON when it parses)."""
    try:
        return clean_value(field, value, saving=True)
    except Invalid:
        if field.kind in ("metadata", "key_values"):
            try:
                return {as_text(k): v for k, v in pairs_of(value)}
            except Invalid:
                return value
        if field.kind in ("json", "functions", "file_ids") and isinstance(value, str):
            try:
                return json.loads(value)
            except (ValueError, RecursionError):
                return value
        return value


def clean_params(
    fields: Sequence[Field], params: Mapping[str, Any], check: CheckFn | None = None
) -> dict[str, Any]:
    """Resolved params checked for a run: what the execute function receives. Raises NodeError with
    per-field messages. Hidden conditional fields and empty optional fields are left out."""
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for field in fields:
        if field.kind in ("credential", "webhook_url") or not field.shown(params):
            continue
        value = params.get(field.name, field.default)
        if is_empty(value):
            if field.required and not field.credential_default:
                errors[field.name] = [f"{field.label} is empty."]
            continue
        try:
            cleaned[field.name] = clean_value(field, value)
        except Invalid as exc:
            errors[field.name] = exc.messages
    if not errors and check is not None:
        errors.update(check(cleaned))
    if errors:
        labels = {f.name: f.label for f in fields}
        summary = "; ".join(f"{labels.get(name, name)}: {' '.join(msgs)}" for name, msgs in errors.items())
        raise NodeError(f"Some fields are not valid. {summary}", fields=errors)
    return cleaned


RunFn = Callable[[NodeContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def define(
    *,
    key: str,
    app: str,
    title: str,
    description: str,
    kind: NodeKind,
    fields: tuple[Field, ...],
    run: RunFn,
    check: CheckFn | None = None,
    color: str = "#10a37f",
    icon: str = "openai",
) -> NodeType:
    """A node type whose execute function receives its params cleaned (the engine cleans them once,
    with `nodes.forms.clean_for_run`, after resolving expressions)."""
    return NodeType(
        key=key,
        app=app,
        title=title,
        description=description,
        kind=kind,
        fields=fields,
        execute=run,
        color=color,
        icon=icon,
        check=check,
    )
