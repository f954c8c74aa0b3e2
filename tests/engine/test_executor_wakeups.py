"""What an executor does with a wake-up: one naming queued rows claims just those rows (one claim
for every row named since the last), anything else runs a whole claim round; a full executor
leaves named rows to the fair round its freed slot starts; the poll runs whole rounds whatever the
wake-ups said; sweeps keep their own clock. A fake job source counts the calls; the real
executions' part runs at the end."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection
from django.utils import timezone

from durable import executor, worker
from durable.leases import Lease
from scenarios.models import Execution
from scenarios.runtime.engine import create_execution
from tests.engine.conftest import build
from tests.waiting import HANG, eventually


@dataclass
class Counted:
    """A job source whose rows are plain names; claims and sweeps are counted."""

    waiting: list[str] = field(default_factory=list)
    whole_claims: int = 0
    rounds_began: list[Any] = field(default_factory=list)
    woken_claims: list[str] = field(default_factory=list)
    woken_calls: list[list[str]] = field(default_factory=list)
    sweeps: int = 0
    ran: list[str] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def claim(self, owner: str, seconds: float, began: Any = None) -> Lease | None:
        self.whole_claims += 1
        self.rounds_began.append(began)
        return self._take(self.waiting[0], owner) if self.waiting else None

    def claim_woken(self, owner: str, seconds: float, pks: list[Any]) -> list[Lease]:
        self.woken_calls.append(list(pks))
        self.woken_claims += pks
        return [self._take(pk, owner) for pk in pks if pk in self.waiting]

    def _take(self, pk: str, owner: str) -> Lease:
        self.waiting.remove(pk)
        return Lease(model=Execution, pk=pk, attempt=1, owner=owner)

    async def run(self, lease: Lease) -> None:
        self.ran.append(lease.pk)
        await self.release.wait()

    def sweep(self) -> None:
        self.sweeps += 1

    def source(self, *, named: bool = True) -> executor.JobSource:
        return executor.JobSource(
            "counted", self.claim, self.run, self.sweep, self.claim_woken if named else None
        )


@pytest.fixture
def counted(monkeypatch, settings) -> Counted:
    jobs = Counted()
    monkeypatch.setitem(executor.SOURCES, "counted", jobs.source())
    settings.EXECUTOR_SOURCES = ["counted"]  # the real sources stay out of these tests
    return jobs


# A poll later than any wait's hang guard: a row that runs while it is pending was woken.
NO_POLL = 10 * HANG


async def serving(jobs: Counted, **options: Any) -> executor.Executor:
    """An executor serving on this loop once its first (whole) round and sweep are done."""
    runner = executor.Executor(owner="test-owner", **options)
    runner.start()
    await eventually(lambda: jobs.whole_claims >= 1 and jobs.sweeps == 1, "the first round")
    return runner


async def stopped(runner: executor.Executor, jobs: Counted) -> None:
    jobs.release.set()
    await runner.stop(grace=5)


@pytest.mark.django_db
async def test_a_wake_up_naming_a_waiting_row_claims_only_that_row(counted):
    runner = await serving(counted, poll_seconds=NO_POLL)
    rounds_before = counted.whole_claims
    counted.waiting += ["older", "named"]
    runner.wake("counted", "named")
    await eventually(lambda: counted.ran == ["named"], "the named row to run")
    await asyncio.sleep(0.05)
    assert counted.woken_claims == ["named"]
    assert counted.whole_claims == rounds_before  # no round: "older" is left to the next one
    assert counted.waiting == ["older"]
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_every_claim_of_a_round_is_told_when_the_round_began(counted):
    runner = await serving(counted, poll_seconds=NO_POLL)
    counted.waiting += ["a", "b", "c"]
    counted.rounds_began.clear()
    before = timezone.now()
    runner.wake()
    # Three claims, then the one that finds nothing and ends the round.
    await eventually(lambda: len(counted.rounds_began) >= 4, "the round to claim all three, then end")
    began = counted.rounds_began[0]
    assert before <= began <= timezone.now()
    assert counted.rounds_began == [began] * 4  # three claims and the one that found nothing
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_a_wake_up_naming_nothing_runs_a_whole_round(counted):
    runner = await serving(counted, poll_seconds=NO_POLL)
    counted.waiting += ["a", "b"]
    runner.wake()
    await eventually(lambda: counted.ran == ["a", "b"], "both rows to run")
    assert counted.woken_claims == []
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_a_named_row_another_executor_took_costs_one_claim_and_nothing_else(counted):
    runner = await serving(counted, poll_seconds=NO_POLL)
    rounds_before = counted.whole_claims
    runner.wake("counted", "gone")
    await eventually(lambda: counted.woken_claims == ["gone"], "the named claim")
    await asyncio.sleep(0.05)
    assert counted.ran == [] and counted.whole_claims == rounds_before
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_a_full_executor_leaves_named_rows_to_the_fair_round_a_freed_slot_starts(counted):
    runner = await serving(counted, poll_seconds=NO_POLL, concurrency=1)
    counted.waiting.append("first")
    runner.wake("counted", "first")
    await eventually(lambda: counted.ran == ["first"], "the first row to run")
    counted.waiting += ["second", "third"]
    runner.wake("counted", "third")
    await asyncio.sleep(0.05)
    assert counted.woken_claims == ["first"]  # full: "third" was not claimed past "second"
    rounds_before = counted.whole_claims
    counted.release.set()  # "first" ends; its slot starts a whole round, oldest first
    await eventually(lambda: counted.ran == ["first", "second", "third"], "the waiting rows to run")
    assert counted.whole_claims > rounds_before
    await runner.stop(grace=5)


@pytest.mark.django_db
async def test_the_poll_runs_a_whole_round_even_when_only_named_wake_ups_came(counted):
    runner = await serving(counted, poll_seconds=0.2)
    counted.waiting += ["missed", "named"]
    runner.wake("counted", "named")
    # "missed" had its wake-up lost: the poll finds it.
    await eventually(lambda: sorted(counted.ran) == ["missed", "named"], "the poll to find the other row")
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_named_wake_ups_arriving_faster_than_the_poll_never_postpone_the_whole_round(counted):
    runner = await serving(counted, poll_seconds=0.3)
    rounds_before = counted.whole_claims
    counted.waiting.append("stranded")  # like a dead worker's job: no wake-up will ever name it
    sent = 0
    while "stranded" not in counted.ran:
        assert sent < 600, "only the poll's whole round finds the stranded row, and it never ran"
        runner.wake("counted", f"new row {sent}")  # a wake-up every 0.05 s, far ahead of each poll
        sent += 1
        await asyncio.sleep(0.05)
    assert counted.whole_claims > rounds_before
    assert counted.woken_claims and len(counted.woken_claims) <= sent  # named claims went on meanwhile
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_a_source_that_cannot_claim_a_named_row_gets_a_whole_round(counted, monkeypatch):
    monkeypatch.setitem(executor.SOURCES, "counted", counted.source(named=False))
    runner = await serving(counted, poll_seconds=NO_POLL)
    counted.waiting.append("only")
    runner.wake("counted", "only")
    await eventually(lambda: counted.ran == ["only"], "the row to run")
    assert counted.woken_claims == []
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_sweeps_keep_their_own_clock_however_many_wake_ups_come(counted):
    runner = await serving(counted, poll_seconds=NO_POLL)
    for n in range(20):
        runner.wake()
        runner.wake("counted", f"row {n}")
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert counted.sweeps == 1
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_a_wake_up_message_on_the_channel_layer_names_its_row(counted, in_memory_layer):
    runner = await serving(counted, poll_seconds=NO_POLL)
    listener = asyncio.create_task(worker.listen(in_memory_layer, runner))
    counted.waiting.append("sent")
    await in_memory_layer.send(
        executor.wake_channel(), {**executor.WAKE_MESSAGE, "source": "counted", "pks": ["sent"]}
    )
    await eventually(lambda: counted.ran == ["sent"], "the named row to run")
    assert counted.woken_claims == ["sent"]
    listener.cancel()
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_the_wake_ups_of_one_turn_of_the_loop_go_as_one_message_naming_every_row(
    in_memory_layer, settings
):
    settings.EXECUTOR = "worker"
    for pk in ("one", "two", "three"):
        executor.notify("counted", pk)
    executor.notify()
    first, second = (
        await in_memory_layer.receive(executor.wake_channel()),
        await in_memory_layer.receive(executor.wake_channel()),
    )
    assert first == {**executor.WAKE_MESSAGE, "source": "counted", "pks": ["one", "two", "three"]}
    assert second == executor.WAKE_MESSAGE  # a whole round
    executor.notify("counted", "four")
    assert await in_memory_layer.receive(executor.wake_channel()) == {
        **executor.WAKE_MESSAGE,
        "source": "counted",
        "pks": ["four"],
    }


@pytest.mark.django_db
async def test_a_wake_up_naming_several_rows_claims_them_all_at_once(counted, in_memory_layer):
    runner = await serving(counted, poll_seconds=NO_POLL)
    rounds_before = counted.whole_claims
    listener = asyncio.create_task(worker.listen(in_memory_layer, runner))
    counted.waiting += ["older", "one", "two"]
    await in_memory_layer.send(
        executor.wake_channel(), {**executor.WAKE_MESSAGE, "source": "counted", "pks": ["one", "two"]}
    )
    await eventually(lambda: counted.ran == ["one", "two"], "both named rows to run")
    assert counted.woken_calls == [["one", "two"]]  # one claim for both
    assert counted.whole_claims == rounds_before and counted.waiting == ["older"]
    listener.cancel()
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_rows_named_before_the_executor_looks_again_share_one_claim_and_each_is_claimed_once(counted):
    runner = await serving(counted, poll_seconds=NO_POLL)
    counted.waiting += ["one", "two"]
    # Wake-ups of several messages, all heard before the executor's loop runs again.
    runner.wake("counted", "one")
    runner.wake("counted", "two")
    runner.wake("counted", "one")
    await eventually(lambda: counted.ran == ["one", "two"], "both named rows to run")
    assert counted.woken_calls == [["one", "two"]]
    await stopped(runner, counted)


@pytest.mark.django_db
async def test_named_rows_beyond_the_room_left_wait_for_the_round_a_freed_slot_starts(counted):
    runner = await serving(counted, poll_seconds=NO_POLL, concurrency=2)
    counted.waiting += ["one", "two", "three"]
    runner.wake("counted", "one")
    runner.wake("counted", "two")
    runner.wake("counted", "three")
    await eventually(lambda: counted.ran == ["one", "two"], "the two rows that fit to run")
    assert counted.woken_calls == [["one", "two"]]  # "three" was not claimed into a full executor
    rounds_before = counted.whole_claims
    counted.release.set()
    await eventually(lambda: counted.ran == ["one", "two", "three"], "the freed slot's round to run it")
    assert counted.whole_claims > rounds_before
    await runner.stop(grace=5)


@pytest.mark.django_db
async def test_room_a_taken_row_left_free_goes_to_the_next_row_named(counted):
    runner = await serving(counted, poll_seconds=NO_POLL, concurrency=2)
    counted.waiting += ["mine", "also mine"]
    for pk in ("gone", "mine", "also mine"):  # "gone": another executor took it first
        runner.wake("counted", pk)
    await eventually(lambda: counted.ran == ["mine", "also mine"], "both rows still waiting to run")
    assert counted.woken_calls == [["gone", "mine"], ["also mine"]]
    await stopped(runner, counted)


def _open_connection() -> tuple[Any, bool]:
    """This thread's DB-API connection, and whether its next statement skips the health check
    (Django's flag for CONN_HEALTH_CHECKS, which its type stubs leave out)."""
    return connection.connection, connection.health_check_done  # type: ignore[attr-defined]


def _open_checked_connection() -> tuple[Any, bool]:
    connection.ensure_connection()
    connection.health_check_done = True  # type: ignore[attr-defined]
    return _open_connection()


@pytest.mark.django_db
async def test_a_wake_up_leaves_the_workers_database_connection_alone(counted, in_memory_layer):
    # A Channels consumer would close old connections first, and the next statement would then
    # check the connection with a round trip of its own: one per wake-up, in every worker.
    runner = await serving(counted, poll_seconds=NO_POLL)
    listener = asyncio.create_task(worker.listen(in_memory_layer, runner))
    before = await executor.db(_open_checked_connection)
    for pk in ("first", "second"):
        counted.waiting.append(pk)
        await in_memory_layer.send(
            executor.wake_channel(), {**executor.WAKE_MESSAGE, "source": "counted", "pks": [pk]}
        )
    await eventually(lambda: counted.ran == ["first", "second"], "both rows to run")
    assert await executor.db(_open_connection) == before  # neither closed nor to be checked again
    listener.cancel()
    await stopped(runner, counted)


def _open_aged_connection() -> Any:
    """A new connection of this thread, already older than its maximum age (CONN_MAX_AGE 0)."""
    connection.close()
    age = connection.settings_dict["CONN_MAX_AGE"]
    connection.settings_dict["CONN_MAX_AGE"] = 0
    try:
        connection.ensure_connection()
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = age
    return connection.connection


@pytest.mark.django_db
async def test_a_worker_still_closes_a_connection_that_outlived_its_maximum_age():
    opened = await executor.db(_open_aged_connection)
    recycling = asyncio.create_task(worker.recycle_connections(every=0.01))

    async def replaced() -> bool:
        current, _ = await executor.db(_open_connection)
        return current is not opened

    await eventually(replaced, "the old connection to be closed")
    recycling.cancel()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("test_nodes")
async def test_a_queued_execution_is_claimed_by_its_wake_up_and_runs_to_the_end(cast, settings):
    settings.EXECUTOR_SOURCES = ["executions"]
    scenario = await sync_to_async(build)(cast.team, {1: ("test.trigger", {})}, [])
    runner = executor.Executor(poll_seconds=NO_POLL)
    runner.start()
    await asyncio.sleep(0.05)  # its first round found nothing
    settings.EXECUTOR = "worker"  # created queued, not claimed by the web process ...
    execution = await sync_to_async(create_execution)(scenario, Execution.Trigger.WEBHOOK, {})
    assert execution.status == Execution.Status.QUEUED
    runner.wake("executions", execution.pk)  # ... and woken as a worker would be

    async def ended() -> Execution | None:
        row = await Execution.objects.aget(pk=execution.pk)
        return row if row.is_terminal else None

    row = await eventually(ended, "the execution to end")
    assert (row.status, row.attempt, row.lease_owner) == (Execution.Status.SUCCEEDED, 1, runner.owner)
    await runner.stop(grace=5)
