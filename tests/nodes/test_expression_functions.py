"""Functions in expressions: each one with good input and with the wrong type, the bounds on the
work they do, the default operator, and their errors naming the node, the function and the argument."""

from __future__ import annotations

import random

import pytest

from nodes import expression_functions, expressions

DATA = {
    1: {
        "body": {
            "name": "  Ada Lovelace ",
            "csv": "b,a,b,c",
            "count": 3,
            "users": [
                {"name": "Ada", "role": "admin", "age": 36},
                {"name": "Bob", "role": "editor", "age": 28},
            ],
            "when": "2026-03-01T12:00:00Z",
            "json": '{"a": [1, 2]}',
        }
    }
}


def resolve(template: str) -> object:
    return expressions.resolve(template, DATA)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ lower($1.body.name) }}", "  ada lovelace "),
        ("{{ upper(trim($1.body.name)) }}", "ADA LOVELACE"),
        ('{{ replace($1.body.csv, ",", ";") }}', "b;a;b;c"),
        ('{{ split($1.body.csv, ",") }}', ["b", "a", "b", "c"]),
        ('{{ join(split($1.body.csv, ","), " + ") }}', "b + a + b + c"),
        ("{{ length($1.body.users) }}", 2),
        ("{{ length($1.body.csv) }}", 7),
        ("{{ slice($1.body.csv, 2, 3) }}", "a"),
        ("{{ slice($1.body.users, -1) }}", [{"name": "Bob", "role": "editor", "age": 28}]),
        ("{{ round(2.71828, 2) }}", 2.72),
        ("{{ round(2.5) }}", 2),
        ('{{ min(map($1.body.users, "age")) }}', 28),
        ("{{ max(4, $1.body.count, 1) }}", 4),
        ('{{ sum(map($1.body.users, "age")) }}', 64),
        ('{{ first(split($1.body.csv, ",")) }}', "b"),
        ('{{ last(split($1.body.csv, ",")) }}', "c"),
        ('{{ map($1.body.users, "name") }}', ["Ada", "Bob"]),
        ('{{ map(filter($1.body.users, "role", "admin"), "name") }}', ["Ada"]),
        (
            '{{ filter(parse_json("[{\\"n\\": 1}, {\\"n\\": true}, {\\"n\\": 1.0}]"), "n", 1) }}',
            [{"n": 1}, {"n": 1.0}],
        ),
        ('{{ unique(split($1.body.csv, ",")) }}', ["b", "a", "c"]),
        ('{{ sort(split($1.body.csv, ",")) }}', ["a", "b", "b", "c"]),
        ('{{ map(sort($1.body.users, "age"), "name") }}', ["Bob", "Ada"]),
        ('{{ parse_date("01/03/2026", "%d/%m/%Y") }}', "2026-03-01T00:00:00+00:00"),
        ("{{ parse_date(0) }}", "1970-01-01T00:00:00+00:00"),
        ('{{ format_date($1.body.when, "%d %B %Y") }}', "01 March 2026"),
        ('{{ add_time($1.body.when, 2, "days") }}', "2026-03-03T12:00:00+00:00"),
        ('{{ difference("2026-03-01T00:00:00Z", $1.body.when, "hours") }}', 12.0),
        ('{{ in_timezone($1.body.when, "Europe/Paris") }}', "2026-03-01T13:00:00+01:00"),
        ("{{ parse_json($1.body.json) }}", {"a": [1, 2]}),
        ('{{ to_json(map($1.body.users, "age")) }}', "[36, 28]"),
        (
            'Dear {{ upper(trim($1.body.name)) }}, you are {{ first(map($1.body.users, "age")) }}.',
            "Dear ADA LOVELACE, you are 36.",
        ),
    ],
)
def test_a_function_gives_its_result_with_the_json_type_of_the_value(template, expected):
    assert resolve(template) == expected


def test_now_is_the_current_time_in_utc_that_other_date_functions_read():
    moment = resolve("{{ now() }}")
    assert isinstance(moment, str) and moment.endswith("+00:00")
    assert resolve('{{ round(difference(now(), now(), "seconds")) }}') == 0


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ upper($1.body.count) }}", "upper: the first argument must be text, got a number."),
        ("{{ lower($1.body.users) }}", "lower: the first argument must be text, got a list."),
        ("{{ trim(null) }}", "trim: the first argument must be text, got nothing."),
        ("{{ replace($1.body.csv, 1, 2) }}", "replace: the second argument must be text, got a number."),
        ('{{ split($1.body.users, ",") }}', "split: the first argument must be text, got a list."),
        ('{{ join($1.body.csv, ",") }}', "join: the first argument must be a list, got text."),
        ("{{ length(3) }}", "length: the first argument must be text, a list or an object, got a number."),
        ('{{ slice($1.body.csv, "a") }}', "slice: the second argument must be a number, got text."),
        ('{{ round("2.5") }}', "round: the first argument must be a number, got text."),
        ('{{ min(1, "2") }}', "min: the second argument must be a number, got text."),
        ("{{ max($1.body.users) }}", "max: every item of the list must be a number, got an object."),
        ('{{ min(parse_json("[]")) }}', "min: the list is empty."),
        ('{{ sum(split($1.body.csv, ",")) }}', "sum: every item of the list must be a number, got text."),
        ("{{ first($1.body) }}", "first: the first argument must be a list, got an object."),
        ("{{ last(true) }}", "last: the first argument must be a list, got a boolean."),
        ('{{ map($1.body.csv, "name") }}', "map: the first argument must be a list, got text."),
        ("{{ filter($1.body.users, 1, 2) }}", "filter: the second argument must be text, got a number."),
        ("{{ unique($1.body.count) }}", "unique: the first argument must be a list, got a number."),
        ("{{ sort(1) }}", "sort: the first argument must be a list, got a number."),
        (
            '{{ sort(parse_json("[1, \\"a\\"]")) }}',
            "sort: the values to sort by must be all numbers or all text.",
        ),
        ('{{ parse_date("yesterday") }}', "parse_date: the first argument must be a date like"),
        ('{{ format_date($1.body.users, "%Y") }}', "format_date: the first argument must be a date"),
        (
            '{{ add_time($1.body.when, 1, "fortnights") }}',
            "add_time: the third argument must be one of seconds",
        ),
        (
            '{{ difference($1.body.when, "x", "days") }}',
            "difference: the second argument must be a date like",
        ),
        ('{{ in_timezone($1.body.when, "Mars/Olympus") }}', "in_timezone: 'Mars/Olympus' is not a time zone"),
        (
            '{{ in_timezone($1.body.when, "../../etc/passwd") }}',
            "in_timezone: '../../etc/passwd' is not a time zone",
        ),
        (
            '{{ add_time($1.body.when, 99999999999, "weeks") }}',
            "add_time: the result is out of the range of dates.",
        ),
        ("{{ parse_json($1.body.csv) }}", "parse_json: the first argument is not valid JSON"),
    ],
)
def test_a_function_given_the_wrong_type_says_which_function_and_which_argument(template, message):
    with pytest.raises(expressions.ExpressionError) as caught:
        resolve(template)
    assert message in str(caught.value)


def test_the_default_is_used_when_the_left_value_is_missing_or_nothing():
    assert resolve('{{ $1.body.nickname ?? "friend" }}') == "friend"
    assert resolve('{{ $1.body.nickname ?? $1.body.missing ?? upper("friend") }}') == "FRIEND"
    assert resolve('{{ first(split("", ",")) ?? "x" }}') == ""
    assert resolve('{{ first(parse_json("[]")) ?? "none" }}') == "none"
    assert resolve('{{ trim($1.body.name) ?? "friend" }}') == "Ada Lovelace"


def test_a_default_does_not_hide_a_function_error():
    with pytest.raises(expressions.ExpressionError, match="upper: the first argument must be text"):
        resolve('{{ upper($1.body.count) ?? "x" }}')


@pytest.mark.parametrize(
    "template",
    [
        "{{ eval($1.body.name) }}",
        "{{ upper($1.body.name).__class__ }}",
        "{{ upper }}",
        "{{ upper($1.body.name }}",
        "{{ upper($1.body.name,, ) }}",
        "{{ $1.body.name ?? }}",
        "{{ 'unclosed }}",
        "{{ $1.body.name + 1 }}",
        "{{ " + "upper(" * 30 + '"x"' + ")" * 30 + " }}",
        "{{ " + '"x" ?? ' * 30 + '"y" }}',
        "{{ round(" + "9" * 5000 + ") }}",
        "{{ round(1." + "5" * 40 + ") }}",
    ],
)
def test_anything_beyond_functions_references_and_literals_is_not_a_valid_expression(template):
    with pytest.raises(expressions.ExpressionError, match="is not a valid expression"):
        resolve(template)
    assert expressions.check({"a": template}, upstream={1}, known={1})


def test_a_function_given_too_few_or_too_many_arguments_is_refused_at_save_time_with_its_signature():
    assert expressions.check({"a": "{{ upper() }}"}, upstream={1}, known={1}) == [
        "'{{upper()}}' is not a valid expression: upper: takes 1 argument(s), got 0 — write upper(text)."
    ]
    problems = expressions.check({"a": "{{ round(1, 2, 3) }}"}, upstream={1}, known={1})
    assert "round: takes 1 to 2 argument(s), got 3 — write round(number, digits)" in problems[0]
    assert expressions.check({"a": "{{ sum(1, 2, 3, 4) }} {{ now() }}"}, upstream={1}, known={1}) == []


def test_a_function_given_only_literals_of_the_wrong_type_is_refused_at_save_time():
    assert expressions.check({"a": "{{ upper($1.x) }} {{ trim(upper(1)) }}"}, upstream={1}, known={1}) == [
        "{{trim(upper(1))}}: upper: the first argument must be text, got a number."
    ]
    assert expressions.check(
        {"a": '{{ join(split($1.x, ","), in_timezone(now(), "Nowhere")) }}'}, [1], [1]
    ) == [
        '{{join(split($1.x, ","), in_timezone(now(), "Nowhere"))}}: in_timezone: \'Nowhere\' is not a time zone '
        "(write one like Europe/Paris)."
    ]
    assert expressions.check({"a": '{{ upper(trim(" x ")) }} {{ $1.y ?? round(2.5) }}'}, [1], [1]) == []


def test_references_inside_functions_are_checked_at_save_time():
    assert expressions.check({"a": "{{ upper($1.x) ?? lower($2.y) }}"}, upstream={1}, known={1, 2}) == [
        "{{$2.y}} refers to node $2, which is not upstream of this node."
    ]
    assert [ref.node for ref in expressions.references("{{ join(map($3.a, 'b'), $4.c) }}")] == [3, 4]


def test_a_produced_value_that_looks_like_an_expression_stays_text():
    outputs = {1: {"body": "{{ upper($1.secret) }}", "secret": "no"}}
    assert expressions.resolve("{{ trim($1.body) }}", outputs) == "{{ upper($1.secret) }}"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{{ split($1.big, ",") }}', "split: the result would be over 10,000 items."),
        ('{{ join($1.many, "x") }}', "join: the result would be over 10,000 items."),
        ("{{ join($1.wide, $1.wide.0) }}", "join: the result would be over 1,000,000 characters."),
        ('{{ replace($1.text, "a", $1.wide.0) }}', "replace: the result would be over 1,000,000 characters."),
        ("{{ to_json($1.wide) }}", "to_json: the result would be over 1,000,000 characters."),
    ],
)
def test_functions_refuse_to_build_results_over_their_bounds(template, message):
    outputs = {
        1: {
            "big": "," * 50_000,
            "many": ["a"] * 20_000,
            "wide": ["y" * 300_000] * 5,
            "text": "a" * 100_000,
        }
    }
    with pytest.raises(expressions.ExpressionError, match=message):
        expressions.resolve(template, outputs)


def test_every_function_is_listed_in_a_group_with_its_signature_and_help():
    listed = [f.name for group in expression_functions.GROUPS.values() for f in group]
    assert sorted(listed) == sorted(expression_functions.FUNCTIONS)
    assert set(expression_functions.GROUPS) == {"Text", "Numbers", "Lists", "Dates", "JSON"}
    for entry in expression_functions.FUNCTIONS.values():
        assert entry.signature.startswith(entry.name + "(") and entry.help


def test_any_jumble_of_functions_references_and_literals_is_a_value_or_a_clear_expression_error():
    """Thousands of random expressions: each resolves or raises ExpressionError, never anything else
    (which would be a server error at save time, or an unexplained node failure)."""
    chooser = random.Random(13)
    atoms = ["$1", "$1.a", "$1.l", '"x"', "'y'", "1", "-2.5", "true", "null", "(", ")", ",", "??", " "]
    atoms += [f"{name}(" for name in expression_functions.FUNCTIONS]
    outputs = {1: {"a": "2026-01-01", "l": [1, "a", {"k": 2}]}}
    for _ in range(5000):
        template = "{{" + "".join(chooser.choice(atoms) for _ in range(chooser.randint(1, 12))) + "}}"
        assert isinstance(expressions.check(template, upstream=[1], known=[1]), list)
        try:
            expressions.resolve(template, outputs)
            expressions.references(template)
        except expressions.ExpressionError:
            pass
