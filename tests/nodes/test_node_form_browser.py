"""node-form.js in a real browser: conditional fields follow their toggle, key-value rows obey the limit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.staticfiles import finders
from playwright.sync_api import Browser, Page, sync_playwright

from tests.nodes.helpers import form_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    """Our own short-lived Playwright (Debian's Chromium): its event loop is gone when this module
    ends, so the asyncio tests that follow get theirs."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def tab(chromium: Browser) -> Iterator[Page]:
    page = chromium.new_page()
    try:
        yield page
    finally:
        page.close()


def show(page: Page, key: str, **kwargs) -> None:
    html = str(form_for(key, **kwargs).render())
    html = html.replace('<script src="/static/nodes/node-form.js"></script>', "")
    page.set_content(f"<!doctype html><form>{html}</form>")
    page.add_script_tag(path=finders.find("nodes/node-form.js"))


def test_turning_new_message_on_shows_the_message_fields_at_once(tab):
    show(tab, "openai.create_thread")
    content = tab.locator("#id_content")
    assert not content.is_visible()
    tab.get_by_role("checkbox", name="New message").check()
    assert content.is_visible()
    assert tab.get_by_role("combobox", name="Entity role", exact=True).is_visible()
    tab.get_by_role("checkbox", name="New message").uncheck()
    assert not content.is_visible()


def test_the_accessible_names_are_the_seed_labels(tab):
    show(tab, "openai.create_assistant", models=["gpt-4o"])
    for role, name in [
        ("combobox", "API Key"),
        ("combobox", "Model ID"),
        ("textbox", "File IDs list"),
        ("group", "Metadata"),
        ("textbox", "Assistant name"),
        ("textbox", "Description"),
        ("textbox", "System instructions"),
        ("checkbox", "Code interpreter"),
        ("checkbox", "Retrieval"),
        ("textbox", "Function"),
    ]:
        assert tab.get_by_role(role, name=name, exact=True).count() == 1, (role, name)
        if role != "group":
            assert tab.get_by_label(name, exact=True).count() == 1, name


def test_metadata_rows_are_added_up_to_16_and_removed_with_their_labels_renumbered(tab):
    show(tab, "openai.modify_run")
    add = tab.get_by_role("button", name="Add pair")
    for _ in range(20):
        if add.is_disabled():
            break
        add.click()
    assert tab.locator("[data-pairs-rows] > [data-pairs-row]").count() == 16
    assert add.is_disabled()
    tab.get_by_role("textbox", name="Metadata key 16", exact=True).fill("last")
    tab.get_by_role("button", name="Remove Metadata pair 1", exact=True).click()
    assert tab.locator("[data-pairs-rows] > [data-pairs-row]").count() == 15
    assert tab.get_by_role("textbox", name="Metadata key 15", exact=True).input_value() == "last"
    assert add.is_enabled()


def test_removing_the_last_row_empties_it_instead(tab):
    show(tab, "openai.modify_run", initial={"metadata": {"k": "v"}})
    tab.get_by_role("button", name="Remove Metadata pair 1", exact=True).click()
    assert tab.locator("[data-pairs-rows] > [data-pairs-row]").count() == 1
    assert tab.get_by_role("textbox", name="Metadata key 1", exact=True).input_value() == ""


def test_loading_the_script_twice_does_not_double_the_behaviour(tab):
    show(tab, "openai.modify_run")
    tab.add_script_tag(path=finders.find("nodes/node-form.js"))
    tab.get_by_role("button", name="Add pair").click()
    assert tab.locator("[data-pairs-rows] > [data-pairs-row]").count() == 2
