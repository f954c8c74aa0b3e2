"""The newcomer's walk, end to end in Chromium: sign up, start from the demo, run one node, run the
scenario, read the history. It fails on any console error and on any failed request."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from scenarios.models import Execution, Scenario
from tests.browser.editor_page import EditorPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a long and unguessable passphrase 42"


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
def test_sign_up_start_from_the_demo_run_once_run_it_and_read_the_history(
    size, settings, asgi_server, cast, chromium, open_tab
):
    settings.SCENERY_BASE_URL = asgi_server.url
    width, height = size
    name = "desktop" if width > 800 else "phone"
    tab = open_tab(cast.alice, context=chromium.new_context(viewport={"width": width, "height": height}))
    page = tab.page

    tab.goto("/signup/")
    form = page.locator("form", has=page.locator('input[name="password1"]'))
    form.locator('input[name="username"]').fill("newcomer")
    form.locator('input[name="email"]').fill("newcomer@example.com")
    form.locator('input[name="password1"]').fill(PASSWORD)
    form.locator('input[name="password2"]').fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Scenarios")).to_be_visible()
    tab.shot(f"walk-01-empty-list-{name}")

    page.get_by_role("button", name="Start from “Ask ChatGPT”").click()
    page.wait_for_function("window.scenery && window.scenery.ready")
    scenario = Scenario.objects.get(team__memberships__user__username="newcomer")
    editor = EditorPage(tab, scenario)
    tab.shot(f"walk-02-demo-{name}")

    editor.inspect(2)
    editor.run_once()
    output = page.locator("#inspector .node-output")
    expect(output.locator(".run-result")).to_have_attribute("data-status", "succeeded")
    expect(output).to_contain_text("Echo: What can Scenery do?")
    tab.shot(f"walk-03-run-once-{name}")

    page.get_by_role("button", name="Run scenario", exact=True).click()
    page.locator("#run-form").get_by_role("button", name="Run", exact=True).click()
    for number in (1, 2, 3):
        editor.wait_status(number, "succeeded")
    tab.shot(f"walk-04-run-{name}")
    execution = Execution.objects.get(scenario=scenario, trigger="manual")
    assert execution.status == "succeeded"

    tab.goto(f"/scenarios/{scenario.pk}/runs/")
    expect(page.locator(".execution-row").first).to_contain_text("succeeded")
    tab.shot(f"walk-05-history-{name}")
    assert tab.failed_requests == []
