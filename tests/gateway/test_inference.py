"""/chat/completions, /completions and /models: the provider's, or the offline test model's."""

from __future__ import annotations

import json

import openai
import pytest

from tests.gateway.conftest import message_of
from tests.openapi_spec import validate_response

pytestmark = pytest.mark.django_db(transaction=True)

LOOKUP = {
    "type": "function",
    "function": {
        "name": "lookup_order",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "integer"}, "priority": {"enum": ["low", "high"]}},
        },
    },
}


def test_the_offline_model_echoes_without_any_provider(client, raw):
    answer = client.chat.completions.create(
        model="scenery-echo",
        messages=[{"role": "system", "content": "x"}, {"role": "user", "content": "Hi there"}],
    )
    assert answer.choices[0].message.content == "Echo: Hi there"
    assert answer.choices[0].finish_reason == "stop" and answer.usage.total_tokens > 0
    body = raw.post(
        "/chat/completions", json={"model": "scenery-echo", "messages": [{"role": "user", "content": "a"}]}
    )
    validate_response("CreateChatCompletionResponse", body.json())


def test_the_offline_model_calls_a_function_the_message_asks_for(client):
    answer = client.chat.completions.create(
        model="scenery-echo",
        messages=[{"role": "user", "content": "please lookup_order 42 with high priority"}],
        tools=[LOOKUP],
    )
    (call,) = answer.choices[0].message.tool_calls
    assert answer.choices[0].finish_reason == "tool_calls" and call.id.startswith("call_")
    assert call.function.name == "lookup_order"
    assert json.loads(call.function.arguments) == {"order_id": 42, "priority": "high"}
    plain = client.chat.completions.create(
        model="scenery-echo", messages=[{"role": "user", "content": "just chatting"}], tools=[LOOKUP]
    )
    assert plain.choices[0].message.tool_calls is None


def test_chat_completions_are_forwarded_to_the_teams_provider(client, provider, stub_provider):
    answer = client.chat.completions.create(
        model="stub-model", messages=[{"role": "user", "content": "forward me"}], temperature=0.5
    )
    assert answer.choices[0].message.content == "echo: forward me"
    sent = stub_provider.last("/v1/chat/completions")
    assert sent.body == {
        "model": "stub-model",
        "messages": [{"role": "user", "content": "forward me"}],
        "temperature": 0.5,
    }
    assert sent.headers["authorization"] == "Bearer sk-stub-secret-wxyz9876"


def test_a_provider_refusal_is_passed_on_in_openai_form(client, provider, stub_provider):
    error = {
        "error": {
            "message": "model stub-x not found",
            "type": "invalid_request_error",
            "param": "model",
            "code": "model_not_found",
        }
    }
    stub_provider.script("/v1/chat/completions", [(404, error, {})])
    with pytest.raises(openai.NotFoundError) as refused:
        client.chat.completions.create(model="stub-x", messages=[{"role": "user", "content": "x"}])
    assert "model stub-x not found" in message_of(refused)
    assert "sk-stub-secret" not in message_of(refused)


def test_a_model_without_a_provider_is_404_with_a_hint(client):
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    assert "no provider configured" in message_of(missing) and "scenery-echo" in message_of(missing)


def test_bad_chat_requests_are_400(raw):
    assert raw.post("/chat/completions", json={"messages": []}).json()["error"]["param"] == "model"
    empty = raw.post("/chat/completions", json={"model": "scenery-echo", "messages": []})
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "empty_array"


def test_streamed_chat_completions_arrive_as_chunks(client, provider):
    chunks = list(
        client.chat.completions.create(
            model="scenery-echo",
            messages=[{"role": "user", "content": "stream these words"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: stream these words"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_completions_use_the_providers_own_endpoint_when_it_has_one(client, provider, stub_provider):
    answer = client.completions.create(model="stub-model", prompt="Say hi", max_tokens=5)
    assert answer.object == "text_completion" and answer.choices[0].text == " echo: Say hi"
    assert stub_provider.last().path == "/v1/completions"


def test_completions_fall_back_to_chat_when_the_provider_has_no_such_endpoint(
    client, raw, provider, stub_provider
):
    missing = {"error": {"message": "no route", "type": "invalid_request_error", "param": None, "code": None}}
    stub_provider.script("/v1/completions", [(404, missing, {})])
    answer = raw.post(
        "/completions", json={"model": "stub-model", "prompt": "Say hi", "max_tokens": 20}
    ).json()
    validate_response("CreateCompletionResponse", answer)
    assert answer["object"] == "text_completion" and answer["choices"][0]["text"] == "echo: Say hi"
    sent = stub_provider.last("/v1/chat/completions").body
    assert sent == {
        "model": "stub-model",
        "messages": [{"role": "user", "content": "Say hi"}],
        "max_completion_tokens": 20,
    }


def test_the_retired_instruct_model_is_answered_by_the_teams_default_model(client, provider, stub_provider):
    answer = client.completions.create(model="gpt-3.5-turbo-instruct", prompt="Legacy node", max_tokens=50)
    assert answer.model == "stub-model" and answer.choices[0].text == "echo: Legacy node"
    assert stub_provider.last().path == "/v1/chat/completions"


def test_completions_work_offline(client):
    answer = client.completions.create(model="scenery-echo", prompt=["one", "two"], max_tokens=16)
    assert [c.text for c in answer.choices] == ["Echo: one", "Echo: two"]
    streamed = "".join(
        c.choices[0].text for c in client.completions.create(model="scenery-echo", prompt="s", stream=True)
    )
    assert streamed == "Echo: s"


def test_models_lists_the_providers_models_and_the_labelled_offline_model(client, raw, provider):
    listing = raw.get("/models").json()
    validate_response("ListModelsResponse", listing)
    assert [(m["id"], m["owned_by"]) for m in listing["data"]] == [
        ("stub-model", "stub"),
        ("stub-model-large", "stub"),
        ("scenery-echo", "scenery-test-model"),
    ]
    assert client.models.retrieve("stub-model-large").id == "stub-model-large"
    assert client.models.retrieve("scenery-echo").owned_by == "scenery-test-model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-unknown")


def test_without_a_provider_only_the_offline_model_is_listed(client):
    assert [m.id for m in client.models.list()] == ["scenery-echo"]


def test_the_providers_refusal_of_its_own_key_is_a_gateway_error_not_the_callers_401(
    client, provider, stub_provider
):
    stub_provider.script("/v1/chat/completions", [(401, {"error": {"message": "Incorrect API key"}}, {})] * 3)
    quiet = client.with_options(max_retries=0)
    with pytest.raises(openai.InternalServerError) as failed:
        quiet.chat.completions.create(model="stub-model", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502
    assert "The credential 'Stub' is invalid" in message_of(failed)
