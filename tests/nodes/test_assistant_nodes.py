"""Create, Modify and Delete Assistant: their forms and the exact requests they send."""

from __future__ import annotations

import json

import pytest

from nodes.base import NodeError
from nodes.forms import params_from_form
from tests.nodes.helpers import (
    assistant_object,
    deleted,
    error_texts,
    form_for,
    openai_error,
    run_node,
    sent,
    vector_store_object,
)
from tests.openapi_spec import validate_response

FUNCTIONS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "description": "Weather in a city",
        },
    }
]


def assistant_form(cast, credential, **data):
    return form_for(
        "openai.create_assistant",
        {"credential": str(credential.pk), **data},
        team=cast.team,
        upstream={1},
        known={1},
    )


# -- Create Assistant: the form ----------------------------------------------------------------------


def test_create_assistant_requires_an_api_key(cast):
    form = form_for("openai.create_assistant", {"model": "gpt-4o"}, team=cast.team)
    assert "This field is required." in error_texts(form, "credential")


def test_an_empty_model_takes_the_credentials_default_model(cast, stub_credential):
    form = assistant_form(cast, stub_credential)
    assert form.is_valid(), form.errors
    assert params_from_form(form)["model"] == "stub-model"


def test_an_empty_model_is_an_error_when_the_credential_has_no_default(cast, credential):
    form = assistant_form(cast, credential)
    assert "Choose a model" in error_texts(form, "model")


@pytest.mark.parametrize(("field", "limit"), [("name", 256), ("description", 512), ("instructions", 256_000)])
def test_each_text_limit_is_checked_at_its_field(cast, stub_credential, field, limit):
    assert assistant_form(cast, stub_credential, **{field: "x" * limit}).is_valid()
    form = assistant_form(cast, stub_credential, **{field: "x" * (limit + 1)})
    assert f"At most {limit:,} characters (this has {limit + 1:,})." in error_texts(form, field)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('["file-abc",', "This is not valid JSON (line 1, column 13)."),
        ('"file-abc"', "Write the file IDs as a JSON list"),
        ('["file-abc", 3]', "Item 2 is not a file ID"),
        ('["file-abc", "file-abc"]', "'file-abc' is listed twice."),
    ],
)
def test_bad_file_ids_are_errors_at_the_field(cast, stub_credential, text, message):
    form = assistant_form(cast, stub_credential, file_ids=text, code_interpreter="on")
    assert message in error_texts(form, "file_ids")


def test_file_ids_with_neither_tool_on_are_an_error_at_the_field(cast, stub_credential):
    form = assistant_form(cast, stub_credential, file_ids='["file-abc"]')
    assert "turn on Code interpreter or Retrieval" in error_texts(form, "file_ids")


def test_code_interpreter_takes_at_most_20_files(cast, stub_credential):
    files = json.dumps([f"file-{n}" for n in range(21)])
    form = assistant_form(cast, stub_credential, file_ids=files, code_interpreter="on")
    assert "Code interpreter takes at most 20 files (this has 21)." in error_texts(form, "file_ids")
    assert assistant_form(cast, stub_credential, file_ids=files, retrieval="on").is_valid()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[{", "This is not valid JSON"),
        ('"get_weather"', "Functions must be a JSON list"),
        ('[{"type": "function", "function": {"parameters": {}}}]', "Function 1: the name null is not valid"),
        (
            '[{"type": "function", "function": {"name": "get weather"}}]',
            'the name "get weather" is not valid',
        ),
        (json.dumps([{"type": "function", "function": {"name": "x" * 65}}]), "at most 64 characters"),
        (
            '[{"type": "function", "function": {"name": "f", "parameters": []}}]',
            "parameters must be a JSON Schema",
        ),
        ('[{"type": "code", "function": {"name": "f"}}]', "Function 1 is not a function definition"),
        ('[{"name": "f"}]', 'put name, description and parameters inside "function"'),
        (
            '[{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]',
            "Function 2: the name 'f' is used twice.",
        ),
    ],
)
def test_a_bad_function_definition_is_an_error_at_the_field(cast, stub_credential, text, message):
    form = assistant_form(cast, stub_credential, functions=text)
    assert message in error_texts(form, "functions")


def test_the_seeds_function_format_is_accepted(cast, stub_credential):
    seed = '[{"type": "function", "function": {"name": "function_name","parameters": {},"description": "function_description"}}]'
    form = assistant_form(cast, stub_credential, functions=seed)
    assert form.is_valid(), form.errors
    assert params_from_form(form)["functions"] == json.loads(seed)


@pytest.mark.parametrize(
    ("keys", "values", "message"),
    [
        ([f"k{n}" for n in range(17)], ["v"] * 17, "At most 16 pairs (this has 17)."),
        (["k" * 65], ["v"], "longer than 64 characters (65)"),
        (["k"], ["v" * 513], "The value of 'k' is longer than 512 characters (513)."),
        (["k", "k"], ["1", "2"], "The key 'k' appears twice."),
        ([""], ["orphan"], "Every value needs a key."),
    ],
)
def test_metadata_errors_are_shown_at_the_field(cast, stub_credential, keys, values, message):
    form = assistant_form(cast, stub_credential, **{"metadata-key": keys, "metadata-value": values})
    assert message in error_texts(form, "metadata")


def test_metadata_at_its_limits_is_accepted_and_empty_rows_ignored(cast, stub_credential):
    keys = ["k" * 64] + [f"k{n}" for n in range(15)] + [""]
    values = ["v" * 512] + ["v"] * 15 + [""]
    form = assistant_form(cast, stub_credential, **{"metadata-key": keys, "metadata-value": values})
    assert form.is_valid(), form.errors
    assert len(params_from_form(form)["metadata"]) == 16


def test_expressions_skip_type_checks_but_their_references_are_checked(cast, stub_credential):
    form = assistant_form(cast, stub_credential, name="{{$1.body.name}}", file_ids="{{$1.body.files}}")
    assert form.is_valid(), form.errors
    assert params_from_form(form)["name"] == "{{$1.body.name}}"
    unknown = assistant_form(cast, stub_credential, name="{{$7.x}}", description="{{ 7*7 }}")
    assert not unknown.is_valid()
    assert "{{$7.x}} refers to node $7, which does not exist." in error_texts(unknown, "name")
    assert "not a valid expression" in error_texts(unknown, "description")


def test_a_reference_to_a_node_that_is_not_upstream_is_an_error(cast, stub_credential):
    form = form_for(
        "openai.create_assistant",
        {"credential": str(stub_credential.pk), "instructions": "Use {{$3.text}}"},
        team=cast.team,
        upstream={1},
        known={1, 2, 3},
    )
    assert "which is not upstream of this node" in error_texts(form, "instructions")


# -- Create Assistant: the request ------------------------------------------------------------------


async def test_create_assistant_sends_the_v2_body_with_files_where_the_tools_read_them(
    stub_provider, stub_credential
):
    answer = assistant_object(name="Helper", tools=[{"type": "code_interpreter"}])
    stub_provider.script("/v1/assistants", [(200, answer, {})])
    output = await run_node(
        "openai.create_assistant",
        {
            "model": "gpt-4o",
            "name": "Helper",
            "description": "Answers questions",
            "instructions": "Be brief.",
            "metadata": {"team": "docs"},
            "file_ids": ["file-a", "file-b"],
            "code_interpreter": True,
            "retrieval": True,
            "functions": FUNCTIONS,
        },
        stub_credential,
    )
    request = sent(stub_provider, "POST", "/v1/assistants")
    assert request.headers["openai-beta"] == "assistants=v2"
    assert request.body == {
        "model": "gpt-4o",
        "name": "Helper",
        "description": "Answers questions",
        "instructions": "Be brief.",
        "metadata": {"team": "docs"},
        "tools": [{"type": "code_interpreter"}, {"type": "file_search"}, *FUNCTIONS],
        "tool_resources": {
            "code_interpreter": {"file_ids": ["file-a", "file-b"]},
            "file_search": {"vector_stores": [{"file_ids": ["file-a", "file-b"]}]},
        },
    }
    assert output == answer
    validate_response("AssistantObject", output)


async def test_create_assistant_with_only_a_model_falls_back_to_the_credentials_default(
    stub_provider, stub_credential
):
    stub_provider.script("/v1/assistants", [(200, assistant_object(), {})])
    await run_node(
        "openai.create_assistant", {"code_interpreter": False, "retrieval": False}, stub_credential
    )
    assert sent(stub_provider, "POST", "/v1/assistants").body == {"model": "stub-model"}


async def test_create_assistant_rechecks_resolved_values_before_sending(stub_provider, stub_credential):
    with pytest.raises(NodeError) as caught:
        await run_node(
            "openai.create_assistant",
            {"model": "m", "name": "x" * 300, "file_ids": ["file-a"]},
            stub_credential,
        )
    assert caught.value.details["fields"]["name"] == ["At most 256 characters (this has 300)."]
    assert stub_provider.requests == []


# -- Modify Assistant -------------------------------------------------------------------------------


def test_modify_assistant_requires_the_assistant_id(cast, stub_credential):
    form = form_for("openai.modify_assistant", {"credential": str(stub_credential.pk)}, team=cast.team)
    assert "This field is required." in error_texts(form, "assistant_id")
    assert "model" not in form.errors  # optional here: empty keeps the assistant's model


def test_modify_assistant_has_the_same_file_rule(cast, stub_credential):
    form = form_for(
        "openai.modify_assistant",
        {"credential": str(stub_credential.pk), "assistant_id": "asst_1", "file_ids": '["file-a"]'},
        team=cast.team,
    )
    assert "turn on Code interpreter or Retrieval" in error_texts(form, "file_ids")


async def test_modify_assistant_sends_only_the_fields_that_were_filled(stub_provider, stub_credential):
    stub_provider.script("/v1/assistants/asst_abc123", [(200, assistant_object(name="Renamed"), {})])
    output = await run_node(
        "openai.modify_assistant",
        {"assistant_id": "asst_abc123", "name": "Renamed", "description": "", "code_interpreter": False},
        stub_credential,
    )
    request = sent(stub_provider, "POST", "/v1/assistants/asst_abc123")
    assert request.body == {"name": "Renamed"}
    assert request.headers["openai-beta"] == "assistants=v2"
    validate_response("AssistantObject", output)


async def test_modify_assistant_puts_retrieval_files_in_a_new_vector_store_first(
    stub_provider, stub_credential
):
    stub_provider.script("/v1/vector_stores", [(200, vector_store_object(id="vs_new"), {})])
    stub_provider.script("/v1/assistants/asst_abc123", [(200, assistant_object(), {})])
    await run_node(
        "openai.modify_assistant",
        {"assistant_id": "asst_abc123", "file_ids": ["file-a"], "retrieval": True, "code_interpreter": True},
        stub_credential,
    )
    assert [r.path for r in stub_provider.requests] == ["/v1/vector_stores", "/v1/assistants/asst_abc123"]
    assert sent(stub_provider, "POST", "/v1/vector_stores").body == {"file_ids": ["file-a"]}
    assert sent(stub_provider, "POST", "/v1/assistants/asst_abc123").body == {
        "tools": [{"type": "code_interpreter"}, {"type": "file_search"}],
        "tool_resources": {
            "code_interpreter": {"file_ids": ["file-a"]},
            "file_search": {"vector_store_ids": ["vs_new"]},
        },
    }


async def test_an_assistant_id_is_encoded_into_one_path_segment(stub_provider, stub_credential):
    stub_provider.script("/v1/assistants/..%2Ffiles%3Fx", [(200, deleted("x", "assistant.deleted"), {})])
    await run_node("openai.delete_assistant", {"assistant_id": "../files?x"}, stub_credential)
    assert stub_provider.last().path == "/v1/assistants/..%2Ffiles%3Fx"


async def test_an_id_with_spaces_is_refused_before_any_request(stub_provider, stub_credential):
    with pytest.raises(NodeError, match="not a valid id"):
        await run_node("openai.delete_assistant", {"assistant_id": "asst 1"}, stub_credential)
    assert stub_provider.requests == []


# -- Delete Assistant -------------------------------------------------------------------------------


def test_delete_assistant_needs_an_api_key_and_an_assistant_id(cast):
    form = form_for("openai.delete_assistant", {}, team=cast.team)
    assert not form.is_valid()
    assert set(form.errors) == {"credential", "assistant_id"}


async def test_delete_assistant_sends_a_delete_and_returns_the_deletion(stub_provider, stub_credential):
    answer = deleted("asst_abc123", "assistant.deleted")
    stub_provider.script("/v1/assistants/asst_abc123", [(200, answer, {})])
    output = await run_node("openai.delete_assistant", {"assistant_id": " asst_abc123 "}, stub_credential)
    request = sent(stub_provider, "DELETE", "/v1/assistants/asst_abc123")
    assert request.body is None and request.headers["openai-beta"] == "assistants=v2"
    assert output == answer
    validate_response("DeleteAssistantResponse", output)


async def test_a_missing_assistant_is_a_clear_node_error(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/assistants/asst_gone", [(404, openai_error("No assistant found with id 'asst_gone'."), {})]
    )
    with pytest.raises(NodeError, match="HTTP 404.*No assistant found with id 'asst_gone'"):
        await run_node("openai.delete_assistant", {"assistant_id": "asst_gone"}, stub_credential)
