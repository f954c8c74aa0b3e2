"""The Schedule trigger's inspector: its next five fire times in its time zone, updated from the
form as typed (htmx), and an invalid cron expression named as such. Strangers get 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from scenarios.models import Scenario
from tests.editor.conftest import build

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def scheduled(cast: Any) -> Scenario:
    return build(
        cast.team,
        {
            1: ("schedule.trigger", {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris"}),
            2: ("flow.wait", {"amount": 5, "unit": "minutes"}),
        },
        [(1, 2)],
        name="Weekday digest",
    )


def url(scenario: Scenario, name: str = "scenarios:inspector") -> str:
    return reverse(name, args=[scenario.pk, scenario.nodes.get(number=1).pk])


def fire_times(html: str) -> list[str]:
    return re.findall(r'<time datetime="([^"]+)"', html)


def test_the_inspector_shows_the_next_five_fire_times_in_the_schedules_time_zone(cast, scheduled):
    html = cast.client_for(cast.carol).get(url(scheduled), **HX).content.decode()

    times = fire_times(html)
    assert len(times) == 5
    assert all(t.endswith(("T09:00:00+01:00", "T09:00:00+02:00")) for t in times), times
    assert "Europe/Paris" in html and "Next fire times" in html
    assert "Try it with curl" not in html  # a schedule has no webhook to call


def test_the_fire_times_follow_what_is_typed_before_it_is_saved(cast, scheduled):
    response = cast.client_for(cast.bob).get(
        url(scheduled, "scenarios:schedule_times"),
        {"cron": "", "every": "15", "every_unit": "minutes", "timezone": "UTC"},
        **HX,
    )

    times = fire_times(response.content.decode())
    assert len(times) == 5
    assert all(re.search(r"T\d\d:(00|15|30|45):00\+00:00$", t) for t in times), times
    scheduled.nodes.get(number=1).refresh_from_db()
    assert scheduled.nodes.get(number=1).params["cron"] == "0 9 * * 1-5"  # nothing saved


def test_an_invalid_cron_expression_is_named_instead_of_fire_times(cast, scheduled):
    html = (
        cast.client_for(cast.alice)
        .get(url(scheduled, "scenarios:schedule_times"), {"cron": "0 25 * * *", "timezone": "UTC"}, **HX)
        .content.decode()
    )

    assert "Cron expression" in html and "bad hour" in html
    assert fire_times(html) == []


def test_saving_an_invalid_cron_expression_is_refused_at_the_field(cast, scheduled):
    response = cast.client_for(cast.alice).post(
        url(scheduled),
        {"cron": "every monday", "every": "1", "every_unit": "hours", "timezone": "UTC", "version": 1},
        **HX,
    )

    html = response.content.decode()
    assert "Nothing was saved" in html and "Not a valid cron expression" in html
    assert scheduled.nodes.get(number=1).params["cron"] == "0 9 * * 1-5"


def test_a_stranger_gets_404_for_the_fire_times(cast, scheduled):
    response = cast.client_for(cast.mallory).get(
        url(scheduled, "scenarios:schedule_times"), {"cron": "* * * * *"}
    )

    assert response.status_code == 404


def test_a_waiting_run_says_until_when_and_an_editor_can_cancel_it(cast, scheduled):
    from scenarios.models import Execution
    from scenarios.runtime.engine import create_execution
    from tests.engine.conftest import run_now

    execution = run_now(create_execution(scheduled, Execution.Trigger.MANUAL, {}))
    assert execution.status == Execution.Status.WAITING
    detail = reverse("scenarios:run_detail", args=[scheduled.pk, execution.pk])

    html = cast.client_for(cast.carol).get(detail).content.decode()
    assert "Waiting until" in html and "Cancel this run" not in html  # a viewer sees, does not cancel

    html = cast.client_for(cast.bob).get(detail).content.decode()
    assert "Cancel this run" in html
    cast.client_for(cast.bob).post(reverse("scenarios:cancel_run", args=[scheduled.pk, execution.pk]))
    execution.refresh_from_db()
    assert execution.status == Execution.Status.CANCELLED
