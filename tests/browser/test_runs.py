"""Runs in the browser: the history laid over the canvas, re-run, a page opened mid-run or reconnected
after a drop, and the runs pages on a phone."""

from __future__ import annotations

import threading

import httpx
import pytest
from playwright.sync_api import expect

from scenarios.models import Execution
from tests.browser.editor_page import EditorPage
from tests.editor.conftest import demo
from tests.waiting import HANG, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def call_webhook(asgi_server, scenario, question: str) -> httpx.Response:
    return httpx.post(
        f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"question": question}, timeout=60
    )


def wait_finished(scenario, count: int) -> list[Execution]:
    def finished() -> list[Execution] | None:
        done = Execution.objects.filter(scenario=scenario, status__in=Execution.TERMINAL).order_by(
            "created_at"
        )
        return list(done) if len(done) >= count else None

    return wait_until(finished, f"{count} execution(s) to finish")


def test_a_past_run_is_laid_over_the_canvas_and_can_run_again(
    cast, stub_credential, stub_provider, open_tab, asgi_server
):
    scenario = demo(cast.team, stub_credential)
    stub_provider.script(
        "/v1/chat/completions",
        [
            (
                400,
                {
                    "error": {
                        "message": "This model does not exist",
                        "type": "invalid_request_error",
                        "param": "model",
                    }
                },
                {},
            )
        ],
    )
    assert call_webhook(asgi_server, scenario, "first").status_code >= 400
    assert call_webhook(asgi_server, scenario, "second").text == "echo: second"
    failed, ok = wait_finished(scenario, 2)
    assert failed.status == "failed" and ok.status == "succeeded"

    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.wait_status(2, "succeeded")  # the latest run, from the socket's first message
    tab.page.get_by_role("button", name="Runs", exact=True).click()
    rows = tab.page.locator("#runs-body .execution-row")
    expect(rows).to_have_count(2)
    rows.nth(1).click()  # the older, failed one
    detail = tab.page.locator("#run-detail")
    expect(detail).to_contain_text("This model does not exist")
    expect(detail.locator('.node-run[data-number="2"] .status-pill')).to_have_text("failed")
    editor.wait_status(2, "failed")
    editor.wait_status(3, "skipped")
    expect(detail.locator(".json-block-head", has_text="Input (resolved parameters)").first).to_be_visible()
    tab.shot("30-history-laid-over-canvas")

    detail.get_by_role("button", name="Re-run with the same input").click()
    expect(tab.page.locator("#run-detail-started")).to_contain_text("Run started")
    # The canvas may still show the earlier successful run, so wait for the re-run itself.
    wait_until(
        lambda: Execution.objects.filter(scenario=scenario, trigger="rerun", status="succeeded").exists(),
        "the re-run to finish",
    )
    for number in (1, 2, 3):
        editor.wait_status(number, "succeeded")
    again = Execution.objects.filter(scenario=scenario, trigger="rerun").get()
    assert again.input == failed.input
    assert again.response is not None and again.response["body"] == "echo: first"
    tab.shot("31-rerun-live")


def test_a_page_opened_mid_run_shows_it_and_recovers_what_it_missed(
    cast, stub_credential, stub_provider, open_tab, asgi_server
):
    scenario = demo(cast.team, stub_credential)
    provider_answers = stub_provider.hold()  # $2 runs until the test lets the provider answer
    caller = threading.Thread(target=call_webhook, args=(asgi_server, scenario, "slow"), daemon=True)
    caller.start()
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.wait_status(1, "succeeded")
    editor.wait_status(2, "running")
    expect(editor.live_row(2)).to_have_attribute("data-status", "running")
    tab.shot("32-opened-mid-run")

    # The network drops, and only then does the run finish: no event reaches the page...
    tab.js("() => { window.scenery.live.closed = true; window.scenery.live.socket.close(); }")
    tab.page.wait_for_function("window.scenery.live.socket.readyState === WebSocket.CLOSED")
    provider_answers.set()
    wait_finished(scenario, 1)
    assert editor.status_text(2).startswith("running")
    # ...and on reconnecting, the state message brings everything back.
    tab.js("() => { window.scenery.live.closed = false; window.scenery.live.connect(); }")
    editor.wait_status(2, "succeeded")
    editor.wait_status(3, "succeeded")
    expect(editor.live_row(3).locator(".live-output")).to_contain_text("echo: slow")
    caller.join(timeout=HANG)


def test_the_socket_reconnects_by_itself_after_a_drop(cast, open_tab):
    scenario = demo(cast.team)
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    tab.page.wait_for_function("window.scenery.live.socket.readyState === 1")
    tab.js("() => window.scenery.live.socket.close()")
    tab.page.wait_for_function(
        "window.scenery.live.socket.readyState === 3 || window.scenery.live.attempt > 0"
    )
    tab.page.wait_for_function(
        "window.scenery.live.socket.readyState === 1 && window.scenery.live.attempt === 0"
    )


def test_runs_can_be_read_on_a_phone(cast, stub_credential, stub_provider, open_tab, asgi_server):
    scenario = demo(cast.team, stub_credential)
    call_webhook(asgi_server, scenario, "from my phone")
    wait_finished(scenario, 1)
    tab = open_tab(cast.carol, width=390, height=844)
    tab.goto(f"/scenarios/{scenario.pk}/runs/")
    row = tab.page.locator(".execution-row")
    expect(row).to_have_count(1)
    tab.shot("33-phone-runs")
    row.click()
    expect(tab.page.locator(".node-run")).to_have_count(3)
    expect(tab.page.locator('.node-run[data-number="3"]')).to_contain_text("echo: from my phone")
    assert tab.js("() => document.documentElement.scrollWidth") <= 390
    tab.shot("34-phone-run-detail")
    tab.goto("/scenarios/")
    assert tab.js("() => document.documentElement.scrollWidth") <= 390
    tab.shot("35-phone-scenario-list")
