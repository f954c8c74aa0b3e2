"""Code and Edit fields in the editor: the code field is a monospace editor, Run once shows the
result and the console lines (or the error with its line), Edit fields' rows add and save; desktop
and phone, with axe-core checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from scenarios.models import NodeRun, Scenario
from tests.browser.editor_page import EditorPage
from tests.browser.test_flow import shot
from tests.engine.conftest import build
from tests.engine.test_data_scenarios import recorded_trigger_output

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CODE = 'console.log("asked:", $1.body.question);\nreturn { words: $1.body.question.split(" ").length };'


@pytest.fixture
def data_scenario(cast) -> Scenario:
    """$1 webhook (with a recorded call) → $2 Code → $3 Edit fields."""
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("data.code", {}), 3: ("data.set", {"include": "all"})},
        [(1, 2), (2, 3)],
    )
    for number, x in {1: 0, 2: 340, 3: 680}.items():
        scenario.nodes.filter(number=number).update(position_x=x, position_y=0)
    recorded_trigger_output(
        scenario, {"method": "POST", "headers": {}, "query": {}, "body": {"question": "why is the sky blue"}}
    )
    return scenario


def test_run_once_of_a_code_node_shows_the_result_and_the_console(cast, data_scenario, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, data_scenario).open()
    inspector = editor.inspect(2)
    code = editor.field("JavaScript code")
    expect(code).to_have_css("white-space", "pre")
    expect(inspector).to_contain_text("JavaScript only")
    code.fill(CODE)
    editor.run_once()

    expect(inspector).to_contain_text("asked: why is the sky blue")
    expect(inspector.locator('[data-status="succeeded"]').first).to_be_visible()
    shot(tab, "code-run-once-desktop")
    tab.assert_accessible()
    run = NodeRun.objects.get(execution__trigger="run_once", node_number=2)
    assert run.output == {"result": {"words": 5}, "console": ["asked: why is the sky blue"]}
    assert not tab.unexpected_errors()


def test_code_that_throws_shows_the_error_with_its_line_on_a_phone(cast, data_scenario, open_tab):
    tab = open_tab(cast.bob, 390, 844)
    editor = EditorPage(tab, data_scenario).open()
    inspector = editor.inspect(2)
    editor.field("JavaScript code").fill('console.log("before");\nreturn $1.body.missing.length;')
    editor.run_once()

    expect(inspector).to_contain_text("cannot read property 'length' of undefined (line 2)")
    shot(tab, "code-error-phone")
    tab.assert_accessible()
    tab.allow_errors("400|422")


@pytest.mark.parametrize(("width", "height", "name"), [(1280, 800, "desktop"), (390, 844, "phone")])
def test_edit_fields_rows_add_and_save(cast, data_scenario, open_tab, width, height, name):
    tab = open_tab(cast.bob, width, height)
    editor = EditorPage(tab, data_scenario).open()
    inspector = editor.inspect(3)
    rows = inspector.get_by_role("group", name="Fields to set")
    rows.get_by_role("textbox", name="Fields to set 1: name").fill("words")
    rows.get_by_role("combobox", name="Fields to set 1: type").select_option("number")
    rows.get_by_role("textbox", name="Fields to set 1: value").fill("{{$2.result.words}}")
    rows.get_by_role("button", name="Add field").click()
    rows.get_by_role("textbox", name="Fields to set 2: name").fill("checked")
    rows.get_by_role("combobox", name="Fields to set 2: type").select_option("boolean")
    rows.get_by_role("textbox", name="Fields to set 2: value").fill("yes")
    shot(tab, f"edit-fields-{name}")
    tab.assert_accessible()
    editor.save_node()

    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    assert data_scenario.nodes.get(number=3).params["fields"] == [
        {"name": "words", "type": "number", "value": "{{$2.result.words}}"},
        {"name": "checked", "type": "boolean", "value": "yes"},
    ]
    assert not tab.unexpected_errors()
