"""Schedule trigger: starts the scenario at the slots of a cron expression in a time zone, or every
N minutes or hours.

The node type knows its slots (`schedule_of(params)`: the next ones, the latest one due); firing them
exactly once is the runtime's job (scenarios/runtime/scheduling.py). Cron expressions are read by
`cronsim` (five fields, or six with seconds; `L`, `W`, `#` and names such as MON), evaluated in the
node's time zone, so "0 9 * * 1-5" in Europe/Paris is 09:00 in Paris across daylight-saving changes.
Intervals are counted from the Unix epoch in UTC, so "every 15 minutes" fires at :00, :15, :30, :45
whenever the scenario was saved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from cronsim import CronSim, CronSimError
from django.utils import timezone

from nodes.base import Field, NodeContext, NodeError, NodeType
from nodes.expressions import as_text
from nodes.types.manual import SAMPLE
from nodes.types.time import timezone_field, zone

KEY = "schedule.trigger"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_CRON_LENGTH = 200
UNIT_SECONDS = {"minutes": 60, "hours": 3600}

CRON = Field(
    "cron",
    "Cron expression",
    placeholder="0 9 * * 1-5",
    max_length=MAX_CRON_LENGTH,
    expressions=False,
    help="Minute, hour, day of month, month, day of week: “0 9 * * 1-5” is 09:00 on weekdays. "
    "When set, it is used instead of Every.",
)
EVERY = Field(
    "every",
    "Every",
    kind="number",
    default=1,
    min_value=1,
    max_value=10_000,
    expressions=False,
    help="Without a cron expression: fire every N minutes or hours (counted from midnight UTC).",
)
EVERY_UNIT = Field(
    "every_unit",
    "Every (unit)",
    kind="select",
    default="hours",
    choices=(("minutes", "Minutes"), ("hours", "Hours")),
    expressions=False,
)
TIMEZONE = replace(
    timezone_field("The cron expression's time zone (IANA, such as Europe/Paris). Default: UTC."),
    expressions=False,
)


@dataclass(frozen=True)
class Schedule:
    cron: str
    step: timedelta | None
    tz: tzinfo

    def next_after(self, moment: datetime, count: int) -> list[datetime]:
        """The `count` slots strictly after `moment`, in the schedule's time zone."""
        if self.step is None:
            it = CronSim(self.cron, moment.astimezone(self.tz))
            return [next(it) for _ in range(count)]
        first = self.latest(moment) + self.step
        return [(first + self.step * i).astimezone(self.tz) for i in range(count)]

    def latest(self, moment: datetime) -> datetime:
        """The last slot at or before `moment`."""
        if self.step is None:
            # cronsim's reverse iteration starts strictly before its start, and slots are whole seconds.
            start = moment.astimezone(self.tz).replace(microsecond=0) + timedelta(seconds=1)
            return next(CronSim(self.cron, start, reverse=True))
        steps = (moment - EPOCH) // self.step
        return (EPOCH + self.step * steps).astimezone(self.tz)

    def between(self, after: datetime, until: datetime, limit: int) -> int:
        """How many slots lie in (after, until], counting up to `limit`."""
        if self.step is not None:
            return min(limit, max(0, (until - EPOCH) // self.step - (after - EPOCH) // self.step))
        count = 0
        for slot in CronSim(self.cron, after.astimezone(self.tz)):
            if slot > until or count >= limit:
                break
            count += 1
        return count


def schedule_of(params: dict[str, Any]) -> Schedule:
    """The node's schedule, or NodeError naming the field (a bad cron expression or time zone)."""
    tz = zone(params.get("timezone"))
    cron = as_text(params.get("cron") or "").strip()
    if cron:
        if len(cron) > MAX_CRON_LENGTH:
            raise _bad_cron(cron, f"at most {MAX_CRON_LENGTH} characters")
        try:
            it = CronSim(cron, timezone.now().astimezone(tz))
            next(it)
        except CronSimError as exc:
            raise _bad_cron(cron, str(exc).rstrip(".").lower() or "not understood") from None
        except (StopIteration, ValueError, OverflowError):
            raise _bad_cron(cron, "it never fires") from None
        return Schedule(cron, None, tz)
    every = params.get("every", EVERY.default)
    unit = params.get("every_unit") or EVERY_UNIT.default
    if isinstance(every, bool) or not isinstance(every, int | float) or not 1 <= every <= 10_000:
        raise NodeError(
            "Every: enter a whole number from 1 to 10,000, or write a cron expression.",
            fields={"every": ["A number from 1 to 10,000."]},
        )
    return Schedule("", timedelta(seconds=int(every) * UNIT_SECONDS.get(unit, 3600)), tz)


def _bad_cron(cron: str, why: str) -> NodeError:
    return NodeError(
        f"Cron expression: '{cron[:80]}' is not valid ({why}). Write five fields: minute hour "
        "day-of-month month day-of-week, such as 0 9 * * 1-5.",
        fields={"cron": [f"Not a valid cron expression ({why}); e.g. 0 9 * * 1-5."]},
    )


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    try:
        schedule_of(params)
    except NodeError as exc:
        return dict(exc.details.get("fields", {}))
    return {}


async def fire(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
    """The slot this execution fires (`scheduled_for`; now for a run by hand) and the sample body."""
    tz = zone(params.get("timezone"))
    slot = ctx.trigger_input.get("scheduled_for")
    try:
        moment = datetime.fromisoformat(slot) if isinstance(slot, str) else timezone.now()
    except ValueError:
        moment = timezone.now()
    body = ctx.trigger_input.get("body")
    return {
        "scheduled_for": moment.astimezone(tz).isoformat(),
        "timezone": str(tz),
        "body": body if body not in (None, "", {}) else params.get("sample", {}),
    }


SCHEDULE_TRIGGER = NodeType(
    key=KEY,
    app="Schedule",
    title="Schedule trigger",
    description="Starts the scenario on a schedule: a cron expression in a time zone, or every N "
    "minutes or hours. Each time fires once, however many workers run.",
    kind="trigger",
    fields=(CRON, EVERY, EVERY_UNIT, TIMEZONE, SAMPLE),
    execute=fire,
    color="#7c3aed",
    icon="schedule",
    check=check,
)

TYPES = (SCHEDULE_TRIGGER,)
