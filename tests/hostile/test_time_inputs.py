"""Hostile schedules and waits (map item 54): cron expressions that are long, binary, or never fire,
time zones that are paths, and waits of astronomical size. Each is refused naming the node's field;
nothing fires, nothing is stored half-way, and no executor is held."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from nodes.base import NodeError
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from scenarios.models import Execution, NodeRun
from scenarios.runtime import scheduling
from scenarios.runtime.engine import create_execution
from tests.engine.conftest import build, run_now, runs_of

pytestmark = pytest.mark.usefixtures("no_background_executor")

NOW = datetime(2026, 12, 3, 8, 20, tzinfo=UTC)
HOSTILE_CRONS = [
    "*" * 10_000,
    "0 9 * * *\x00",
    "0 0 31 2 *",  # never fires: there is no 31 February
    "* * * * * * * * * *",
    "٠ ٩ * * *",  # Arabic-Indic digits
    "0 9 * * 1-5; rm -rf /",
    "@reboot",
]
HOSTILE_ZONES = ["../../etc/passwd", "/etc/localtime", "Europe/Paris\x00", "x" * 5000, "Etc/GMT+99"]


@pytest.mark.parametrize("cron", HOSTILE_CRONS)
def test_a_hostile_cron_expression_is_refused_at_its_field_and_fires_nothing(cast, cron):
    with pytest.raises(NodeError) as caught:
        clean_for_run(get_node_type("schedule.trigger"), {"cron": cron, "timezone": "UTC"})
    assert "cron" in caught.value.details["fields"]

    if "\x00" not in cron:  # PostgreSQL cannot store NUL at all; the form above refuses it first
        build(cast.team, {1: ("schedule.trigger", {"cron": cron})}, [])
    assert scheduling.fire_due(NOW) == []
    assert not Execution.objects.exists()


@pytest.mark.parametrize("zone", HOSTILE_ZONES)
def test_a_hostile_time_zone_is_refused_at_its_field(zone):
    for key, params in [
        ("schedule.trigger", {"cron": "0 9 * * *", "timezone": zone}),
        ("flow.wait", {"until": "2026-12-31T09:00", "timezone": zone}),
    ]:
        with pytest.raises(NodeError) as caught:
            clean_for_run(get_node_type(key), params)
        assert "timezone" in caught.value.details["fields"], (key, caught.value.details)


@pytest.mark.parametrize(
    "wait",
    [
        {"amount": 1e308, "unit": "days"},
        {"amount": "{{$1.body.amount}}", "unit": "seconds"},  # the body says "inf"
        {"until": "9999-12-31T23:59:59"},
        {"until": "{{$1.body.until}}"},  # the body holds 20,000 characters
    ],
)
def test_a_huge_or_hostile_wait_fails_naming_its_field_and_holds_no_executor(cast, wait):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("flow.wait", wait)},
        [(1, 2)],
    )
    body: dict[str, Any] = {"amount": "inf", "until": "2026-" + "1" * 20_000}
    execution = run_now(
        create_execution(scenario, Execution.Trigger.MANUAL, {"method": "POST", "body": body})
    )

    assert execution.status == Execution.Status.FAILED
    assert execution.wake_at is None and execution.lease_until is None
    wait_run = runs_of(execution)[2]
    assert wait_run.status == NodeRun.Status.FAILED
    assert any(name in execution.error for name in ("Duration", "Until")), execution.error
    assert len(execution.error) < 5000
