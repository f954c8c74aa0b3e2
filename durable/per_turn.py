"""Sending what one turn of an event loop produced as one message.

Under load, several requests (or runs) ask for a wake-up in the same turn of the loop; each message
costs a publish, and a delivery to every listener. `PerTurn` collects the items posted during one
turn and sends them together at its end: no added wait (the batch goes as soon as the loop has run
what was ready), fewer messages the busier the process.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable


class PerTurn[T]:
    """Items posted on one event loop in one turn of it, handed to `send` together."""

    def __init__(self, send: Callable[[list[T]], Awaitable[None]]) -> None:
        self.send = send
        self._batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[T]] = (
            weakref.WeakKeyDictionary()
        )

    async def post(self, item: T) -> None:
        """Add `item` to this turn's batch; the first post of a turn sends the batch at the turn's end."""
        loop = asyncio.get_running_loop()
        batch = self._batches.get(loop)
        if batch is not None:
            batch.append(item)
            return
        batch = self._batches[loop] = [item]
        await asyncio.sleep(0)  # what else is ready in this turn runs first, and may post
        del self._batches[loop]
        await self.send(batch)
