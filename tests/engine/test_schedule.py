"""The Schedule trigger: each slot of an active scenario fires exactly one execution, the missed-slot
policy (the latest missed slot fires once, older ones are skipped and logged), cron in a time zone,
and bad schedules named by field. Slots are computed for a given `now`, never waited for."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from nodes.base import NodeError
from nodes.forms import clean_for_run
from nodes.registry import get_node_type
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import scheduling
from tests.engine.conftest import build, run_now, runs_of

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status
NOW = datetime(2026, 12, 3, 8, 20, 30, tzinfo=UTC)  # a Thursday


def scheduled(team: Any, changed: datetime = NOW - timedelta(days=1), **schedule: Any) -> Scenario:
    """$1 Schedule trigger → $2 echo of the slot it fired; last changed at `changed`."""
    scenario = build(
        team,
        {
            1: ("schedule.trigger", {"every": 15, "every_unit": "minutes", **schedule}),
            2: ("test.echo", {"a": "{{$1.scheduled_for}}"}),
        },
        [(1, 2)],
    )
    Scenario.objects.filter(pk=scenario.pk).update(updated_at=changed)
    return scenario


def test_a_due_slot_fires_one_execution_and_a_second_look_fires_nothing(cast):
    scenario = scheduled(cast.team, changed=NOW - timedelta(minutes=10))

    first = scheduling.fire_due(NOW)
    again = scheduling.fire_due(NOW + timedelta(seconds=5))

    assert [e.scenario_id for e in first] == [scenario.pk] and again == []
    assert first[0].trigger == Execution.Trigger.SCHEDULE
    assert first[0].scheduled_for == datetime(2026, 12, 3, 8, 15, tzinfo=UTC)
    assert Execution.objects.filter(scenario=scenario).count() == 1


def test_a_whole_scenario_runs_from_its_schedule_trigger_with_the_slot_as_data(cast):
    scheduled(cast.team, changed=NOW - timedelta(minutes=10), timezone="Europe/Paris")

    execution = run_now(scheduling.fire_due(NOW)[0])

    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert runs[1].output["scheduled_for"] == "2026-12-03T09:15:00+01:00"
    assert runs[2].output["params"] == {"a": "2026-12-03T09:15:00+01:00"}


def test_the_database_refuses_a_second_execution_of_the_same_slot(cast):
    scenario = scheduled(cast.team)
    slot = datetime(2026, 12, 3, 8, 15, tzinfo=UTC)
    Execution.objects.create(scenario=scenario, trigger="schedule", scheduled_for=slot)

    with pytest.raises(IntegrityError), transaction.atomic():
        Execution.objects.create(scenario=scenario, trigger="schedule", scheduled_for=slot)


def test_a_slot_another_process_fired_first_is_not_fired_again(cast, monkeypatch):
    scenario = scheduled(cast.team, changed=NOW - timedelta(minutes=10))
    Execution.objects.create(
        scenario=scenario, trigger="schedule", scheduled_for=datetime(2026, 12, 3, 8, 15, tzinfo=UTC)
    )
    # As if the other process inserted between this one's look and its insert: the constraint decides.
    monkeypatch.setattr(scheduling.Execution.objects, "filter", _blind(scheduling.Execution.objects.filter))

    assert scheduling.fire_due(NOW) == []
    assert Execution.objects.filter(scenario=scenario).count() == 1


def _blind(filter_: Any) -> Any:
    def filtered(*args: Any, **kwargs: Any) -> Any:
        rows = filter_(*args, **kwargs)
        return rows.none() if "scheduled_for" in kwargs else rows

    return filtered


def test_after_a_downtime_only_the_latest_missed_slot_fires_and_the_others_are_logged(cast, caplog):
    scenario = scheduled(cast.team, changed=NOW - timedelta(hours=3), every=1, every_unit="hours")

    with caplog.at_level(logging.WARNING, logger="scenarios.runtime.scheduling"):
        fired = scheduling.fire_due(NOW)

    assert [e.scheduled_for for e in fired] == [datetime(2026, 12, 3, 8, 0, tzinfo=UTC)]
    assert "2 missed slot(s)" in caplog.text and str(scenario.pk) in caplog.text
    assert scheduling.fire_due(NOW + timedelta(minutes=30)) == []


def test_a_slot_from_before_the_scenarios_last_change_does_not_fire(cast):
    scheduled(cast.team, changed=NOW - timedelta(minutes=2))  # saved after the 08:15 slot

    assert scheduling.fire_due(NOW) == []
    assert len(scheduling.fire_due(NOW + timedelta(minutes=10))) == 1  # 08:30 does


def test_an_inactive_scenario_does_not_fire(cast):
    scenario = scheduled(cast.team)
    Scenario.objects.filter(pk=scenario.pk).update(active=False)

    assert scheduling.fire_due(NOW) == []


def test_a_cron_expression_fires_in_its_time_zone(cast):
    # 09:00 in Paris is 08:00 UTC in December.
    scheduled(cast.team, cron="0 9 * * 1-5", timezone="Europe/Paris")

    fired = scheduling.fire_due(NOW)

    assert [e.scheduled_for for e in fired] == [datetime(2026, 12, 3, 8, 0, tzinfo=UTC)]


def test_the_next_fire_times_follow_the_cron_expression_and_its_time_zone():
    times = scheduling.next_times({"cron": "30 9 * * 1-5", "timezone": "America/New_York"}, 3, after=NOW)

    assert [t.isoformat() for t in times] == [
        "2026-12-03T09:30:00-05:00",
        "2026-12-04T09:30:00-05:00",
        "2026-12-07T09:30:00-05:00",
    ]


def test_an_invalid_cron_expression_fires_nothing(cast):
    scheduled(cast.team, cron="61 * * * *")

    assert scheduling.fire_due(NOW) == []


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"cron": "61 * * * *"}, "cron", "Cron expression"),
        ({"cron": "every day"}, "cron", "Cron expression"),
        ({"cron": "0 9 * * *", "timezone": "Europe/Atlantis"}, "timezone", "Time zone"),
        ({"every": 0, "every_unit": "minutes"}, "every", "Every"),
    ],
)
def test_a_bad_schedule_is_refused_naming_its_field(params, field, words):
    with pytest.raises(NodeError) as caught:
        clean_for_run(get_node_type("schedule.trigger"), params)

    assert field in caught.value.details["fields"]
    assert words in caught.value.message or any(words in m for m in caught.value.details["fields"][field])
