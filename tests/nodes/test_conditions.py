"""Conditions (nodes/conditions.py): typed comparisons combined with AND or OR, checked when saved and
again once their expressions are resolved; a value of the wrong type is an error naming the condition."""

from __future__ import annotations

import pytest

from nodes.conditions import ConditionError, evaluate, parse


def rule(left, op, right="", type="text"):
    return {"left": left, "op": op, "right": right, "type": type}


def holds(*rules, combine="and", upstream=None):
    return evaluate(parse({"combine": combine, "rules": list(rules)}), upstream or {})


@pytest.mark.parametrize(
    ("left", "op", "right", "type", "expected"),
    [
        ("abc", "equals", "abc", "text", True),
        ("abc", "not_equals", "abc", "text", False),
        ("hello world", "contains", "o w", "text", True),
        ("hello world", "not_contains", "xyz", "text", True),
        ("hello", "starts_with", "he", "text", True),
        ("hello", "ends_with", "lo", "text", True),
        ("10", "gt", "9", "number", True),
        (10, "gte", "10", "number", True),
        (2.5, "lt", "3", "number", True),
        ("3", "lte", "2", "number", False),
        ("7", "equals", "7.0", "number", True),
        ("2026-12-02", "gt", "2026-12-01T23:59:59Z", "date", True),
        ("2026-12-02T10:00:00+02:00", "equals", "2026-12-02T08:00:00Z", "date", True),
        ("", "is_empty", "", "text", True),
        ([], "is_empty", "", "text", True),
        ({"a": 1}, "is_not_empty", "", "text", True),
        ("order-1234", "matches", r"^order-\d+$", "text", True),
        ("Order-x", "matches", r"^order-\d+$", "text", False),
        (True, "is_true", "", "boolean", True),
        ("false", "is_false", "", "boolean", True),
        ("yes", "equals", "true", "boolean", True),
    ],
)
def test_each_operator_compares_as_its_type(left, op, right, type, expected):
    assert holds(rule(left, op, right, type)) is expected


def test_and_needs_every_condition_and_or_needs_one():
    rules = (rule("a", "equals", "a"), rule("a", "equals", "b"))
    assert holds(*rules, combine="and") is False
    assert holds(*rules, combine="or") is True


def test_exists_reads_a_bare_reference_so_a_missing_path_does_not_exist():
    upstream = {1: {"body": {"email": "a@example.com", "phone": None}}}
    assert holds(rule("$1.body.email", "exists"), upstream=upstream) is True
    assert holds(rule("$1.body.phone", "exists"), upstream=upstream) is False
    assert holds(rule("$1.body.address", "not_exists"), upstream=upstream) is True
    assert holds(rule("$7.anything", "exists"), upstream=upstream) is False


def test_a_text_that_is_not_a_number_is_an_error_naming_the_condition():
    with pytest.raises(ConditionError) as caught:
        holds(rule("1", "equals", "1"), rule("abc", "gt", "3", "number"))
    assert caught.value.messages == ["Condition 2: the left value 'abc' is not a number."]


def test_a_date_and_a_boolean_that_cannot_be_read_are_errors_too():
    with pytest.raises(ConditionError, match="Condition 1: the right value 'soon' is not a date"):
        holds(rule("2026-01-01", "lt", "soon", "date"))
    with pytest.raises(ConditionError, match="Condition 1: the left value 'maybe' is not true or false"):
        holds(rule("maybe", "is_true", "", "boolean"))


def test_every_condition_is_evaluated_so_a_bad_one_is_reported_even_after_a_false_one():
    with pytest.raises(ConditionError, match="Condition 2"):
        holds(rule("a", "equals", "b"), rule("x", "lt", "1", "number"))


def test_saving_refuses_unknown_operators_bad_regular_expressions_and_misfit_types():
    with pytest.raises(ConditionError) as caught:
        parse(
            {
                "rules": [
                    rule("a", "resembles", "b"),
                    rule("a", "matches", "(unclosed"),
                    rule("a", "contains", "1", "number"),
                    rule("a", "gt", "b", "text"),
                ]
            },
            saving=True,
        )
    messages = caught.value.messages
    assert messages[0] == "Condition 1: 'resembles' is not an operator."
    assert messages[1].startswith("Condition 2: the regular expression is not valid (")
    assert messages[2] == "Condition 3: “contains” compares text; choose the type Text."
    assert messages[3] == (
        "Condition 4: “is greater than” compares numbers or dates; choose the type Number or Date."
    )


def test_saving_keeps_expressions_for_later_and_drops_empty_rows():
    parsed = parse(
        {"rules": [rule("{{$1.body.age}}", "gte", "{{$1.body.min}}", "number"), rule("", "equals")]},
        saving=True,
    )
    assert parsed.as_data() == {
        "combine": "and",
        "rules": [{"left": "{{$1.body.age}}", "op": "gte", "right": "{{$1.body.min}}", "type": "number"}],
    }


def test_a_regular_expression_that_backtracks_without_end_stops_with_an_error():
    with pytest.raises(ConditionError, match="Condition 1: the regular expression took too long"):
        holds(rule("x" * 3000, "matches", "(x+x+)+y"))


def test_an_overlong_regular_expression_is_refused():
    with pytest.raises(ConditionError, match="Condition 1: the regular expression is over 1,000 characters."):
        holds(rule("a", "matches", "a" * 1001))


def test_more_than_twenty_conditions_are_refused():
    with pytest.raises(ConditionError, match="At most 20 conditions"):
        parse({"rules": [rule("a", "equals", "a")] * 21})
