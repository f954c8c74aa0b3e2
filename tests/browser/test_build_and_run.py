"""Building the demo scenario from an empty canvas by clicking, then running it: one node once, then
the whole scenario with live statuses."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from scenarios.models import Execution, Scenario
from tests.browser.editor_page import EditorPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_the_demo_scenario_by_clicking_then_run_a_node_and_the_scenario(
    cast, stub_credential, open_tab, asgi_server
):
    scenario = Scenario.objects.create(team=cast.team, name="Demo", created_by=cast.alice)
    tab = open_tab(cast.alice)
    editor = EditorPage(tab, scenario).open()
    expect(tab.page.locator("#canvas-empty")).to_be_visible()
    tab.shot("01-empty-canvas")

    # Three nodes from the catalog, each placed to the right of the one before.
    assert editor.add_from_catalog("Trigger on Webhook") == 1
    assert editor.add_from_catalog("Send Message") == 2
    assert editor.add_from_catalog("Webhook response") == 3
    assert list(scenario.nodes.values_list("number", "kind")) == [
        (1, "webhook.trigger"),
        (2, "openai.send_message"),
        (3, "webhook.response"),
    ]

    # Connected by dragging an output port onto an input port.
    tab.page.get_by_role("button", name="Fit to screen").click()
    editor.connect(1, 2)
    editor.connect(2, 3)
    editor.wait_saved()
    assert editor.edges() == [(1, 2), (2, 3)]
    assert sorted(scenario.edges.values_list("source__number", "target__number")) == [(1, 2), (2, 3)]
    tab.shot("02-three-nodes-connected")

    # A first call of the webhook gives the trigger an output the data picker can offer.
    hook = httpx.post(
        f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"question": "Hello"}, timeout=30
    )
    assert hook.status_code >= 200

    editor.inspect(2)
    editor.field("API Key", "combobox").select_option(
        label=f"{stub_credential.name} ({stub_credential.host})"
    )
    expect(tab.page.locator('#node-form datalist option[value="stub-model-large"]')).to_have_count(1)
    message = editor.field("Message")
    message.click()
    editor.pick(1, "body", "question")
    expect(message).to_have_value("{{$1.body.question}}")
    tab.shot("03-send-message-with-data-picker")

    # Run once saves the form, runs the node alone and shows its output.
    editor.run_once()
    output = tab.page.locator("#inspector .node-output")
    expect(output.locator(".run-result")).to_have_attribute("data-status", "succeeded", timeout=20_000)
    expect(output).to_contain_text("echo: Hello")
    node = scenario.nodes.get(number=2)
    assert node.params["message"] == "{{$1.body.question}}" and node.credential == stub_credential
    tab.shot("04-run-once-output")

    editor.inspect(3)
    body = editor.field("Body")
    body.click()
    editor.pick(2, "reply")
    expect(body).to_have_value("{{$2.reply}}")
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    assert scenario.nodes.get(number=3).params["body"] == "{{$2.reply}}"

    # Run the scenario with the last payload received; each node turns green live on the canvas.
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    sample = tab.page.get_by_label("Sample input (JSON)")
    expect(sample).to_contain_text('"question": "Hello"')
    tab.shot("05-run-dialog")
    tab.page.locator("#run-form").get_by_role("button", name="Run", exact=True).click()
    for number in (1, 2, 3):
        editor.wait_status(number, "succeeded")
        expect(editor.live_row(number)).to_have_attribute("data-status", "succeeded")
    expect(editor.live_row(2).locator(".live-output")).to_contain_text('"reply": "echo: Hello"')
    expect(editor.live_row(3).locator(".live-output")).to_contain_text("echo: Hello")
    execution = Execution.objects.filter(scenario=scenario, trigger="manual").get()
    assert execution.status == "succeeded"
    assert execution.response is not None and execution.response["body"] == "echo: Hello"
    tab.shot("06-live-run-succeeded")
