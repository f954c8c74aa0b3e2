"""The cap on a team's waiting executions, which turns a flood of webhook calls into 429s.

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
from typing import Any

from django.conf import settings

from scenarios.models import Execution

RECOUNT_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5

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
