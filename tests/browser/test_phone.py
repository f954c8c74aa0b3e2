"""A phone (390×844) over every page: nothing runs past the right edge of the page, and a table too
wide for the screen scrolls inside a labelled region a keyboard can reach (issue 17, the phone)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Tab
from tests.browser.editor_page import EditorPage
from tests.browser.pages import SIGNED_OUT, every_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}

# The outermost elements that reach past the right edge of the page (for the failure message).
PAST_THE_EDGE = """() => {
  const edge = document.documentElement.clientWidth;
  const past = (e) => e.getBoundingClientRect().right > edge + 0.5;
  return [...document.body.querySelectorAll("*")]
    .filter((e) => !e.ownerSVGElement)  // inside a drawing: the <svg> itself stands for it
    .filter((e) => past(e) && !(e.parentElement && e.parentElement !== document.body && past(e.parentElement)))
    .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${[...e.classList].join(".")} right=${Math.round(e.getBoundingClientRect().right)}`);
}"""

# Every table sits in a region that scrolls sideways, has a name and takes the keyboard's focus.
TABLES_OUT_OF_A_REGION = """() => [...document.querySelectorAll("table")]
  .filter((table) => {
    const region = table.closest('[role="region"]');
    return !(region && region.tabIndex === 0 && (region.getAttribute("aria-label") || region.getAttribute("aria-labelledby"))
      && ["auto", "scroll"].includes(getComputedStyle(region).overflowX));
  })
  .map((table) => table.outerHTML.slice(0, 80))"""


def problems_on(tab: Tab, name: str) -> list[str]:
    tab.shot(f"phone-{name}")
    problems: list[str] = []
    width, client = tab.js(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    if width > client:
        problems.append(
            f"{name}: the page is {width} px wide on a {client} px screen: {tab.js(PAST_THE_EDGE)}"
        )
    problems += [
        f"{name}: a table outside a focusable, labelled scroll region: {t}"
        for t in tab.js(TABLES_OUT_OF_A_REGION)
    ]
    return problems


def test_no_page_runs_past_the_edge_of_a_phone(cast, chromium, stub_credential, open_tab):
    pages = every_page(cast, stub_credential)
    problems: list[str] = []

    tab = open_tab(cast.alice, context=chromium.new_context(viewport=PHONE))
    for path, name in SIGNED_OUT:
        tab.goto(path)
        problems += problems_on(tab, name)

    tab = open_tab(cast.alice, **PHONE)
    for path, name in pages.signed_in:
        tab.goto(path)
        problems += problems_on(tab, name)
    # A new gateway key shows once, with a snippet using it.
    tab.goto("/gateway-keys/")
    tab.page.get_by_role("textbox", name="Key name").fill("Phone")
    tab.page.get_by_role("button", name="Create key").click()
    expect(tab.page.get_by_role("textbox", name="API key")).to_be_visible()
    problems += problems_on(tab, "gateway-new-key") + tab.accessibility_problems()

    tab.goto(pages.editor)
    tab.page.wait_for_function("window.scenery && window.scenery.ready")
    problems += problems_on(tab, "editor")
    EditorPage(tab, pages.scenario).inspect(2)
    problems += problems_on(tab, "editor-inspector")

    tab = open_tab(cast.mallory, **PHONE)
    tab.goto(pages.invitation)
    problems += problems_on(tab, "invitation")
    assert not problems, "\n".join(problems)
