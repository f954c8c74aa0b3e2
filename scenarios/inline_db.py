"""The hot path's database calls on the event loop's own thread (the embedded default, SQLite).

Handing a call to a database thread costs more than SQLite takes to run it: each of the call's
statements gives up the GIL and must win it back from the loop thread, which is busy with other
requests. Under load that doubled the time a transaction held the writers' lock (0.6 to 1.2 ms),
and with web processes queueing on that lock, the lock became the bottleneck: 305 req/s at 8
clients with a database thread against 450 on the loop (same machine, same hour).

So `quick_db(fn, ...)` runs `fn` at once, blocking the loop for those microseconds, on a connection
kept for the loop. What it must not do on the loop is wait for the lock: when another process holds
it, the call stops before its first transaction begins (`lockfile.WouldWait`), a thread waits for the
lock on the connection's behalf while the loop serves other requests, then the call runs again
here, holding it. Calls of one loop take turns, so a second one never slips onto a lock taken for
the first. PostgreSQL (a network round trip per statement) keeps the database threads
(EXECUTOR_DB_ON_LOOP).
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections

from durable.executor import _call_db, _caller_loop, _under_async_to_sync, db
from scenarios.sqlite3 import lockfile

if TYPE_CHECKING:
    from scenarios.sqlite3.base import DatabaseWrapper as SQLiteWrapper


@dataclass
class _Here:
    """What one loop keeps: the context its calls run in (Django's connections are per context,
    so this is one connection for all of them, not one per request task) and their turn."""

    context: contextvars.Context = field(default_factory=contextvars.Context)
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)


_loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Here] = weakref.WeakKeyDictionary()
_waiter: ThreadPoolExecutor | None = None


async def quick_db[T](fn: Callable[..., T], *args: Any) -> T:
    """`db` for the hot path's short calls, on this loop's thread when EXECUTOR_DB_ON_LOOP.

    `fn` may run twice, stopped the first time before its first transaction began: so it must do
    nothing before that transaction that running it again would repeat (reads are fine), and write
    nothing outside transactions (SQLite's own busy wait would block the loop)."""
    if not settings.EXECUTOR_DB_ON_LOOP or _under_async_to_sync():
        return await db(fn, *args)
    loop = asyncio.get_running_loop()
    here = _loops.get(loop)
    if here is None:
        here = _loops[loop] = _Here()
        here.context.run(_caller_loop.set, loop)
    async with here.turn:
        try:
            return _run(here, _without_waiting, fn, *args)
        except lockfile.WouldWait:
            pass
        connection = _run(here, _connected)
        timeout = float(connection.settings_dict["OPTIONS"].get("timeout", 5))
        taking = loop.run_in_executor(_lock_waiter(), connection.take_lock, timeout)
        cancelled = False
        while not taking.done():
            # Not cancellable halfway: a lock taken for the connection with no call to use it
            # would stop every writer of every process. Wait for the thread, then let it go.
            try:
                await asyncio.shield(taking)
            except asyncio.CancelledError:
                cancelled = True
        if not taking.result():
            raise OperationalError("database is locked")
        if cancelled:
            _run(here, _holding, connection, lambda: None)
            raise asyncio.CancelledError
        return _run(here, _holding, connection, fn, *args)


def _run[T](here: _Here, fn: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    # Django refuses the ORM where an event loop is running, lest a call block the loop unawares;
    # this one blocks it knowingly, briefly, and never waits for the lock.
    asyncio.events._set_running_loop(None)
    try:
        return here.context.run(fn, *args)
    finally:
        asyncio.events._set_running_loop(loop)


def _connected() -> SQLiteWrapper:
    connection = cast("SQLiteWrapper", connections[DEFAULT_DB_ALIAS])
    connection.ensure_connection()
    return connection


def _without_waiting[T](fn: Callable[..., T], *args: Any) -> T:
    lockfile.no_wait.set(True)
    try:
        return _call_db(fn, *args)
    finally:
        lockfile.no_wait.set(False)


def _holding[T](connection: SQLiteWrapper, fn: Callable[..., T], *args: Any) -> T:
    connection.adopt_lock()
    try:
        return _call_db(fn, *args)
    finally:
        connection.drop_unused_lock()


def _lock_waiter() -> ThreadPoolExecutor:
    global _waiter
    if _waiter is None:
        _waiter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scenery-lock-wait")
    return _waiter


def close() -> None:
    """Close the running loop's connection (at shutdown, so a database can be dropped)."""
    here = _loops.pop(asyncio.get_running_loop(), None)
    if here is not None:
        _run(here, connections.close_all)
