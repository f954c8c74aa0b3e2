"""In Chromium: adding a credential from the node inspector without leaving it, and switching the
current team from the header."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from scenarios.models import Node, Scenario
from teams.models import Credential, Team
from tests.browser import conftest as browser
from tests.browser.editor_page import EditorPage
from tests.waiting import wait_until

# The browser tests' fixtures (tests/browser/conftest.py), shared.
chromium, open_tab = browser.chromium, browser.open_tab

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SECRET = "sk-inline-BROWSER-secret-4242"


def test_a_credential_added_from_the_inspector_is_selected_and_its_key_never_shown(
    cast,
    stub_credential,
    open_tab,
    asgi_server,
):
    scenario = Scenario.objects.create(team=cast.team, name="Inline", created_by=cast.alice)
    Node.objects.create(
        scenario=scenario,
        number=1,
        kind="openai.send_message",
        credential=stub_credential,
        params={"message": "Hi", "model": "stub-model"},
    )
    tab = open_tab(cast.alice)
    editor = EditorPage(tab, scenario).open()
    inspector = editor.inspect(1)
    inspector.get_by_role("button", name="Add new").click()
    # The editor opens the form in a dialog outside the node's own form (forms cannot nest).
    inline = tab.page.locator("#credential-dialog .credential-inline-form")
    inline.get_by_label("Name").fill("Inline key")
    inline.get_by_label("Base URL").fill(stub_credential.base_url)
    inline.get_by_label("API key").fill(SECRET)
    tab.shot("teams-inline-credential-form")
    posts: list[str] = []
    tab.page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    inline.get_by_role("button", name="Save credential").click()

    expect(tab.page.locator("#credential-dialog-body")).to_contain_text("Saved “Inline key”")
    select = editor.field("API Key", "combobox")
    expect(select.locator("option:checked")).to_have_text(f"Inline key ({stub_credential.host})")
    credential = Credential.objects.get(name="Inline key")
    assert credential.team == cast.team and credential.get_secret() == SECRET
    assert SECRET not in tab.page.content()
    # The inspector's own form was not submitted along: the node keeps its credential until saved.
    assert [url for url in posts if "/nodes/" in url] == []
    assert Node.objects.get(scenario=scenario, number=1).credential == stub_credential
    editor.save_node()
    expect(tab.page.locator("#inspector")).to_be_visible()
    wait_until(
        lambda: Node.objects.get(scenario=scenario, number=1).credential_id == credential.id,
        "the saved node to use the new credential",
    )


def test_switching_the_team_from_the_header(cast, open_tab):
    side = Team.bootstrap(cast.alice, "Side project")
    Scenario.objects.create(team=side, name="Only on the side")
    tab = open_tab(cast.alice)
    tab.goto("/scenarios/")
    expect(tab.page.get_by_text("Only on the side")).to_have_count(0)
    tab.page.locator(".team-switcher summary").click()
    tab.shot("teams-switcher-open")
    tab.page.locator(".team-switcher").get_by_role("button", name="Side project").click()
    expect(tab.page.get_by_text("Only on the side")).to_be_visible()
    expect(tab.page.locator(".team-switcher summary")).to_contain_text("Side project")
