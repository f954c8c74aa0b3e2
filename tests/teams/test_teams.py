from __future__ import annotations

import pytest
from django.urls import reverse

from scenarios.models import Execution, Scenario
from teams.models import Credential, Membership, Role, Team
from teams.scoping import SESSION_TEAM_KEY

pytestmark = pytest.mark.django_db


def test_creating_a_team_makes_the_creator_its_owner_and_current_team(cast):
    client = cast.client_for(cast.carol)
    response = client.post(reverse("teams:create"), {"name": "  Night shift  "})
    team = Team.objects.get(name="Night shift")
    assert response["Location"] == reverse("teams:detail", args=[team.id])
    assert team.role_of(cast.carol) == Role.OWNER
    assert client.session[SESSION_TEAM_KEY] == str(team.id)


def test_creating_a_team_ignores_posted_owner_and_team_fields(cast):
    client = cast.client_for(cast.carol)
    client.post(
        reverse("teams:create"), {"name": "Mine", "owner": cast.mallory.pk, "team": cast.other_team.id}
    )
    team = Team.objects.get(name="Mine")
    assert list(team.memberships.values_list("user__username", "role")) == [("carol", Role.OWNER)]


def test_a_team_needs_a_name(cast):
    response = cast.client_for(cast.carol).post(reverse("teams:create"), {"name": "   "})
    assert response.status_code == 400
    assert "This field is required." in response.text or "Give the team a name." in response.text


def test_switching_teams_is_stored_in_the_session(cast):
    Membership.objects.create(team=cast.other_team, user=cast.bob, role=Role.VIEWER)
    client = cast.client_for(cast.bob)
    response = client.post(reverse("teams:switch"), {"team": str(cast.other_team.id), "next": "/teams/"})
    assert response["Location"] == "/teams/"
    assert client.session[SESSION_TEAM_KEY] == str(cast.other_team.id)
    assert "Mallory&#x27;s team" in client.get(reverse("teams:list")).text


def test_switching_stays_only_on_pages_of_the_current_team(cast):
    Membership.objects.create(team=cast.other_team, user=cast.bob, role=Role.VIEWER)
    client = cast.client_for(cast.bob)
    next_url = reverse("teams:detail", args=[cast.team.id])  # a page of one team: not kept
    response = client.post(reverse("teams:switch"), {"team": str(cast.other_team.id), "next": next_url})
    assert response["Location"] == "/"
    response = client.post(
        reverse("teams:switch"), {"team": str(cast.team.id), "next": "https://evil.example/"}
    )
    assert response["Location"] == "/"


@pytest.mark.parametrize("team", ["other", "bogus", "unknown"])
def test_switching_to_a_team_one_is_not_in_is_not_found(cast, team):
    value = {
        "other": str(cast.other_team.id),
        "bogus": "not-a-uuid",
        "unknown": "00000000-0000-0000-0000-000000000000",
    }
    client = cast.client_for(cast.bob)
    assert client.post(reverse("teams:switch"), {"team": value[team]}).status_code == 404
    assert client.session.get(SESSION_TEAM_KEY) != str(cast.other_team.id)


def test_the_current_team_is_rechecked_on_every_request(cast):
    client = cast.client_for(cast.bob)
    session = client.session
    session[SESSION_TEAM_KEY] = str(cast.other_team.id)  # forged, or membership since revoked
    session.save()
    page = client.get(reverse("teams:credentials"))
    assert page.status_code == 200
    assert "Alice&#x27;s team" in page.text and "Mallory" not in page.text


def test_the_header_lists_the_users_teams_for_switching(cast):
    page = cast.client_for(cast.alice).get(reverse("teams:list"))
    assert reverse("teams:switch") in page.text
    assert f'value="{cast.team.id}"' in page.text
    assert str(cast.other_team.id) not in page.text


def test_an_admin_renames_the_team_and_an_editor_may_not(cast):
    url = reverse("teams:rename", args=[cast.team.id])
    assert cast.client_for(cast.bob).post(url, {"name": "Hijacked"}).status_code == 403
    Membership.objects.filter(team=cast.team, user=cast.bob).update(role=Role.ADMIN)
    assert cast.client_for(cast.bob).post(url, {"name": "Renamed"}).status_code == 302
    cast.team.refresh_from_db()
    assert cast.team.name == "Renamed"


def test_only_an_owner_may_delete_a_team(cast):
    url = reverse("teams:delete", args=[cast.team.id])
    Membership.objects.filter(team=cast.team, user=cast.bob).update(role=Role.ADMIN)
    assert cast.client_for(cast.bob).post(url, {"confirm": cast.team.name}).status_code == 403
    assert cast.client_for(cast.mallory).post(url, {"confirm": cast.team.name}).status_code == 404
    assert Team.objects.filter(pk=cast.team.pk).exists()


def test_deleting_a_team_needs_its_name_typed(cast):
    client = cast.client_for(cast.alice)
    url = reverse("teams:delete", args=[cast.team.id])
    page = client.get(url)
    assert "cannot be undone" in page.text
    response = client.post(url, {"confirm": "alice"})
    assert response.status_code == 400
    assert "exactly to delete this team" in response.text
    assert Team.objects.filter(pk=cast.team.pk).exists()


def test_deleting_a_team_removes_its_scenarios_and_credentials(cast, credential):
    scenario = Scenario.objects.create(team=cast.team, name="s")
    Execution.objects.create(scenario=scenario, trigger="manual", status=Execution.Status.FAILED)
    client = cast.client_for(cast.alice)
    response = client.post(reverse("teams:delete", args=[cast.team.id]), {"confirm": cast.team.name})
    assert response["Location"] == reverse("teams:list")
    assert not Team.objects.filter(pk=cast.team.pk).exists()
    assert not Scenario.objects.filter(pk=scenario.pk).exists()
    assert not Credential.objects.filter(pk=credential.pk).exists()


@pytest.mark.parametrize("status", [Execution.Status.QUEUED, Execution.Status.RUNNING])
def test_a_team_with_queued_or_running_executions_is_not_deleted(cast, status):
    scenario = Scenario.objects.create(team=cast.team, name="busy")
    Execution.objects.create(scenario=scenario, trigger="manual", status=status)
    client = cast.client_for(cast.alice)
    page = client.get(reverse("teams:delete", args=[cast.team.id]))
    assert "1 execution is still queued or running" in page.text
    response = client.post(reverse("teams:delete", args=[cast.team.id]), {"confirm": cast.team.name})
    assert response.status_code == 409
    assert "still queued or running" in response.text
    assert Team.objects.filter(pk=cast.team.pk).exists()
    assert Scenario.objects.filter(pk=scenario.pk).exists()


def test_someone_with_no_team_left_is_offered_to_create_one(cast):
    Membership.objects.filter(user=cast.carol).delete()
    page = cast.client_for(cast.carol).get(reverse("teams:list"))
    assert page.status_code == 200
    assert "You are not in any team" in page.text
