"""Waiting for an execution's answer (a Webhook response node, or the end of the run) with a deadline.

The answer is read from the database; wake-ups only say "look again". They come from this process
(the embedded executor shares the event loop with the web server) or, with separate workers, from a
channel-layer group per execution. A lost wake-up costs at most one polling interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from durable import plain_sql
from durable.executor import db, soon
from durable.per_turn import PerTurn
from scenarios.models import Execution

# The database is read after FIRST_POLL without a wake-up, then at doubling intervals up to MAX_POLL:
# a lost wake-up costs at most MAX_POLL, and a caller whose execution waits its turn in a queue (the
# workers are full) reads its answer twice in its first 3.5 s, not five times.
FIRST_POLL = 0.5
MAX_POLL = 2.0

_events: dict[str, set[tuple[asyncio.AbstractEventLoop, Waiter]]] = defaultdict(set)


# Every process that has a webhook caller waiting listens on one channel of its own in this group;
# a worker's `progressed` is one group message naming the execution, not a group per execution
# (which cost three round trips to Redis per request: a channel, joining, leaving).
WAITERS_GROUP = "execution-waiters"
PROGRESS = "execution.progress"
# Join again now and then: a harmless repeat while the layer keeps its members, a repair when it lost them.
REJOIN_SECONDS = 60.0


@dataclass
class _Listener:
    channel: str
    task: asyncio.Task[None]
    joined: float


_listeners: dict[asyncio.AbstractEventLoop, _Listener] = {}


def _uses_layer() -> bool:
    """Wake-ups cross processes only when executions run in other processes over a shared layer."""
    return settings.EXECUTOR != "inprocess" and not isinstance(get_channel_layer(), InMemoryChannelLayer)


async def progressed(execution_id: Any, execution: Execution | None = None) -> None:
    """Tell waiters of `execution_id` that its answer or status changed (after the commit); with
    `execution`, the row as committed, which waiters then need not read again: in this process as
    it is, in others from the wake-up, which carries its answer when that is small (`carried`)."""
    key = str(execution_id)
    _wake(key, execution)
    if _uses_layer():
        layer = get_channel_layer()
        if layer is not None:
            progress: dict[str, Any] = {"execution_id": key}
            answer = carried(execution)
            if answer is not None:
                progress["answer"] = answer
            await _progress.post((layer, progress))


async def _send_progress(batch: list[tuple[Any, dict[str, Any]]]) -> None:
    """The progress of one turn of this process's loop, in one message to the waiters' group."""
    with contextlib.suppress(Exception):
        await batch[0][0].group_send(WAITERS_GROUP, {"type": PROGRESS, "executions": [p for _, p in batch]})


_progress: PerTurn[tuple[Any, dict[str, Any]]] = PerTurn(_send_progress)


# A wake-up carries an answer up to this size (the Webhook response's JSON); a bigger one is read
# from the database by the waiter, as is any answer of a wake-up that was lost.
MAX_CARRIED_BYTES = 64 * 1024
CARRIED_FIELDS = ("status", "response", "error")


def carried(execution: Execution | None) -> dict[str, Any] | None:
    """The committed answer a wake-up carries to waiters in other processes, or None."""
    if execution is None or not (execution.response is not None or execution.is_terminal):
        return None
    if len(json.dumps(execution.response)) > MAX_CARRIED_BYTES:
        return None
    return {name: getattr(execution, name) for name in CARRIED_FIELDS}


def _answered(execution_id: str, answer: Any) -> Execution | None:
    """The execution as a wake-up's answer says it was committed; None when there is none to trust."""
    if not isinstance(answer, dict) or set(answer) != set(CARRIED_FIELDS):
        return None
    status, response, error = answer["status"], answer["response"], answer["error"]
    if status not in Execution.Status.values or not isinstance(error, str):
        return None
    if not (response is None or isinstance(response, dict)):
        return None
    try:
        pk = uuid.UUID(execution_id)
    except ValueError:
        return None
    return Execution(id=pk, status=status, response=response, error=error)


def _wake(execution_id: str, execution: Execution | None = None) -> None:
    for loop, waiter in list(_events.get(execution_id, ())):
        if execution is not None:
            waiter.known = copy.copy(execution)
        loop.call_soon_threadsafe(waiter.event.set)


@dataclass(eq=False)
class Waiter:
    execution_id: str
    event: asyncio.Event = field(default_factory=asyncio.Event)
    known: Execution | None = None  # the row as its run last committed it, in this process

    async def answer(self, timeout: float) -> Execution | None:
        """The execution once it has a response or has ended; None when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        poll = FIRST_POLL
        while True:
            remaining = deadline - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), timeout=max(0.0, min(poll, remaining)))
            self.event.clear()
            execution, self.known = self.known, None
            if execution is None or not (execution.response is not None or execution.is_terminal):
                execution = await db(_answer_state, self.execution_id)
            if execution is not None and (execution.response is not None or execution.is_terminal):
                return execution
            if deadline - time.monotonic() <= 0:
                return None
            poll = min(poll * 2, MAX_POLL)


ANSWER_FIELDS = ["id", "scenario", "status", "response", "error", "created_at", "started_at", "finished_at"]


def _answer_state(execution_id: str) -> Execution | None:
    """`Execution.objects.only(*ANSWER_FIELDS).filter(pk=…).first()` as a plain statement: with workers,
    a webhook call whose answer did not come with its wake-up reads it so."""
    found = plain_sql.select(Execution, {"pk": execution_id}, ANSWER_FIELDS)
    return found[0] if found else None


@contextlib.asynccontextmanager
async def waiter(execution_id: Any) -> AsyncIterator[Waiter]:
    """Listen for wake-ups of `execution_id`; enter it before the execution is committed."""
    w = Waiter(str(execution_id))
    loop = asyncio.get_running_loop()
    entry = (loop, w)
    _events[w.execution_id].add(entry)
    try:
        if not _uses_layer():
            yield w
        elif loop in _serving:
            await _listening()
            yield w
        else:
            async with _listening_for_now():
                yield w
    finally:
        _events[w.execution_id].discard(entry)
        if not _events[w.execution_id]:
            _events.pop(w.execution_id, None)


# Loops that live as long as their process (an ASGI server's, from lifespan startup to shutdown)
# keep one listener for all their waiters. Any other loop (async_to_sync, a test's) may close at
# any moment, and a receive() left pending on a dead loop wedges channels_redis's receive lock for
# every later loop of the process: there each waiter listens for its own duration only.
_serving: set[asyncio.AbstractEventLoop] = set()


def serve_from_this_loop() -> None:
    """Declare the running loop long-lived (lifespan startup); undo with `stop_listening`."""
    _serving.add(asyncio.get_running_loop())


async def stop_listening() -> None:
    """Leave the waiters' group and stop this loop's listener (lifespan shutdown)."""
    loop = asyncio.get_running_loop()
    _serving.discard(loop)
    listener = _listeners.pop(loop, None)
    if listener is None:
        return
    await _stop(listener.task)
    layer = get_channel_layer()
    if layer is not None:
        with contextlib.suppress(Exception):
            await layer.group_discard(WAITERS_GROUP, listener.channel)


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _listening() -> None:
    """Make sure this loop listens to the waiters' group (once per loop, joined again now and then)."""
    layer = get_channel_layer()
    if layer is None:
        return
    loop = asyncio.get_running_loop()
    listener = _listeners.get(loop)
    try:
        if listener is None or listener.task.done():
            channel = await layer.new_channel(f"{WAITERS_GROUP}.")
            await layer.group_add(WAITERS_GROUP, channel)
            task = loop.create_task(_listen(layer, channel), name="scenery execution waiters")
            _listeners[loop] = _Listener(channel, task, time.monotonic())
        elif time.monotonic() - listener.joined > REJOIN_SECONDS:
            await layer.group_add(WAITERS_GROUP, listener.channel)
            listener.joined = time.monotonic()
    except Exception:  # the layer is down: polling carries on
        return


@contextlib.asynccontextmanager
async def _listening_for_now() -> AsyncIterator[None]:
    """A channel in the waiters' group for as long as the block runs (a short-lived loop)."""
    layer = get_channel_layer()
    channel = ""
    task: asyncio.Task[None] | None = None
    try:
        if layer is not None:
            with contextlib.suppress(Exception):  # the layer is down: polling carries on
                channel = await layer.new_channel(f"{WAITERS_GROUP}.")
                await layer.group_add(WAITERS_GROUP, channel)
                task = asyncio.get_running_loop().create_task(_listen(layer, channel))
        yield
    finally:
        if task is not None:
            await _stop(task)
        if layer is not None and channel:
            with contextlib.suppress(Exception):
                await layer.group_discard(WAITERS_GROUP, channel)


async def _listen(layer: Any, channel: str) -> None:
    while True:
        try:
            message = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            listener = _listeners.get(asyncio.get_running_loop())
            if listener is not None:
                listener.joined = 0.0  # Redis may have restarted empty: the next waiter joins again
            await asyncio.sleep(MAX_POLL)  # the layer is down; polling carries on
            continue
        executions = message.get("executions") if message.get("type") == PROGRESS else None
        for progress in executions if isinstance(executions, list) else ():
            if isinstance(progress, dict):
                key = str(progress.get("execution_id", ""))
                _wake(key, _answered(key, progress.get("answer")))


def progressed_soon(execution_id: Any) -> None:
    """`progressed` from sync code (an on_commit hook), in or outside an event loop."""
    soon(lambda: progressed(execution_id))
