"""Firing Schedule triggers: each slot of an active scenario's schedule starts one execution.

Every executor process calls `fire_due` from its periodic sweep (scenarios/runtime/jobs.py), so a
slot is noticed by all of them; the database decides which one fires it. An execution of a slot
carries `scheduled_for`, unique per scenario: the first insert wins, the others fail on the
constraint and do nothing. That holds across any number of web processes and workers, on SQLite and
PostgreSQL, with no lock of our own.

Missed slots (everything was down, or busy): only the latest due slot fires, once, when a process
comes back; the older ones are skipped and logged with their count. Slots from before the scenario's
last change (or its activation) never fire, so saving a schedule does not fire the slot it just
passed, and a scenario switched off misses its slots instead of catching up on them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from nodes.base import NodeError
from nodes.types.schedule import KEY, schedule_of
from scenarios.models import Execution, Node
from scenarios.runtime.engine import create_execution

log = logging.getLogger(__name__)

# Counting missed slots stops here (an every-minute schedule down for a week has 10,080).
MISSED_COUNT_LIMIT = 1000


def fire_due(now: datetime | None = None) -> list[Execution]:
    """Start the executions of the slots now due; return those this call started."""
    now = now or timezone.now()
    started = []
    triggers = (
        Node.objects.filter(kind=KEY, scenario__active=True)
        .select_related("scenario")
        .order_by("scenario_id", "number")
    )
    seen: set[Any] = set()
    for node in triggers:
        if node.scenario_id in seen:  # a scenario has one trigger; a second one is a save problem
            continue
        seen.add(node.scenario_id)
        execution = _fire(node, now)
        if execution is not None:
            started.append(execution)
    return started


def _fire(node: Node, now: datetime) -> Execution | None:
    scenario = node.scenario
    try:
        schedule = schedule_of(node.params if isinstance(node.params, dict) else {})
    except NodeError:
        return None  # the inspector shows the problem; an unreadable schedule fires nothing
    slot = schedule.latest(now)
    if slot <= scenario.updated_at:
        return None
    fired = Execution.objects.filter(scenario=scenario, scheduled_for__isnull=False)
    if fired.filter(scheduled_for=slot).exists():
        return None
    try:
        with transaction.atomic():
            execution = create_execution(
                scenario, Execution.Trigger.SCHEDULE, {"scheduled_for": slot.isoformat()}, scheduled_for=slot
            )
    except IntegrityError:
        return None  # another process fired this slot first
    previous = fired.exclude(pk=execution.pk).aggregate(last=models.Max("scheduled_for"))["last"]
    since = max(previous or scenario.updated_at, scenario.updated_at)
    missed = schedule.between(since, slot, MISSED_COUNT_LIMIT) - 1
    if missed > 0:
        log.warning(
            "schedule of scenario %s: %s%s missed slot(s) between %s and %s skipped; fired %s only",
            scenario.pk,
            missed,
            "+" if missed >= MISSED_COUNT_LIMIT - 1 else "",
            since.isoformat(),
            slot.isoformat(),
            slot.isoformat(),
        )
    return execution


def next_times(params: dict[str, Any], count: int = 5, after: datetime | None = None) -> list[datetime]:
    """The schedule's next `count` slots (NodeError naming the field when it cannot be read)."""
    return schedule_of(params).next_after(after or timezone.now(), count)
