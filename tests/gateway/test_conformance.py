"""Defects a conformance run with the official client found, each checked through that client."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import AssistantEventHandler
from openai.types.beta.threads.runs import RunStep

from tests.gateway.conftest import message_of
from tests.stub_provider import Recorded, chat_completion

pytestmark = pytest.mark.django_db(transaction=True)

# A CRM tool with an argument that happens to be called metadata, of type object.
TICKET_ARGUMENTS = {
    "title": {"type": "string"},
    "metadata": {"type": "object", "properties": {"priority": {"type": "integer"}}},
}
TICKET = {
    "type": "function",
    "function": {"name": "open_ticket", "parameters": {"type": "object", "properties": TICKET_ARGUMENTS}},
}


def bad_request(raised: pytest.ExceptionInfo[openai.BadRequestError]) -> dict:
    body = raised.value.body
    assert raised.value.status_code == 400 and isinstance(body, dict), body
    return body


# -- metadata -------------------------------------------------------------------------------------


def test_a_function_argument_named_metadata_is_the_functions_business_not_request_metadata(client):
    assistant = client.beta.assistants.create(
        model="scenery-echo",
        tools=[TICKET],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "ticket",
                "schema": {"type": "object", "properties": {"metadata": {"type": "object"}}},
            },
        },
        metadata={"crm": "yes"},
    )
    assert assistant.tools[0].function.parameters["properties"]["metadata"]["type"] == "object"


def test_metadata_is_still_checked_everywhere_the_spec_puts_it(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    too_many = {f"k{i}": "v" for i in range(17)}
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.create_and_run(
            assistant_id=assistant.id,
            thread={"messages": [{"role": "user", "content": "hi", "metadata": too_many}]},
        )
    assert bad_request(refused)["param"] == "thread.messages[0].metadata"
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.create(metadata={"k": 5})
    assert bad_request(refused)["param"] == "metadata.k"


# -- streamed tool outputs ------------------------------------------------------------------------


class StepsDone(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.done: list[RunStep] = []

    def on_run_step_done(self, run_step: RunStep) -> None:
        self.done.append(run_step)


def test_the_tool_step_is_completed_with_its_outputs_in_the_stream_after_submitting_them(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[TICKET])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call open_ticket"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"
    call_id = run.required_action.submit_tool_outputs.tool_calls[0].id
    handler = StepsDone()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": call_id, "output": "ticket 42"}],
        event_handler=handler,
    ) as stream:
        stream.until_done()
    tool_step, message_step = handler.done
    assert tool_step.type == "tool_calls" and tool_step.status == "completed"
    assert tool_step.step_details.type == "tool_calls"
    (call,) = tool_step.step_details.tool_calls
    assert call.type == "function" and call.function.output == "ticket 42"
    assert message_step.type == "message_creation"


# -- the legacy completions emulation ----------------------------------------------------------------


def candidates_with_logprobs(rec: Recorded) -> tuple[int, object, dict[str, str]]:
    """n answers, the k-th made of k+1 tokens of log probability -(k+1)/10 each."""
    body = rec.body or {}
    answer = chat_completion("unused", body.get("model", "stub-model"))
    choices = []
    for k in range(body.get("n") or 1):
        tokens: list[dict[str, Any]] = [
            {"token": f"t{k}{i}", "logprob": -(k + 1) / 10, "bytes": None, "top_logprobs": []}
            for i in range(k + 1)
        ]
        for token in tokens:
            token["top_logprobs"] = [{"token": token["token"], "logprob": token["logprob"], "bytes": None}]
        text = "".join(str(t["token"]) for t in tokens)
        choices.append(
            {
                "index": k,
                "message": {"role": "assistant", "content": text, "refusal": None},
                "finish_reason": "stop",
                "logprobs": {"content": tokens, "refusal": None},
            }
        )
    answer["choices"] = choices
    return 200, answer, {}


@pytest.fixture
def chat_only(provider, stub_provider):
    """The provider has no /completions, so the gateway emulates it with chat."""
    missing = {"error": {"message": "no route", "type": "invalid_request_error", "param": None, "code": None}}
    stub_provider.handlers["/v1/completions"] = lambda rec: (404, missing, {})
    return stub_provider


def test_the_emulation_applies_the_default_max_tokens_of_16(client, chat_only):
    client.completions.create(model="stub-model", prompt="Once upon a time")
    assert chat_only.last("/v1/chat/completions").body["max_completion_tokens"] == 16
    long = client.completions.create(
        model="scenery-echo", prompt="one two three four five six seven eight nine ten " * 3
    )
    assert long.choices[0].finish_reason == "length"
    assert long.usage.completion_tokens == 16


def test_the_emulation_gives_n_choices_for_each_prompt(client):
    answer = client.completions.create(model="scenery-echo", prompt=["a", "b"], n=2)
    assert [(c.index, c.text) for c in answer.choices] == [
        (0, "Echo: a"),
        (1, "Echo: a"),
        (2, "Echo: b"),
        (3, "Echo: b"),
    ]


def test_best_of_returns_the_likeliest_of_its_candidates(client, chat_only):
    chat_only.handlers["/v1/chat/completions"] = candidates_with_logprobs
    answer = client.completions.create(model="stub-model", prompt="pick", best_of=3, n=1)
    sent = chat_only.last("/v1/chat/completions").body
    assert sent["n"] == 3 and sent["logprobs"] is True
    assert [c.text for c in answer.choices] == ["t00"]  # mean -0.1 beats -0.2 and -0.3
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model="stub-model", prompt="pick", best_of=1, n=2)
    assert bad_request(refused)["param"] == "best_of"


def test_logprobs_come_back_in_the_legacy_shape_or_are_refused_clearly(client, chat_only):
    chat_only.handlers["/v1/chat/completions"] = candidates_with_logprobs
    answer = client.completions.create(model="stub-model", prompt="p", n=2, logprobs=1)
    assert chat_only.last("/v1/chat/completions").body["top_logprobs"] == 1
    second = answer.choices[1].logprobs
    assert second.tokens == ["t10", "t11"] and second.token_logprobs == [-0.2, -0.2]
    assert second.top_logprobs == [{"t10": -0.2}, {"t11": -0.2}] and second.text_offset == [0, 3]
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model="scenery-echo", prompt="p", logprobs=2)
    assert bad_request(refused)["param"] == "logprobs"
    assert "log probabilities" in message_of(refused)
    with pytest.raises(openai.APIError) as midway:  # streamed: the status was already sent
        list(client.completions.create(model="scenery-echo", prompt="p", logprobs=2, stream=True))
    assert "log probabilities" in str(midway.value)


def test_suffix_and_logit_bias_reach_the_model(client, chat_only):
    client.completions.create(
        model="stub-model", prompt="def add(a, b):", suffix="\nprint(add(1, 2))", logit_bias={"50256": -100}
    )
    sent = chat_only.last("/v1/chat/completions").body
    assert sent["logit_bias"] == {"50256": -100}
    assert sent["messages"][0]["role"] == "system" and sent["messages"][0]["content"].endswith(
        "\nprint(add(1, 2))"
    )
    assert sent["messages"][1] == {"role": "user", "content": "def add(a, b):"}


def test_a_streamed_emulated_completion_ends_with_usage_when_asked(client):
    chunks = list(
        client.completions.create(
            model="scenery-echo", prompt="count", stream=True, stream_options={"include_usage": True}
        )
    )
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Echo: count"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3


# -- assistants ---------------------------------------------------------------------------------------


def test_an_unknown_model_is_refused_when_the_assistant_is_created(client, provider):
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model="stub-model-xl")
    error = bad_request(refused)
    assert error["param"] == "model" and error["code"] == "model_not_found"
    assert "stub-model-xl" in error["message"]
    assistant = client.beta.assistants.create(model="stub-model-large")
    assert client.beta.assistants.create(model="scenery-echo").model == "scenery-echo"
    with pytest.raises(openai.BadRequestError):
        client.beta.assistants.update(assistant.id, model="gpt-nonexistent")


def test_updating_only_code_interpreter_files_keeps_the_file_search_store(client):
    notes = client.files.create(file=("notes.txt", b"Notes about tides.", "text/plain"), purpose="assistants")
    store = client.vector_stores.create(name="Tides", file_ids=[notes.id])
    assistant = client.beta.assistants.create(
        model="scenery-echo",
        tools=[{"type": "file_search"}, {"type": "code_interpreter"}],
        tool_resources={"file_search": {"vector_store_ids": [store.id]}},
    )
    updated = client.beta.assistants.update(
        assistant.id, tool_resources={"code_interpreter": {"file_ids": [notes.id]}}
    )
    assert updated.tool_resources.file_search.vector_store_ids == [store.id]
    assert updated.tool_resources.code_interpreter.file_ids == [notes.id]


def test_a_function_whose_parameters_are_not_a_json_schema_is_refused(client):
    broken = {
        "type": "function",
        "function": {"name": "f", "parameters": {"type": "object", "properties": {"a": {"type": "strin"}}}},
    }
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.assistants.create(model="scenery-echo", tools=[broken])
    error = bad_request(refused)
    assert error["param"] == "tools[0].function.parameters" and "'f'" in error["message"]


# -- runs, vector stores, messages, methods -------------------------------------------------------------


def test_an_unknown_include_value_is_refused(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, include=["step_details.secret"])
    assert bad_request(refused)["param"] == "include[0]"


def test_a_chunk_overlap_above_half_the_chunk_size_is_refused(client):
    def static(size: int, overlap: int) -> dict:
        return {"type": "static", "static": {"max_chunk_size_tokens": size, "chunk_overlap_tokens": overlap}}

    with pytest.raises(openai.BadRequestError) as refused:
        client.vector_stores.create(name="x", chunking_strategy=static(400, 201))
    error = bad_request(refused)
    assert error["param"] == "chunking_strategy.static.chunk_overlap_tokens" and "200" in error["message"]
    assert client.vector_stores.create(name="x", chunking_strategy=static(400, 200)).status == "completed"


def test_a_missing_attachment_is_named_by_its_position(client):
    thread = client.beta.threads.create()
    good = client.files.create(file=("a.txt", b"a", "text/plain"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as refused:
        client.beta.threads.messages.create(
            thread.id,
            role="user",
            content="see files",
            attachments=[
                {"file_id": good.id, "tools": [{"type": "file_search"}]},
                {"file_id": "file-missing", "tools": [{"type": "file_search"}]},
            ],
        )
    assert bad_request(refused)["param"] == "attachments[1].file_id"


def test_an_unsupported_method_is_405_in_the_error_envelope(client):
    with pytest.raises(openai.APIStatusError) as refused:
        client.put(
            "/assistants", cast_to=httpx.Response, options={"headers": {"OpenAI-Beta": "assistants=v2"}}
        )
    assert refused.value.status_code == 405
    assert refused.value.response.headers["allow"] == "GET, POST"
    assert message_of(refused) == "Invalid method for URL (PUT /v1/assistants)."
