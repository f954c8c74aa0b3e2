"""A run's first write (its node runs, the trigger's output, the first nodes running) waits for the
next one while nobody watches the run: one commit instead of two for a quick node, the row of a slow
one stored soon after, and a worker lost meanwhile followed by a run from the trigger."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from nodes.base import NodeContext
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import engine, jobs
from scenarios.runtime.engine import create_execution, run_execution
from tests.engine.conftest import build, node_type, run_now
from tests.live_events import heard_in
from tests.waiting import eventually, wait_until

pytestmark = pytest.mark.usefixtures("test_nodes")

ES, NS = Execution.Status, NodeRun.Status


@pytest.fixture
def stored_when_begun() -> Iterator[list[bool]]:
    """A node type `test.look` that notes whether its own node run was stored when it began."""
    seen: list[bool] = []

    async def look(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        rows = NodeRun.objects.filter(execution_id=ctx.execution_id, node_number=ctx.node_number)
        seen.append(await sync_to_async(rows.exists)())
        return {"looked": True}

    with node_type("test.look", look):
        yield seen


def _scenario(cast: Any, kind: str) -> Scenario:
    return build(
        cast.team,
        {1: ("test.trigger", {}), 2: (kind, {}), 3: ("test.echo", {"a": "{{$1.value}}"})},
        [(1, 2), (2, 3)],
    )


def _events(heard: list[dict[str, Any]]) -> list[tuple[str, int | None, str]]:
    return [
        (event["type"], event.get("node", {}).get("node"), event.get("node", {}).get("status", ""))
        for message in list(heard)
        for event in message["events"]
    ]


def _rows(execution: Execution) -> dict[tuple[int, int], Any]:
    return {(r.node_number, r.attempt): r for r in execution.node_runs.all()}


def test_a_run_nobody_watches_stores_its_start_with_its_first_nodes_result(cast, stored_when_begun):
    execution = run_now(
        create_execution(_scenario(cast, "test.look"), Execution.Trigger.MANUAL, {"value": 7})
    )

    assert stored_when_begun == [False]
    assert execution.status == ES.SUCCEEDED
    rows = _rows(execution)
    assert {key: row.status for key, row in rows.items()} == {
        (1, 1): NS.SUCCEEDED,
        (2, 1): NS.SUCCEEDED,
        (3, 1): NS.SUCCEEDED,
    }
    assert rows[(1, 1)].output == {"value": 7}
    assert rows[(2, 1)].output == {"looked": True}
    assert rows[(3, 1)].output["params"] == {"a": 7}


def test_a_watched_run_stores_its_start_before_its_first_node_begins(cast, stored_when_begun):
    scenario = _scenario(cast, "test.look")
    with heard_in(scenario.group_name) as heard:
        execution = run_now(create_execution(scenario, Execution.Trigger.MANUAL, {"value": 7}))
        wait_until(lambda: ("node", 2, "running") in _events(heard), "node 2's start, live")

    assert stored_when_begun == [True]
    assert execution.status == ES.SUCCEEDED


def test_a_first_node_still_running_is_stored_while_it_runs(cast, gate):
    execution = create_execution(_scenario(cast, "test.gate"), Execution.Trigger.MANUAL, {"value": 7})
    running = NodeRun.objects.filter(execution_id=execution.pk, node_number=2, status=NS.RUNNING)
    trigger = NodeRun.objects.filter(execution_id=execution.pk, node_number=1, status=NS.SUCCEEDED)

    async def run_while_the_gate_is_closed() -> None:
        lease = await sync_to_async(jobs.claim)("worker-a", 30)
        assert lease is not None
        task = asyncio.get_running_loop().create_task(run_execution(lease))
        await eventually(running.aexists, "the gate's node run to be stored as running")
        assert await trigger.aexists()
        assert not gate.is_set()
        gate.set()
        await task

    async_to_sync(run_while_the_gate_is_closed)()
    execution.refresh_from_db()
    assert execution.status == ES.SUCCEEDED
    assert set(_rows(execution)) == {(1, 1), (2, 1), (3, 1)}


def test_a_worker_lost_before_its_start_was_stored_is_followed_by_a_run_from_the_trigger(cast, monkeypatch):
    monkeypatch.setattr(engine, "START_WRITE_SECONDS", 3600.0)
    begun, opened = [], threading.Event()

    async def gate(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        begun.append(ctx.execution_id)
        await eventually(opened.is_set, "the test to open the gate")
        return {"passed": True}

    async def first_worker_dies_in_its_first_node() -> None:
        lease = await sync_to_async(jobs.claim)("worker-a", 30)
        assert lease is not None
        task = asyncio.get_running_loop().create_task(run_execution(lease))
        await eventually(lambda: begun, "the first node to begin")
        task.cancel()  # like kill -9: the worker writes nothing more
        with contextlib.suppress(asyncio.CancelledError):
            await task

    with node_type("test.opens", gate):
        execution = create_execution(_scenario(cast, "test.opens"), Execution.Trigger.MANUAL, {"value": 7})
        async_to_sync(first_worker_dies_in_its_first_node)()
        assert not NodeRun.objects.filter(execution_id=execution.pk).exists()
        opened.set()
        Execution.objects.filter(pk=execution.pk).update(lease_until=execution.created_at)
        execution = run_now(execution, owner="worker-b")

    assert execution.status == ES.SUCCEEDED, execution.error
    assert execution.attempt == 2
    assert len(begun) == 2
    rows = _rows(execution)
    assert set(rows) == {(1, 2), (2, 2), (3, 2)}
    assert rows[(1, 2)].output == {"value": 7}
