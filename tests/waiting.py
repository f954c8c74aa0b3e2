"""Waiting in tests: until something holds, never for a fixed time and never against a stopwatch.

The timeout only keeps a broken test from hanging the run: it is generous (the machine may be busy
with other runs) and a test never relies on it being short. When it runs out, the message names
what was awaited.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, overload

from scenarios.models import Execution

# Long enough for a loaded machine; it bounds a hang, not the speed of anything.
HANG = 60.0


def wait_until[T](
    predicate: Callable[[], T | None], what: str, timeout: float = HANG, every: float = 0.02
) -> T:
    """Call `predicate` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(every)


@overload
async def eventually[T](
    predicate: Callable[[], Awaitable[T | None]], what: str, timeout: float = ..., every: float = ...
) -> T: ...
@overload
async def eventually[T](
    predicate: Callable[[], T | None], what: str, timeout: float = ..., every: float = ...
) -> T: ...
async def eventually(
    predicate: Callable[[], Any], what: str, timeout: float = HANG, every: float = 0.01
) -> Any:
    """The same on an event loop: `predicate` may be plain (state in memory) or a coroutine function
    (e.g. an async ORM query); the loop keeps running between the calls."""
    deadline = time.monotonic() + timeout
    while True:
        value: Any = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}")
        await asyncio.sleep(every)


def wait_for_end(execution_id: Any, timeout: float = HANG) -> Execution:
    """The execution, once it reached a terminal status (whoever ran it)."""

    def ended() -> Execution | None:
        execution = Execution.objects.get(pk=execution_id)
        return execution if execution.is_terminal else None

    return wait_until(ended, f"execution {execution_id} to end", timeout)
