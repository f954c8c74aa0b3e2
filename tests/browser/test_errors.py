"""Errors in the editor: a node's Settings section (retries, on error), a retry announced live in the
run panel ("retry 1 of 2 in 3 s"), and the scenario settings page with its error scenario; desktop
and phone, checked with axe-core."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from nodes.base import NodeContext, NodeError
from scenarios.models import Execution, Scenario
from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build, node_type

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def flaky_scenario(cast) -> Any:
    """$1 webhook → $2 a node that fails its first try (2 retries, 3 s apart) → $3 its answer."""
    calls: Counter[str] = Counter()

    async def flaky(ctx: NodeContext, params: dict[str, Any]) -> dict[str, Any]:
        calls[str(ctx.execution_id)] += 1
        if calls[str(ctx.execution_id)] == 1:
            raise NodeError("The service is busy.")
        return {"answer": "done"}

    with node_type("test.flaky", flaky):
        scenario = build(
            cast.team,
            {
                1: ("webhook.trigger", {}),
                2: ("test.flaky", {"settings_retries": 2, "settings_retry_wait": 3}),
                3: ("webhook.response", {"status": 200, "body": "{{$2.answer}}"}),
            },
            [(1, 2), (2, 3)],
            name="Flaky service",
        )
        for number, x in {1: 0, 2: 320, 3: 640}.items():
            scenario.nodes.filter(number=number).update(position_x=x, position_y=0)
        yield scenario


def shot(tab: Any, name: str) -> None:
    tab.page.wait_for_timeout(300)
    tab.shot(name)


def test_a_retry_is_announced_live_and_the_node_ends_after_two_tries(
    cast, flaky_scenario, open_tab, asgi_server
):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, flaky_scenario).open()
    answers: list[httpx.Response] = []
    call = threading.Thread(
        target=lambda: answers.append(
            httpx.post(f"{asgi_server.url}/hooks/{flaky_scenario.webhook_token}", json={}, timeout=60)
        )
    )
    call.start()

    expect(editor.live_row(2).locator(".live-progress")).to_contain_text("retry 1 of 2 in 3 s")
    expect(editor.live_row(2).locator(".live-progress")).to_contain_text("The service is busy.")
    shot(tab, "live-retry-desktop")
    tab.assert_accessible()
    expect(editor.live_row(2)).to_have_attribute("data-status", "succeeded")
    expect(editor.live_row(2).locator(".status-pill")).to_have_text("succeeded after 2 tries")
    call.join(timeout=60)
    assert answers and answers[0].text == "done"


def test_every_action_has_a_settings_section_whose_choices_are_saved(cast, flaky_scenario, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, flaky_scenario).open()
    inspector = editor.inspect(2)
    settings = inspector.locator("details[data-node-settings]")
    expect(settings).to_have_attribute("open", "")  # unfolded: this node has settings of its own
    expect(editor.field("Retries on failure")).to_have_value("2")
    editor.field("Retries on failure").fill("3")
    editor.field("Backoff", "combobox").select_option("exponential")
    editor.field("On error", "combobox").select_option("error_port")
    shot(tab, "node-settings-desktop")
    tab.assert_accessible()
    editor.save_node()

    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    expect(editor.port(2, "out:error")).to_be_attached()  # the canvas shows the new port at once
    expect(editor.node(2).locator(".x6-port-label", has_text="error")).to_be_visible()
    shot(tab, "node-settings-error-port-desktop")
    params = flaky_scenario.nodes.get(number=2).params
    assert (params["settings_retries"], params["settings_backoff"]) == (3, "exponential")
    assert params["settings_on_error"] == "error_port"
    assert not tab.unexpected_errors()


def test_node_settings_on_a_phone(cast, flaky_scenario, open_tab):
    tab = open_tab(cast.bob, 390, 844)
    editor = EditorPage(tab, flaky_scenario).open()
    editor.inspect(2)
    expect(editor.field("On error", "combobox")).to_be_visible()
    editor.field("On error", "combobox").scroll_into_view_if_needed()
    shot(tab, "node-settings-phone")
    tab.assert_accessible()


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_scenario_settings_page_chooses_the_error_scenario(cast, open_tab, width, height, name):
    orders = Scenario.objects.create(team=cast.team, name="Orders")
    Scenario.objects.create(team=cast.team, name="Report errors")
    tab = open_tab(cast.bob, width, height)
    tab.goto(f"/scenarios/{orders.pk}/settings/")

    tab.page.get_by_role("combobox", name="Error scenario").select_option(label="Report errors")
    shot(tab, f"scenario-settings-{name}")
    tab.assert_accessible()
    tab.page.get_by_role("button", name="Save").click()

    expect(tab.page.get_by_role("combobox", name="Error scenario")).to_have_value(
        str(Scenario.objects.get(name="Report errors").pk)
    )
    orders.refresh_from_db()
    assert orders.error_scenario is not None and orders.error_scenario.name == "Report errors"


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_history_of_a_run_links_to_the_sub_scenario_it_ran_and_back(
    cast, open_tab, asgi_server, width, height, name
):
    parent_scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.run_scenario", {"scenario": "Shout", "input": "{{$1.body}}"}),
            3: ("webhook.response", {"status": 200, "body": "{{$2.result}}"}),
        },
        [(1, 2), (2, 3)],
        name="Greeter",
    )
    build(
        cast.team,
        {1: ("manual.trigger", {}), 2: ("webhook.response", {"status": 200, "body": "{{$1.body.word}}!"})},
        [(1, 2)],
        name="Shout",
    )
    answer = httpx.post(
        f"{asgi_server.url}/hooks/{parent_scenario.webhook_token}", json={"word": "hi"}, timeout=60
    )
    assert answer.text == "hi!"
    parent = Execution.objects.get(pk=answer.headers["x-execution-id"])
    tab = open_tab(cast.carol, width, height)
    tab.goto(f"/scenarios/{parent_scenario.pk}/runs/{parent.pk}/")

    tab.page.get_by_role("link", name="$2 ran “Shout”").click()
    expect(tab.page.locator("[data-parent-run]")).to_contain_text("Called from $2 in the run of “Greeter”")
    shot(tab, f"runs-sub-scenario-{name}")
    tab.assert_accessible()
    tab.page.locator("[data-parent-run] a").click()
    expect(tab.page.get_by_role("link", name="$2 ran “Shout”")).to_be_visible()
