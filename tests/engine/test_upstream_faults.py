"""A misbehaving provider fails its node with a clear error; the engine carries on (Send Message
through the loopback stub provider, with the real provider client)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import jobs, presence
from scenarios.runtime.engine import create_execution, run_execution
from tests.engine.conftest import build, runs_of, start_and_run

ES, NS = Execution.Status, NodeRun.Status
KEY = "sk-stub-secret-wxyz9876"  # the stub_credential's
ERROR = {
    "error": {
        "message": "Slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}


@pytest.fixture
def ask(cast, stub_credential, settings):
    settings.PROVIDER_MAX_RETRIES = 2
    settings.PROVIDER_MAX_RETRY_WAIT = 1.0
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.send_message", {"message": "{{$1.body.q}}", "model": "stub-model"}, stub_credential),
            3: ("webhook.response", {"body": "{{$2.reply}}"}),
        },
        [(1, 2), (2, 3)],
    )


def _ask(scenario: Scenario, question: str = "hi") -> Execution:
    return start_and_run(scenario, {"method": "POST", "headers": {}, "query": {}, "body": {"q": question}})


def _assert_failed_cleanly(execution: Execution) -> dict[str, Any]:
    runs = runs_of(execution)
    assert execution.status == ES.FAILED
    assert runs[2].status == NS.FAILED and runs[3].status == NS.SKIPPED
    assert KEY not in json.dumps([runs[2].error, runs[2].params, execution.error])
    assert "Traceback" not in execution.error
    return runs[2].error


def test_429_is_retried_as_told_by_retry_after_then_fails_clearly(ask, stub_provider):
    stub_provider.script("/v1/chat/completions", [(429, ERROR, {"Retry-After": "0.3"})] * 3)
    started = time.monotonic()
    error = _assert_failed_cleanly(_ask(ask))
    assert time.monotonic() - started >= 0.6  # two waits of 0.3 s, as the provider said
    assert error["message"].startswith(
        "The provider is limiting requests (HTTP 429, rate_limit_error): Slow down"
    )
    assert error["message"].endswith("(gave up after 3 attempts)")
    assert error["status"] == 429 and error["code"] == "rate_limit_exceeded"
    assert len([r for r in stub_provider.requests if r.path == "/v1/chat/completions"]) == 3


def test_a_429_then_an_answer_succeeds_and_streams_the_retry(ask, stub_provider):
    stub_provider.script("/v1/chat/completions", [(429, ERROR, {"Retry-After": "0.1"})])

    async def run_and_listen() -> tuple[Execution, list[dict[str, Any]]]:
        layer = get_channel_layer()
        channel = await layer.new_channel()
        await layer.group_add(Scenario.group_name_for(ask.id), channel)
        await presence.watch(Scenario.group_name_for(ask.id))  # as an open page does
        execution = await sync_to_async(create_execution)(
            ask, Execution.Trigger.MANUAL, {"body": {"q": "again"}}
        )
        lease = await sync_to_async(jobs.claim)("worker", 30)
        assert lease is not None
        await run_execution(lease)
        events = []
        while True:
            try:
                events.extend((await asyncio.wait_for(layer.receive(channel), 0.3))["events"])
            except TimeoutError:
                break
        await sync_to_async(execution.refresh_from_db)()
        return execution, events

    execution, events = async_to_sync(run_and_listen)()
    assert execution.status == ES.SUCCEEDED
    assert (execution.response or {})["body"] == "echo: again"
    progress = [e["node"]["progress"] for e in events if e["type"] == "node" and "progress" in e["node"]]
    assert progress and progress[0]["retrying"] == 1 and progress[0]["of"] == 2
    assert "HTTP 429" in progress[0]["reason"]


def test_a_500_is_retried_then_fails_clearly(ask, stub_provider):
    stub_provider.script(
        "/v1/chat/completions", [(500, {"error": {"message": "boom", "type": "server_error"}}, {})] * 3
    )
    error = _assert_failed_cleanly(_ask(ask))
    assert error["message"].startswith("The provider failed (HTTP 500, server_error): boom")


def test_a_timeout_fails_clearly(ask, stub_provider, settings):
    settings.PROVIDER_READ_TIMEOUT = 0.3
    settings.PROVIDER_MAX_RETRIES = 0
    stub_provider.delay = 1.0
    error = _assert_failed_cleanly(_ask(ask))
    assert error["message"].startswith(
        "The provider did not answer POST /v1/chat/completions in time (read timed out)."
    )


def test_invalid_json_fails_clearly(ask, stub_provider):
    stub_provider.script("/v1/chat/completions", [(200, b"{not json", {})])
    error = _assert_failed_cleanly(_ask(ask))
    assert "is not valid JSON (HTTP 200)" in error["message"]


def test_the_engine_carries_on_after_a_provider_fault(ask, stub_provider):
    stub_provider.script(
        "/v1/chat/completions", [(400, {"error": {"message": "bad", "type": "invalid_request_error"}}, {})]
    )
    _assert_failed_cleanly(_ask(ask))
    after = _ask(ask, "still there?")
    assert after.status == ES.SUCCEEDED
    assert (after.response or {})["body"] == "echo: still there?"
