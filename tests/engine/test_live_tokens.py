"""The editor's live run shows a model node's text as it comes: `tokens` events on the scenario's
WebSocket, batched, while the provider is still answering (the stub holds after its first token until
the test has seen it: order of events, no clock); never stored per token."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from scenarios.models import Execution, NodeRun
from tests.engine.conftest import ask_scenario
from tests.engine.test_live_socket import _run, _socket
from tests.waiting import HANG

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]

QUESTION = "tell me about the tides of the northern sea"
ANSWER = f"echo: {QUESTION}"


async def test_a_watching_page_gets_the_model_nodes_tokens_before_the_provider_has_finished(
    cast, stub_credential, stub_provider
):
    hold = stub_provider.slow_streaming()
    scenario = await sync_to_async(ask_scenario)(cast.team, stub_credential)
    socket = await _socket(scenario, cast.carol)  # a viewer may watch
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "state"

    run = asyncio.create_task(_run(scenario, {"body": {"question": QUESTION}}))
    received: list[dict[str, Any]] = []
    while not any(
        e["type"] == "node" and e["node"]["node"] == 2 and e["node"]["status"] == "succeeded"
        for e in received
    ):
        event = await socket.receive_json_from(timeout=HANG)
        if event["type"] == "tokens" and not hold.is_set():
            assert not stub_provider.finished.is_set(), "the first tokens waited for the whole answer"
            hold.set()
        received.append(event)
    execution: Execution = await run
    await socket.disconnect()

    tokens = [e for e in received if e["type"] == "tokens"]
    assert tokens and all(e["node"] == 2 and e["execution_id"] == str(execution.id) for e in tokens)
    assert "".join(e["text"] for e in tokens) == ANSWER
    ended = next(
        i
        for i, e in enumerate(received)
        if e["type"] == "node" and e["node"]["status"] == "succeeded" and e["node"]["node"] == 2
    )
    assert all(received.index(e) < ended for e in tokens)  # the text so far, then the node's output
    assert received[ended]["node"]["output"]["reply"] == ANSWER
    replies = await sync_to_async(_replies)(execution)
    assert replies == [ANSWER]  # one row with the whole reply: nothing stored per token


def _replies(execution: Execution) -> list[Any]:
    return [
        (run.output or {}).get("reply") for run in NodeRun.objects.filter(execution=execution, node_number=2)
    ]
