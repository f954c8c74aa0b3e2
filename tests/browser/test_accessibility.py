"""axe-core (WCAG 2 A/AA rules) on every page a newcomer meets, at desktop and phone sizes: no
serious or critical violation anywhere, the editor checked with a node open in the inspector and
the history with a run in it."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from gateway.models import GatewayKey
from scenarios.models import Execution
from teams.models import Invitation, Role
from tests.browser.editor_page import EditorPage
from tests.editor.conftest import demo
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


@pytest.mark.parametrize("size", SIZES)
def test_the_signed_out_pages_have_no_serious_accessibility_violation(size, cast, chromium, open_tab):
    width, height = SIZES[size]
    tab = open_tab(cast.alice, context=chromium.new_context(viewport={"width": width, "height": height}))
    problems: list[str] = []
    for path, name in [("/login/", "login"), ("/signup/", "signup"), ("/password/reset/", "password-reset")]:
        tab.goto(path)
        tab.shot(f"a11y-{name}-{size}")
        problems += tab.accessibility_problems()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", SIZES)
def test_the_signed_in_pages_have_no_serious_accessibility_violation(size, cast, stub_credential, open_tab):
    scenario = demo(cast.team, stub_credential)
    cast.client_for(cast.alice).post(
        reverse("scenarios:run", args=[scenario.pk]),
        {"sample_input": json.dumps({"body": {"question": "Hello"}})},
        HTTP_HX_REQUEST="true",
    )
    # The live server's executor runs it (this thread holds Playwright's event loop); wait for its end.
    execution = wait_until(
        lambda: Execution.objects.filter(scenario=scenario, finished_at__isnull=False).first(),
        "the run to end",
    )
    GatewayKey.issue(cast.team, "Laptop")
    _, invitation = Invitation.issue(cast.team, Role.EDITOR, cast.alice)
    width, height = SIZES[size]
    tab = open_tab(cast.alice, width=width, height=height)
    problems: list[str] = []
    pages = [
        ("/scenarios/", "scenario-list"),
        (f"/scenarios/{scenario.pk}/runs/", "history"),
        (f"/scenarios/{scenario.pk}/runs/{execution.pk}/", "run-detail"),
        ("/credentials/", "credentials"),
        ("/credentials/new/", "credential-new"),
        (f"/credentials/{stub_credential.pk}/", "credential-edit"),
        ("/gateway-keys/", "gateway"),
        ("/teams/", "teams"),
        (f"/teams/{cast.team.pk}/", "team"),
        ("/scenarios/import/", "import"),
        (f"/scenarios/{scenario.pk}/share/", "share"),
        ("/password/change/", "password-change"),
    ]
    for path, name in pages:
        tab.goto(path)
        tab.shot(f"a11y-{name}-{size}")
        problems += tab.accessibility_problems()

    editor = EditorPage(tab, scenario).open()
    tab.shot(f"a11y-editor-{size}")
    problems += tab.accessibility_problems()
    editor.inspect(2)
    expect(tab.page.locator("#inspector .node-output")).to_be_attached()
    tab.shot(f"a11y-editor-inspector-{size}")
    problems += tab.accessibility_problems()

    # A link invitation, as someone outside the team opens it.
    tab = open_tab(cast.mallory, width=width, height=height)
    tab.goto(f"/invitations/{invitation}/")
    tab.shot(f"a11y-invitation-{size}")
    problems += tab.accessibility_problems()
    assert not problems, "\n".join(problems)
