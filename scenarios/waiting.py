"""Waiting for an execution's answer (a Webhook response node, or the end of the run) with a deadline.

The answer is read from the database; wake-ups only say "look again". They come from this process
(the embedded executor shares the event loop with the web server) or, with separate workers, from a
channel-layer group per execution. A lost wake-up costs at most one polling interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from scenarios.executor import db
from scenarios.models import Execution

FIRST_POLL = 0.25
MAX_POLL = 2.0

_events: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)


def group_of(execution_id: Any) -> str:
    return f"execution-{execution_id}"


def _uses_layer() -> bool:
    """Wake-ups cross processes only when executions run in other processes over a shared layer."""
    return settings.EXECUTOR != "inprocess" and not isinstance(get_channel_layer(), InMemoryChannelLayer)


async def progressed(execution_id: Any) -> None:
    """Tell waiters of `execution_id` that its answer or status changed (after the commit)."""
    key = str(execution_id)
    for loop, event in list(_events.get(key, ())):
        loop.call_soon_threadsafe(event.set)
    if _uses_layer():
        layer = get_channel_layer()
        if layer is not None:
            with contextlib.suppress(Exception):
                await layer.group_send(group_of(key), {"type": "execution.progress"})


@dataclass
class Waiter:
    execution_id: str
    event: asyncio.Event = field(default_factory=asyncio.Event)

    async def answer(self, timeout: float) -> Execution | None:
        """The execution once it has a response or has ended; None when `timeout` passes first."""
        deadline = time.monotonic() + timeout
        poll = FIRST_POLL
        while True:
            remaining = deadline - time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.event.wait(), timeout=max(0.0, min(poll, remaining)))
            self.event.clear()
            execution = await db(_answer_state, self.execution_id)
            if execution is not None and (execution.response is not None or execution.is_terminal):
                return execution
            if deadline - time.monotonic() <= 0:
                return None
            poll = min(poll * 1.5, MAX_POLL)


def _answer_state(execution_id: str) -> Execution | None:
    return (
        Execution.objects.filter(pk=execution_id)
        .only("id", "scenario_id", "status", "response", "error", "created_at", "started_at", "finished_at")
        .first()
    )


@contextlib.asynccontextmanager
async def waiter(execution_id: Any) -> AsyncIterator[Waiter]:
    """Listen for wake-ups of `execution_id`; enter it before the execution is committed."""
    w = Waiter(str(execution_id))
    entry = (asyncio.get_running_loop(), w.event)
    _events[w.execution_id].add(entry)
    listener: asyncio.Task[None] | None = None
    layer = get_channel_layer() if _uses_layer() else None
    channel = ""
    try:
        if layer is not None:
            channel = await layer.new_channel()
            await layer.group_add(group_of(w.execution_id), channel)
            listener = asyncio.get_running_loop().create_task(_listen(layer, channel, w.event))
        yield w
    finally:
        _events[w.execution_id].discard(entry)
        if not _events[w.execution_id]:
            _events.pop(w.execution_id, None)
        if listener is not None:
            listener.cancel()
        if layer is not None and channel:
            with contextlib.suppress(Exception):
                await layer.group_discard(group_of(w.execution_id), channel)


async def _listen(layer: Any, channel: str, event: asyncio.Event) -> None:
    while True:
        try:
            await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:
            await asyncio.sleep(MAX_POLL)  # the layer is down; polling carries on
            continue
        event.set()


def progressed_soon(execution_id: Any) -> None:
    """`progressed` from sync code (an on_commit hook), in or outside an event loop."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        async_to_sync(progressed)(execution_id)
    else:
        loop.create_task(progressed(execution_id))
