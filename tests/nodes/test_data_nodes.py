"""Code and Edit fields as node types: their forms come from their data (a code editor, typed field
rows), and their execute functions turn upstream outputs into JSON, or fail naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.base import NodeError
from nodes.forms import params_from_form
from tests.nodes.helpers import error_texts, form_for, run_node

UPSTREAM = {1: {"body": {"name": "Ada", "age": "36", "password": "x"}}}


def posted_rows(*rows: tuple[str, str, str]) -> dict[str, Any]:
    """What the inspector's Edit fields rows post."""
    return {
        "fields-name": [r[0] for r in rows],
        "fields-type": [r[1] for r in rows],
        "fields-value": [r[2] for r in rows],
    }


# -- Code: form ----------------------------------------------------------------------------------


def test_the_code_form_is_a_monospace_code_editor_that_says_javascript_only(cast):
    html = form_for("data.code", team=cast.team).as_div()
    assert 'spellcheck="false"' in html and 'wrap="off"' in html
    assert "JavaScript only" in html
    assert "return { question" in html  # the example the field starts with


def test_the_code_form_keeps_the_code_exactly_as_typed(cast):
    code = "  const a = $1.body;\n\treturn a;  \n"
    form = form_for("data.code", {"code": code}, team=cast.team, upstream={1}, known={1, 2})
    assert form.is_valid(), form.errors
    assert params_from_form(form) == {"code": code}


def test_the_code_form_refuses_expressions_in_the_code(cast):
    form = form_for("data.code", {"code": "return {{$1.body}}"}, team=cast.team, upstream={1}, known={1, 2})
    assert "cannot hold expressions" in error_texts(form, "code")


# -- Code: runs ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_code_reads_upstream_outputs_and_returns_json_with_its_console_lines():
    code = 'console.log("hello", {n: 1});\nreturn {name: $1.body.name.toUpperCase(), same: $input === $1};'
    output = await run_node("data.code", {"code": code}, None, upstream=UPSTREAM)
    assert output == {"result": {"name": "ADA", "same": False}, "console": ['hello {"n":1}']}


@pytest.mark.asyncio
async def test_code_may_await_and_returns_null_when_it_returns_nothing():
    output = await run_node("data.code", {"code": "await null;\nconst x = 1;"}, None, upstream=UPSTREAM)
    assert output == {"result": None, "console": []}


@pytest.mark.asyncio
async def test_code_that_throws_is_a_node_error_with_its_line_and_the_lines_printed_before():
    code = 'console.log("before");\nconst a = 1;\nthrow new Error("no customer");'
    with pytest.raises(NodeError) as caught:
        await run_node("data.code", {"code": code}, None, upstream=UPSTREAM)
    error = caught.value.as_dict()
    assert error["message"] == "JavaScript code: Error: no customer (line 3)"
    assert error["line"] == 3
    assert error["console"] == ["before"]
    assert error["fields"] == {"code": ["Error: no customer (line 3)"]}


@pytest.mark.asyncio
async def test_reading_a_missing_path_names_the_line():
    with pytest.raises(NodeError, match=r"TypeError: cannot read property 'city' of undefined \(line 2\)"):
        await run_node(
            "data.code", {"code": "const a = 1;\nreturn $1.address.city;"}, None, upstream=UPSTREAM
        )


@pytest.mark.asyncio
async def test_a_syntax_error_is_a_node_error_naming_it():
    with pytest.raises(NodeError, match="JavaScript code: SyntaxError"):
        await run_node("data.code", {"code": "return {"}, None, upstream=UPSTREAM)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("return () => 1", "The returned value is a function, not JSON data."),
        ("return 1n", "The returned value is not JSON: BigInt"),
        ("return undefinedThing", "ReferenceError: undefinedThing is not defined"),
    ],
)
async def test_a_result_that_is_not_json_is_a_node_error(code, says):
    with pytest.raises(NodeError, match=f"JavaScript code: {says}"):
        await run_node("data.code", {"code": code}, None, upstream=UPSTREAM)


# -- Edit fields: form ---------------------------------------------------------------------------


def test_the_edit_fields_form_stores_typed_rows_and_drops_empty_ones(cast):
    data = {
        **posted_rows(("age", "number", "{{$1.body.age}}"), ("vip", "boolean", "yes"), ("", "text", "")),
        "include": "selected",
        "keep": "name",
    }
    form = form_for("data.set", data, team=cast.team, upstream={1}, known={1, 2})
    assert form.is_valid(), form.errors
    assert params_from_form(form) == {
        "fields": [
            {"name": "age", "type": "number", "value": "{{$1.body.age}}"},
            {"name": "vip", "type": "boolean", "value": "yes"},
        ],
        "include": "selected",
        "keep": "name",
    }


def test_the_edit_fields_rows_render_with_their_type_chosen(cast):
    initial = {"fields": [{"name": "age", "type": "number", "value": "{{$1.body.age}}"}]}
    html = form_for("data.set", initial=initial, team=cast.team).as_div()
    assert 'name="fields-name" value="age"' in html
    assert '<option value="number" selected>Number</option>' in html
    assert 'aria-label="Fields to set 1: value"' in html


@pytest.mark.parametrize(
    ("row", "says"),
    [
        (("age", "number", "abc"), "Field 'age' (number): 'abc' is not a number."),
        (("vip", "boolean", "maybe"), "Field 'vip' (boolean): 'maybe' is not true or false"),
        (("tags", "json", "[1,"), "Field 'tags' (json): '[1,' is not valid JSON"),
        (("", "text", "orphan"), "Field 1 has a value but no name."),
    ],
)
def test_a_literal_that_does_not_convert_is_refused_at_save_naming_the_field(cast, row, says):
    form = form_for(
        "data.set", {**posted_rows(row), "include": "all"}, team=cast.team, upstream={1}, known={1, 2}
    )
    assert says in error_texts(form, "fields")


def test_the_same_name_twice_is_refused(cast):
    data = {**posted_rows(("a", "text", "1"), ("a", "text", "2")), "include": "all"}
    form = form_for("data.set", data, team=cast.team, upstream={1}, known={1, 2})
    assert "The name 'a' is used twice." in error_texts(form, "fields")


def test_selecting_input_fields_asks_which(cast):
    form = form_for("data.set", {"include": "selected"}, team=cast.team, upstream={1}, known={1, 2})
    assert "required" in error_texts(form, "keep")


# -- Edit fields: runs ---------------------------------------------------------------------------

ROWS = [
    {"name": "age", "type": "number", "value": "36"},
    {"name": "vip", "type": "boolean", "value": "yes"},
    {"name": "tags", "type": "json", "value": '["a", "b"]'},
    {"name": "greeting", "type": "text", "value": "Hello Ada"},
]


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("include", "extra", "kept"),
    [
        ("all", {}, {"name": "Ada", "age": 36, "password": "x"}),
        ("none", {}, {}),
        ("selected", {"keep": "name, missing"}, {"name": "Ada"}),
        ("except", {"drop": "password"}, {"name": "Ada", "age": 36}),
    ],
)
async def test_edit_fields_keeps_drops_or_selects_the_inputs_fields_then_sets_its_own(include, extra, kept):
    params = {"input": UPSTREAM[1]["body"], "fields": ROWS, "include": include, **extra}
    output = await run_node("data.set", params, None, upstream=UPSTREAM)
    assert output == {**kept, "age": 36, "vip": True, "tags": ["a", "b"], "greeting": "Hello Ada"}


@pytest.mark.asyncio
async def test_edit_fields_without_an_input_edits_the_output_just_before():
    params = {"fields": [{"name": "seen", "type": "boolean", "value": True}], "include": "all"}
    output = await run_node("data.set", params, None, upstream={1: {"a": 1}, 3: {"b": 2}})
    assert output == {"b": 2, "seen": True}


@pytest.mark.asyncio
async def test_a_resolved_value_that_does_not_convert_is_a_node_error_naming_the_field():
    params = {"fields": [{"name": "age", "type": "number", "value": "thirty"}], "include": "none"}
    with pytest.raises(NodeError) as caught:
        await run_node("data.set", params, None, upstream=UPSTREAM)
    assert caught.value.message == "Fields to set: Field 'age' (number): 'thirty' is not a number."
    assert caught.value.details["fields"] == {"fields": ["Field 'age' (number): 'thirty' is not a number."]}


@pytest.mark.asyncio
async def test_an_input_that_is_not_an_object_is_a_node_error_naming_the_input():
    with pytest.raises(NodeError, match="Input: The input is a list, not an object"):
        await run_node("data.set", {"input": [1, 2], "include": "all"}, None, upstream=UPSTREAM)


@pytest.mark.asyncio
async def test_text_as_the_input_is_a_node_error_saying_it_is_text():
    with pytest.raises(NodeError, match="Input: The input is text, not an object"):
        await run_node("data.set", {"input": '{"a": 1}', "include": "all"}, None, upstream=UPSTREAM)
