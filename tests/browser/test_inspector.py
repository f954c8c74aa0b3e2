"""The inspector in the browser: conditional fields follow their toggle, validation errors show at
the field with the input kept, and a viewer sees everything but cannot change it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.editor_page import EditorPage
from tests.editor.conftest import THREAD, TRIGGER, build, demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_turning_on_new_message_shows_its_fields(cast, stub_credential, open_tab):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (THREAD, {}, stub_credential)}, [(1, 2)])
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    content = editor.field("Message content")
    expect(content).to_be_hidden()
    tab.shot("20-create-thread-new-message-off")
    editor.field("New message", "checkbox").check()
    expect(content).to_be_visible()
    expect(editor.field("Entity role", "combobox")).to_be_visible()
    expect(tab.page.locator("#inspector").get_by_role("group", name="Metadata")).to_be_visible()
    tab.shot("21-create-thread-new-message-on")
    editor.field("New message", "checkbox").uncheck()
    expect(content).to_be_hidden()


def test_a_validation_error_shows_at_the_field_and_keeps_the_input(cast, stub_credential, open_tab):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (THREAD, {}, stub_credential)}, [(1, 2)])
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    editor.field("New message", "checkbox").check()
    editor.field("Node title").fill("Open a conversation")
    metadata = tab.page.locator("#inspector").get_by_role("group", name="Metadata")
    metadata.get_by_role("textbox", name="Metadata key 1").fill("topic")
    metadata.get_by_role("textbox", name="Metadata value 1").fill("billing")
    editor.field("File IDs list").fill('["file-abc", ')
    editor.save_node()

    inspector = tab.page.locator("#inspector")
    expect(inspector.locator(".notice-error")).to_contain_text("Nothing was saved")
    content_row = inspector.locator('[data-field="content"]')
    expect(content_row.locator(".errorlist")).to_contain_text("This field is required.")
    expect(inspector.locator('[data-field="file_ids"] .errorlist')).to_be_visible()
    # Everything typed is still there, and the toggle still shows its fields.
    expect(editor.field("Node title")).to_have_value("Open a conversation")
    expect(editor.field("File IDs list")).to_have_value('["file-abc", ')
    expect(metadata.get_by_role("textbox", name="Metadata key 1")).to_have_value("topic")
    expect(metadata.get_by_role("textbox", name="Metadata value 1")).to_have_value("billing")
    expect(editor.field("New message", "checkbox")).to_be_checked()
    expect(editor.field("Message content")).to_be_visible()
    tab.shot("22-validation-error-at-the-field")
    assert scenario.nodes.get(number=2).params == {}

    editor.field("Message content").fill("Hello there")
    editor.field("File IDs list").fill('["file-abc"]')
    editor.save_node()
    expect(inspector.locator(".notice-ok")).to_have_text("Saved.")
    params = scenario.nodes.get(number=2).params
    assert params["content"] == "Hello there" and params["file_ids"] == ["file-abc"]
    assert params["metadata"] == {"topic": "billing"}
    # The canvas follows the new title.
    assert editor.tab.js("() => window.scenery.cellByNumber(2).attr('title/text')") == "Open a conversation"


def test_a_viewer_opens_nodes_but_cannot_change_anything(cast, open_tab):
    scenario = demo(cast.team)
    tab = open_tab(cast.carol)
    editor = EditorPage(tab, scenario).open()
    expect(tab.page.locator(".catalog-item")).to_have_count(0)
    expect(tab.page.get_by_role("button", name="Run scenario", exact=True)).to_have_count(0)
    editor.inspect(2)
    expect(editor.field("Message")).to_be_disabled()
    expect(tab.page.locator("#inspector").get_by_role("button", name="Save")).to_have_count(0)
    # Dragging does not move a node for a viewer, and nothing is saved.
    box = editor.node(2).bounding_box()
    assert box
    tab.page.mouse.move(box["x"] + 30, box["y"] + 30)
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + 30, box["y"] + 200, steps=6)
    tab.page.mouse.up()
    tab.page.wait_for_timeout(700)
    assert scenario.nodes.get(number=2).position_y == 100.0
    tab.page.keyboard.press("Delete")
    tab.page.wait_for_timeout(300)
    assert editor.numbers() == [1, 2, 3]
    tab.shot("23-viewer-read-only")


def test_unsaved_edits_survive_opening_another_node(cast, stub_credential, open_tab):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (THREAD, {}, stub_credential)}, [(1, 2)])
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    editor.field("New message", "checkbox").check()
    editor.field("Message content").fill("Draft text")
    metadata = tab.page.locator("#inspector").get_by_role("group", name="Metadata")
    metadata.get_by_role("button", name="Add pair").click()
    metadata.get_by_role("textbox", name="Metadata key 2").fill("second")
    editor.inspect(1)
    editor.inspect(2)
    expect(tab.page.locator("#inspector .notice-warn")).to_contain_text("unsaved changes")
    expect(editor.field("New message", "checkbox")).to_be_checked()
    expect(editor.field("Message content")).to_have_value("Draft text")
    expect(metadata.get_by_role("textbox", name="Metadata key 2")).to_have_value("second")
    assert scenario.nodes.get(number=2).params == {}
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    assert scenario.nodes.get(number=2).params["content"] == "Draft text"
    editor.inspect(1)
    editor.inspect(2)
    expect(tab.page.locator("#inspector .notice-warn")).to_have_count(0)


def test_add_new_credential_from_the_node_form(cast, stub_provider, open_tab):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: ("openai.send_message", {"message": "Hi"})}, [(1, 2)])
    tab = open_tab(cast.alice)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    tab.page.locator("#inspector").get_by_role("button", name="Add new").click()
    dialog = tab.page.locator("#credential-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill("Team stub")
    dialog.get_by_label("Base URL").fill(stub_provider.base_url)
    dialog.get_by_label("API key").fill("sk-new-secret-5555")
    tab.shot("24-add-credential-dialog")
    dialog.get_by_role("button", name="Save credential").click()
    expect(dialog).to_be_hidden()
    select = editor.field("API Key", "combobox")
    expect(select.locator("option:checked")).to_contain_text("Team stub")
    expect(tab.page.locator('#node-form datalist option[value="stub-model"]')).to_have_count(1)
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    node = scenario.nodes.get(number=2)
    assert node.credential is not None and node.credential.name == "Team stub"
    assert "sk-new-secret-5555" not in tab.page.content()
