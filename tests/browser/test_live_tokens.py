"""The editor's live run shows the model's text as it comes, and the Webhook response offers to
answer as server-sent events; on a desktop and on a phone."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect

from tests.browser.editor_page import EditorPage
from tests.browser.test_runs import call_webhook, wait_finished
from tests.editor.conftest import demo
from tests.waiting import HANG

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUESTION = "tell me about the tides of the northern sea"


@pytest.mark.parametrize(("width", "height", "device"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_the_run_panel_shows_the_reply_as_it_comes(
    cast, stub_credential, stub_provider, open_tab, asgi_server, width, height, device
):
    scenario = demo(cast.team, stub_credential)
    hold = stub_provider.slow_streaming()
    tab = open_tab(cast.bob, width=width, height=height)
    editor = EditorPage(tab, scenario).open()
    tab.page.wait_for_function("window.scenery.live.socket.readyState === 1")
    caller = threading.Thread(target=call_webhook, args=(asgi_server, scenario, QUESTION), daemon=True)
    caller.start()

    streaming = editor.live_row(2).locator(".live-output.is-streaming")
    expect(streaming).to_have_text("echo: ")
    assert not stub_provider.finished.is_set()  # the page shows the first token while the model works
    streaming.scroll_into_view_if_needed()
    tab.shot(f"60-live-tokens-{device}")
    hold.set()
    editor.wait_status(2, "succeeded")
    expect(editor.live_row(2).locator(".live-output")).not_to_have_class("is-streaming")
    expect(editor.live_row(2).locator(".live-output")).to_contain_text(f'"reply": "echo: {QUESTION}"')
    wait_finished(scenario, 1)
    caller.join(timeout=HANG)

    inspector = editor.inspect(3)
    answer_as = editor.field("Answer as", role="combobox")
    answer_as.select_option("sse")
    inspector.scroll_into_view_if_needed()
    answer_as.scroll_into_view_if_needed()
    tab.assert_accessible()
    tab.shot(f"61-answer-as-sse-{device}")
