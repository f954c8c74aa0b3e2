"""Every page a team member meets, with data in it (a run in the history, a gateway key, a pending
invitation), for the passes over all pages: accessibility (axe-core) and the phone."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.urls import reverse

from gateway.models import GatewayKey
from scenarios.models import Execution, Scenario
from teams.models import Credential, Invitation, Role
from tests.conftest import Cast
from tests.editor.conftest import demo
from tests.waiting import wait_until

SIGNED_OUT = [("/login/", "login"), ("/signup/", "signup"), ("/password/reset/", "password-reset")]


@dataclass
class Pages:
    signed_in: list[tuple[str, str]]  # (path, name) as alice, the owner
    scenario: Scenario
    editor: str
    invitation: str  # as someone outside the team opens it


def every_page(cast: Cast, credential: Credential) -> Pages:
    scenario = demo(cast.team, credential)
    cast.client_for(cast.alice).post(
        reverse("scenarios:run", args=[scenario.pk]),
        {"sample_input": json.dumps({"body": {"question": "Hello"}})},
        HTTP_HX_REQUEST="true",
    )
    # The live server's executor runs it (the test's thread holds Playwright's event loop).
    execution = wait_until(
        lambda: Execution.objects.filter(scenario=scenario, finished_at__isnull=False).first(),
        "the run to end",
    )
    GatewayKey.issue(cast.team, "Laptop of the support team")
    _, link = Invitation.issue(cast.team, Role.EDITOR, cast.alice)
    Invitation.issue(cast.team, Role.VIEWER, cast.alice, email="a.rather.long.address@example.com")
    return Pages(
        signed_in=[
            ("/scenarios/", "scenario-list"),
            (f"/scenarios/{scenario.pk}/runs/", "history"),
            (f"/scenarios/{scenario.pk}/runs/{execution.pk}/", "run-detail"),
            ("/credentials/", "credentials"),
            ("/credentials/new/", "credential-new"),
            (f"/credentials/{credential.pk}/", "credential-edit"),
            ("/gateway-keys/", "gateway"),
            ("/teams/", "teams"),
            (f"/teams/{cast.team.pk}/", "team"),
            ("/scenarios/import/", "import"),
            (f"/scenarios/{scenario.pk}/share/", "share"),
            (f"/scenarios/{scenario.pk}/settings/", "scenario-settings"),
            ("/password/change/", "password-change"),
        ],
        scenario=scenario,
        editor=f"/scenarios/{scenario.pk}/",
        invitation=f"/invitations/{link}/",
    )
