"""IF, Switch, Filter, Merge and the Manual trigger as node types: their forms come from their data
(the condition rows included), and each execute function picks its routes from resolved params."""

from __future__ import annotations

from typing import Any

import pytest

from nodes.base import NodeError, Routed
from nodes.forms import params_from_form
from nodes.types.flow import switch_port_labels
from tests.nodes.helpers import error_texts, form_for, run_node

AGE_OVER_18: dict[str, Any] = {
    "combine": "and",
    "rules": [{"left": "{{$1.body.age}}", "op": "gte", "right": "18", "type": "number"}],
}


def posted_conditions(name: str, *rows: tuple[str, str, str, str], combine: str = "and") -> dict:
    """What the inspector's condition rows post."""
    return {
        f"{name}-combine": combine,
        f"{name}-left": [r[0] for r in rows],
        f"{name}-op": [r[1] for r in rows],
        f"{name}-right": [r[2] for r in rows],
        f"{name}-type": [r[3] for r in rows],
    }


# -- forms ---------------------------------------------------------------------------------------


def test_the_if_form_stores_the_condition_rows_as_json(cast):
    data = posted_conditions(
        "conditions", ("{{$1.body.age}}", "gte", "18", "number"), ("", "equals", "", "text")
    )
    form = form_for("flow.if", data, team=cast.team, upstream={1}, known={1, 2})
    assert form.is_valid(), form.errors
    assert params_from_form(form) == {"conditions": AGE_OVER_18}


def test_the_condition_rows_render_with_their_operator_and_type_chosen(cast):
    html = form_for("flow.if", initial={"conditions": AGE_OVER_18}, team=cast.team).as_div()
    assert 'name="conditions-left" value="{{$1.body.age}}"' in html
    assert '<option value="gte" selected>is greater than or equal to</option>' in html
    assert '<option value="number" selected>Number</option>' in html
    assert 'aria-label="Conditions 1: operator"' in html


def test_a_bad_regular_expression_is_refused_at_save_naming_the_condition(cast):
    data = posted_conditions("conditions", ("{{$1.body.id}}", "matches", "order-(\\d+", "text"))
    form = form_for("flow.if", data, team=cast.team, upstream={1}, known={1, 2})
    assert not form.is_valid()
    assert "Condition 1: the regular expression is not valid" in error_texts(form, "conditions")


def test_a_literal_that_is_not_a_number_is_refused_at_save(cast):
    data = posted_conditions("conditions", ("abc", "gt", "3", "number"))
    form = form_for("flow.if", data, team=cast.team)
    assert not form.is_valid()
    assert error_texts(form, "conditions") == "Condition 1: the left value 'abc' is not a number."


def test_a_condition_referring_to_a_node_that_is_not_upstream_is_refused(cast):
    data = posted_conditions("conditions", ("{{$5.body.age}}", "gt", "3", "number"))
    form = form_for("flow.if", data, team=cast.team, upstream={1}, known={1, 2, 5})
    assert not form.is_valid()
    assert "{{$5.body.age}} refers to node $5, which is not upstream of this node." in error_texts(
        form, "conditions"
    )


def test_an_exists_condition_names_an_upstream_node_without_braces(cast):
    data = posted_conditions("conditions", ("$4.body.email", "exists", "", "text"))
    form = form_for("flow.if", data, team=cast.team, upstream={1}, known={1, 2, 4})
    assert (
        error_texts(form, "conditions")
        == "$4.body.email refers to node $4, which is not upstream of this node."
    )
    form = form_for("flow.if", data, team=cast.team, upstream={1, 4}, known={1, 2, 4})
    assert form.is_valid(), form.errors


def test_an_if_without_any_condition_says_so(cast):
    form = form_for("flow.if", posted_conditions("conditions", ("", "equals", "", "text")), team=cast.team)
    assert not form.is_valid()
    assert "Conditions" in error_texts(form, "conditions")


def test_a_switch_with_duplicate_route_names_is_refused_naming_the_route(cast):
    data = {
        "mode": "first",
        "route1_name": "Urgent",
        **posted_conditions("route1_conditions", ("a", "equals", "a", "text")),
        "route2_name": "urgent",
        **posted_conditions("route2_conditions", ("b", "equals", "b", "text")),
    }
    form = form_for("flow.switch", data, team=cast.team)
    assert not form.is_valid()
    assert error_texts(form, "route2_name") == "Route 1 is already named 'urgent': route names must differ."


def test_a_switch_route_with_conditions_needs_a_name(cast):
    data = {
        "mode": "every",
        "route1_name": "Big",
        **posted_conditions("route1_conditions", ("a", "equals", "a", "text")),
        **posted_conditions("route3_conditions", ("b", "equals", "b", "text")),
    }
    form = form_for("flow.switch", data, team=cast.team)
    assert not form.is_valid()
    assert error_texts(form, "route3_name") == "Route 3 has conditions: give it a name."


def test_the_switch_route_names_are_its_ports_labels():
    params = {"route1_name": "Big", "route1_conditions": AGE_OVER_18, "route2_name": "Small"}
    assert switch_port_labels(params) == {"route1": "Big", "route2": "Small"}


def merge_form(cast, **data: str):
    """A Merge's form below nodes $3, $4 and $5."""
    return form_for("flow.merge", data, team=cast.team, upstream={3, 4, 5}, known={3, 4, 5})


def test_merge_by_key_shows_its_key_field_and_needs_two_inputs(cast):
    form = merge_form(cast, inputs="$3", mode="key", key="id")
    assert error_texts(form, "inputs") == "Name two inputs to combine by position or by key, such as $3, $4."
    form = merge_form(cast, inputs="$3, $4, $5", mode="key", key="id")
    assert error_texts(form, "inputs") == "Joining by key combines exactly two inputs."
    assert error_texts(merge_form(cast, inputs="$3, $4", mode="key"), "key") == "This field is required."
    form = merge_form(cast, inputs="$3, oops", mode="append")
    assert "'oops' is not a node reference" in error_texts(form, "inputs")


def test_merge_inputs_must_be_upstream_of_the_merge(cast):
    form = form_for(
        "flow.merge", {"inputs": "$3.items , $9", "mode": "append"}, upstream={1, 3}, known={1, 3, 9}
    )
    assert error_texts(form, "inputs") == "$9 refers to node $9, which is not upstream of this node."
    form = form_for(
        "flow.merge", {"inputs": "$3.items , $1", "mode": "append"}, upstream={1, 3}, known={1, 3, 9}
    )
    assert form.is_valid(), form.errors
    assert params_from_form(form) == {"inputs": "$3.items, $1", "mode": "append"}


def test_the_manual_trigger_form_takes_a_json_sample(cast):
    form = form_for("manual.trigger", {"sample": '{"question": "Hi"'}, team=cast.team)
    assert not form.is_valid()
    assert "not valid JSON" in error_texts(form, "sample")


# -- running -------------------------------------------------------------------------------------


async def test_the_if_passes_the_chosen_value_down_true_or_false():
    upstream = {1: {"body": {"age": 20}}, 2: {"reply": "x"}}

    def params(age: int) -> dict[str, Any]:
        rules = [{"left": age, "op": "gte", "right": "18", "type": "number"}]
        return {"conditions": {"combine": "and", "rules": rules}, "value": {"age": age}}

    assert await run_node("flow.if", params(20), None, upstream=upstream) == Routed({"age": 20}, ("true",))
    assert await run_node("flow.if", params(17), None, upstream=upstream) == Routed({"age": 17}, ("false",))


async def test_without_a_value_the_if_passes_on_the_nearest_upstream_output():
    upstream = {1: {"body": {}}, 3: {"reply": "latest"}}
    conditions = {"rules": [{"left": "a", "op": "equals", "right": "a", "type": "text"}]}
    result = await run_node("flow.if", {"conditions": conditions}, None, upstream=upstream)
    assert result == Routed({"reply": "latest"}, ("true",))


async def test_a_resolved_value_of_the_wrong_type_is_a_node_error_naming_field_and_condition():
    conditions = {"rules": [{"left": "abc", "op": "gt", "right": 3, "type": "number"}]}
    with pytest.raises(NodeError) as caught:
        await run_node("flow.if", {"conditions": conditions}, None, upstream={1: {}})
    assert caught.value.message == (
        "Some fields are not valid. Conditions: Condition 1: the left value 'abc' is not a number."
    )
    assert caught.value.details["fields"] == {
        "conditions": ["Condition 1: the left value 'abc' is not a number."]
    }


def _switch(mode: str, amount: float) -> dict:
    def over(limit: int) -> dict:
        return {"rules": [{"left": amount, "op": "gt", "right": limit, "type": "number"}]}

    return {"mode": mode, "route1_name": "Huge", "route1_conditions": over(1000),
            "route2_name": "Big", "route2_conditions": over(100), "value": amount}  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "amount", "ports"),
    [
        ("first", 5000, ("route1",)),
        ("every", 5000, ("route1", "route2")),
        ("first", 500, ("route2",)),
        ("every", 5, ("fallback",)),
    ],
)
async def test_the_switch_takes_the_first_or_every_matching_route_else_the_fallback(mode, amount, ports):
    result = await run_node("flow.switch", _switch(mode, amount), None, upstream={1: {}})
    assert result == Routed(amount, ports)


async def test_the_filter_ends_the_route_quietly_when_its_conditions_fail():
    passes = {"rules": [{"left": "vip", "op": "equals", "right": "vip", "type": "text"}]}
    fails = {"rules": [{"left": "guest", "op": "equals", "right": "vip", "type": "text"}]}
    assert await run_node("flow.filter", {"conditions": passes, "value": 1}, None) == Routed(1, ("main",))
    assert await run_node("flow.filter", {"conditions": fails, "value": 1}, None) == Routed(1, ())


async def test_merge_appends_by_position_and_by_key():
    upstream = {
        3: {"items": [{"id": 1, "a": "x"}, {"id": 2, "a": "y"}]},
        4: [{"id": 2, "b": "z"}, {"id": 9, "b": "w"}],
    }
    appended = await run_node(
        "flow.merge", {"inputs": "$3.items, $4", "mode": "append"}, None, upstream=upstream
    )
    assert appended.output == [
        {"id": 1, "a": "x"},
        {"id": 2, "a": "y"},
        {"id": 2, "b": "z"},
        {"id": 9, "b": "w"},
    ]
    zipped = await run_node(
        "flow.merge", {"inputs": "$3.items, $4", "mode": "position"}, None, upstream=upstream
    )
    assert zipped.output == [{"id": 2, "a": "x", "b": "z"}, {"id": 9, "a": "y", "b": "w"}]
    joined = await run_node(
        "flow.merge", {"inputs": "$3.items, $4", "mode": "key", "key": "id"}, None, upstream=upstream
    )
    assert joined.output == [{"id": 2, "a": "y", "b": "z"}]


async def test_merge_leaves_out_an_input_whose_node_did_not_run():
    result = await run_node(
        "flow.merge", {"inputs": "$3, $4", "mode": "append"}, None, upstream={4: {"b": 1}}
    )
    assert result.output == [{"b": 1}]


async def test_merge_by_position_of_something_that_is_not_a_list_names_the_input():
    with pytest.raises(
        NodeError, match=r"Inputs: \$3 is dict data, not a list; by position combines lists\."
    ):
        await run_node("flow.merge", {"inputs": "$3, $4", "mode": "position"}, None, upstream={3: {}, 4: []})


async def test_the_manual_trigger_uses_its_sample_when_the_run_gives_no_body():
    given = {"method": "POST", "headers": {}, "query": {}, "body": {}}
    result = await run_node("manual.trigger", {"sample": {"question": "Hi"}}, None, trigger_input=given)
    assert result["body"] == {"question": "Hi"}
    given["body"] = {"question": "Mine"}
    result = await run_node("manual.trigger", {"sample": {"question": "Hi"}}, None, trigger_input=given)
    assert result["body"] == {"question": "Mine"}
