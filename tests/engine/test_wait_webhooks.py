"""Whole scenarios with a Wait called through their webhook, over a real ASGI server: the caller of
a scenario with a Webhook response after a short Wait gets its answer; without one it gets 202 at
once and the execution waits, then finishes on its own."""

from __future__ import annotations

import httpx
import pytest

from scenarios.models import Execution, NodeRun
from tests.engine.conftest import build, runs_of
from tests.waiting import wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

ES, NS = Execution.Status, NodeRun.Status


def test_a_webhook_caller_gets_the_answer_given_after_a_short_wait(asgi_server, cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.wait", {"amount": 1, "unit": "seconds"}),
            3: ("webhook.response", {"status": 200, "body": "{{$1.body.name}}, after a wait"}),
        },
        [(1, 2), (2, 3)],
    )

    answer = httpx.post(f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"name": "Ada"}, timeout=20)

    assert (answer.status_code, answer.text) == (200, "Ada, after a wait")
    execution = wait_for_end(answer.headers["x-execution-id"])
    runs = runs_of(execution)
    assert runs[2].status == NS.SUCCEEDED and runs[2].finished_at >= runs[2].wake_at
    assert execution.attempt == 2  # released while waiting, claimed again at its time


def test_a_webhook_without_a_response_is_answered_at_once_and_the_execution_waits_then_ends(
    asgi_server, cast
):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.wait", {"amount": 2, "unit": "seconds"}),
            3: ("test.echo", {"a": "{{$1.body.name}}"}),
        },
        [(1, 2), (2, 3)],
    )

    answer = httpx.post(f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"name": "Ada"}, timeout=20)

    assert answer.status_code == 202
    execution = wait_for_end(answer.json()["execution_id"])
    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[3].output["params"] == {"a": "Ada"}
