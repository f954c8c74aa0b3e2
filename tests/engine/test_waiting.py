"""Waiting for an execution's answer: woken in-process, through the channel layer, or by polling."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings as django_settings

from scenarios.models import Execution
from scenarios.runtime import waiting
from scenarios.runtime.engine import create_execution
from tests.engine.conftest import build
from tests.waiting import HANG

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]


def _queued(cast) -> Execution:
    scenario = build(cast.team, {1: ("test.trigger", {}), 2: ("webhook.response", {"body": "x"})}, [(1, 2)])
    return create_execution(scenario, Execution.Trigger.WEBHOOK, {})


def _answer(execution: Execution) -> None:
    Execution.objects.filter(pk=execution.pk).update(response={"status": 200, "headers": {}, "body": "hi"})


async def _answered_after(execution: Execution, wake) -> tuple[Execution | None, float]:
    async with waiting.waiter(execution.id) as waiter:
        started = time.monotonic()
        answer = asyncio.get_running_loop().create_task(waiter.answer(HANG))
        await sync_to_async(_answer)(execution)
        await wake()
        result = await answer
        return result, time.monotonic() - started


@pytest.fixture
def no_polling(monkeypatch) -> None:
    """Waiters poll less often than any test waits: an answer that arrives was woken."""
    monkeypatch.setattr(waiting, "FIRST_POLL", 10 * HANG)
    monkeypatch.setattr(waiting, "MAX_POLL", 10 * HANG)


@pytest.mark.usefixtures("no_polling")
async def test_a_waiter_is_woken_in_process_at_once(cast):
    execution = await sync_to_async(_queued)(cast)
    result, _ = await _answered_after(execution, lambda: waiting.progressed(execution.id))
    assert result is not None and result.response == {"status": 200, "headers": {}, "body": "hi"}


async def test_a_lost_wake_up_costs_one_polling_interval_not_the_answer(cast):
    execution = await sync_to_async(_queued)(cast)

    async def nothing() -> None:
        return None

    result, took = await _answered_after(execution, nothing)
    assert result is not None and result.response is not None
    assert took >= waiting.FIRST_POLL  # found by the first poll


async def test_a_caller_whose_execution_waits_its_turn_reads_at_doubling_intervals(
    cast, monkeypatch, answer_reads
):
    monkeypatch.setattr(waiting, "FIRST_POLL", 0.05)
    monkeypatch.setattr(waiting, "MAX_POLL", 0.4)
    execution = await sync_to_async(_queued)(cast)  # no executor takes it: no wake-up comes
    async with waiting.waiter(execution.id) as waiter:
        assert await waiter.answer(0.75) is None
    # At 0.05, 0.15 and 0.35 s, then at the deadline; a busy machine reads fewer times, never more.
    assert 1 <= len(answer_reads) <= 4


async def test_a_waiter_gives_up_at_its_deadline(cast):
    execution = await sync_to_async(_queued)(cast)
    async with waiting.waiter(execution.id) as waiter:
        started = time.monotonic()
        assert await waiter.answer(0.4) is None
        assert time.monotonic() - started >= 0.4


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the cross-process wake-up needs a shared channel layer"
)
@pytest.mark.usefixtures("no_polling")
async def test_with_separate_workers_the_waiter_is_woken_through_the_channel_layer(cast, settings):
    settings.EXECUTOR = "worker"
    execution = await sync_to_async(_queued)(cast)

    async def from_another_process() -> None:  # what a worker's `progressed` sends
        await get_channel_layer().group_send(
            waiting.WAITERS_GROUP,
            {"type": waiting.PROGRESS, "executions": [{"execution_id": str(execution.id)}]},
        )

    result, _ = await _answered_after(execution, from_another_process)
    assert result is not None and result.response is not None


async def _woken_by_a_worker_with(cast, answer_of) -> Execution | None:
    """A webhook caller's wait, woken as a worker's `progressed` wakes it from another process: by a
    wake-up carrying what `answer_of(the committed row)` gives."""
    execution = await sync_to_async(_queued)(cast)

    async def from_another_process() -> None:
        row = await sync_to_async(Execution.objects.get)(pk=execution.pk)
        progress = {"execution_id": str(execution.id)}
        answer = answer_of(row)
        if answer is not None:
            progress["answer"] = answer
        await get_channel_layer().group_send(
            waiting.WAITERS_GROUP, {"type": waiting.PROGRESS, "executions": [progress]}
        )

    result, _ = await _answered_after(execution, from_another_process)
    return result


needs_redis = pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the cross-process wake-up needs a shared channel layer"
)


@needs_redis
@pytest.mark.usefixtures("no_polling")
async def test_a_worker_s_wake_up_carries_the_answer_so_the_web_process_reads_nothing(
    cast, settings, answer_reads
):
    settings.EXECUTOR = "worker"
    result = await _woken_by_a_worker_with(cast, waiting.carried)
    assert result is not None and result.response == {"status": 200, "headers": {}, "body": "hi"}
    assert answer_reads == []


@needs_redis
@pytest.mark.usefixtures("no_polling")
async def test_an_answer_too_big_to_carry_is_read_from_the_database(
    cast, settings, monkeypatch, answer_reads
):
    settings.EXECUTOR = "worker"
    monkeypatch.setattr(waiting, "MAX_CARRIED_BYTES", 10)  # the stored answer is bigger than this
    result = await _woken_by_a_worker_with(cast, waiting.carried)
    assert result is not None and result.response == {"status": 200, "headers": {}, "body": "hi"}
    assert len(answer_reads) == 1


@needs_redis
@pytest.mark.usefixtures("no_polling")
@pytest.mark.parametrize(
    "answer",
    [
        {"status": "made-up", "response": {"body": "forged"}, "error": ""},
        {"status": "succeeded", "response": "not a dict", "error": ""},
        {"status": "succeeded", "response": None},
        "not a dict",
    ],
)
async def test_a_wake_up_with_an_answer_that_cannot_be_one_is_read_from_the_database(
    cast, settings, answer_reads, answer
):
    settings.EXECUTOR = "worker"
    result = await _woken_by_a_worker_with(cast, lambda row: answer)
    assert result is not None and result.response == {"status": 200, "headers": {}, "body": "hi"}
    assert len(answer_reads) == 1


def test_only_an_answered_or_ended_execution_s_answer_is_carried():
    running = Execution(status=Execution.Status.RUNNING)
    assert waiting.carried(running) is None and waiting.carried(None) is None
    answered = Execution(status=Execution.Status.RUNNING, response={"status": 201, "body": "ok"})
    assert waiting.carried(answered) == {"status": "running", "response": answered.response, "error": ""}
    failed = Execution(status=Execution.Status.FAILED, error="boom")
    assert waiting.carried(failed) == {"status": "failed", "response": None, "error": "boom"}


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the cross-process wake-up needs a shared channel layer"
)
async def test_a_serving_loop_listens_on_one_channel_for_all_its_waiters_and_wakes_only_the_one_named(
    cast, settings
):
    settings.EXECUTOR = "worker"
    first, second = await sync_to_async(_queued)(cast), await sync_to_async(_queued)(cast)
    waiting.serve_from_this_loop()  # what the ASGI lifespan startup does
    try:
        async with waiting.waiter(first.id) as one, waiting.waiter(second.id) as two:
            listener = waiting._listeners[asyncio.get_running_loop()]
            await get_channel_layer().group_send(
                waiting.WAITERS_GROUP,
                {"type": waiting.PROGRESS, "executions": [{"execution_id": str(second.id)}]},
            )
            await asyncio.wait_for(two.event.wait(), timeout=HANG)
            assert not one.event.is_set()
        async with waiting.waiter(first.id):
            assert waiting._listeners[asyncio.get_running_loop()] is listener  # no new channel per request
    finally:
        await waiting.stop_listening()  # what the lifespan shutdown does
    assert listener.task.cancelled()
    assert asyncio.get_running_loop() not in waiting._listeners


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the cross-process wake-up needs a shared channel layer"
)
def test_a_waiter_on_a_short_lived_loop_leaves_nothing_listening_that_would_wedge_the_next_loop(
    cast, settings
):
    settings.EXECUTOR = "worker"
    execution = _queued(cast)

    async def wait_once() -> None:
        async with waiting.waiter(execution.id) as w:
            await get_channel_layer().group_send(
                waiting.WAITERS_GROUP,
                {"type": waiting.PROGRESS, "executions": [{"execution_id": str(execution.id)}]},
            )
            await asyncio.wait_for(w.event.wait(), timeout=HANG)

    for _ in range(3):  # each asyncio.run is a new loop, as async_to_sync gives a view: each is woken
        asyncio.run(wait_once())
    assert not waiting._listeners


@pytest.mark.skipif(
    not django_settings.REDIS_URL, reason="the cross-process wake-up needs a shared channel layer"
)
def test_a_waiter_is_woken_while_a_socket_on_another_loop_of_the_process_receives(cast, settings):
    """A WebSocket consumer receives on a "specific." channel, and channels_redis lets one loop of a
    process at a time do that: the waiters' listener must not be a second one (the live test server
    and a test's own loop are two loops of one process)."""
    settings.EXECUTOR = "worker"
    execution = _queued(cast)
    layer = get_channel_layer()
    started, stop = threading.Event(), threading.Event()

    def a_socket_on_its_own_loop() -> None:
        async def receive_until_stopped() -> None:
            channel = await layer.new_channel()
            receiving = asyncio.ensure_future(layer.receive(channel))
            await asyncio.sleep(0.2)  # inside receive() by now
            started.set()
            while not stop.is_set():
                await asyncio.sleep(0.05)
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving

        asyncio.run(receive_until_stopped())

    socket = threading.Thread(target=a_socket_on_its_own_loop)
    socket.start()
    try:
        assert started.wait(HANG)

        async def woken() -> None:
            async with waiting.waiter(execution.id) as w:
                await asyncio.sleep(0.1)
                await layer.group_send(
                    waiting.WAITERS_GROUP,
                    {"type": waiting.PROGRESS, "executions": [{"execution_id": str(execution.id)}]},
                )
                await asyncio.wait_for(w.event.wait(), timeout=HANG)

        asyncio.run(woken())
    finally:
        stop.set()
        socket.join(10)


@needs_redis
async def test_the_progress_of_one_turn_of_a_workers_loop_reaches_the_waiters_as_one_message(settings):
    settings.EXECUTOR = "worker"
    layer = get_channel_layer()
    channel = await layer.new_channel(f"{waiting.WAITERS_GROUP}.")
    await layer.group_add(waiting.WAITERS_GROUP, channel)
    try:
        first, second = uuid.uuid4(), uuid.uuid4()
        await asyncio.gather(waiting.progressed(first), waiting.progressed(second))
        message = await asyncio.wait_for(layer.receive(channel), timeout=HANG)
        assert message == {
            "type": waiting.PROGRESS,
            "executions": [{"execution_id": str(first)}, {"execution_id": str(second)}],
        }
    finally:
        await layer.group_discard(waiting.WAITERS_GROUP, channel)
