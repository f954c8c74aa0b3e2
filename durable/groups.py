"""Listening to a channel-layer group from an event loop: how a process hears what the process
executing a job sends (a run's text as it comes, to the connection waiting for it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from channels.layers import get_channel_layer


@contextlib.asynccontextmanager
async def listening(group: str) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The messages sent to `group`, queued as they arrive, while the block runs (none without a
    channel layer), on a channel of its own from the running loop's layer."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    layer = get_channel_layer()
    if layer is None:
        yield queue
        return
    channel = await layer.new_channel(f"{group}.")
    await layer.group_add(group, channel)

    async def receive() -> None:
        while True:
            queue.put_nowait(await layer.receive(channel))

    task = asyncio.create_task(receive())
    try:
        yield queue
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        with contextlib.suppress(Exception):
            await layer.group_discard(group, channel)
