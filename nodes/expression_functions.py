"""The functions expressions may call: `{{ upper(trim($1.body.name)) }}`.

Each one takes JSON values and returns a JSON value; none reaches an attribute, evaluates what it is
given or produces, or touches anything outside its arguments (`now()` reads the clock). Work is
bounded: lists and texts they build have a size cap, checked before the result exists.
Dates are ISO 8601 texts, so they travel through node outputs like any other value.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_TEXT = 1_000_000
MAX_ITEMS = 10_000
ORDINALS = ("first", "second", "third", "fourth", "fifth")
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}


class FunctionError(ValueError):
    pass


@dataclass(frozen=True)
class Function:
    name: str
    signature: str
    help: str
    run: Callable[..., Any]
    min_args: int
    max_args: int | None


FUNCTIONS: dict[str, Function] = {}
GROUPS: dict[str, list[Function]] = {}


def function(group: str, signature: str, help: str, min_args: int, max_args: int | None = -1) -> Callable:
    """Registers a function; max_args -1 means "as many as min_args", None means any number."""

    def register(run: Callable[..., Any]) -> Callable[..., Any]:
        name = signature.split("(", 1)[0]
        entry = Function(name, signature, help, run, min_args, min_args if max_args == -1 else max_args)
        FUNCTIONS[name] = entry
        GROUPS.setdefault(group, []).append(entry)
        return run

    return register


def arity_problem(name: str, count: int) -> str | None:
    """Checked when the expression is parsed, so a wrong count is refused at save time."""
    entry = FUNCTIONS[name]
    if entry.min_args <= count and (entry.max_args is None or count <= entry.max_args):
        return None
    expected = (
        f"{entry.min_args}"
        if entry.max_args == entry.min_args
        else f"at least {entry.min_args}"
        if entry.max_args is None
        else f"{entry.min_args} to {entry.max_args}"
    )
    return f"{name}: takes {expected} argument(s), got {count} — write {entry.signature}"


def call(name: str, args: list[Any]) -> Any:
    problem = arity_problem(name, len(args))
    if problem:
        raise FunctionError(problem + ".")
    return FUNCTIONS[name].run(*args)


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _ordinal(position: int) -> str:
    return ORDINALS[position] if position < len(ORDINALS) else f"#{position + 1}"


def _wrong(name: str, position: int, wanted: str, value: Any) -> FunctionError:
    return FunctionError(f"{name}: the {_ordinal(position)} argument must be {wanted}, got {kind_of(value)}.")


def _text(name: str, position: int, value: Any) -> str:
    if not isinstance(value, str):
        raise _wrong(name, position, "text", value)
    return value


def _number(name: str, position: int, value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(name, position, "a number", value)
    return value


def _integer(name: str, position: int, value: Any) -> int:
    number = _number(name, position, value)
    if isinstance(number, float) and not number.is_integer():
        raise _wrong(name, position, "a whole number", value)
    return int(number)


def _list(name: str, position: int, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _wrong(name, position, "a list", value)
    return value


def _capped_text(name: str, size: int) -> None:
    if size > MAX_TEXT:
        raise FunctionError(f"{name}: the result would be over {MAX_TEXT:,} characters.")


def _capped_list(name: str, size: int) -> None:
    if size > MAX_ITEMS:
        raise FunctionError(f"{name}: the result would be over {MAX_ITEMS:,} items.")


# Text


@function("Text", "lower(text)", "The text in lower case.", 1)
def lower(text: Any) -> str:
    return _text("lower", 0, text).lower()


@function("Text", "upper(text)", "The text in upper case.", 1)
def upper(text: Any) -> str:
    return _text("upper", 0, text).upper()


@function("Text", "trim(text)", "The text without spaces at either end.", 1)
def trim(text: Any) -> str:
    return _text("trim", 0, text).strip()


@function("Text", "replace(text, old, new)", "Every old in the text replaced by new.", 3)
def replace(text: Any, old: Any, new: Any) -> str:
    text, old, new = _text("replace", 0, text), _text("replace", 1, old), _text("replace", 2, new)
    if not old:
        raise FunctionError("replace: the second argument must not be empty.")
    _capped_text("replace", len(text) + text.count(old) * (len(new) - len(old)))
    return text.replace(old, new)


@function("Text", "split(text, separator)", "A list of the parts of the text between separators.", 2)
def split(text: Any, separator: Any) -> list[str]:
    text, separator = _text("split", 0, text), _text("split", 1, separator)
    if not separator:
        raise FunctionError("split: the second argument must not be empty.")
    _capped_list("split", text.count(separator) + 1)
    return text.split(separator)


@function("Text", "join(list, separator)", "The list's items as one text, separated.", 2)
def join(items: Any, separator: Any) -> str:
    items, separator = _list("join", 0, items), _text("join", 1, separator)
    _capped_list("join", len(items))
    parts = [item if isinstance(item, str) else json.dumps(item, ensure_ascii=False) for item in items]
    _capped_text("join", sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0))
    return separator.join(parts)


@function("Text", "length(text or list)", "The number of characters of a text or items of a list.", 1)
def length(value: Any) -> int:
    if not isinstance(value, str | list | dict):
        raise _wrong("length", 0, "text, a list or an object", value)
    return len(value)


@function("Text", "slice(text or list, start, end)", "Part of a text or list, from start up to end.", 2, 3)
def slice_(value: Any, start: Any, end: Any = None) -> Any:
    if not isinstance(value, str | list):
        raise _wrong("slice", 0, "text or a list", value)
    first = _integer("slice", 1, start)
    return value[first:] if end is None else value[first : _integer("slice", 2, end)]


# Numbers


@function("Numbers", "round(number, digits)", "The number rounded (to whole numbers by default).", 1, 2)
def round_(number: Any, digits: Any = 0) -> int | float:
    value, places = _number("round", 0, number), _integer("round", 1, digits)
    if not 0 <= places <= 15:
        raise FunctionError("round: the second argument must be between 0 and 15.")
    return round(value) if places == 0 else round(value, places)


def _numbers(name: str, args: tuple[Any, ...]) -> list[int | float]:
    values = _list(name, 0, args[0]) if len(args) == 1 else list(args)
    _capped_list(name, len(values))
    if len(args) == 1:
        for item in values:
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise FunctionError(f"{name}: every item of the list must be a number, got {kind_of(item)}.")
        return values
    return [_number(name, position, value) for position, value in enumerate(values)]


def _extreme(
    name: str, args: tuple[Any, ...], pick: Callable[[list[int | float]], int | float]
) -> int | float:
    values = _numbers(name, args)
    if not values:
        raise FunctionError(f"{name}: the list is empty.")
    return pick(values)


@function("Numbers", "min(list or numbers…)", "The smallest number.", 1, None)
def min_(*args: Any) -> int | float:
    return _extreme("min", args, min)


@function("Numbers", "max(list or numbers…)", "The largest number.", 1, None)
def max_(*args: Any) -> int | float:
    return _extreme("max", args, max)


@function("Numbers", "sum(list or numbers…)", "The numbers added up.", 1, None)
def sum_(*args: Any) -> int | float:
    values = _numbers("sum", args)
    return math.fsum(values) if any(isinstance(v, float) for v in values) else sum(values)


# Lists


def _at_path(value: Any, path: str) -> Any:
    """A dotted path of keys and indexes inside one item, as data (a key is never an attribute)."""
    for part in path.split(".") if path else ():
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


@function("Lists", "first(list)", "The first item (nothing when the list is empty).", 1)
def first(items: Any) -> Any:
    items = _list("first", 0, items)
    return items[0] if items else None


@function("Lists", "last(list)", "The last item (nothing when the list is empty).", 1)
def last(items: Any) -> Any:
    items = _list("last", 0, items)
    return items[-1] if items else None


@function("Lists", "map(list, path)", 'Each item\'s value at a path: map($1.users, "name").', 2)
def map_(items: Any, path: Any) -> list[Any]:
    items, path = _list("map", 0, items), _text("map", 1, path)
    _capped_list("map", len(items))
    return [_at_path(item, path) for item in items]


@function(
    "Lists",
    "filter(list, path, value)",
    'The items whose value at a path equals a value: filter($1.users, "role", "admin").',
    3,
)
def filter_(items: Any, path: Any, value: Any) -> list[Any]:
    items, path = _list("filter", 0, items), _text("filter", 1, path)
    _capped_list("filter", len(items))
    return [item for item in items if _same(_at_path(item, path), value)]


def _same(left: Any, right: Any) -> bool:
    """JSON equality: true is not 1, and 1 is 1.0."""
    return isinstance(left, bool) == isinstance(right, bool) and left == right


@function("Lists", "unique(list)", "The list without repeated items, in their first order.", 1)
def unique(items: Any) -> list[Any]:
    items = _list("unique", 0, items)
    _capped_list("unique", len(items))
    seen: set[str] = set()
    kept = []
    for item in items:
        key = json.dumps(item, sort_keys=True)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


@function("Lists", "sort(list, path)", "The list sorted (by the value at a path, if given).", 1, 2)
def sort(items: Any, path: Any = "") -> list[Any]:
    items, path = _list("sort", 0, items), _text("sort", 1, path)
    _capped_list("sort", len(items))
    keys = [_at_path(item, path) for item in items]
    if all(isinstance(k, int | float) and not isinstance(k, bool) for k in keys) or all(
        isinstance(k, str) for k in keys
    ):
        order = sorted(range(len(items)), key=lambda i: keys[i])
        return [items[i] for i in order]
    raise FunctionError("sort: the values to sort by must be all numbers or all text.")


# Dates


def _date(name: str, position: int, value: Any) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise FunctionError(
                f"{name}: the {_ordinal(position)} argument is not a time Scenery can handle."
            ) from None
    if not isinstance(value, str):
        raise _wrong(name, position, "a date (ISO 8601 text or seconds since 1970)", value)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FunctionError(
            f"{name}: the {_ordinal(position)} argument must be a date like 2026-01-31T09:30:00Z, got '{value[:40]}'."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _unit(name: str, position: int, value: Any) -> int:
    if value not in UNITS:
        raise FunctionError(f"{name}: the {_ordinal(position)} argument must be one of {', '.join(UNITS)}.")
    return UNITS[value]


@function("Dates", "now()", "The current time (UTC), as ISO 8601 text.", 0)
def now() -> str:
    return datetime.now(UTC).isoformat()


@function(
    "Dates", "parse_date(text, format)", "A date read from text (ISO 8601, or a strptime format).", 1, 2
)
def parse_date(value: Any, pattern: Any = None) -> str:
    if pattern is None:
        return _date("parse_date", 0, value).isoformat()
    text, pattern = _text("parse_date", 0, value), _text("parse_date", 1, pattern)
    try:
        moment = datetime.strptime(text, pattern)
    except ValueError as exc:
        raise FunctionError(f"parse_date: '{text[:40]}' does not match the format: {exc}.") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


@function(
    "Dates",
    "format_date(date, format)",
    'A date written with a strftime format: format_date(now(), "%d %B %Y").',
    2,
)
def format_date(value: Any, pattern: Any) -> str:
    moment, pattern = _date("format_date", 0, value), _text("format_date", 1, pattern)
    if len(pattern) > 200:
        raise FunctionError("format_date: the format is over 200 characters.")
    return moment.strftime(pattern)


@function(
    "Dates", "add_time(date, amount, unit)", 'The date moved by an amount: add_time(now(), 2, "days").', 3
)
def add_time(value: Any, amount: Any, unit: Any) -> str:
    moment, count = _date("add_time", 0, value), _number("add_time", 1, amount)
    try:
        return (moment + timedelta(seconds=count * _unit("add_time", 2, unit))).isoformat()
    except OverflowError:
        raise FunctionError("add_time: the result is out of the range of dates.") from None


@function(
    "Dates",
    "difference(from, to, unit)",
    'How long from one date to another: difference($1.start, now(), "hours").',
    3,
)
def difference(start: Any, end: Any, unit: Any) -> float:
    span = _date("difference", 1, end) - _date("difference", 0, start)
    return span.total_seconds() / _unit("difference", 2, unit)


@function(
    "Dates", "in_timezone(date, zone)", 'The date in a time zone: in_timezone(now(), "Europe/Paris").', 2
)
def in_timezone(value: Any, zone: Any) -> str:
    moment, name = _date("in_timezone", 0, value), _text("in_timezone", 1, zone)
    try:
        return moment.astimezone(ZoneInfo(name)).isoformat()
    except (ZoneInfoNotFoundError, ValueError):
        raise FunctionError(
            f"in_timezone: '{name[:60]}' is not a time zone (write one like Europe/Paris)."
        ) from None


# JSON


@function("JSON", "parse_json(text)", "The value written in JSON text.", 1)
def parse_json(value: Any) -> Any:
    text = _text("parse_json", 0, value)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FunctionError(f"parse_json: the first argument is not valid JSON ({exc}).") from None


@function("JSON", "to_json(value)", "The value written as JSON text.", 1)
def to_json(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    _capped_text("to_json", len(text))
    return text
