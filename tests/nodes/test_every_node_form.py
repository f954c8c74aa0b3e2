"""Rules every node's form follows, checked over the whole catalog."""

from __future__ import annotations

import pytest

from nodes.registry import NODE_TYPES, get_node_type
from tests.nodes.helpers import error_texts, form_for

TEXT_LIKE = {"text", "long_text", "id", "number", "select", "json", "functions", "file_ids"}


def expression_fields() -> list[tuple[str, str]]:
    return [
        (key, f.name)
        for key, node_type in sorted(NODE_TYPES.items())
        for f in node_type.fields
        if f.expressions and f.kind in TEXT_LIKE | {"metadata", "key_values"}
    ]


def with_value(key: str, name: str, value: str) -> dict[str, object]:
    field = get_node_type(key).field(name)
    data: dict[str, object] = {"new_message": "on"}  # shows Create Thread's message fields
    for condition, expected in field.show_if:  # shows the field whatever its conditions
        data[condition] = "on" if expected is True else expected
    if field.kind in ("metadata", "key_values"):
        data[f"{name}-key"] = ["X-Key"]
        data[f"{name}-value"] = [value]
    else:
        data[name] = value
    return data


@pytest.mark.parametrize("key", sorted(NODE_TYPES))
def test_an_empty_form_names_exactly_its_required_fields(cast, key):
    required = {f.name for f in get_node_type(key).fields if f.required and not f.show_if}
    form = form_for(key, {}, team=cast.team)
    assert form.is_valid() is (not required)
    assert set(form.errors) == required
    for name in required:
        assert "This field is required." in error_texts(form, name)


@pytest.mark.parametrize(("key", "name"), expression_fields())
def test_a_reference_to_an_unknown_node_is_an_error_at_the_field(cast, key, name):
    form = form_for(key, with_value(key, name, "{{$7.answer}}"), team=cast.team, upstream={1}, known={1, 2})
    assert "{{$7.answer}} refers to node $7, which does not exist." in error_texts(form, name)


@pytest.mark.parametrize(("key", "name"), expression_fields())
def test_a_reference_to_a_node_that_is_not_upstream_is_an_error_at_the_field(cast, key, name):
    form = form_for(key, with_value(key, name, "{{$2.answer}}"), team=cast.team, upstream={1}, known={1, 2})
    assert "{{$2.answer}} refers to node $2, which is not upstream of this node." in error_texts(form, name)


@pytest.mark.parametrize(("key", "name"), expression_fields())
def test_a_reference_to_an_upstream_node_is_accepted_at_the_field(cast, key, name):
    form = form_for(key, with_value(key, name, "{{$1.answer}}"), team=cast.team, upstream={1}, known={1, 2})
    form.is_valid()
    assert name not in form.errors


@pytest.mark.parametrize(
    ("key", "name"),
    [
        (k, f.name)
        for k, t in sorted(NODE_TYPES.items())
        for f in t.fields
        if not f.expressions and f.kind == "select"
    ],
)
def test_fields_that_take_no_expressions_say_so(cast, key, name):
    form = form_for(key, with_value(key, name, "{{$1.answer}}"), team=cast.team, upstream={1}, known={1})
    assert "cannot hold expressions" in error_texts(form, name)
