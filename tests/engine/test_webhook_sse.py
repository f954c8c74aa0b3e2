"""A Webhook response node answering as server-sent events, over a real socket (uvicorn running the
project's application): the caller reads each token of the Send Message node before it, while the
provider is still answering (the stub holds after its first token until the test has seen it: order of
events, no clock), then the response node's answer."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from scenarios.models import Execution, Scenario
from scenarios.runtime import tokens
from scenarios.snapshot import Plan, snapshot_of
from tests.engine.conftest import ask_scenario, runs_of
from tests.waiting import HANG, wait_for_end, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

QUESTION = "tell me about the tides of the northern sea"
ANSWER = f"echo: {QUESTION}"


def streaming_scenario(cast: Any, credential: Any, **response: Any) -> Scenario:
    return ask_scenario(cast.team, credential, **{"status": 201, "answer_as": "sse", **response})


def hook(server: Any, scenario: Scenario) -> str:
    return f"{server.url}/hooks/{scenario.webhook_token}"


def events_of(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs as they arrive."""
    name = ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


def call(url: str, stub: Any = None, **kwargs: Any) -> tuple[httpx.Headers, list[tuple[str, dict[str, Any]]]]:
    """POST the question and read the event stream to its end; with `stub` (slow streaming), let the
    provider go on only once the first token has reached us, checking that it had not finished."""
    hold = stub.slow_streaming() if stub is not None else None
    received: list[tuple[str, dict[str, Any]]] = []
    with httpx.stream("POST", url, json={"question": QUESTION}, timeout=HANG, **kwargs) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for name, data in events_of(response):
            if hold is not None and name == "token" and not hold.is_set():
                assert not stub.finished.is_set(), "the first token waited for the whole answer"
                hold.set()
            received.append((name, data))
    return response.headers, received


def test_the_caller_gets_the_tokens_before_the_provider_has_finished_then_the_answer(
    asgi_server, cast, stub_credential, stub_provider
):
    scenario = streaming_scenario(cast, stub_credential)
    headers, received = call(hook(asgi_server, scenario), stub_provider)
    tokens = [data for name, data in received if name == "token"]
    assert tokens[0] == {"node": 2, "text": "echo: "} and len(tokens) == len(ANSWER.split())
    assert "".join(token["text"] for token in tokens) == ANSWER
    assert received[-1] == ("response", {"status": 201, "body": ANSWER})
    assert headers["cache-control"] == "no-store" and headers["content-security-policy"] == "sandbox"
    execution = wait_for_end(headers["x-execution-id"])
    assert execution.status == Execution.Status.SUCCEEDED
    assert (execution.response or {})["body"] == ANSWER  # stored as for any webhook
    assert runs_of(execution)[2].output["reply"] == ANSWER
    assert stub_provider.last("/v1/chat/completions").body["stream"] is True


def test_a_provider_error_midway_ends_the_stream_with_an_error_naming_the_node(
    asgi_server, cast, stub_credential, stub_provider
):
    def chunk(delta: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": "c1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "stub-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
        }

    stub_provider.stream_chunks = lambda rec, payload: [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "echo: "}),
        {"error": {"message": "The model is overloaded."}},
    ]
    scenario = streaming_scenario(cast, stub_credential)
    headers, received = call(hook(asgi_server, scenario), stub_provider)
    assert received[0] == ("token", {"node": 2, "text": "echo: "})
    name, error = received[-1]
    assert name == "error" and error["node"] == 2
    assert "Send Message failed" in error["error"] and "The model is overloaded." in error["error"]
    assert wait_for_end(headers["x-execution-id"]).status == Execution.Status.FAILED


def test_a_replay_of_the_same_idempotency_key_answers_with_the_final_body_as_one_event(
    asgi_server, cast, stub_credential, stub_provider
):
    scenario = streaming_scenario(cast, stub_credential)
    url = hook(asgi_server, scenario)
    first_headers, first = call(url, headers={"Idempotency-Key": "order-1"})
    assert first[-1] == ("response", {"status": 201, "body": ANSWER})
    headers, again = call(url, headers={"Idempotency-Key": "order-1"})
    assert headers["idempotent-replayed"] == "true"
    assert headers["x-execution-id"] == first_headers["x-execution-id"]
    assert again == [("response", {"status": 201, "body": ANSWER})]
    assert Execution.objects.count() == 1


def test_the_default_answer_is_one_response_with_the_whole_reply(
    asgi_server, cast, stub_credential, stub_provider
):
    scenario = streaming_scenario(cast, stub_credential, answer_as="one")
    response = httpx.post(hook(asgi_server, scenario), json={"question": QUESTION}, timeout=HANG)
    assert response.status_code == 201
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == ANSWER


class Held(threading.Event):
    """The stub's hold after the first token, without its own time limit (HANG guards the test)."""

    def wait(self, timeout: float | None = None) -> bool:
        return super().wait(HANG)


def test_a_caller_that_goes_away_stops_being_sent_tokens_and_the_run_goes_on(
    asgi_server, cast, stub_credential, stub_provider, settings, in_memory_layer
):
    settings.WEBHOOK_RESPONSE_DEADLINE = 2 * HANG  # only the caller's leaving ends its stream

    def listeners(group: str) -> Any:
        return in_memory_layer.groups.get(group)  # the in-memory layer's groups, which a test can see

    stub_provider.slow_streaming()
    hold = stub_provider.stream_hold = Held()  # the model waits for the test, however long it takes
    scenario = streaming_scenario(cast, stub_credential)
    with httpx.stream(
        "POST", hook(asgi_server, scenario), json={"question": QUESTION}, timeout=HANG
    ) as response:
        events = events_of(response)  # kept until the block ends: closed, it would close the connection
        name, first = next(events)
        execution_id = response.headers["x-execution-id"]
        group = tokens.group_name(execution_id)
        assert (name, first) == ("token", {"node": 2, "text": "echo: "})
        assert listeners(group)  # the caller's connection listens
    wait_until(lambda: not listeners(group), "the gone caller's listener to leave")
    assert not stub_provider.finished.is_set()  # it left while the model was held
    hold.set()
    execution = wait_for_end(execution_id)
    assert execution.status == Execution.Status.SUCCEEDED and (execution.response or {})["body"] == ANSWER


@pytest.mark.usefixtures("in_memory_layer")  # no page open, and the caller waits for one response
def test_a_run_nobody_listens_to_asks_the_provider_for_one_whole_answer(
    asgi_server, cast, stub_credential, stub_provider
):
    scenario = streaming_scenario(cast, stub_credential, answer_as="one")
    response = httpx.post(hook(asgi_server, scenario), json={"question": QUESTION}, timeout=HANG)
    assert response.text == ANSWER
    assert "stream" not in stub_provider.last("/v1/chat/completions").body


@pytest.mark.usefixtures("in_memory_layer")  # nobody in any group
def test_a_node_before_an_sse_response_streams_even_before_its_caller_listens(cast, stub_credential):
    answers_as_events = Plan.of(snapshot_of(streaming_scenario(cast, stub_credential)))
    answers_once = Plan.of(snapshot_of(streaming_scenario(cast, stub_credential, answer_as="one")))
    assert asyncio.run(tokens.Relay("e1", answers_as_events, "scenario-a").hook(2)) is not None
    assert asyncio.run(tokens.Relay("e2", answers_once, "scenario-b").hook(2)) is None
