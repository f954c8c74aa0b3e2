"""Two limits that turn a flood of webhook calls into 429s, so that one team's flood costs other
teams no more than a small bounded delay.

At the door: at most WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK calls of one webhook are in flight (read,
started, waiting for their answer) in a process; more are refused with 429 and Retry-After at once,
before any query. A flood on one webhook then holds that many of the executor's slots, never all of
them, and other webhooks' calls are admitted and answered beside it.

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

import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings

from scenarios.models import Execution

RECOUNT_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5
DOOR_RETRY_AFTER_SECONDS = 1

_in_flight: Counter[str] = Counter()


@contextmanager
def at_the_door(webhook: str) -> Iterator[bool]:
    """Whether one more call of this webhook (its token) may be in flight in this process; while
    the block runs it is counted. Use on the event loop that serves the calls."""
    cap = settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK
    if cap > 0 and _in_flight[webhook] >= cap:
        yield False
        return
    _in_flight[webhook] += 1
    try:
        yield True
    finally:
        _in_flight[webhook] -= 1
        if _in_flight[webhook] <= 0:
            del _in_flight[webhook]


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
