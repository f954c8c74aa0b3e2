"""Wait: pass a value on after a duration, or at a date-time.

The node only computes when to go on; the engine does the waiting (nodes/base.py `Waiting`): the
execution is released until then, holding no worker, and resumes on whichever executor is alive.
A date-time in the past goes on at once. Waits are bounded (MAX_WAIT): a longer one is a mistake
more often than a plan, and a scenario can chain waits or use a Schedule trigger.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from nodes.base import Field, NodeContext, NodeError, NodeType, Waiting
from nodes.expressions import as_text, has_expression
from nodes.types.flow import VALUE

MAX_WAIT = timedelta(days=30)
UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
MAX_TIMEZONE_LENGTH = 64

AMOUNT = Field(
    "amount",
    "Duration",
    kind="number",
    default=5,
    min_value=0,
    help="How long to wait, in the unit below (at most 30 days in all), unless Until is set.",
)
UNIT = Field(
    "unit",
    "Unit",
    kind="select",
    default="minutes",
    choices=(("seconds", "Seconds"), ("minutes", "Minutes"), ("hours", "Hours"), ("days", "Days")),
    expressions=False,
)
UNTIL = Field(
    "until",
    "Until",
    placeholder="2026-12-31T09:00",
    help="Instead of the duration: a date and time, ISO 8601 (2026-12-31T09:00, or with an offset: 2026-12-31T09:00+01:00). "
    "In the past: the scenario goes on at once. At most 30 days ahead.",
)


def timezone_field(help: str) -> Field:
    return Field(
        "timezone",
        "Time zone",
        default="UTC",
        placeholder="Europe/Paris",
        max_length=MAX_TIMEZONE_LENGTH,
        help=help,
    )


TIMEZONE = timezone_field("For Until without an offset: an IANA time zone such as Europe/Paris.")


def zone(name: Any, label: str = "Time zone") -> tzinfo:
    """The IANA time zone `name`, or NodeError naming the field."""
    text = as_text(name).strip() if name is not None else ""
    if not text:
        return UTC
    try:
        if len(text) > MAX_TIMEZONE_LENGTH:
            raise ValueError(text)
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise NodeError(
            f"{label}: '{text[:64]}' is not a time zone; write an IANA name such as Europe/Paris or UTC.",
            fields={"timezone": [f"'{text[:64]}' is not a time zone (e.g. Europe/Paris, UTC)."]},
        ) from None


def wait_until(params: dict[str, Any], now: datetime) -> datetime:
    """When the node goes on, from its cleaned params; NodeError naming the field when it cannot."""
    text = as_text(params.get("until", "")).strip()
    if text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise NodeError(
                f"Until: '{text[:80]}' is not a date and time; write it as 2026-12-31T09:00.",
                fields={"until": ["Write a date and time such as 2026-12-31T09:00."]},
            ) from None
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=zone(params.get("timezone")))
        if moment - now > MAX_WAIT:
            raise NodeError(
                f"Until: {moment.isoformat()} is more than 30 days ahead; a Wait is at most 30 days.",
                fields={"until": ["At most 30 days ahead."]},
            )
        return moment
    return now + _duration(params)


def _duration(params: dict[str, Any]) -> timedelta:
    amount = params.get("amount", AMOUNT.default)
    unit = params.get("unit") or UNIT.default
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
        raise NodeError("Duration: enter a number of at least 0.", fields={"amount": ["At least 0."]})
    seconds = amount * UNITS.get(unit, 60)
    if seconds > MAX_WAIT.total_seconds():
        raise NodeError(
            f"Duration: {amount:g} {unit} is more than 30 days; a Wait is at most 30 days.",
            fields={"amount": ["At most 30 days in all."]},
        )
    return timedelta(seconds=seconds)


def check(params: dict[str, Any]) -> dict[str, list[str]]:
    """The form's rules across fields: the duration's bound and the time zone (unless expressions)."""
    problems: dict[str, list[str]] = {}
    for name in ("amount", "until", "timezone"):
        value = params.get(name)
        if isinstance(value, str) and has_expression(value):
            return problems
    try:
        wait_until(params, timezone.now())
    except NodeError as exc:
        problems.update(exc.details.get("fields", {}))
    return problems


async def run_wait(ctx: NodeContext, params: dict[str, Any]) -> Any:
    if "value" in params:
        value = params["value"]
    else:
        value = ctx.upstream[max(ctx.upstream)] if ctx.upstream else None
    now = timezone.now()
    until = wait_until(params, now)
    if until <= now:
        return value
    return Waiting(value, until)


WAIT = NodeType(
    key="flow.wait",
    app="Flow",
    title="Wait",
    description="Waits for a duration or until a date and time, then passes its value on. "
    "No worker is held meanwhile, and the wait survives restarts.",
    kind="action",
    fields=(AMOUNT, UNIT, UNTIL, TIMEZONE, VALUE),
    execute=run_wait,
    color="#d97706",
    icon="clock",
    check=check,
)

TYPES = (WAIT,)
