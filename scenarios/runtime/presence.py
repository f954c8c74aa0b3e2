"""Whether an editor page watches a scenario's live run, across processes.

With the in-memory channel layer a process sees its group members (`events.heard`). With a shared
layer (channels_redis) it cannot: a worker would publish every node event and stream every model
answer for pages nobody has open, which cost a worker about a third of its CPU. So each open page
keeps a mark in the cache (Redis, with a shared layer) under its scenario's group, renewed while
it is open (`watch`, from scenarios/runtime/consumers.py), and a process reads the mark of a group
it publishes to at most once every REFRESH_SECONDS (`watched`).

A page is noticed within NOTICED_WITHIN seconds of its mark; a run that committed meanwhile may
not have sent its events, so the page is sent the persisted state again after that delay.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from django.core.cache import cache

log = logging.getLogger(__name__)

MARK_SECONDS = 30  # a mark lasts this long without renewal (a closed page stops renewing it)
RENEW_SECONDS = 10.0  # an open page renews its mark this often
REFRESH_SECONDS = 1.0  # a process reads a group's mark again after this long
# A process reads a mark at most REFRESH_SECONDS late, and the read takes a moment.
NOTICED_WITHIN = REFRESH_SECONDS + 1.5
MAX_REMEMBERED = 10_000


def read_mark(group: str) -> bool:
    return cache.get(_key(group)) is not None


def write_mark(group: str) -> None:
    cache.set(_key(group), 1, MARK_SECONDS)


# Marks are read and written in a thread of the pool, not the database's: a mark may be read by
# code that itself runs under `async_to_sync` in the database's thread (a commit's hook).
def _in_pool[T](fn: Callable[[str], T]) -> Callable[[str], Awaitable[T]]:
    return sync_to_async(fn, thread_sensitive=False)


_seen: dict[str, tuple[float, bool]] = {}


def _key(group: str) -> str:
    return f"scenery:watched:{group}"


async def watch(group: str) -> None:
    """Mark `group` as watched by an open page for MARK_SECONDS (renew it every RENEW_SECONDS);
    this process knows at once."""
    _seen[group] = (time.monotonic(), True)
    try:
        await _in_pool(write_mark)(group)
    except Exception:  # the cache is down: runs then publish anyway (`watched` says so)
        log.warning("the watch mark of %s was not set", group, exc_info=True)


async def watched(group: str) -> bool:
    """Whether a page may watch `group`: its mark, as read at most REFRESH_SECONDS ago in this
    process; True when the cache cannot tell (publishing for nobody costs only CPU)."""
    now = time.monotonic()
    seen = _seen.get(group)
    if seen is not None and now - seen[0] < REFRESH_SECONDS:
        return seen[1]
    try:
        found = await _in_pool(read_mark)(group)
    except Exception:
        found = True
    if len(_seen) >= MAX_REMEMBERED:
        _seen.clear()
    # Stamped with the time before the read: a mark set since is read again no later than due.
    _seen[group] = (now, found)
    return found


def forget() -> None:
    """Read every mark again on next use (tests)."""
    _seen.clear()
