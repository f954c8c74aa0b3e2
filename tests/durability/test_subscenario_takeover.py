"""A worker killed (kill -9) while a Run scenario node waits for its child, which runs on the same
worker: the worker that takes over finishes both, the parent waits for the child its predecessor
started (one child, never two), and nothing that had succeeded runs again."""

from __future__ import annotations

import signal

import pytest

from scenarios.models import Execution, NodeRun
from tests.durability.test_webhook_takeover import ENGINE, call_in_background, chat_requests, stored_running
from tests.engine.conftest import build
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def node_runs(execution: Execution) -> list[tuple[int, int, str]]:
    return sorted(NodeRun.objects.filter(execution=execution).values_list("node_number", "attempt", "status"))


def test_a_worker_killed_during_a_sub_scenario_is_replaced_and_the_parent_gets_the_childs_answer(
    workers, web_process, cast, stub_credential, stub_provider
):
    parent_scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.run_scenario", {"scenario": "Ask", "input": "{{$1.body}}"}),
            3: ("webhook.response", {"status": 200, "body": "{{$2.result}}"}),
        },
        [(1, 2), (2, 3)],
        name="Front desk",
    )
    build(
        cast.team,
        {
            1: ("manual.trigger", {}),
            2: (
                "openai.send_message",
                {"message": "{{$1.body.question}}", "model": "stub-model"},
                stub_credential,
            ),
            3: ("webhook.response", {"status": 200, "body": "{{$2.reply}}"}),
        },
        [(1, 2), (2, 3)],
        name="Ask",
    )
    stub_provider.delay = 1.5  # the child's provider is slow: the worker dies while both wait
    web = web_process(WEBHOOK_RESPONSE_DEADLINE=60)
    doomed = workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)
    thread, result = call_in_background(
        f"{web.url}/hooks/{parent_scenario.webhook_token}", {"question": "Still there?"}
    )

    wait_until(lambda: chat_requests(stub_provider) == 1, "the child's Send Message to call the provider")
    wait_until(
        lambda: (
            stored_running(node_number=2, execution__parent__isnull=False)
            and stored_running(node_number=2, execution__parent__isnull=True)
        ),
        "the parent's Run scenario and the child's Send Message to be stored as running",
    )
    doomed.signal(signal.SIGKILL)
    doomed.proc.wait(timeout=10)
    workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)
    thread.join(timeout=90)

    response = result.get("response")
    assert response is not None, result
    assert response.status_code == 200, response.text
    assert response.text == "echo: Still there?"
    parent = Execution.objects.get(pk=response.headers["x-execution-id"])
    [child] = Execution.objects.filter(parent=parent)
    assert Execution.objects.count() == 2
    assert parent.status == child.status == Execution.Status.SUCCEEDED
    assert node_runs(parent) == [
        (1, 1, "succeeded"),  # committed before the kill: not run again
        (2, 1, "failed"),  # waiting for the child when the worker died: interrupted...
        (2, 2, "succeeded"),  # ...and waiting again, for the same child
        (3, 2, "succeeded"),
    ]
    assert node_runs(child) == [
        (1, 1, "succeeded"),
        (2, 1, "failed"),
        (2, 2, "succeeded"),
        (3, 2, "succeeded"),
    ]
    assert chat_requests(stub_provider) == 2  # only the call in flight was made again
