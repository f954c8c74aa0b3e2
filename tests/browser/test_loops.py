"""A Loop over items built in the editor: labelled ports, a run through the webhook, its items in
history fifty at a time, on a desktop and on a phone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from scenarios.models import Execution, NodeRun, Scenario
from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build
from tests.waiting import wait_for_end

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def started(cast) -> Scenario:
    """$1 webhook → $2 Loop over items; the Aggregate is added in the browser."""
    scenario = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("flow.loop", {"items": "{{$1.body.names}}"})}, [(1, 2)]
    )
    scenario.nodes.filter(number=2).update(position_x=320, position_y=0)
    return scenario


def shot(tab: Any, name: str) -> None:
    """For people to look at (the test asserts nothing about it)."""
    tab.page.wait_for_timeout(400)
    tab.shot(name)


def test_a_loop_built_in_the_editor_runs_and_its_items_are_paged_in_history(
    cast, started, open_tab, asgi_server
):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, started).open()
    expect(editor.node(2).locator(".x6-port-label", has_text="item")).to_be_visible()
    expect(editor.node(2).locator(".x6-port-label", has_text="done")).to_be_visible()

    added = editor.add_from_catalog("Aggregate")
    editor.field("Collect").fill("Hello {{$item}}")
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    editor.drag(editor.port(2, "out:item"), editor.port(added, "in"))
    editor.wait_saved()
    assert sorted(started.edges.values_list("source__number", "target__number", "source_port")) == [
        (1, 2, "main"),
        (2, added, "item"),
    ]
    shot(tab, "loop-editor-desktop")

    names = [f"n{i}" for i in range(60)]
    answer = httpx.post(f"{asgi_server.url}/hooks/{started.webhook_token}", json={"names": names}, timeout=60)
    assert answer.status_code == 202, answer.text  # no Webhook response node: accepted, runs on
    execution = wait_for_end(answer.json()["execution_id"])
    assert execution.status == Execution.Status.SUCCEEDED, execution.error

    tab.page.get_by_role("button", name="Runs", exact=True).click()
    tab.page.locator("#runs-body .execution-row").first.click()
    items = tab.page.locator("#loop-items-2")
    expect(items).to_contain_text("Items 1–50 of 60")
    expect(items.locator(".loop-item")).to_have_count(50)
    items.get_by_role("link", name="Next items").click()
    expect(items).to_contain_text("Items 51–60 of 60")
    expect(items.locator(".loop-item")).to_have_count(10)
    items.locator(".loop-item").first.locator("summary").click()
    expect(items.locator(".loop-item").first).to_contain_text("Hello n50")
    shot(tab, "loop-history-desktop")
    tab.assert_accessible()
    assert not tab.unexpected_errors()

    phone = open_tab(cast.bob, 390, 844)
    phone.goto(f"/scenarios/{started.pk}/runs/{execution.pk}/")
    expect(phone.page.locator("#loop-items-2")).to_contain_text("Items 1–50 of 60")
    phone.page.locator("#loop-items-2 .loop-item").first.locator("summary").click()
    phone.page.locator("#loop-items-2").scroll_into_view_if_needed()
    shot(phone, "loop-history-phone")
    phone.assert_accessible()
    assert not phone.unexpected_errors()


def test_a_live_loop_run_shows_its_body_nodes_with_their_items(cast, open_tab):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"ages": [12, 30, 17, 45, 70]}}),
            2: ("flow.loop", {"items": "{{$1.body.ages}}"}),
            3: (
                "flow.if",
                {
                    "conditions": {
                        "combine": "and",
                        "rules": [{"left": "{{$item}}", "op": "gte", "right": "18", "type": "number"}],
                    }
                },
            ),
            4: ("flow.aggregate", {"value": "{{$index}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4, "true")],
    )
    for number, (x, y) in {1: (0, 0), 2: (320, 0), 3: (640, 0), 4: (960, 0)}.items():
        scenario.nodes.filter(number=number).update(position_x=x, position_y=y)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()

    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    tab.page.locator("#run-form").get_by_role("button", name="Run", exact=True).click()

    editor.wait_status(4, "succeeded")
    editor.wait_status(3, "succeeded")
    assert editor.status_text(3).endswith("5 items")
    expect(editor.live_row(4)).to_contain_text("[")
    execution = Execution.objects.get(scenario=scenario)
    assert NodeRun.objects.get(execution=execution, node_number=4).output == [1, 3, 4]
    tab.page.keyboard.press("Escape")  # the "Run started" notice
    shot(tab, "loop-live-desktop")
    tab.assert_accessible()
    assert not tab.unexpected_errors()

    phone = open_tab(cast.bob, 390, 844)
    EditorPage(phone, scenario).open()
    phone.page.get_by_role("button", name="Runs", exact=True).click()
    phone.page.locator("#runs-body .execution-row").first.click()
    expect(phone.page.locator("#loop-items-2")).to_contain_text("Items 1–5 of 5")
    phone.page.locator("#loop-items-2").scroll_into_view_if_needed()
    shot(phone, "loop-live-phone")
    phone.assert_accessible()
    assert not phone.unexpected_errors()
