"""Tokens reach the client while the provider is still answering: chat chunks, legacy completions and
runs, with a stub provider that streams one token every 50 ms and holds after the first one until
the test has seen it arrive (order of events, no clock)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import openai
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from gateway import deltas, streaming
from gateway.models import Assistant, Message, Run, RunStep, Thread
from gateway.threads import text_part
from tests.stub_provider import StubProvider, chat_completion

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "tell me about the tides of the northern sea"
ANSWER = f"echo: {QUESTION}"


def delta_text(event: Any) -> str:
    """The text a thread.message.delta event adds."""
    return str(event.data.delta.content[0].text.value)


def message_text(message: Any) -> str:
    return str(message.content[0].text.value)


def test_chat_chunks_arrive_before_the_provider_has_finished(client, provider, stub_provider):
    hold = stub_provider.slow_streaming()
    stream = client.chat.completions.create(
        model="stub-model",
        messages=[{"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: list[str] = []
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            if not texts:
                assert not stub_provider.finished.is_set(), "the first token waited for the whole answer"
                hold.set()
            texts.append(chunk.choices[0].delta.content)
    assert "".join(texts) == ANSWER and len(texts) == len(ANSWER.split())
    assert chunk.usage is not None and chunk.usage.total_tokens == 12  # the provider's, passed on last
    assert stub_provider.last("/v1/chat/completions").body["stream"] is True


def test_a_legacy_completion_streams_through_the_emulation_as_the_model_answers(
    client, provider, stub_provider
):
    missing = {"error": {"message": "no route", "type": "invalid_request_error", "param": None, "code": None}}
    stub_provider.handlers["/v1/completions"] = lambda rec: (404, missing, {})
    hold = stub_provider.slow_streaming()
    texts: list[str] = []
    for chunk in client.completions.create(model="stub-model", prompt=QUESTION, max_tokens=50, stream=True):
        if chunk.choices and chunk.choices[0].text:
            if not texts:
                assert not stub_provider.finished.is_set()
                hold.set()
            texts.append(chunk.choices[0].text)
    assert "".join(texts) == ANSWER and len(texts) > 1
    assert stub_provider.last("/v1/chat/completions").body["max_completion_tokens"] == 50


def stream_a_run(client: Any, stub: StubProvider) -> tuple[list[str], Any, Any]:
    """Start a run on QUESTION with the provider held after its first token; return the text of
    each delta the client got, the final run and message, and the thread."""
    hold = stub.slow_streaming()
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    pieces: list[str] = []
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                if not pieces:
                    assert not stub.finished.is_set(), "the first delta waited for the whole answer"
                    hold.set()
                pieces.append(delta_text(event))
        final = stream.get_final_run(), stream.get_final_messages()[0]
    return pieces, final, thread


def test_a_run_streams_its_message_token_by_token_and_stores_it_whole(client, provider, stub_provider):
    pieces, (run, final), thread = stream_a_run(client, stub_provider)
    assert pieces[0] == "echo: " and "".join(pieces) == ANSWER and len(pieces) == len(ANSWER.split())
    assert run.status == "completed"
    assert message_text(final) == ANSWER and final.status == "completed"
    stored = client.beta.threads.messages.list(thread.id).data[0]
    assert message_text(stored) == ANSWER and stored.status == "completed"


def test_a_cancelled_streaming_run_keeps_the_text_so_far_in_an_incomplete_message(
    client, provider, stub_provider
):
    hold = stub_provider.slow_streaming()
    assistant = client.beta.assistants.create(model="stub-model")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    with client.beta.threads.runs.stream(thread_id=thread.id, assistant_id=assistant.id) as stream:
        for event in stream:
            if event.event == "thread.message.delta":
                client.beta.threads.runs.cancel(run_id=stream.current_run.id, thread_id=thread.id)
            if event.event == "thread.message.incomplete":
                assert event.data.incomplete_details.reason == "run_cancelled"
        assert stream.current_run.status == "cancelled"
    hold.set()
    (message,) = [m for m in client.beta.threads.messages.list(thread.id).data if m.role == "assistant"]
    assert message.status == "incomplete" and message_text(message) == "echo: "


# -- a client that joins late -------------------------------------------------------------------------


def in_progress_answer(cast) -> tuple[Run, Message]:
    """A run some other worker is answering: its message is open, its lease held elsewhere."""
    assistant = Assistant.objects.create(team=cast.team, model="scenery-echo")
    thread = Thread.objects.create(team=cast.team)
    now = timezone.now()
    run = Run.objects.create(
        team=cast.team,
        thread=thread,
        assistant_id=assistant.id,
        model="scenery-echo",
        status=Run.Status.IN_PROGRESS,
        started_at=now,
        expires_at=now + timedelta(minutes=10),
        lease_owner="another-worker",
        lease_until=now + timedelta(minutes=10),
    )
    message = Message.objects.create(
        team=cast.team, thread=thread, role="assistant", run_id=run.id, status=Message.Status.IN_PROGRESS
    )
    RunStep.objects.create(
        team=cast.team,
        run=run,
        thread_id=thread.id,
        assistant_id=assistant.id,
        type="message_creation",
        status=RunStep.Status.IN_PROGRESS,
        step_details={"type": "message_creation", "message_creation": {"message_id": message.id}},
    )
    return run, message


def finish(run: Run, message: Message, text: str) -> None:
    Message.objects.filter(pk=message.pk).update(content=[text_part(text)], status=Message.Status.COMPLETED)
    RunStep.objects.filter(run=run).update(status=RunStep.Status.COMPLETED, completed_at=timezone.now())
    Run.objects.filter(pk=run.pk).update(status=Run.Status.COMPLETED, completed_at=timezone.now())


async def test_a_client_joining_late_gets_the_text_so_far_then_the_rest(cast, monkeypatch):
    monkeypatch.setattr(
        deltas, "KEYFRAME_SECONDS", 0.0
    )  # every delta after the first carries the text so far
    run, message = await sync_to_async(in_progress_answer)(cast)
    publisher = deltas.Publisher(run.id)
    await publisher.publish(message.id, "Hello ")  # before the client is there: nobody hears these
    await publisher.publish(message.id, "wor")

    received: list[tuple[str, str]] = []
    announced = asyncio.Event()

    async def client() -> None:
        async for raw in streaming.run_events(run):
            name, data = raw.decode().split("\n")[:2]
            received.append((name.removeprefix("event: "), data.removeprefix("data: ")))
            if name.endswith("thread.message.in_progress"):
                announced.set()

    listening = asyncio.create_task(client())
    await asyncio.wait_for(announced.wait(), timeout=15)
    await publisher.publish(message.id, "ld")
    await publisher.publish(message.id, "!")
    await sync_to_async(finish)(run, message, "Hello world!")
    await asyncio.wait_for(listening, timeout=15)

    texts = [data for name, data in received if name == "thread.message.delta"]
    assert ['"value": "Hello world"' in texts[0], '"value": "!"' in texts[1]] == [True, True]
    assert len(texts) == 2  # the stored message added nothing the deltas had not brought
    names = [name for name, _ in received]
    assert names.index("thread.message.completed") < names.index("thread.run.completed")


# -- providers that do not stream smoothly ----------------------------------------------------------


def chat_text(client: Any) -> str:
    stream = client.chat.completions.create(
        model="stub-model", messages=[{"role": "user", "content": QUESTION}], stream=True
    )
    return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)


def test_a_provider_limiting_requests_is_retried_before_the_stream_starts(client, provider, stub_provider):
    limited = {"error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}}
    stub_provider.script("/v1/chat/completions", [(429, limited, {"retry-after-ms": "10"})])
    assert chat_text(client) == ANSWER
    assert len([r for r in stub_provider.requests if r.path == "/v1/chat/completions"]) == 2


def test_a_provider_failing_midway_ends_the_stream_with_its_error(client, provider, stub_provider):
    first = chat_completion("unused")
    first.update(object="chat.completion.chunk", choices=[{"index": 0, "delta": {"content": "Par"}}])
    broken = f"data: {json.dumps(first)}\n\ndata: {json.dumps({'error': {'message': 'overloaded'}})}\n\n"
    stub_provider.script(
        "/v1/chat/completions", [(200, broken.encode(), {"Content-Type": "text/event-stream"})]
    )
    with pytest.raises(openai.APIError) as failed:
        chat_text(client)
    assert "overloaded" in str(failed.value)


def test_a_provider_that_does_not_stream_still_streams_to_the_client(client, provider, stub_provider):
    whole = json.dumps(chat_completion("all at once, in one answer")).encode()
    stub_provider.script("/v1/chat/completions", [(200, whole, {})])
    assert chat_text(client) == "all at once, in one answer"
