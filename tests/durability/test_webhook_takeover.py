"""The production layout end to end, with the real engine: a web process that does not execute,
worker processes that do, a webhook caller waiting for the Webhook response node, and a worker
killed mid-node."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import httpx
import pytest

from scenarios.models import Execution, NodeRun
from tests.engine.conftest import build
from tests.waiting import wait_for_end, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENGINE = {"EXECUTOR_SOURCES": "executions"}


@pytest.fixture
def ask_scenario(cast, stub_credential):
    """The demo's shape: Trigger on Webhook → Send Message (the stub provider) → Webhook response."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "openai.send_message",
                {"message": "{{$1.body.question}}", "model": "stub-model"},
                stub_credential,
            ),
            3: ("webhook.response", {"status": 200, "body": "{{$2.reply}}"}),
        },
        [(1, 2), (2, 3)],
    )


def call_in_background(url: str, payload: dict[str, Any]) -> tuple[threading.Thread, dict[str, Any]]:
    result: dict[str, Any] = {}

    def call() -> None:
        started = time.monotonic()
        try:
            result["response"] = httpx.post(url, json=payload, timeout=60)
        except Exception as exc:  # reported by the test's assertions
            result["error"] = exc
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, result


def chat_requests(stub) -> int:
    return sum(1 for r in stub.requests if r.path.endswith("/chat/completions"))


def stored_running(**node_run: Any) -> bool:
    """Whether a node run like this is stored as running. A run's first write may wait a moment
    (scenarios/runtime/engine.py); these tests stop a worker whose node a page would show running."""
    return NodeRun.objects.filter(status=NodeRun.Status.RUNNING, **node_run).exists()


def test_the_caller_of_a_killed_execution_gets_its_answer_from_the_worker_that_takes_over(
    workers, web_process, ask_scenario, stub_provider
):
    stub_provider.delay = 1.5  # the provider is slow: the worker dies while it waits
    web = web_process(WEBHOOK_RESPONSE_DEADLINE=30)
    doomed = workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)
    thread, result = call_in_background(
        f"{web.url}/hooks/{ask_scenario.webhook_token}", {"question": "Still there?"}
    )

    wait_until(lambda: chat_requests(stub_provider) == 1, "Send Message to call the provider")
    wait_until(lambda: stored_running(node_number=2), "Send Message to be stored as running")
    doomed.signal(signal.SIGKILL)
    rescuer = workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)
    thread.join(timeout=60)

    response = result.get("response")
    assert response is not None, result
    assert response.status_code == 200, response.text
    assert response.text == "echo: Still there?"
    execution = Execution.objects.get(pk=response.headers["x-execution-id"])
    assert execution.status == Execution.Status.SUCCEEDED and execution.attempt == 2
    assert execution.lease_owner.split(":")[1] == str(rescuer.pid)
    runs = sorted(NodeRun.objects.filter(execution=execution).values_list("node_number", "attempt", "status"))
    assert runs == [
        (1, 1, "succeeded"),  # the trigger was committed before the kill: not run again
        (2, 1, "failed"),  # in flight when the worker died: interrupted...
        (2, 2, "succeeded"),  # ...and run again by the rescuer (at least once)
        (3, 2, "succeeded"),
    ]
    assert chat_requests(stub_provider) == 2


def test_with_no_worker_left_the_caller_gets_504_with_the_execution_id_and_the_run_ends_later(
    workers, web_process, ask_scenario, stub_provider
):
    stub_provider.delay = 1.0
    web = web_process(WEBHOOK_RESPONSE_DEADLINE=3)
    doomed = workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)
    thread, result = call_in_background(
        f"{web.url}/hooks/{ask_scenario.webhook_token}", {"question": "Anyone?"}
    )
    wait_until(lambda: chat_requests(stub_provider) == 1, "Send Message to call the provider")
    doomed.signal(signal.SIGKILL)
    thread.join(timeout=30)

    response = result["response"]
    assert response.status_code == 504
    assert result["seconds"] > 2.5  # held for the deadline, not answered early
    body = response.json()
    assert "did not answer within 3 seconds" in body["error"]
    execution = Execution.objects.get(pk=body["execution_id"])
    assert execution.status == Execution.Status.RUNNING

    workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)  # capacity comes back: the run ends, visibly
    wait_for_end(execution.pk)
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED
    assert (execution.response or {}).get("body") == "echo: Anyone?"


def rows_of(execution: Execution) -> list[tuple[Any, ...]]:
    return sorted(
        NodeRun.objects.filter(execution=execution).values_list("node_number", "attempt", "status", "output")
    )


def test_a_frozen_worker_that_wakes_after_the_takeover_changes_nothing(workers, ask_scenario, stub_provider):
    from scenarios.runtime.engine import create_execution

    stub_provider.delay = 1.5
    zombie = workers.start(EXECUTOR_LEASE_SECONDS=1.5, **ENGINE)
    execution = create_execution(ask_scenario, Execution.Trigger.MANUAL, {"body": {"question": "Who wins?"}})
    wait_until(lambda: chat_requests(stub_provider) == 1, "Send Message to call the provider")
    wait_until(
        lambda: stored_running(execution=execution, node_number=2), "Send Message to be stored as running"
    )
    zombie.signal(signal.SIGSTOP)
    try:
        workers.start(EXECUTOR_LEASE_SECONDS=1.5, **ENGINE)
        wait_for_end(execution.pk)
        settled = rows_of(execution)
    finally:
        zombie.signal(signal.SIGCONT)
    # The zombie's provider call has returned meanwhile; it tries to commit node 2 and carry on.
    wait_until(lambda: "lost" in zombie.output() or "taken over" in zombie.output(), "the zombie to notice")
    time.sleep(1)

    assert rows_of(execution) == settled
    execution.refresh_from_db()
    assert (execution.status, execution.attempt) == ("succeeded", 2)
    assert [r[:3] for r in settled] == [
        (1, 1, "succeeded"),
        (2, 1, "failed"),
        (2, 2, "succeeded"),
        (3, 2, "succeeded"),
    ]


def test_an_execution_whose_workers_keep_dying_fails_visibly_with_the_reason(
    workers, web_process, ask_scenario, stub_provider
):
    stub_provider.delay = 30  # every attempt is still waiting on the provider when its worker dies
    web = web_process(WEBHOOK_RESPONSE_DEADLINE=1, EXECUTOR_MAX_ATTEMPTS=2)
    response = httpx.post(f"{web.url}/hooks/{ask_scenario.webhook_token}", json={"question": "?"}, timeout=30)
    assert response.status_code == 504
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    for attempt in (1, 2):
        worker = workers.start(EXECUTOR_LEASE_SECONDS=1, **ENGINE)
        calls = attempt
        wait_until(lambda: chat_requests(stub_provider) == calls, "the attempt to call the provider")  # noqa: B023
        worker.signal(signal.SIGKILL)
        worker.proc.wait(timeout=10)
    stub_provider.delay = 0
    workers.start(EXECUTOR_LEASE_SECONDS=1, **ENGINE)

    wait_for_end(execution.pk)
    execution.refresh_from_db()
    assert execution.status == Execution.Status.FAILED
    assert "Worker lost 2 times" in execution.error
    assert execution.attempt == 2 and chat_requests(stub_provider) == 2  # no third try
    assert not NodeRun.objects.filter(execution=execution, status__in=["queued", "running"]).exists()


def test_a_frozen_worker_cannot_revive_an_execution_that_was_given_up(
    workers, web_process, ask_scenario, stub_provider
):
    stub_provider.delay = 1.5
    web = web_process(WEBHOOK_RESPONSE_DEADLINE=0.5, EXECUTOR_MAX_ATTEMPTS=1)
    zombie = workers.start(EXECUTOR_LEASE_SECONDS=1, **ENGINE)
    response = httpx.post(f"{web.url}/hooks/{ask_scenario.webhook_token}", json={"question": "?"}, timeout=30)
    execution = Execution.objects.get(pk=response.json()["execution_id"])
    wait_until(lambda: chat_requests(stub_provider) == 1, "Send Message to call the provider")
    wait_until(
        lambda: stored_running(execution=execution, node_number=2), "Send Message to be stored as running"
    )
    zombie.signal(signal.SIGSTOP)
    try:
        workers.start(EXECUTOR_LEASE_SECONDS=1, **ENGINE)  # finds the lease expired, no attempt left
        wait_for_end(execution.pk)
    finally:
        zombie.signal(signal.SIGCONT)
    wait_until(lambda: "lost" in zombie.output() or "taken over" in zombie.output(), "the zombie to notice")
    time.sleep(1)

    execution.refresh_from_db()
    assert execution.status == Execution.Status.FAILED and "Worker lost 1 times" in execution.error
    assert execution.response is None
    assert list(
        NodeRun.objects.filter(execution=execution, node_number=2).values_list("status", flat=True)
    ) == ["failed"]
