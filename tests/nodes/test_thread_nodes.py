"""Create Thread, Create Message, Create Run, Modify Run and Delete Thread: forms and requests."""

from __future__ import annotations

import json

import pytest

from nodes.base import NodeError
from nodes.forms import params_from_form
from tests.nodes.helpers import (
    deleted,
    error_texts,
    form_for,
    message_object,
    run_node,
    run_object,
    sent,
    thread_object,
)
from tests.openapi_spec import validate_response

ELEVEN_FILES = json.dumps([f"file-{n}" for n in range(11)])
TEN_FILES = json.dumps([f"file-{n}" for n in range(10)])


def node_form(key, cast, credential, **data):
    return form_for(key, {"credential": str(credential.pk), **data}, team=cast.team, upstream={1}, known={1})


# -- Create Thread -----------------------------------------------------------------------------------


def test_create_thread_without_a_new_message_ignores_the_hidden_message_fields(cast, credential):
    form = node_form(
        "openai.create_thread",
        cast,
        credential,
        content="",
        file_ids="[not json",
        **{"metadata-key": ["k" * 100], "metadata-value": ["v"]},
    )
    assert form.is_valid(), form.errors
    params = params_from_form(form)
    # Hidden, not validated, and what the user typed is kept for when the message is turned on.
    assert params == {"new_message": False, "file_ids": "[not json", "metadata": {"k" * 100: "v"}}


def test_create_thread_with_a_new_message_validates_the_message_fields(cast, credential):
    form = node_form("openai.create_thread", cast, credential, new_message="on", file_ids=ELEVEN_FILES)
    assert not form.is_valid()
    assert "This field is required." in error_texts(form, "content")
    assert "At most 10 files (this has 11)." in error_texts(form, "file_ids")


def test_the_message_fields_are_shown_only_when_new_message_is_on(cast, credential):
    off = form_for("openai.create_thread", team=cast.team)
    shown = {row.name: row.shown for row in off.rows()}
    assert shown == {
        "credential": True,
        "new_message": True,
        "content": False,
        "file_ids": False,
        "file_tools": False,
        "metadata": False,
        "role": False,
    }
    on = form_for("openai.create_thread", initial={"new_message": True}, team=cast.team)
    assert all(row.shown for row in on.rows())


async def test_create_thread_sends_an_empty_body_when_new_message_is_off(stub_provider, stub_credential):
    stub_provider.script("/v1/threads", [(200, thread_object(), {})])
    output = await run_node(
        "openai.create_thread",
        {"new_message": False, "content": "kept but hidden", "file_ids": "[bad"},
        stub_credential,
    )
    request = sent(stub_provider, "POST", "/v1/threads")
    assert request.body == {}
    assert request.headers["openai-beta"] == "assistants=v2"
    validate_response("ThreadObject", output)


async def test_create_thread_sends_its_first_message_with_attachments_and_metadata(
    stub_provider, stub_credential
):
    stub_provider.script("/v1/threads", [(200, thread_object(), {})])
    await run_node(
        "openai.create_thread",
        {
            "new_message": True,
            "content": "Summarise these",
            "file_ids": ["file-a", "file-b"],
            "file_tools": "both",
            "metadata": {"source": "webhook"},
            "role": "user",
        },
        stub_credential,
    )
    both = [{"type": "code_interpreter"}, {"type": "file_search"}]
    assert sent(stub_provider, "POST", "/v1/threads").body == {
        "messages": [
            {
                "role": "user",
                "content": "Summarise these",
                "attachments": [{"file_id": "file-a", "tools": both}, {"file_id": "file-b", "tools": both}],
                "metadata": {"source": "webhook"},
            }
        ]
    }


async def test_create_thread_rechecks_the_message_after_expressions(stub_provider, stub_credential):
    with pytest.raises(NodeError) as caught:
        await run_node("openai.create_thread", {"new_message": True, "content": ""}, stub_credential)
    assert caught.value.details["fields"] == {"content": ["Message content is empty."]}
    assert stub_provider.requests == []


# -- Create Message ----------------------------------------------------------------------------------


def test_create_message_requires_thread_id_and_content(cast, credential):
    form = node_form("openai.create_message", cast, credential)
    assert not form.is_valid()
    assert set(form.errors) == {"thread_id", "content"}


def test_create_message_takes_at_most_ten_files(cast, credential):
    ok = node_form(
        "openai.create_message", cast, credential, thread_id="thread_1", content="Hi", file_ids=TEN_FILES
    )
    assert ok.is_valid(), ok.errors
    form = node_form(
        "openai.create_message", cast, credential, thread_id="thread_1", content="Hi", file_ids=ELEVEN_FILES
    )
    assert "At most 10 files (this has 11)." in error_texts(form, "file_ids")


def test_create_message_offers_the_user_and_assistant_roles_only(cast, credential):
    form = node_form("openai.create_message", cast, credential, thread_id="t", content="Hi", role="system")
    assert error_texts(form, "role") == "Choose one of: user, assistant."


def test_a_thread_id_with_spaces_is_refused_at_the_field(cast, credential):
    form = node_form("openai.create_message", cast, credential, thread_id="thread 1", content="Hi")
    assert "is not a valid id" in error_texts(form, "thread_id")


def test_a_thread_id_may_come_from_an_upstream_node(cast, credential):
    form = node_form("openai.create_message", cast, credential, thread_id="{{$1.id}}", content="Hi")
    assert form.is_valid(), form.errors
    assert params_from_form(form)["thread_id"] == "{{$1.id}}"


async def test_create_message_sends_role_content_attachments_and_metadata(stub_provider, stub_credential):
    stub_provider.script(
        "/v1/threads/thread_abc123/messages", [(200, message_object("How do I add a node?"), {})]
    )
    output = await run_node(
        "openai.create_message",
        {
            "thread_id": "thread_abc123",
            "content": "How do I add a node?",
            "file_ids": ["file-a"],
            "metadata": {"k": "v"},
            "role": "user",
        },
        stub_credential,
    )
    request = sent(stub_provider, "POST", "/v1/threads/thread_abc123/messages")
    assert request.body == {
        "role": "user",
        "content": "How do I add a node?",
        "attachments": [{"file_id": "file-a", "tools": [{"type": "file_search"}]}],
        "metadata": {"k": "v"},
    }
    assert request.headers["openai-beta"] == "assistants=v2"
    validate_response("MessageObject", output)


async def test_a_minimal_message_sends_only_role_and_content(stub_provider, stub_credential):
    stub_provider.script("/v1/threads/thread_abc123/messages", [(200, message_object(), {})])
    await run_node(
        "openai.create_message", {"thread_id": "thread_abc123", "content": "Hello"}, stub_credential
    )
    assert sent(stub_provider, "POST", "/v1/threads/thread_abc123/messages").body == {
        "role": "user",
        "content": "Hello",
    }


# -- Create Run ----------------------------------------------------------------------------------------


def test_create_run_requires_thread_and_assistant(cast, credential):
    form = node_form("openai.create_run", cast, credential)
    assert set(form.errors) == {"thread_id", "assistant_id"}


def test_a_run_takes_at_most_20_tools(cast, credential):
    functions = [{"type": "function", "function": {"name": f"f{n}"}} for n in range(20)]
    form = node_form(
        "openai.create_run",
        cast,
        credential,
        thread_id="t",
        assistant_id="a",
        code_interpreter="on",
        functions=json.dumps(functions),
    )
    assert "At most 20 tools in all (this has 21)." in error_texts(form, "functions")


async def test_create_run_leaves_out_empty_optional_fields(stub_provider, stub_credential):
    stub_provider.script("/v1/threads/thread_abc123/runs", [(200, run_object(), {})])
    output = await run_node(
        "openai.create_run",
        {"thread_id": "thread_abc123", "assistant_id": "asst_abc123", "model": "", "instructions": ""},
        stub_credential,
    )
    request = sent(stub_provider, "POST", "/v1/threads/thread_abc123/runs")
    assert request.body == {"assistant_id": "asst_abc123"}
    assert request.headers["openai-beta"] == "assistants=v2"
    validate_response("RunObject", output)


async def test_create_run_sends_the_overrides_that_were_filled(stub_provider, stub_credential):
    stub_provider.script("/v1/threads/thread_abc123/runs", [(200, run_object(), {})])
    await run_node(
        "openai.create_run",
        {
            "thread_id": "thread_abc123",
            "assistant_id": "asst_abc123",
            "model": "gpt-4o",
            "instructions": "Answer in French.",
            "metadata": {"k": "v"},
            "retrieval": True,
        },
        stub_credential,
    )
    assert sent(stub_provider, "POST", "/v1/threads/thread_abc123/runs").body == {
        "assistant_id": "asst_abc123",
        "model": "gpt-4o",
        "instructions": "Answer in French.",
        "metadata": {"k": "v"},
        "tools": [{"type": "file_search"}],
    }


# -- Modify Run ----------------------------------------------------------------------------------------


def test_modify_run_requires_thread_and_run(cast, credential):
    form = node_form("openai.modify_run", cast, credential)
    assert set(form.errors) == {"thread_id", "run_id"}


def test_modify_run_has_only_metadata_besides_its_ids(cast):
    names = [row.name for row in form_for("openai.modify_run", team=cast.team).rows()]
    assert names == ["credential", "thread_id", "run_id", "metadata"]


async def test_modify_run_sends_only_metadata(stub_provider, stub_credential):
    path = "/v1/threads/thread_abc123/runs/run_abc123"
    stub_provider.script(path, [(200, run_object(metadata={"stage": "2"}), {})])
    output = await run_node(
        "openai.modify_run",
        {"thread_id": "thread_abc123", "run_id": "run_abc123", "metadata": {"stage": 2}},
        stub_credential,
    )
    request = sent(stub_provider, "POST", path)
    assert request.body == {"metadata": {"stage": "2"}}
    validate_response("RunObject", output)


# -- Delete Thread -------------------------------------------------------------------------------------


def test_delete_thread_requires_a_thread_id(cast, credential):
    assert set(node_form("openai.delete_thread", cast, credential).errors) == {"thread_id"}


async def test_delete_thread_sends_a_delete(stub_provider, stub_credential):
    answer = deleted("thread_abc123", "thread.deleted")
    stub_provider.script("/v1/threads/thread_abc123", [(200, answer, {})])
    output = await run_node("openai.delete_thread", {"thread_id": "thread_abc123"}, stub_credential)
    request = sent(stub_provider, "DELETE", "/v1/threads/thread_abc123")
    assert request.headers["openai-beta"] == "assistants=v2"
    assert output == answer
    validate_response("DeleteThreadResponse", output)
