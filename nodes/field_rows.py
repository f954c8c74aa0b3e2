"""The `field_rows` field kind: named, typed values, `[{"name": "age", "type": "number", "value":
"{{$1.body.age}}"}, …]` (Edit fields' rows). Checked here at save time and once resolved; the
conversion to each row's type happens at run time (`convert`), with errors naming the row."""

from __future__ import annotations

import json
import math
from typing import Any

from nodes.base import Field
from nodes.expressions import as_text, has_expression
from nodes.json_limits import BadData, check_data

TYPES = (("text", "Text"), ("number", "Number"), ("boolean", "True/false"), ("json", "JSON"))
TYPE_NAMES = {key for key, _ in TYPES}
MAX_NAME = 200
TRUE = {"true", "yes", "on", "1"}
FALSE = {"false", "no", "off", "0"}


class RowsInvalid(ValueError):
    def __init__(self, *messages: str) -> None:
        super().__init__(" ".join(messages))
        self.messages = list(messages)


def rows_of(value: Any) -> list[dict[str, Any]]:
    """The rows from stored data or a JSON text of it; RowsInvalid when it is neither."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise RowsInvalid(
                'Write the fields as a list like [{"name": "age", "type": "number", "value": "42"}].'
            ) from None
    if isinstance(value, dict):
        value = [{"name": key, "type": "text", "value": item} for key, item in value.items()]
    if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
        raise RowsInvalid(
            'Write the fields as a list like [{"name": "age", "type": "number", "value": "42"}].'
        )
    return value


def clean(field: Field, value: Any) -> list[dict[str, Any]]:
    """Rows with a name, a known type and a value; empty rows of the editor are dropped."""
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, row in enumerate(rows_of(value), start=1):
        name = as_text(row.get("name")).strip()
        kind = as_text(row.get("type") or "text").strip()
        item = row.get("value", "")
        if not name and item in ("", None):
            continue
        if not name:
            problems.append(f"Field {number} has a value but no name.")
            continue
        if len(name) > MAX_NAME:
            problems.append(f"Field {number}: the name is longer than {MAX_NAME} characters.")
            continue
        if name in seen:
            problems.append(f"The name '{name[:64]}' is used twice.")
            continue
        seen.add(name)
        if kind not in TYPE_NAMES:
            problems.append(f"Field '{name[:64]}': the type must be one of {', '.join(sorted(TYPE_NAMES))}.")
            continue
        rows.append({"name": name, "type": kind, "value": item})
    if field.max_items is not None and len(rows) > field.max_items:
        problems.insert(0, f"At most {field.max_items} fields (this has {len(rows)}).")
    if problems:
        raise RowsInvalid(*problems)
    return rows


def convert(row: dict[str, Any]) -> Any:
    """A resolved row's value as its type; RowsInvalid naming the row and the type otherwise."""
    name, kind, value = row["name"], row["type"], row["value"]
    where = f"Field '{name[:64]}' ({kind})"
    shown = as_text(value)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    if kind == "text":
        return as_text(value)
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            number: int | float = value
        else:
            try:
                number = float(as_text(value).strip())
            except ValueError:
                raise RowsInvalid(f"{where}: '{shown}' is not a number.") from None
        if not math.isfinite(number):
            raise RowsInvalid(f"{where}: '{shown}' is not a finite number.")
        return int(number) if float(number).is_integer() and abs(number) < 2**53 else number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        text = as_text(value).strip().lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise RowsInvalid(f"{where}: '{shown}' is not true or false (write true, false, yes, no, 1 or 0).")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            at = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
            raise RowsInvalid(f"{where}: '{shown}' is not valid JSON{at}.") from None
    try:
        check_data(value, f"value of field '{name[:64]}'")
    except BadData as exc:
        raise RowsInvalid(str(exc)) from None
    return value


def check_saved(rows: list[dict[str, Any]]) -> list[str]:
    """Save-time conversion problems of rows whose value holds no expression yet."""
    problems = []
    for row in rows:
        if has_expression(row["value"]) or row["value"] in ("", None) and row["type"] != "number":
            continue
        try:
            convert(row)
        except RowsInvalid as exc:
            problems.extend(exc.messages)
    return problems
