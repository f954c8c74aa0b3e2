"""HTTP Request in the browser: the credential form shows the fields of the chosen kind, and the
node's form runs once against a loopback server; both on a desktop and a phone, checked by axe-core."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.browser.editor_page import EditorPage
from tests.engine.conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def shot(tab: Any, name: str) -> None:
    """For people to look at (the test asserts nothing about it)."""
    tab.page.wait_for_timeout(300)
    tab.shot(name)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_credential_form_shows_the_fields_of_the_chosen_kind(cast, open_tab, size):
    tab = open_tab(cast.alice, **(PHONE if size == "phone" else {}))
    tab.goto(reverse("teams:credential_new"))
    page = tab.page
    name_field = page.get_by_label("Identifier (user, header or parameter)")
    model_field = page.get_by_label("Default model")
    expect(model_field).to_be_visible()
    expect(name_field).to_be_hidden()

    page.get_by_label("Kind").select_option("header")
    expect(name_field).to_be_visible()
    expect(model_field).to_be_hidden()
    page.locator("#id_name").fill("Weather API")
    page.get_by_label("Base URL").fill("https://api.weather.example")
    name_field.fill("X-API-Key")
    page.get_by_label("API key, token or password").fill("weather-token-1234")
    shot(tab, f"http-credential-form-{size}")
    tab.assert_accessible()

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("cell", name="Weather API A header")).to_be_visible()
    assert "weather-token-1234" not in page.content()


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_the_node_form_runs_once_and_shows_the_answer(cast, open_tab, stub_provider, size):
    stub_provider.handlers["/v1/weather"] = lambda rec: (200, {"sky": "clear", "path": rec.path}, {})
    scenario = build(
        cast.team,
        {1: ("manual.trigger", {}), 2: ("http.request", {"url": f"{stub_provider.base_url}/weather"})},
        [(1, 2)],
    )
    scenario.nodes.filter(number=2).update(position_x=320)
    tab = open_tab(cast.alice, **(PHONE if size == "phone" else {}))
    editor = EditorPage(tab, scenario).open()
    inspector = editor.inspect(2)
    expect(editor.field("URL")).to_have_value(f"{stub_provider.base_url}/weather")
    editor.field("Body", "combobox").select_option("json")
    expect(editor.field("JSON body")).to_be_visible()
    editor.field("Body", "combobox").select_option("none")
    # Add new opens the credential form on a generic kind, with that kind's fields only.
    inspector.get_by_role("button", name="Add new").click()
    inline = tab.page.locator("#credential-dialog")
    expect(inline.get_by_label("Kind")).to_have_value("bearer")
    expect(inline.get_by_label("Identifier (user, header or parameter)")).to_be_hidden()
    expect(inline.get_by_label("Default model")).to_be_hidden()
    inline.get_by_label("Kind").select_option("query")
    expect(inline.get_by_label("Identifier (user, header or parameter)")).to_be_visible()
    shot(tab, f"http-credential-dialog-{size}")
    tab.assert_accessible()
    inline.get_by_role("button", name="Close").click()
    editor.run_once()
    expect(inspector.get_by_text('"clear"').first).to_be_visible()
    assert stub_provider.last("/v1/weather").method == "GET"
    shot(tab, f"http-node-form-{size}")
    tab.assert_accessible()
