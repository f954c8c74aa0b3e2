"""Takeover, resume and fencing of one execution (the executor and real worker processes are tested
in tests/durability; here the engine's own part: what it writes, and what it refuses to write)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction
from django.utils import timezone

from durable.leases import Lease
from scenarios.models import Execution, NodeRun
from scenarios.runtime import jobs
from scenarios.runtime.engine import create_execution, run_execution
from tests.engine.conftest import CALLS, build, run_now, runs_of
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("test_nodes")

ES, NS = Execution.Status, NodeRun.Status


def _chain(cast):
    return build(
        cast.team,
        {
            1: ("test.trigger", {}),
            2: ("test.echo", {"a": "{{$1.value}}"}),
            3: ("test.sleep", {"seconds": 0.6}),
            4: ("test.echo", {"a": "{{$2.params.a}}", "b": "{{$3.slept}}"}),
        },
        [(1, 2), (2, 3), (3, 4)],
    )


async def _until_running(execution_id, number: int, attempt: int) -> None:
    running = NodeRun.objects.filter(
        execution_id=execution_id, node_number=number, attempt=attempt, status=NS.RUNNING
    )
    await eventually(running.aexists, f"node ${number} to start")


def _expire(execution: Execution) -> None:
    Execution.objects.filter(pk=execution.pk).update(lease_until=timezone.now() - timedelta(seconds=1))


def test_a_worker_that_takes_over_resumes_without_running_succeeded_nodes_again(cast):
    execution = create_execution(_chain(cast), Execution.Trigger.MANUAL, {"value": "v1"})

    async def first_worker_dies_during_node_3() -> None:
        lease = await sync_to_async(jobs.claim)("worker-a", 30)
        assert lease is not None
        task = asyncio.get_running_loop().create_task(run_execution(lease))
        await _until_running(execution.pk, 3, attempt=1)
        task.cancel()  # like kill -9: the worker writes nothing more
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async_to_sync(first_worker_dies_during_node_3)()
    assert Execution.objects.get(pk=execution.pk).status == ES.RUNNING
    assert jobs.claim("worker-b", 30) is None  # the lease has not expired yet

    _expire(execution)
    execution = run_now(execution, owner="worker-b")

    assert execution.status == ES.SUCCEEDED, execution.error
    assert execution.attempt == 2
    assert CALLS[f"{execution.id}:2"] == 1  # node 2 succeeded in attempt 1 and was not run again
    rows: dict[tuple[int, int], Any] = {(r.node_number, r.attempt): r for r in execution.node_runs.all()}
    assert set(rows) == {(1, 1), (2, 1), (3, 1), (3, 2), (4, 2)}
    assert rows[(3, 1)].status == NS.FAILED
    assert rows[(3, 1)].error["message"].startswith("Interrupted: its worker was lost")
    assert rows[(3, 2)].status == NS.SUCCEEDED
    # The resumed node saw the output committed by the first worker.
    assert rows[(4, 2)].output["params"] == {"a": "v1", "b": 0.6}


def test_a_zombie_worker_whose_lease_was_taken_over_writes_nothing(cast):
    execution = create_execution(_chain(cast), Execution.Trigger.MANUAL, {"value": "v1"})

    async def zombie_and_successor() -> None:
        zombie_lease = await sync_to_async(jobs.claim)("worker-a", 30)
        assert zombie_lease is not None
        zombie = asyncio.get_running_loop().create_task(run_execution(zombie_lease))
        await _until_running(execution.pk, 3, attempt=1)
        # Worker A stalls long enough for its lease to expire; worker B takes the execution over
        # while A's node is still running, and A then tries to commit its result.
        await sync_to_async(_expire)(execution)
        successor = await sync_to_async(jobs.claim)("worker-b", 30)
        assert successor is not None and successor.attempt == 2
        await asyncio.gather(run_execution(successor), zombie)

    async_to_sync(zombie_and_successor)()
    execution.refresh_from_db()
    assert execution.status == ES.SUCCEEDED
    attempt_1 = {r.node_number: r.status for r in execution.node_runs.filter(attempt=1)}
    # A's node 3 finished, but its success was refused: the row keeps what B recorded, and A never
    # created node 4.
    assert attempt_1 == {1: NS.SUCCEEDED, 2: NS.SUCCEEDED, 3: NS.FAILED}
    assert runs_of(execution)[4].attempt == 2
    assert CALLS[f"{execution.id}:4"] == 1


def test_a_lease_that_was_taken_over_cannot_start_a_run(cast):
    execution = create_execution(_chain(cast), Execution.Trigger.MANUAL, {})
    lease = jobs.claim("worker-a", 30)
    assert lease is not None
    stale = Lease(model=Execution, pk=lease.pk, attempt=lease.attempt, owner="someone-else")
    async_to_sync(run_execution)(stale)
    assert not NodeRun.objects.filter(execution=execution).exists()


def test_an_execution_whose_workers_keep_dying_fails_visibly(cast):
    execution = create_execution(_chain(cast), Execution.Trigger.MANUAL, {})
    for owner in ("w1", "w2", "w3"):
        assert jobs.claim(owner, 30) is not None
        NodeRun.objects.update_or_create(
            execution=execution,
            node_number=1,
            attempt=1,
            defaults={"node_kind": "test.trigger", "status": NS.RUNNING},
        )
        _expire(execution)
    assert jobs.claim("w4", 30) is None
    execution.refresh_from_db()
    assert execution.status == ES.FAILED
    assert execution.error.startswith("Worker lost 3 times")
    assert execution.lease_owner == ""  # fences out the last worker too
    assert NodeRun.objects.get(execution=execution).status == NS.FAILED


def test_an_execution_ends_once_even_when_every_node_finished_before_a_takeover(cast):
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("test.echo", {})}, [(1, 2)])
    execution = create_execution(scenario, Execution.Trigger.MANUAL, {})
    lease = jobs.claim("worker-a", 30)
    assert lease is not None
    for number in (1, 2):
        NodeRun.objects.create(
            execution=execution, node_number=number, node_kind="x", attempt=1, status=NS.SUCCEEDED, output={}
        )
    _expire(execution)
    execution = run_now(execution, owner="worker-b")
    assert execution.status == ES.SUCCEEDED
    assert execution.node_runs.count() == 2
    assert CALLS[f"{execution.id}:2"] == 0


def test_a_claim_prefers_the_team_with_the_fewest_running_executions(cast):
    busy_team = build(cast.team, {1: ("test.trigger", {})}, [])
    other_team = build(cast.other_team, {1: ("test.trigger", {})}, [])
    backlog = [create_execution(busy_team, Execution.Trigger.WEBHOOK, {}) for _ in range(4)]
    late = create_execution(other_team, Execution.Trigger.WEBHOOK, {})
    first, second = jobs.claim("w", 30), jobs.claim("w", 30)
    assert first is not None and second is not None
    # Both teams had nothing running: the oldest goes first; then the other team's turn comes.
    assert (first.pk, second.pk) == (backlog[0].pk, late.pk)
    third = jobs.claim("w", 30)
    assert third is not None and third.pk == backlog[1].pk


@pytest.mark.django_db(transaction=True)
def test_a_worker_skips_an_execution_another_worker_is_claiming_and_takes_the_next(cast):
    """With PostgreSQL's SKIP LOCKED, racing workers each get their own execution at once instead
    of all choosing the oldest, failing and choosing again."""
    if not connection.features.has_select_for_update_skip_locked:
        pytest.skip("SQLite serialises claims with an immediate transaction: no row locks to skip")

    scenario = build(cast.team, {1: ("test.trigger", {})}, [])
    oldest, next_one = (create_execution(scenario, Execution.Trigger.WEBHOOK, {}) for _ in range(2))
    locked, release = threading.Event(), threading.Event()

    def another_worker_mid_claim() -> None:
        with transaction.atomic():
            list(Execution.objects.select_for_update().filter(pk=oldest.pk))
            locked.set()
            release.wait(10)
        connection.close()  # this thread's own connection

    holder = threading.Thread(target=another_worker_mid_claim)
    holder.start()
    try:
        assert locked.wait(10)
        lease = jobs.claim("w", 30)
    finally:
        release.set()
        holder.join()
    assert lease is not None and lease.pk == next_one.pk
