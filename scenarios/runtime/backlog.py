"""Two limits that turn a flood of webhook calls into 429s, so that one team's flood costs other
teams no more than a small bounded delay.

At the door: at most WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK calls of one webhook are in flight (read,
started, waiting for their answer) in a process. A call over that waits in line, first come first
served, up to WEBHOOK_DOOR_WAIT_SECONDS for a slot; with WEBHOOK_DOOR_LINE calls already waiting,
or when its wait is over, it is refused with 429 and Retry-After. All of it happens before its body
is read or any query runs, so a flood on one webhook holds that many of the executor's slots, never
all of them, and other webhooks' calls are admitted and answered beside it. A short line absorbs a
burst (a client's calls that overlap for a moment) instead of refusing it.

The cap on a team's waiting executions:

A webhook call whose execution would wait in the queue (no executor of this process can take it at
once) is refused with 429 and Retry-After while its team already has WEBHOOK_MAX_QUEUED_PER_TEAM
executions waiting. A flood on one team's webhook fills that team's queue up to the cap, not the
database, and other teams' webhooks answer as before; calls that the executor takes at once are
never refused, however many there are.

The count is read at most once a second per team and process, and this process's own additions
are counted in between, so the cap costs no query on most calls. Several processes may overshoot
it by what each accepts within that second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from scenarios.models import Execution

RECOUNT_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5
DOOR_RETRY_AFTER_SECONDS = 1


@dataclass
class _Door:
    """One webhook's slots in this process, and how many calls hold or wait for one."""

    slots: asyncio.Semaphore
    users: int = 0


_doors: dict[str, _Door] = {}


@asynccontextmanager
async def at_the_door(webhook: str) -> AsyncIterator[bool]:
    """Whether one more call of this webhook (its token) may be in flight in this process, after
    waiting in line for a slot if need be; while the block runs it holds the slot. Use on the event
    loop that serves the calls."""
    cap = settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK
    if cap <= 0:
        yield True
        return
    door = _doors.get(webhook)
    if door is None:
        door = _doors[webhook] = _Door(asyncio.Semaphore(cap))
    door.users += 1
    try:
        admitted = await _enter(door)
        try:
            yield admitted
        finally:
            if admitted:
                door.slots.release()
    finally:
        door.users -= 1
        # A door nobody uses is forgotten: tokens come and go, and a new one takes today's cap.
        if door.users == 0 and _doors.get(webhook) is door:
            del _doors[webhook]


def in_line(webhook: str) -> int:
    """How many calls of this webhook hold a slot or wait for one in this process."""
    door = _doors.get(webhook)
    return door.users if door is not None else 0


async def _enter(door: _Door) -> bool:
    if not door.slots.locked():
        await door.slots.acquire()
        return True
    waiting = door.users - 1 - settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK
    wait = settings.WEBHOOK_DOOR_WAIT_SECONDS
    if wait <= 0 or waiting >= settings.WEBHOOK_DOOR_LINE:
        return False
    try:
        async with asyncio.timeout(wait):
            await door.slots.acquire()
    except TimeoutError:
        return False
    return True


_counts: dict[Any, tuple[float, int]] = {}
_lock = threading.Lock()


def admit(team_id: Any) -> bool:
    """Whether one more waiting execution of the team fits under the cap; if it does, it is
    counted. Call in sync code, just before storing the execution."""
    cap = settings.WEBHOOK_MAX_QUEUED_PER_TEAM
    if cap <= 0:
        return True
    now = time.monotonic()
    with _lock:
        read_at, waiting = _counts.get(team_id, (0.0, 0))
    if now - read_at > RECOUNT_SECONDS:
        read_at = now
        waiting = Execution.objects.filter(scenario__team_id=team_id, status=Execution.Status.QUEUED).count()
    admitted = waiting < cap
    with _lock:
        _counts[team_id] = (read_at, waiting + 1 if admitted else waiting)
    return admitted


def forget() -> None:
    """Drop the remembered counts (tests; a process that wants an exact count next time)."""
    with _lock:
        _counts.clear()
