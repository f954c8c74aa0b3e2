"""A newcomer's first ten minutes (issue 17), in Chromium: the demo works on the first try, test data
on the trigger, a dialog that can be left, errors as sentences."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import httpx
import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from scenarios.models import Execution, Node, Scenario
from teams.models import User
from tests.browser.editor_page import EditorPage
from tests.editor.conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_scenario(settings, asgi_server) -> Scenario:
    """The demo of `make run` (manage.py demo), its credential pointing at this server's gateway."""
    settings.SCENERY_BASE_URL = asgi_server.url
    address = urlsplit(asgi_server.url)
    call_command("demo", host=address.hostname, port=address.port, stdout=io.StringIO())
    return Scenario.objects.get(name="Ask ChatGPT")


def _city_scenario(cast, credential) -> Scenario:
    """Trigger on Webhook → Send Message asking about `{{$1.body.city}}`."""
    return build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("openai.send_message", {"message": "{{$1.body.city}}"}, credential)},
        [(1, 2)],
    )


def test_the_demo_runs_once_and_as_a_whole_on_the_first_try(demo_scenario, open_tab):
    tab = open_tab(User.objects.get(username="demo"))
    editor = EditorPage(tab, demo_scenario).open()

    # Run once on the trigger shows its test data, not an empty object.
    trigger = editor.inspect(1)
    expect(editor.field("Test data")).to_have_value('{"question": "What can Scenery do?"}')
    editor.run_once()
    output = trigger.locator(".node-output")
    expect(output.locator(".run-result")).to_have_attribute("data-status", "succeeded")
    expect(output).to_contain_text("What can Scenery do?")

    # Run once on Send Message takes the question from the trigger's test data.
    editor.inspect(2)
    expect(tab.page.locator(".picker-node")).to_contain_text("the trigger's test data")
    editor.run_once()
    output = tab.page.locator("#inspector .node-output")
    expect(output.locator(".run-result")).to_have_attribute("data-status", "succeeded")
    expect(output).to_contain_text("What can Scenery do?")
    tab.shot("newcomer-demo-run-once")

    # Run scenario starts with the same question, and every node succeeds.
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    expect(tab.page.get_by_label("Sample input (JSON)")).to_contain_text('"question": "What can Scenery do?"')
    expect(tab.page.locator("#run-form")).to_contain_text("It is the trigger's test data.")
    tab.shot("newcomer-demo-run-dialog")
    tab.page.locator("#run-form").get_by_role("button", name="Run", exact=True).click()
    for number in (1, 2, 3):
        editor.wait_status(number, "succeeded")
    execution = Execution.objects.get(scenario=demo_scenario, trigger="manual")
    assert execution.status == "succeeded"
    assert execution.response is not None and "What can Scenery do?" in str(execution.response["body"])


def test_test_data_typed_on_a_trigger_is_what_the_next_node_maps_and_runs_with(
    cast, stub_credential, open_tab
):
    scenario = _city_scenario(cast, stub_credential)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(1)
    editor.field("Test data").fill('{"city": "Lyon"')
    editor.save_node()
    expect(tab.page.locator("#inspector")).to_contain_text("This is not valid JSON")
    editor.field("Test data").fill('{"city": "Lyon"}')
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    assert Node.objects.get(scenario=scenario, number=1).params["sample"] == {"city": "Lyon"}

    editor.inspect(2)
    picker = tab.page.locator(".picker-node")
    expect(picker.locator('.pick[data-expr="{{$1.body.city}}"]')).to_be_visible()
    editor.run_once()
    output = tab.page.locator("#inspector .node-output")
    expect(output).to_contain_text("echo: Lyon")
    expect(output).to_contain_text("Trigger on Webhook (its test data)")


def test_a_run_refused_for_want_of_a_trigger_says_so_and_its_dialog_closes(cast, stub_credential, open_tab):
    scenario = build(cast.team, {1: ("openai.send_message", {"message": "Hi"}, stub_credential)})
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    dialog = tab.page.locator("#run-dialog")
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    expect(dialog).to_contain_text("This scenario has no trigger yet")
    expect(dialog).not_to_contain_text("starts at the trigger")
    expect(dialog.get_by_role("button", name="Run", exact=True)).to_have_count(0)
    tab.shot("newcomer-run-dialog-no-trigger")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).not_to_be_visible()

    # A click outside the dialog closes it too.
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    expect(dialog).to_be_visible()
    tab.page.mouse.click(10, 790)
    expect(dialog).not_to_be_visible()


def test_the_run_form_works_the_moment_its_dialog_shows_it(cast, stub_credential, open_tab):
    scenario = _city_scenario(cast, stub_credential)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()

    # The quickest hand there is: the form is sent as soon as the dialog opens, before anything else runs.
    tab.js(
        """() => { const dialog = document.getElementById("run-dialog");
            new MutationObserver((changes, observer) => {
                if (!dialog.open) return;
                observer.disconnect();
                document.getElementById("run-form").requestSubmit();
            }).observe(dialog, { attributes: true, attributeFilter: ["open"] }); }"""
    )
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    expect(tab.page.locator("#run-dialog")).to_contain_text("Run started")
    editor.wait_status(1, "succeeded")
    assert Execution.objects.filter(scenario=scenario, trigger="manual").count() == 1


def test_the_built_in_gateway_is_one_click_where_a_credential_is_chosen(
    settings, asgi_server, cast, open_tab
):
    settings.SCENERY_BASE_URL = asgi_server.url
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"q": "Bonjour"}}),
            2: ("openai.send_message", {"message": "{{$1.body.q}}"}),
        },
        [(1, 2)],
    )
    tab = open_tab(cast.alice)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    tab.page.locator("#inspector").get_by_role("button", name="Use Scenery's built-in gateway").click()
    select = editor.field("API Key", "combobox")
    expect(select.locator("option:checked")).to_contain_text("Scenery gateway")
    tab.shot("newcomer-gateway-credential-chosen")
    editor.run_once()
    output = tab.page.locator("#inspector .node-output")
    expect(output.locator(".run-result")).to_have_attribute("data-status", "succeeded")
    expect(output).to_contain_text("Echo: Bonjour")
    credential = Node.objects.get(scenario=scenario, number=2).credential
    assert credential is not None and credential.base_url == f"{asgi_server.url}/v1"
    assert credential.team == cast.team


def test_an_editor_is_told_whom_to_ask_for_the_gateway(cast, open_tab):
    scenario = build(cast.team, {1: ("openai.send_message", {"message": "Hi"})})
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(1)
    tab.page.locator("#inspector").get_by_role("button", name="Use Scenery's built-in gateway").click()
    expect(tab.page.locator("#credential-dialog")).to_contain_text("Only admins and owners of Alice's team")
    assert not cast.team.credentials.exists()


def test_a_new_node_starts_with_the_teams_only_credential(cast, stub_credential, open_tab):
    scenario = Scenario.objects.create(team=cast.team, name="One key", created_by=cast.alice)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    number = editor.add_from_catalog("Send Message")
    select = editor.field("API Key", "combobox")
    expect(select.locator("option:checked")).to_have_text(f"{stub_credential.name} ({stub_credential.host})")
    assert Node.objects.get(scenario=scenario, number=number).credential == stub_credential


def test_a_field_error_reads_as_a_sentence_naming_the_field_in_the_inspector_and_the_live_panel(
    cast, stub_credential, open_tab
):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"question": ""}}),
            2: ("openai.send_message", {"message": "{{$1.body.question}}"}, stub_credential),
        },
        [(1, 2)],
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    editor.run_once()
    error = tab.page.locator("#inspector .error-box")
    expect(error).to_contain_text("Some fields are not valid. Message: Message is empty.")
    expect(error).not_to_contain_text("{'")
    expect(error).not_to_contain_text("[")
    tab.shot("newcomer-error-in-inspector")

    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    tab.page.locator("#run-form").get_by_role("button", name="Run", exact=True).click()
    editor.wait_status(2, "failed")
    live = editor.live_row(2).locator(".live-error")
    expect(live).to_contain_text("Message: Message is empty.")
    expect(live).not_to_contain_text("[object Object]")
    tab.shot("newcomer-error-in-live-panel")


def test_the_save_status_owns_up_to_unsaved_edits_in_a_node_form(cast, stub_credential, open_tab):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("openai.send_message", {"message": "Hi"}, stub_credential)},
        [(1, 2)],
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    status = tab.page.locator("#save-state")
    editor.inspect(2)
    expect(status).to_have_text("All changes saved")
    editor.field("Message").fill("Hello there")
    expect(status).to_have_text("Unsaved changes in $2's form")
    tab.shot("newcomer-save-status-unsaved")

    # Kept as a draft while another node is open: still not saved.
    editor.inspect(1)
    expect(status).to_have_text("Unsaved changes in a node's form")
    editor.inspect(2)
    expect(editor.field("Message")).to_have_value("Hello there")
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    expect(status).to_have_text("All changes saved")
    assert Node.objects.get(scenario=scenario, number=2).params["message"] == "Hello there"


def test_the_inspector_follows_a_new_connection_and_each_new_run_without_reopening(
    cast, stub_credential, open_tab, asgi_server
):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.send_message", {"message": "{{$1.body.question}}"}, stub_credential),
            3: ("webhook.response", {"status": 200, "body": "{{$2.reply}}"}),
        },
        [(1, 2)],
    )
    tab = open_tab(cast.alice)
    editor = EditorPage(tab, scenario).open()
    inspector = editor.inspect(3)
    picker = inspector.locator(".data-picker")
    expect(picker).to_contain_text("No node is connected into this one yet")
    editor.connect(2, 3)
    expect(picker.locator(".picker-node")).to_have_count(2)
    expect(picker).not_to_contain_text("No node is connected")

    # Each webhook call runs the scenario; the picker shows the newest run's data at once.
    for question in ("first", "second"):
        hook = httpx.post(
            f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"question": question}, timeout=30
        )
        assert hook.status_code == 200
        expect(picker).to_contain_text(f"echo: {question}")
    tab.shot("newcomer-picker-follows-runs")

    # The trigger's list of calls too.
    editor.inspect(1)
    calls = tab.page.locator("#inspector .payloads > li")
    expect(calls).to_have_count(2)
    httpx.post(f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"question": "third"}, timeout=30)
    expect(calls).to_have_count(3)


def test_on_a_phone_the_header_links_are_uncovered_and_a_tapped_node_shows_its_details(
    cast, stub_credential, open_tab
):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("openai.send_message", {"message": "Hi"}, stub_credential)},
        [(1, 2)],
    )
    tab = open_tab(cast.alice, width=390, height=844)
    for path in ("/scenarios/", "/credentials/", f"/scenarios/{scenario.pk}/"):
        tab.goto(path)
        pills = [
            tab.page.locator(f".topbar .{name} > summary").bounding_box()
            for name in ("team-switcher", "user-menu")
        ]
        for pill in pills:
            assert pill is not None and pill["y"] >= 0 and pill["x"] + pill["width"] <= 390
        for name in ("Scenarios", "Credentials", "Gateway", "Team"):
            link = tab.page.locator(".header-nav").get_by_role("link", name=name, exact=True)
            expect(link).to_be_visible()
            box = link.bounding_box()
            assert box is not None and box["y"] >= 0 and box["x"] + box["width"] <= 390, name
            for pill in pills:
                assert pill is not None
                apart = box["y"] >= pill["y"] + pill["height"] or box["x"] + box["width"] <= pill["x"]
                assert apart, f"{name} is under a menu on {path}"
    tab.shot("newcomer-phone-editor-header")

    editor = EditorPage(tab, scenario)
    tab.page.wait_for_function("window.scenery && window.scenery.ready")
    editor.click_node(2)
    inspector = tab.page.locator('#inspector[data-node-number="2"]')
    expect(inspector).to_be_visible()
    tab.page.wait_for_function(
        "() => { const r = document.getElementById('inspector').getBoundingClientRect(); return r.top >= 0 && r.top < 844 / 2; }"
    )
    expect(editor.field("Message")).to_be_in_viewport()
    tab.shot("newcomer-phone-inspector")


def test_an_invitation_link_has_a_copy_button_and_its_page_reads_cleanly(cast, open_tab):
    tab = open_tab(cast.alice)
    tab.goto(f"/teams/{cast.team.pk}/")
    tab.page.get_by_role("button", name="Invite", exact=True).click()
    link = tab.page.locator("#new-link")
    expect(link).to_be_visible()
    copy = tab.page.locator('[data-copy-target="#new-link"]')
    expect(copy).to_have_text("Copy")
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=tab.base)
    copy.click()
    expect(copy).to_have_text("Copied")
    url = link.input_value()
    assert tab.js("() => navigator.clipboard.readText()") == url
    tab.shot("newcomer-invitation-copy")

    guest = open_tab(cast.mallory)
    guest.page.goto(url)
    expect(guest.page.get_by_text("The invitation expires on")).to_be_visible()
    assert ".." not in guest.page.locator("main").inner_text()


def test_the_editor_has_the_active_switch(cast, stub_credential, open_tab):
    scenario = build(cast.team, {1: ("webhook.trigger", {})})
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    switch = tab.page.get_by_role("switch", name="Active")
    expect(switch).to_have_attribute("aria-checked", "true")
    switch.click()
    expect(tab.page.get_by_role("switch", name="Active")).to_have_attribute("aria-checked", "false")
    scenario.refresh_from_db()
    assert scenario.active is False
    tab.page.get_by_role("switch", name="Active").click()
    expect(tab.page.get_by_role("switch", name="Active")).to_have_attribute("aria-checked", "true")
    scenario.refresh_from_db()
    assert scenario.active is True


def test_the_live_panel_lists_nodes_in_the_order_they_ran(cast, stub_credential, open_tab):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"question": "Order?"}}),
            2: ("webhook.response", {"status": 200, "body": "{{$3.reply}}"}),
            3: ("openai.send_message", {"message": "{{$1.body.question}}"}, stub_credential),
        },
        [(1, 3), (3, 2)],
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    tab.page.locator("#run-form").get_by_role("button", name="Run", exact=True).click()
    editor.wait_status(2, "succeeded")
    rows = tab.page.locator("#live-nodes > li")
    expect(rows).to_have_count(3)
    assert [rows.nth(i).get_attribute("data-number") for i in range(3)] == ["1", "3", "2"]


def test_a_restored_draft_loads_the_model_list_of_its_credential(cast, credential, stub_credential, open_tab):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("openai.send_message", {"message": "Hi"}, credential)},
        [(1, 2)],
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    models = tab.page.locator('#node-form datalist option[value="stub-model-large"]')
    editor.field("API Key", "combobox").select_option(
        label=f"{stub_credential.name} ({stub_credential.host})"
    )
    expect(models).to_have_count(1)
    editor.inspect(1)
    editor.inspect(2)
    expect(tab.page.locator("#inspector")).to_contain_text("Your unsaved changes to this node are back")
    expect(models).to_have_count(1)


def test_a_value_dragged_from_the_picker_maps_it_and_the_field_shows_what_it_resolves_to(
    cast, stub_credential, open_tab
):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"question": "Where is Lyon?", "n": 2}}),
            2: ("openai.send_message", {"message": "Hi"}, stub_credential),
        },
        [(1, 2)],
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    message = editor.field("Message")
    message.fill("")
    pick = tab.page.locator('.picker-node .pick[data-expr="{{$1.body.question}}"]')
    # The picker sits above the form: its value is dragged onto the field in one gesture.
    message.scroll_into_view_if_needed()
    pick.scroll_into_view_if_needed()
    start, end = pick.bounding_box(), message.bounding_box()
    assert start and end
    tab.page.mouse.move(start["x"] + 5, start["y"] + start["height"] / 2)
    tab.page.mouse.down()
    tab.page.mouse.move(end["x"] + 30, end["y"] + 20, steps=10)
    tab.page.mouse.up()
    expect(message).to_have_value("{{$1.body.question}}")
    preview = tab.page.locator('[data-field="message"] .field__preview')
    expect(preview).to_have_text('→ "Where is Lyon?"')
    tab.shot("newcomer-drag-to-map-preview")

    message.fill("Question {{ $1.body.n }}: {{$1.body.question}}")
    expect(preview).to_have_text("→ Question 2: Where is Lyon?")
    message.fill("{{$1.body.nothing}}")
    expect(preview).to_contain_text("No data yet for $1.body.nothing")


def test_listening_for_a_test_call_makes_the_next_call_the_triggers_test_data_without_running_it(
    asgi_server, cast, stub_credential, open_tab
):
    scenario = _city_scenario(cast, stub_credential)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(1)
    tab.page.get_by_role("button", name="Listen for a test call").click()
    expect(tab.page.locator("#test-call")).to_contain_text("Listening for a test call")
    tab.shot("newcomer-listening-for-a-test-call")

    call = httpx.post(f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"city": "Oslo"}, timeout=30)
    assert call.status_code == 200 and "test data" in call.json()["message"]
    expect(editor.field("Test data")).to_have_value('{"city": "Oslo"}')
    assert not Execution.objects.filter(scenario=scenario).exists()
    tab.shot("newcomer-test-call-received")

    # The next call runs the scenario as usual.
    again = httpx.post(f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"city": "Rome"}, timeout=30)
    assert again.status_code == 202
