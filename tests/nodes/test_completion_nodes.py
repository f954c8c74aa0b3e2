"""Send Message (chat completions) and GPT-3.5 turbo instruct (legacy completions)."""

from __future__ import annotations

import pytest

from nodes.base import NodeError
from nodes.forms import params_from_form
from nodes.types.completions import INSTRUCT_MAX_TOKENS
from tests.nodes.helpers import error_texts, form_for, run_node, sent
from tests.openapi_spec import validate_operation_response


def test_send_message_requires_an_api_key_and_a_message(cast):
    form = form_for("openai.send_message", {}, team=cast.team)
    assert not form.is_valid()
    assert set(form.errors) == {"credential", "message"}


def test_send_message_gpt_version_is_optional_and_prefilled_from_the_credential(cast, stub_credential):
    form = form_for("openai.send_message", initial={"credential": stub_credential.pk}, team=cast.team)
    assert form["model"].value() == "stub-model"
    bound = form_for(
        "openai.send_message", {"credential": str(stub_credential.pk), "message": "Hi"}, team=cast.team
    )
    assert bound.is_valid(), bound.errors
    assert "model" not in params_from_form(bound)


def test_send_message_may_be_built_from_the_trigger(cast, credential):
    form = form_for(
        "openai.send_message",
        {"credential": str(credential.pk), "message": "{{$1.body.question}}"},
        team=cast.team,
        upstream={1},
        known={1, 2},
    )
    assert form.is_valid(), form.errors
    assert params_from_form(form) == {"message": "{{$1.body.question}}"}


async def test_send_message_posts_one_user_message_and_returns_the_reply_at_a_short_path(
    stub_provider, stub_credential
):
    output = await run_node(
        "openai.send_message", {"message": "What is Scenery?", "model": "gpt-4o"}, stub_credential
    )
    request = sent(stub_provider, "POST", "/v1/chat/completions")
    assert request.body == {"model": "gpt-4o", "messages": [{"role": "user", "content": "What is Scenery?"}]}
    assert "openai-beta" not in request.headers
    assert output["reply"] == "echo: What is Scenery?"
    assert output["object"] == "chat.completion"
    assert output["usage"]["total_tokens"] == 12
    validate_operation_response(
        "POST", "/chat/completions", {k: v for k, v in output.items() if k != "reply"}
    )


async def test_send_message_hands_each_token_to_the_engine_as_it_arrives(stub_provider, stub_credential):
    heard: list[str] = []

    async def tokens(text: str) -> None:
        heard.append(text)

    output = await run_node(
        "openai.send_message", {"message": "tides of the sea"}, stub_credential, tokens=tokens
    )
    assert heard == ["echo: ", "tides ", "of ", "the ", "sea"]
    assert output["reply"] == "".join(heard)
    request = sent(stub_provider, "POST", "/v1/chat/completions")
    assert request.body["stream"] is True and request.body["stream_options"] == {"include_usage": True}
    assert output["usage"]["total_tokens"] == 12 and output["choices"][0]["finish_reason"] == "stop"
    validate_operation_response(
        "POST", "/chat/completions", {k: v for k, v in output.items() if k != "reply"}
    )


async def test_send_message_works_with_a_provider_that_does_not_stream(stub_provider, stub_credential):
    stub_provider.handlers["/v1/chat/completions"] = lambda rec: (
        200,
        b'{"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "choices": '
        b'[{"index": 0, "message": {"role": "assistant", "content": "whole"}, "finish_reason": "stop"}]}',
        {},
    )
    heard: list[str] = []

    async def tokens(text: str) -> None:
        heard.append(text)

    output = await run_node("openai.send_message", {"message": "Hi"}, stub_credential, tokens=tokens)
    assert output["reply"] == "whole" and output["id"] == "c1"
    assert heard == []


async def test_send_message_without_a_model_uses_the_credentials_default(stub_provider, stub_credential):
    await run_node("openai.send_message", {"message": "Hi"}, stub_credential)
    assert sent(stub_provider, "POST", "/v1/chat/completions").body["model"] == "stub-model"


async def test_send_message_without_any_model_is_a_clear_error(stub_provider, credential):
    credential.default_model = ""
    with pytest.raises(NodeError, match="Choose a GPT Version"):
        await run_node("openai.send_message", {"message": "Hi"}, credential)


async def test_a_message_that_resolved_to_data_is_sent_as_text(stub_provider, stub_credential):
    await run_node("openai.send_message", {"message": {"question": "Why?"}}, stub_credential)
    assert (
        sent(stub_provider, "POST", "/v1/chat/completions").body["messages"][0]["content"]
        == '{"question":"Why?"}'
    )


def test_the_instruct_node_has_no_model_choice(cast):
    names = [row.name for row in form_for("openai.instruct", team=cast.team).rows()]
    assert names == ["credential", "message"]


async def test_instruct_sends_a_prompt_with_a_sensible_max_tokens_and_outputs_text(
    stub_provider, credential, cast
):
    from tests.nodes.test_http_client import credential_at

    plain = credential_at(stub_provider.base_url, cast.team)
    output = await run_node("openai.instruct", {"message": "Say hi"}, plain)
    request = sent(stub_provider, "POST", "/v1/completions")
    assert request.body == {
        "model": "gpt-3.5-turbo-instruct",
        "prompt": "Say hi",
        "max_tokens": INSTRUCT_MAX_TOKENS,
    }
    assert INSTRUCT_MAX_TOKENS > 16
    assert output["text"] == " echo: Say hi"
    validate_operation_response("POST", "/completions", {k: v for k, v in output.items() if k != "text"})


async def test_instruct_uses_the_credentials_default_model_when_there_is_one(stub_provider, stub_credential):
    await run_node("openai.instruct", {"message": "Say hi"}, stub_credential)
    assert sent(stub_provider, "POST", "/v1/completions").body["model"] == "stub-model"


def test_an_empty_message_is_refused_at_save_time(cast, credential):
    form = form_for("openai.instruct", {"credential": str(credential.pk), "message": "   "}, team=cast.team)
    assert "This field is required." in error_texts(form, "message")
