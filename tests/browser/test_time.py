"""The Schedule trigger and the Wait in the editor: the next fire times follow the cron expression as
it is typed (an invalid one is named), and a waiting node says until when, on the canvas and in the
live run. Desktop and phone, checked with axe."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from scenarios.models import Execution, Scenario
from scenarios.runtime.engine import create_execution
from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def digest(cast: Any) -> Scenario:
    """$1 Schedule trigger (09:00 on weekdays, Paris) → $2 Wait an hour → $3 Webhook response."""
    scenario = build(
        cast.team,
        {
            1: ("schedule.trigger", {"cron": "0 9 * * 1-5", "timezone": "Europe/Paris", "every": 1}),
            2: ("flow.wait", {"amount": 1, "unit": "hours"}),
            3: ("webhook.response", {"status": 200, "body": "done"}),
        },
        [(1, 2), (2, 3)],
        name="Weekday digest",
    )
    for number, x in {1: 0, 2: 340, 3: 680}.items():
        scenario.nodes.filter(number=number).update(position_x=x, position_y=0)
    return scenario


def fire_times(tab: Any) -> Any:
    return tab.page.locator("#schedule-times time")


def test_the_schedule_inspector_shows_the_next_fire_times_as_the_cron_is_typed(cast, digest, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, digest).open()
    tab.page.get_by_role("button", name="Fit to screen").click()
    editor.inspect(1)
    expect(fire_times(tab)).to_have_count(5)
    assert all(
        t.endswith("T09:00:00+01:00") for t in fire_times(tab).evaluate_all("els => els.map(e => e.dateTime)")
    )

    editor.field("Cron expression").fill("0 25 * * *")
    expect(tab.page.locator("#schedule-times [role=alert]")).to_contain_text("Cron expression")
    expect(fire_times(tab)).to_have_count(0)
    tab.page.locator("#schedule-times").scroll_into_view_if_needed()
    tab.page.wait_for_timeout(300)
    tab.shot("schedule-inspector-invalid-desktop")

    editor.field("Cron expression").fill("*/30 8-18 * * *")
    expect(fire_times(tab)).to_have_count(5)
    minutes = fire_times(tab).evaluate_all("els => els.map(e => e.dateTime.slice(14, 16))")
    assert set(minutes) <= {"00", "30"}
    tab.page.locator("#schedule-times").scroll_into_view_if_needed()
    tab.page.wait_for_timeout(300)
    tab.shot("schedule-inspector-desktop")
    tab.assert_accessible()
    assert not tab.unexpected_errors()


def test_a_waiting_node_says_until_when_on_the_canvas_and_in_the_live_run(cast, digest, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, digest).open()
    create_execution(digest, Execution.Trigger.MANUAL, {})

    editor.wait_status(2, "waiting until")
    expect(editor.live_row(2).locator(".status-pill")).to_contain_text("waiting until")
    tab.page.wait_for_timeout(300)
    tab.shot("wait-live-desktop")
    tab.assert_accessible()
    assert not tab.unexpected_errors()


def test_the_schedule_inspector_and_a_waiting_run_on_a_phone(cast, digest, open_tab):
    for number in (1, 2, 3):  # one above the other, as a phone shows them
        digest.nodes.filter(number=number).update(position_x=20, position_y=110 * (number - 1))
    create_execution(digest, Execution.Trigger.MANUAL, {})
    tab = open_tab(cast.bob, 390, 844)
    editor = EditorPage(tab, digest).open()
    editor.inspect(1)
    expect(fire_times(tab)).to_have_count(5)
    tab.page.locator("#schedule-times").scroll_into_view_if_needed()
    tab.page.wait_for_timeout(300)
    tab.shot("schedule-inspector-phone")
    tab.assert_accessible()
    tab.page.get_by_role("button", name="Close inspector").click()
    editor.wait_status(2, "waiting until")
    tab.page.wait_for_timeout(300)
    tab.shot("wait-live-phone")
    assert not tab.unexpected_errors()
