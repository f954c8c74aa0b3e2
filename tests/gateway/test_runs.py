"""Runs on the durable executor: the documented life cycle through the official client."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import openai
import pytest
from django.utils import timezone

from gateway import lifecycle, runner
from gateway.models import Message, Run, RunStep, Thread
from tests.gateway.conftest import BETA, message_of, run_status
from tests.openapi_spec import validate_response
from tests.stub_provider import chat_completion
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def tool_call_answer(name: str, arguments: dict, call_id: str = "call_stub1") -> dict:
    answer = chat_completion("")
    answer["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }
    answer["choices"][0]["finish_reason"] = "tool_calls"
    return answer


def test_a_run_answers_and_the_reply_is_in_the_thread(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo", instructions="Be brief.")
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread.id, role="user", content="What is 2 + 2?")
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "completed" and run.id.startswith("run_")
    assert run.instructions == "Be brief." and run.model == "scenery-echo"
    assert run.usage.total_tokens == run.usage.prompt_tokens + run.usage.completion_tokens > 0
    assert run.started_at and run.completed_at and run.expires_at is None
    body = raw.get(f"/threads/{thread.id}/runs/{run.id}", headers=BETA).json()
    validate_response("RunObject", body)

    reply, question = client.beta.threads.messages.list(thread.id).data
    assert reply.role == "assistant" and reply.content[0].text.value == "Echo: What is 2 + 2?"
    assert reply.run_id == run.id and reply.assistant_id == assistant.id
    assert question.content[0].text.value == "What is 2 + 2?"

    steps = raw.get(f"/threads/{thread.id}/runs/{run.id}/steps", headers=BETA).json()
    (step,) = steps["data"]
    validate_response("RunStepObject", step)
    assert (
        step["type"] == "message_creation"
        and step["step_details"]["message_creation"]["message_id"] == reply.id
    )
    assert step["usage"] == run.usage.model_dump()
    one = client.beta.threads.runs.steps.retrieve(step["id"], thread_id=thread.id, run_id=run.id)
    assert one.id.startswith("step_") and one.status == "completed"
    assert [r.id for r in client.beta.threads.runs.list(thread.id)] == [run.id]


def test_a_provider_run_sends_instructions_history_and_overrides(client, provider, stub_provider):
    assistant = client.beta.assistants.create(
        model="stub-model", instructions="Assistant rules.", tools=[WEATHER]
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "earlier"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        instructions="Run rules.",
        additional_instructions="Also be kind.",
        additional_messages=[{"role": "user", "content": "now"}],
        temperature=0.3,
        model="stub-model-large",
    )
    assert run.status == "completed"
    sent = stub_provider.last("/v1/chat/completions")
    assert sent.headers["authorization"] == "Bearer sk-stub-secret-wxyz9876"
    assert sent.body["model"] == "stub-model-large" and sent.body["temperature"] == 0.3
    assert sent.body["messages"] == [
        {"role": "system", "content": "Run rules.\n\nAlso be kind."},
        {"role": "user", "content": "earlier"},
        {"role": "user", "content": "now"},
    ]
    assert sent.body["tools"] == [WEATHER]
    assert run.instructions == "Run rules.\n\nAlso be kind."
    assert client.beta.threads.messages.list(thread.id).data[0].content[0].text.value == "echo: now"
    assert run.usage.total_tokens == 12  # the provider's own count


def test_function_calling_round_trip_with_submit_tool_outputs(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "call get_weather for Paris, 3 days"}]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)

    assert run.status == "requires_action"
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "call get_weather for Paris, 3 days", "days": 3}
    assert run.expires_at is not None

    with pytest.raises(openai.BadRequestError) as wrong:
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_other", "output": "x"}]
        )
    assert "Expected tool outputs for call_ids" in message_of(wrong)

    done = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=thread.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "18C and sunny"}],
    )
    assert done.status == "completed" and done.required_action is None
    reply = client.beta.threads.messages.list(thread.id).data[0]
    assert "Tool output: 18C and sunny" in reply.content[0].text.value
    steps = client.beta.threads.runs.steps.list(run.id, thread_id=thread.id, order="asc").data
    assert [s.type for s in steps] == ["tool_calls", "message_creation"]
    tool_call = steps[0].step_details.tool_calls[0]
    assert tool_call.id == call.id and tool_call.function.output == "18C and sunny"

    with pytest.raises(openai.BadRequestError) as late:
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "again"}]
        )
    assert message_of(late) == 'Runs in status "completed" do not accept tool outputs.'


def test_provider_tool_call_ids_are_kept_and_outputs_sent_back(client, provider, stub_provider):
    stub_provider.script(
        "/v1/chat/completions", [(200, tool_call_answer("get_weather", {"city": "Oslo"}, "call_abc"), {})]
    )
    assistant = client.beta.assistants.create(model="stub-model", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather in Oslo?"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.required_action.submit_tool_outputs.tool_calls[0].id == "call_abc"
    client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": "call_abc", "output": "-2C"}]
    )
    messages = stub_provider.last("/v1/chat/completions").body["messages"]
    assert messages[-2]["tool_calls"][0]["id"] == "call_abc"
    assert messages[-1] == {"role": "tool", "tool_call_id": "call_abc", "content": "-2C"}


def test_a_run_waiting_for_tool_outputs_is_cancelled(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    cancelled = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    assert client.beta.threads.runs.steps.list(run.id, thread_id=thread.id).data[0].status == "cancelled"
    again = raw.post(f"/threads/{thread.id}/runs/{run.id}/cancel", headers=BETA)
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "Cannot cancel run with status 'cancelled'."


def test_cancelling_a_run_stops_its_model_call(client, provider, stub_provider):
    assistant = client.beta.assistants.create(model="stub-model")  # the model list is read here
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "slow"}])
    stub_provider.hold()  # it answers only after the test: the cancel must stop the call
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    wait_until(lambda: stub_provider.requests, "the provider call")
    cancelling = client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    assert cancelling.status == "cancelling"
    wait_until(lambda: run_status(run.id) == "cancelled", "the cancel")
    assert not Message.objects.filter(run_id=run.id).exists()


def test_a_run_past_its_expiry_is_expired_and_takes_no_outputs(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    call_id = run.required_action.submit_tool_outputs.tool_calls[0].id
    Run.objects.filter(pk=run.id).update(expires_at=timezone.now() - timedelta(seconds=1))

    expired = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert expired.status == "expired" and expired.required_action is None
    assert RunStep.objects.get(run_id=run.id).status == "expired"
    with pytest.raises(openai.BadRequestError) as late:
        client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call_id, "output": "x"}]
        )
    assert message_of(late) == 'Runs in status "expired" do not accept tool outputs.'
    client.beta.threads.messages.create(thread.id, role="user", content="the thread is free again")


def test_the_executor_sweep_expires_a_forgotten_run(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    Run.objects.filter(pk=run.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    runner.sweep()
    assert run_status(run.id) == "expired"


def test_max_completion_tokens_ends_a_run_incomplete(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "word " * 400}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_completion_tokens=256
    )
    assert run.status == "incomplete"
    assert run.incomplete_details.reason == "max_completion_tokens"
    reply = client.beta.threads.messages.list(thread.id).data[0]
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "max_tokens"
    assert run.usage.completion_tokens == 256


def test_max_prompt_tokens_ends_a_run_incomplete_before_calling_the_model(client, provider, stub_provider):
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "word " * 300}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_prompt_tokens=256
    )
    assert run.status == "incomplete" and run.incomplete_details.reason == "max_prompt_tokens"
    assert not [r for r in stub_provider.requests if r.path == "/v1/chat/completions"]


def test_auto_truncation_drops_old_messages_to_fit_max_prompt_tokens(client, provider, stub_provider):
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "old " * 300}, {"role": "user", "content": "newest question"}]
    )
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, max_prompt_tokens=256
    )
    assert run.status == "completed"
    assert stub_provider.last("/v1/chat/completions").body["messages"] == [
        {"role": "user", "content": "newest question"}
    ]


def test_last_messages_truncation_sends_only_the_newest_messages(client, provider, stub_provider):
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": c} for c in ("a", "b", "c")])
    client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        truncation_strategy={"type": "last_messages", "last_messages": 2},
    )
    assert [m["content"] for m in stub_provider.last("/v1/chat/completions").body["messages"]] == ["b", "c"]


def test_a_provider_error_fails_the_run_with_last_error_and_no_secret(client, provider, stub_provider):
    error = {
        "error": {
            "message": "Invalid prompt: too spicy.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    stub_provider.script("/v1/chat/completions", [(400, error, {})])
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.failed_at is not None
    assert run.last_error.code == "invalid_prompt" and "too spicy" in run.last_error.message

    stub_provider.script(
        "/v1/chat/completions", [(401, {"error": {"message": "bad key sk-stub-secret-wxyz9876"}}, {})]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "failed" and run.last_error.code == "server_error"
    assert "sk-stub-secret-wxyz9876" not in run.last_error.message


def test_a_run_naming_a_model_without_a_provider_fails_clearly(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, model="gpt-4o"
    )
    assert run.status == "failed"
    assert "no provider configured" in run.last_error.message and "scenery-echo" in run.last_error.message


def test_code_interpreter_is_accepted_but_the_run_says_it_does_not_execute_code(
    client, provider, stub_provider
):
    assistant = client.beta.assistants.create(model="stub-model", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "run print(1)"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    answer, note = client.beta.threads.messages.list(thread.id).data[0].content
    assert answer.text.value == "echo: run print(1)"
    assert "does not execute code" in note.text.value
    system = stub_provider.last("/v1/chat/completions").body["messages"][0]
    assert system["role"] == "system" and "Code execution is not available" in system["content"]
    assert "tools" not in stub_provider.last("/v1/chat/completions").body


def test_modify_run_changes_metadata_only(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"k": "v"}).metadata == {
        "k": "v"
    }
    refused = raw.post(f"/threads/{thread.id}/runs/{run.id}", headers=BETA, json={"status": "cancelled"})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "status"
    assert run_status(run.id) == "completed"


def test_create_thread_and_run(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "new thread"}]}
    )
    assert run.status == "completed"
    assert (
        client.beta.threads.messages.list(run.thread_id).data[0].content[0].text.value == "Echo: new thread"
    )


def test_a_run_needs_a_known_assistant(client, raw):
    thread = client.beta.threads.create()
    with pytest.raises(openai.NotFoundError) as missing:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id="asst_nope")
    assert message_of(missing) == "No assistant found with id 'asst_nope'."
    assert (
        raw.post(f"/threads/{thread.id}/runs", headers=BETA, json={}).json()["error"]["param"]
        == "assistant_id"
    )
    assert not Run.objects.exists()


def test_a_run_whose_worker_died_is_finished_by_the_next_claim(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "survive"}])
    # A run a dead worker held: in progress, its lease long expired.
    run = abandoned_run(thread.id, assistant.id, tries=1)
    wait_until(lambda: run_status(run.id) == "completed", "the rescue")
    assert Message.objects.get(run_id=run.id).text == "Echo: survive"


def test_a_run_whose_workers_kept_dying_is_failed_not_left_stuck(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create()
    run = abandoned_run(thread.id, assistant.id, tries=3)
    # The executor's next claim round gives it up (calling it here too changes nothing).
    lifecycle.fail_exhausted()
    wait_until(lambda: run_status(run.id) == "failed", "the give-up")
    failed = Run.objects.get(pk=run.id)
    assert failed.status == "failed" and failed.last_error is not None
    assert failed.last_error["code"] == "server_error"
    assert "interrupted 3 times" in failed.last_error["message"]


def abandoned_run(thread_id: str, assistant_id: str, tries: int) -> Run:
    """A run whose worker died while it was in progress: its lease ran out a minute ago."""
    return Run.objects.create(
        team_id=Thread.objects.get(pk=thread_id).team_id,
        thread_id=thread_id,
        assistant_id=assistant_id,
        model="scenery-echo",
        status=Run.Status.IN_PROGRESS,
        lease_owner="dead-worker",
        lease_until=timezone.now() - timedelta(minutes=1),
        attempt=tries,
        tries=tries,
        expires_at=timezone.now() + timedelta(minutes=10),
    )


def test_two_runs_started_at_once_on_one_thread_cannot_both_start(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather"}])

    def start(_: int) -> int:
        body = {"assistant_id": assistant.id}
        return raw.post(f"/threads/{thread.id}/runs", headers=BETA, json=body).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = sorted(pool.map(start, range(4)))
    assert statuses == [200, 400, 400, 400]
    assert Run.objects.filter(thread_id=thread.id).count() == 1


def test_run_responses_tell_pollers_how_long_to_wait(client, raw, settings):
    settings.GATEWAY_POLL_AFTER_MS = 123
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create()
    response = raw.post(f"/threads/{thread.id}/runs", headers=BETA, json={"assistant_id": assistant.id})
    assert response.headers["openai-poll-after-ms"] == "123"


def test_image_parts_reach_the_provider_as_chat_content_parts(client, provider, stub_provider):
    image = client.files.create(file=("dot.png", b"\x89PNG\r\n\x1a\nfake", "image/png"), purpose="vision")
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in these?"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://example.com/cat.png", "detail": "low"},
                    },
                    {"type": "image_file", "image_file": {"file_id": image.id}},
                ],
            }
        ]
    )
    client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    (message,) = stub_provider.last("/v1/chat/completions").body["messages"]
    text, url, inline = message["content"]
    assert text == {"type": "text", "text": "What is in these?"}
    assert url == {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}}
    assert inline["image_url"]["url"].startswith("data:image/png;base64,")


def test_an_oversized_json_body_is_refused_with_413(raw, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = raw.post("/assistants", headers=BETA, json={"model": "m", "instructions": "x" * 2000})
    assert response.status_code == 413 and "larger than" in response.json()["error"]["message"]
