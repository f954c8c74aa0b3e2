"""axe-core (WCAG 2 A/AA rules) on every page a newcomer meets, at desktop and phone sizes: no
serious or critical violation anywhere, the editor checked with a node open in the inspector and
with the run dialog open, and the history with a run in it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.editor_page import EditorPage
from tests.browser.pages import SIGNED_OUT, every_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_the_signed_out_pages_have_no_serious_accessibility_violation(size, cast, chromium, open_tab):
    width, height = SIZES[size]
    tab = open_tab(cast.alice, context=chromium.new_context(viewport={"width": width, "height": height}))
    problems: list[str] = []
    for path, name in SIGNED_OUT:
        tab.goto(path)
        tab.shot(f"a11y-{name}-{size}")
        problems += tab.accessibility_problems()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_the_signed_in_pages_have_no_serious_accessibility_violation(size, cast, stub_credential, open_tab):
    pages = every_page(cast, stub_credential)
    width, height = SIZES[size]
    tab = open_tab(cast.alice, width=width, height=height)
    problems: list[str] = []
    for path, name in pages.signed_in:
        tab.goto(path)
        tab.shot(f"a11y-{name}-{size}")
        problems += tab.accessibility_problems()

    editor = EditorPage(tab, pages.scenario).open()
    tab.shot(f"a11y-editor-{size}")
    problems += tab.accessibility_problems()
    editor.inspect(2)
    expect(tab.page.locator("#inspector .node-output")).to_be_attached()
    tab.shot(f"a11y-editor-inspector-{size}")
    problems += tab.accessibility_problems()
    tab.page.get_by_role("button", name="Run scenario", exact=True).click()
    expect(tab.page.locator("#run-form")).to_be_visible()
    tab.shot(f"a11y-editor-run-dialog-{size}")
    problems += tab.accessibility_problems()

    # A link invitation, as someone outside the team opens it.
    tab = open_tab(cast.mallory, width=width, height=height)
    tab.goto(pages.invitation)
    tab.shot(f"a11y-invitation-{size}")
    problems += tab.accessibility_problems()
    assert not problems, "\n".join(problems)
