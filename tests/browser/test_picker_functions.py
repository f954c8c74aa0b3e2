"""The data picker's Functions section in the browser: listed by group, inserted into the field that
had focus, refused at save time with the function's signature when misused; desktop and phone,
with axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from scenarios.models import Node
from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_a_function_from_the_picker_goes_into_the_field_and_a_misuse_is_refused_naming_it(
    size, cast, stub_credential, open_tab
):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"question": "  where is Lyon?  "}}),
            2: ("openai.send_message", {"message": "Hi"}, stub_credential),
        },
        [(1, 2)],
    )
    width, height = SIZES[size]
    tab = open_tab(cast.bob, width=width, height=height)
    editor = EditorPage(tab, scenario).open()
    editor.inspect(2)
    functions = tab.page.locator("#inspector .picker-functions")
    functions.locator("summary").click()
    for group in ("Text", "Numbers", "Lists", "Dates", "JSON"):
        expect(functions.get_by_role("heading", name=group, exact=True)).to_be_visible()
    upper = functions.get_by_role("button", name="upper(text)", exact=True)
    upper.scroll_into_view_if_needed()
    tab.shot(f"picker-functions-{size}")
    problems = tab.accessibility_problems()
    assert not problems, "\n".join(problems)

    message = editor.field("Message")
    message.fill("")
    message.focus()
    upper.click()
    expect(message).to_have_value("{{ upper() }}")
    preview = tab.page.locator('[data-field="message"] .field__preview')
    expect(preview).to_have_text("Functions are applied when the node runs: Run once shows the result.")
    editor.save_node()
    expect(tab.page.locator("#inspector")).to_contain_text(
        "upper: takes 1 argument(s), got 0 — write upper(text)"
    )
    tab.shot(f"picker-functions-refused-{size}")
    assert Node.objects.get(scenario=scenario, number=2).params["message"] == "Hi"

    editor.field("Message").fill("{{ upper(trim($1.body.question)) }}")
    editor.save_node()
    expect(tab.page.locator("#inspector .notice-ok")).to_have_text("Saved.")
    assert (
        Node.objects.get(scenario=scenario, number=2).params["message"]
        == "{{ upper(trim($1.body.question)) }}"
    )
