"""`stream: true` runs: OpenAI's server-sent events, read by the official client and checked raw."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.gateway.conftest import BETA
from tests.openapi_spec import validate_response

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def sse(raw: httpx.Client, path: str, body: dict) -> list[tuple[str, object]]:
    """POST and read the whole event stream as (event, data) pairs."""
    events: list[tuple[str, object]] = []
    with raw.stream("POST", path, headers=BETA, json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
                assert name is not None
                events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events


def schema_for(name: str) -> str:
    if name == "thread.created":
        return "ThreadObject"
    if name.startswith("thread.run.step."):
        return "RunStepDeltaObject" if name.endswith(".delta") else "RunStepObject"
    if name.startswith("thread.message."):
        return "MessageDeltaObject" if name.endswith(".delta") else "MessageObject"
    assert name.startswith("thread.run."), name
    return "RunObject"


def check_events(events: list[tuple[str, object]]) -> list[str]:
    names = [name for name, _ in events]
    assert events[-1] == ("done", "[DONE]")
    for name, data in events[:-1]:
        validate_response(schema_for(name), data)
    return names


def test_a_streamed_run_sends_the_documented_events_in_order(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "stream me"}])
    events = sse(raw, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id, "stream": True})
    names = check_events(events)
    assert names[0] == "thread.run.created"
    for expected in (
        "thread.run.in_progress",
        "thread.run.step.created",
        "thread.message.created",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
        "thread.run.completed",
    ):
        assert expected in names
    assert names.index("thread.message.created") < names.index("thread.message.delta")
    assert names.index("thread.message.completed") < names.index("thread.run.completed") == len(names) - 2
    text = "".join(
        data["delta"]["content"][0]["text"]["value"]
        for name, data in events
        if name == "thread.message.delta" and isinstance(data, dict)
    )
    assert text == "Echo: stream me"


def test_the_official_client_streams_a_run_to_its_text(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello stream"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        kinds = [event.event for event in stream]
        final = stream.get_final_run()
        text = stream.get_final_messages()[0].content[0].text.value
    assert kinds[0] == "thread.run.created" and kinds[-1] == "thread.run.completed"
    assert final.status == "completed" and text == "Echo: hello stream"


def test_a_streamed_function_call_stops_at_requires_action_and_resumes_with_outputs(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather for Rome"}])
    first = sse(raw, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id, "stream": True})
    names = check_events(first)
    assert names[-2] == "thread.run.requires_action"
    assert "thread.run.step.delta" in names
    run = first[-2][1]
    assert isinstance(run, dict)
    (call,) = run["required_action"]["submit_tool_outputs"]["tool_calls"]

    second = sse(
        raw,
        f"/threads/{thread.id}/runs/{run['id']}/submit_tool_outputs",
        {"tool_outputs": [{"tool_call_id": call["id"], "output": "sunny"}], "stream": True},
    )
    names = check_events(second)
    assert "thread.run.created" not in names and names[0] == "thread.run.queued"
    assert names[-2] == "thread.run.completed"
    assert names.count("thread.run.step.created") == 1  # only the new message step


def test_create_thread_and_run_streams_the_thread_first(client, raw):
    assistant = client.beta.assistants.create(model="scenery-echo")
    events = sse(
        raw,
        "/threads/runs",
        {
            "assistant_id": assistant.id,
            "thread": {"messages": [{"role": "user", "content": "hi"}]},
            "stream": True,
        },
    )
    names = check_events(events)
    assert names[:2] == ["thread.created", "thread.run.created"]
    assert names[-2] == "thread.run.completed"


def test_the_official_client_streams_tool_outputs(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        run = stream.current_run
    assert run is not None and run.status == "requires_action"
    call_id = run.required_action.submit_tool_outputs.tool_calls[0].id
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id, run_id=run.id, tool_outputs=[{"tool_call_id": call_id, "output": "warm"}]
    ) as stream:
        stream.until_done()
        assert stream.get_final_run().status == "completed"
        assert "Tool output: warm" in stream.get_final_messages()[0].content[0].text.value


def test_a_streamed_answer_with_a_second_part_sends_it_after_the_text(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[{"type": "code_interpreter"}])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "run print(1)"}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        stream.until_done()
        (message,) = stream.get_final_messages()
    text, note = (part.text.value for part in message.content if part.type == "text")
    assert text == "Echo: run print(1)" and "does not execute code" in note
