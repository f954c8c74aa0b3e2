"""A worker killed (kill -9) in the middle of a Loop over items: the worker that takes over keeps the
items that ended and runs only the others, and the Aggregate still collects every item in order."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest

from scenarios.models import Execution, NodeRun
from tests.engine.conftest import build
from tests.waiting import wait_for_end, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENGINE = {"EXECUTOR_SOURCES": "executions"}
QUESTIONS = ["one", "two", "three", "four"]


def asked(stub) -> list[str]:
    """The questions Send Message asked the provider, in order."""
    return [r.body["messages"][-1]["content"] for r in stub.requests if r.path.endswith("/chat/completions")]


def asking_loop(cast, credential) -> Any:
    """$1 webhook → $2 Loop over body.questions; item → $3 Send Message (the stub) → $4 Aggregate."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.questions}}"}),
            3: ("openai.send_message", {"message": "{{$item}}", "model": "stub-model"}, credential),
            4: ("flow.aggregate", {"value": "{{$3.reply}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4)],
    )


def ended_items(execution: Execution) -> int:
    return NodeRun.in_loops.filter(
        execution=execution, node_number=3, status=NodeRun.Status.SUCCEEDED
    ).count()


def test_a_loop_taken_over_mid_way_does_not_run_again_the_items_that_ended(
    workers, cast, stub_credential, stub_provider
):
    from scenarios.runtime.engine import create_execution

    stub_provider.delay = 0.6
    scenario = asking_loop(cast, stub_credential)
    doomed = workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {"body": {"questions": QUESTIONS}})
    wait_until(lambda: ended_items(execution) == 2, "two items to end")
    doomed.signal(signal.SIGKILL)
    doomed.proc.wait(timeout=10)
    workers.start(EXECUTOR_LEASE_SECONDS=2, **ENGINE)

    wait_for_end(execution.pk)
    execution.refresh_from_db()
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    assert execution.attempt == 2
    aggregate = NodeRun.objects.get(execution=execution, node_number=4, attempt=2)
    assert aggregate.output == [f"echo: {q}" for q in QUESTIONS]
    by_item = sorted(
        NodeRun.in_loops.filter(
            execution=execution, node_number=3, status=NodeRun.Status.SUCCEEDED
        ).values_list("iteration", "attempt")
    )
    assert by_item[:2] == [(0, 1), (1, 1)]  # ended before the kill: kept, not run again
    assert [item for item, _ in by_item] == [0, 1, 2, 3]
    assert {attempt for _, attempt in by_item[2:]} <= {1, 2}
    questions = asked(stub_provider)
    assert questions.count("one") == 1 and questions.count("two") == 1


def loop_rows(execution: Execution) -> list[tuple[Any, ...]]:
    return sorted(
        NodeRun.in_loops.filter(execution=execution, iteration__isnull=False).values_list(
            "node_number", "iteration", "attempt", "status"
        )
    )


def test_a_frozen_worker_that_wakes_mid_loop_after_the_takeover_writes_no_item(
    workers, cast, stub_credential, stub_provider
):
    from scenarios.runtime.engine import create_execution

    stub_provider.delay = 0.6
    scenario = asking_loop(cast, stub_credential)
    zombie = workers.start(EXECUTOR_LEASE_SECONDS=1.5, **ENGINE)
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {"body": {"questions": QUESTIONS}})
    wait_until(lambda: ended_items(execution) == 1, "one item to end")
    zombie.signal(signal.SIGSTOP)
    try:
        workers.start(EXECUTOR_LEASE_SECONDS=1.5, **ENGINE)
        wait_for_end(execution.pk)
        settled = loop_rows(execution)
    finally:
        zombie.signal(signal.SIGCONT)
    # Its provider call has returned meanwhile: it tries to write the item and carry on.
    wait_until(lambda: "lost" in zombie.output() or "taken over" in zombie.output(), "the zombie to notice")
    time.sleep(1)

    assert loop_rows(execution) == settled
    execution.refresh_from_db()
    assert (execution.status, execution.attempt) == ("succeeded", 2)
    aggregate = NodeRun.objects.get(execution=execution, node_number=4, attempt=2)
    assert aggregate.output == [f"echo: {q}" for q in QUESTIONS]
    assert [(n, i, a) for n, i, a, _ in settled if n == 3 and a == 1] == [(3, 0, 1)]
