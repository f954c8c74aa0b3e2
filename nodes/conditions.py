"""Conditions: what IF, Switch and Filter test. One value of a "conditions" field is

    {"combine": "and" | "or",
     "rules": [{"left": "{{$1.body.age}}", "op": "gte", "right": "18", "type": "number"}, ...]}

Each rule compares a left value with a right value (both may hold expressions, resolved by the engine
before the node runs) as a type: text, number, boolean or date (ISO 8601). A value that is not of the
rule's type is the user's error, named by field and condition number, never a silent false.

"exists" / "does not exist" take as left value either anything (exists = not null) or a bare
reference without braces, `$1.body.email`, looked up by the node itself: a missing path is then "does
not exist" instead of the error a `{{…}}` reference to a missing path is.

Regular expressions run on the `regex` package with a timeout per match: Python's syntax (what users
and the `re` docs know), while a pattern that backtracks without end stops with a clear error instead
of holding a worker; re2 would bound the time too, but refuses lookarounds and backreferences.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import regex

from nodes import expressions
from nodes.expressions import as_text, has_expression

MAX_RULES = 20
MAX_PATTERN = 1_000
REGEX_TIMEOUT = 0.25  # seconds per match: generous for any sane pattern, short for a worker to wait

TYPES: tuple[tuple[str, str], ...] = (
    ("text", "Text"),
    ("number", "Number"),
    ("boolean", "Boolean"),
    ("date", "Date"),
)
OPERATORS: tuple[tuple[str, str], ...] = (
    ("equals", "equals"),
    ("not_equals", "does not equal"),
    ("contains", "contains"),
    ("not_contains", "does not contain"),
    ("starts_with", "starts with"),
    ("ends_with", "ends with"),
    ("gt", "is greater than"),
    ("gte", "is greater than or equal to"),
    ("lt", "is less than"),
    ("lte", "is less than or equal to"),
    ("is_empty", "is empty"),
    ("is_not_empty", "is not empty"),
    ("exists", "exists"),
    ("not_exists", "does not exist"),
    ("matches", "matches the regular expression"),
    ("is_true", "is true"),
    ("is_false", "is false"),
)
COMBINE: tuple[tuple[str, str], ...] = (
    ("and", "All conditions hold (AND)"),
    ("or", "Any condition holds (OR)"),
)
OPERATOR_NAMES = dict(OPERATORS)
TYPE_NAMES = dict(TYPES)
UNARY = {"is_empty", "is_not_empty", "exists", "not_exists", "is_true", "is_false"}
TEXT_ONLY = {"contains", "not_contains", "starts_with", "ends_with", "matches"}
ORDERED = {"gt", "gte", "lt", "lte"}
BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


class ConditionError(ValueError):
    """Conditions that cannot be checked or evaluated; `messages` each name the condition."""

    def __init__(self, *messages: str) -> None:
        super().__init__(" ".join(messages))
        self.messages = list(messages)


@dataclass(frozen=True)
class Rule:
    left: Any
    op: str
    right: Any
    type: str


@dataclass(frozen=True)
class Conditions:
    combine: str
    rules: tuple[Rule, ...]

    def as_data(self) -> dict[str, Any]:
        return {
            "combine": self.combine,
            "rules": [{"left": r.left, "op": r.op, "right": r.right, "type": r.type} for r in self.rules],
        }


# -- reading and checking ------------------------------------------------------------------------


def parse(value: Any, *, saving: bool = False) -> Conditions:
    """Conditions from stored data (or its JSON text), checked: operators and types known and fit
    together, literal numbers, dates and booleans readable, regular expressions compile. Parts
    holding `{{…}}` are checked once resolved (`saving=True`: at save time they are kept as written).
    Empty rows (no left value, no right value) are dropped."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise ConditionError(
                'Write conditions as {"combine": "and", "rules": [{"left": …, "op": "equals", '
                '"right": …, "type": "text"}]}.'
            ) from None
    if isinstance(value, list):
        value = {"combine": "and", "rules": value}
    if not isinstance(value, Mapping) or not isinstance(value.get("rules", []), list):
        raise ConditionError("Conditions must be a list of rules with AND or OR.")
    combine = as_text(value.get("combine") or "and").strip().lower()
    problems: list[str] = []
    if combine not in ("and", "or"):
        problems.append(f"Combine conditions with AND or OR, not '{combine[:20]}'.")
    rules: list[Rule] = []
    for item in value.get("rules") or []:
        if not isinstance(item, Mapping):
            problems.append(f"Condition {len(rules) + 1} is not a condition (left, operator, right, type).")
            continue
        left, right = item.get("left", ""), item.get("right", "")
        op = as_text(item.get("op") or "equals").strip()
        kind = as_text(item.get("type") or "text").strip()
        if _blank(left) and _blank(right) and op not in ("is_empty", "not_exists"):
            continue  # an empty row of the editor
        rules.append(Rule(left, op, right, kind))
        problems.extend(_rule_problems(len(rules), rules[-1], saving=saving))
    if len(rules) > MAX_RULES:
        problems.insert(0, f"At most {MAX_RULES} conditions (this has {len(rules)}).")
    if problems:
        raise ConditionError(*problems)
    return Conditions(combine if combine in ("and", "or") else "and", tuple(rules))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _rule_problems(number: int, rule: Rule, *, saving: bool) -> list[str]:
    where = f"Condition {number}"
    if rule.op not in OPERATOR_NAMES:
        return [f"{where}: '{rule.op[:40]}' is not an operator."]
    if rule.type not in TYPE_NAMES:
        return [f"{where}: '{rule.type[:40]}' is not a type (text, number, boolean or date)."]
    operator = OPERATOR_NAMES[rule.op]
    if rule.op in TEXT_ONLY and rule.type != "text":
        return [f"{where}: “{operator}” compares text; choose the type Text."]
    if rule.op in ORDERED and rule.type not in ("number", "date"):
        return [f"{where}: “{operator}” compares numbers or dates; choose the type Number or Date."]
    problems: list[str] = []
    if rule.op not in UNARY and _blank(rule.right) and rule.type != "text":
        problems.append(f"{where}: “{operator}” needs a right value.")
    for side, value in (("left", rule.left), ("right", rule.right)):
        if side == "right" and rule.op in UNARY:
            continue
        if saving and has_expression(value):
            continue
        if side == "left" and rule.op in ("exists", "not_exists"):
            continue
        if rule.op == "matches" and side == "right":
            if len(as_text(value)) > MAX_PATTERN:
                problems.append(f"{where}: the regular expression is over {MAX_PATTERN:,} characters.")
                continue
            try:
                regex.compile(as_text(value))
            except regex.error as exc:
                problems.append(f"{where}: the regular expression is not valid ({exc}).")
            continue
        if _blank(value) and (rule.op in UNARY or rule.type == "text"):
            continue
        try:
            _typed(value, rule.type)
        except ConditionError as exc:
            problems.append(f"{where}: the {side} value {exc}")
    return problems


def _typed(value: Any, kind: str) -> Any:
    """`value` as the rule's type, or ConditionError("'abc' is not a number.")."""
    shown = as_text(value)[:60]
    if kind == "text":
        return as_text(value)
    if kind == "number":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        try:
            number = float(as_text(value).strip())
        except ValueError:
            raise ConditionError(f"'{shown}' is not a number.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ConditionError(f"'{shown}' is not a number.")
        return number
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        word = as_text(value).strip().lower()
        if word not in BOOLEAN_WORDS:
            raise ConditionError(f"'{shown}' is not true or false.")
        return BOOLEAN_WORDS[word]
    # date: ISO 8601; a date alone is its midnight, a time without zone is UTC.
    text = as_text(value).strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ConditionError(
                f"'{shown}' is not a date (write 2026-12-31 or 2026-12-31T09:30:00Z)."
            ) from None
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# -- evaluating ----------------------------------------------------------------------------------


def evaluate(conditions: Conditions, upstream: Mapping[int, Any]) -> bool:
    """Whether the resolved conditions hold. No rules: they hold. ConditionError for a value that is
    not of its rule's type, a bad or too slow regular expression."""
    if not conditions.rules:
        return True
    # Every rule is evaluated (no short cut), so a mistyped value is reported whichever way others go.
    results = [holds(number, rule, upstream) for number, rule in enumerate(conditions.rules, start=1)]
    return all(results) if conditions.combine == "and" else any(results)


def holds(number: int, rule: Rule, upstream: Mapping[int, Any]) -> bool:
    where = f"Condition {number}"
    problems = _rule_problems(number, rule, saving=False)
    if problems:
        raise ConditionError(*problems)
    left, op = rule.left, rule.op
    if op in ("exists", "not_exists"):
        found = _exists(left, upstream)
        return found if op == "exists" else not found
    if op in ("is_empty", "is_not_empty"):
        empty = left is None or left in ("", [], {})
        return empty if op == "is_empty" else not empty
    if op in ("is_true", "is_false"):
        try:
            truth = _typed(left, "boolean")
        except ConditionError as exc:
            raise ConditionError(f"{where}: the left value {exc}") from None
        return truth if op == "is_true" else not truth
    if op in TEXT_ONLY:
        return _text_test(where, op, as_text(left), as_text(rule.right))
    a, b = _typed(left, rule.type), _typed(rule.right, rule.type)  # checked above
    if op == "equals":
        return bool(a == b)
    if op == "not_equals":
        return bool(a != b)
    if op == "gt":
        return bool(a > b)
    if op == "gte":
        return bool(a >= b)
    if op == "lt":
        return bool(a < b)
    return bool(a <= b)  # lte


def _text_test(where: str, op: str, left: str, right: str) -> bool:
    if op == "contains":
        return right in left
    if op == "not_contains":
        return right not in left
    if op == "starts_with":
        return left.startswith(right)
    if op == "ends_with":
        return left.endswith(right)
    try:
        return regex.search(right, left, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        raise ConditionError(
            f"{where}: the regular expression took too long (over {REGEX_TIMEOUT:g} s); simplify it."
        ) from None


def bare_references(value: Any) -> list[expressions.Reference]:
    """The references written without braces as the left value of "exists" / "does not exist" (to
    check at save time that they name upstream nodes, as `{{…}}` ones are)."""
    found = []
    rules = value.get("rules") if isinstance(value, Mapping) else None
    for rule in rules if isinstance(rules, list) else []:
        left = rule.get("left") if isinstance(rule, Mapping) else None
        if (
            rule.get("op") in ("exists", "not_exists")
            and isinstance(left, str)
            and left.strip().startswith("$")
        ):
            try:
                found.append(expressions.parse_reference(left.strip()))
            except expressions.ExpressionError:
                continue
    return found


def _exists(left: Any, upstream: Mapping[int, Any]) -> bool:
    if isinstance(left, str) and left.strip().startswith("$"):
        try:
            reference = expressions.parse_reference(left.strip())
        except expressions.ExpressionError:
            return bool(left.strip())
        try:
            return expressions.lookup(upstream, reference) is not None
        except expressions.ExpressionError:
            return False
    return left is not None
