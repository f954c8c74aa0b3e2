"""Hearing a channel-layer group from a test: what a page would receive, collected in a thread with an
event loop of its own (as a browser's socket is served by the server's loop, not the test's), for
whichever layer the settings configure: the in-memory one, or Redis Pub/Sub, which delivers only to
whoever listens when a message is sent."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from durable import groups
from scenarios.runtime import presence
from tests.waiting import HANG


@contextlib.contextmanager
def heard_in(group: str) -> Iterator[list[dict[str, Any]]]:
    """The messages sent to `group` while the block runs, appended as they arrive; the block is a
    page watching `group` (scenarios/runtime/presence.py)."""
    heard: list[dict[str, Any]] = []
    listening, stop = threading.Event(), threading.Event()

    async def listen() -> None:
        async with groups.listening(group) as queue:
            await presence.watch(group)  # as an open editor page does
            listening.set()
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    heard.append(await asyncio.wait_for(queue.get(), timeout=0.05))

    thread = threading.Thread(target=asyncio.run, args=(listen(),), name=f"hearing {group}", daemon=True)
    thread.start()
    if not listening.wait(HANG):
        raise AssertionError(f"gave up after {HANG:g} s waiting to listen to {group}")
    try:
        yield heard
    finally:
        stop.set()
        thread.join(HANG)
