from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from scenarios.models import Execution, Scenario
from teams.models import Credential, Membership, Role
from teams.scoping import SESSION_TEAM_KEY
from tests.teams.conftest import SECRET

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_edits_mallorys_team(cast):
    return Membership.objects.create(team=cast.other_team, user=cast.alice, role=Role.EDITOR)


def test_the_share_page_offers_the_users_other_teams_where_they_edit(cast, world, alice_edits_mallorys_team):
    page = cast.client_for(cast.alice).get(reverse("scenarios:share", args=[world.scenario.id]))
    assert page.status_code == 200
    assert "Mallory&#x27;s team" in page.text
    assert "Credentials stay in Alice&#x27;s team." in page.text and "$2 Ask" in page.text


def test_copying_to_another_team_leaves_the_credentials_behind_and_says_which_nodes_need_one(
    cast, world, alice_edits_mallorys_team
):
    client = cast.client_for(cast.alice)
    url = reverse("scenarios:copy_to_team", args=[world.scenario.id])
    response = client.post(url, {"team": str(cast.other_team.id)})
    copy = Scenario.objects.get(team=cast.other_team, name="Support bot")
    assert response["Location"] == reverse("scenarios:editor", args=[copy.id])
    assert sorted(copy.nodes.values_list("number", "kind", "credential")) == [
        (1, "webhook.trigger", None),
        (2, "openai.send_message", None),
    ]
    assert list(copy.edges.values_list("source__number", "target__number")) == [(1, 2)]
    assert copy.webhook_token != world.scenario.webhook_token
    world.node.refresh_from_db()
    assert world.node.credential == world.credential  # the original is untouched
    page = client.get(response["Location"])
    assert "choose one of Mallory&#x27;s team&#x27;s credentials for $2 Ask" in page.text
    assert client.session[SESSION_TEAM_KEY] == str(cast.other_team.id)


def test_a_copy_never_links_to_a_same_named_credential_of_the_other_team(
    cast, world, alice_edits_mallorys_team
):
    Credential.objects.create(team=cast.other_team, name="OpenAI", base_url="https://evil.example/v1")
    cast.client_for(cast.alice).post(
        reverse("scenarios:copy_to_team", args=[world.scenario.id]), {"team": str(cast.other_team.id)}
    )
    copy = Scenario.objects.get(team=cast.other_team, name="Support bot")
    assert not copy.nodes.filter(credential__isnull=False).exists()


def test_a_viewer_may_copy_into_a_team_of_their_own(cast, world):
    mine = cast.team.__class__.bootstrap(cast.carol, "Carol's team")
    response = cast.client_for(cast.carol).post(
        reverse("scenarios:copy_to_team", args=[world.scenario.id]), {"team": str(mine.id)}
    )
    assert response.status_code == 302
    assert Scenario.objects.filter(team=mine, name="Support bot").exists()


@pytest.mark.parametrize("role", [Role.VIEWER, None])
def test_copying_into_a_team_where_one_cannot_edit_is_refused(cast, world, role):
    if role is not None:
        Membership.objects.create(team=cast.other_team, user=cast.alice, role=role)
    response = cast.client_for(cast.alice).post(
        reverse("scenarios:copy_to_team", args=[world.scenario.id]), {"team": str(cast.other_team.id)}
    )
    assert response.status_code == 400
    assert not Scenario.objects.filter(team=cast.other_team, name="Support bot").exists()


def test_moving_takes_the_scenario_and_its_history_but_not_its_credentials(cast, world):
    Membership.objects.create(team=cast.other_team, user=cast.bob, role=Role.EDITOR)
    client = cast.client_for(cast.bob)
    url = reverse("scenarios:move_to_team", args=[world.scenario.id])
    response = client.post(url, {"team": str(cast.other_team.id), "version": world.scenario.version})
    assert response["Location"] == reverse("scenarios:editor", args=[world.scenario.id])
    moved = Scenario.objects.get(pk=world.scenario.pk)
    assert moved.team == cast.other_team
    assert moved.version == world.scenario.version + 1
    assert moved.webhook_token == world.scenario.webhook_token
    assert not moved.nodes.filter(credential__isnull=False).exists()
    assert moved.executions.filter(pk=world.execution.pk).exists()
    assert Credential.objects.get(pk=world.credential.pk).team == cast.team
    assert cast.client_for(cast.carol).get(reverse("scenarios:editor", args=[moved.id])).status_code == 404


def test_a_move_against_an_older_version_is_refused(cast, world, alice_edits_mallorys_team):
    Scenario.objects.filter(pk=world.scenario.pk).update(
        version=world.scenario.version + 1
    )  # saved elsewhere
    response = cast.client_for(cast.alice).post(
        reverse("scenarios:move_to_team", args=[world.scenario.id]),
        {"team": str(cast.other_team.id), "version": world.scenario.version},
    )
    assert response.status_code == 409
    assert "was changed since this page was opened" in response.text
    assert Scenario.objects.get(pk=world.scenario.pk).team == cast.team


def test_a_scenario_with_running_executions_is_not_moved(cast, world, alice_edits_mallorys_team):
    Execution.objects.create(scenario=world.scenario, trigger="manual", status=Execution.Status.RUNNING)
    response = cast.client_for(cast.alice).post(
        reverse("scenarios:move_to_team", args=[world.scenario.id]),
        {"team": str(cast.other_team.id), "version": world.scenario.version},
    )
    assert response.status_code == 409
    assert Scenario.objects.get(pk=world.scenario.pk).team == cast.team


def test_a_viewer_cannot_move_and_a_stranger_cannot_see(cast, world):
    Membership.objects.create(team=cast.other_team, user=cast.carol, role=Role.EDITOR)
    url = reverse("scenarios:move_to_team", args=[world.scenario.id])
    data = {"team": str(cast.other_team.id), "version": world.scenario.version}
    assert cast.client_for(cast.carol).post(url, data).status_code == 403
    assert cast.client_for(cast.mallory).post(url, data).status_code == 404
    assert Scenario.objects.get(pk=world.scenario.pk).team == cast.team


def test_the_export_is_json_without_any_secret(cast, world):
    world.node.params = {"message": f"key is {SECRET}", "model": "m"}
    world.node.save()
    response = cast.client_for(cast.carol).get(reverse("scenarios:export", args=[world.scenario.id]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="support-bot.json"'
    data = json.loads(response.content)
    assert data["format"] == "scenery.scenario" and data["name"] == "Support bot"
    assert [n["credential"] for n in data["nodes"]] == [None, "OpenAI"]
    assert SECRET not in response.content.decode()
    assert world.scenario.webhook_token not in response.content.decode()
    assert (
        cast.client_for(cast.mallory).get(reverse("scenarios:export", args=[world.scenario.id])).status_code
        == 404
    )


def test_an_export_imports_back_into_the_current_team(cast, world):
    client = cast.client_for(cast.bob)
    exported = client.get(reverse("scenarios:export", args=[world.scenario.id])).content
    upload = SimpleUploadedFile("bot.json", exported, content_type="application/json")
    response = client.post(reverse("scenarios:import"), {"file": upload, "team": str(cast.other_team.id)})
    imported = Scenario.objects.exclude(pk=world.scenario.pk).get(name="Support bot")
    assert response["Location"] == reverse("scenarios:editor", args=[imported.id])
    assert imported.team == cast.team
    assert imported.nodes.get(number=2).credential == world.credential  # same team: linked by name
    assert imported.created_by == cast.bob


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "The file is not valid JSON"),
        (b"\xff\xfe\x00garbage", "The file is not UTF-8 text."),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"format": "something else"}', "This is not a Scenery scenario export"),
    ],
)
def test_a_bad_import_file_gets_a_clear_error_and_creates_nothing(cast, body, message):
    upload = SimpleUploadedFile("bad.json", body, content_type="application/json")
    response = cast.client_for(cast.alice).post(reverse("scenarios:import"), {"file": upload})
    assert response.status_code == 400
    assert message in response.text
    assert not Scenario.objects.exists()


def test_pasted_json_imports_too(cast):
    data = {"format": "scenery.scenario", "version": 1, "name": "Pasted", "nodes": [], "edges": []}
    response = cast.client_for(cast.alice).post(reverse("scenarios:import"), {"text": json.dumps(data)})
    assert response.status_code == 302
    assert Scenario.objects.get(name="Pasted").team == cast.team


def test_a_viewer_cannot_import(cast):
    data = {"format": "scenery.scenario", "version": 1, "name": "Nope", "nodes": [], "edges": []}
    response = cast.client_for(cast.carol).post(reverse("scenarios:import"), {"text": json.dumps(data)})
    assert response.status_code == 403
    assert not Scenario.objects.filter(name="Nope").exists()


def test_nodes_without_a_title_are_named_by_their_type(world):
    from scenarios.views.sharing import node_name

    world.node.label = ""
    assert node_name(world.node) == "$2 Send Message"
    world.node.label = "Ask"
    assert node_name(world.node) == "$2 Ask"


@pytest.mark.parametrize("where", ["name", "description", "label"])
def test_an_import_with_a_nul_character_is_refused_clearly(cast, where):
    node = {"number": 1, "kind": "webhook.trigger", "label": "x\u0000y" if where == "label" else ""}
    data = {"format": "scenery.scenario", "version": 1, "name": "Hook", "nodes": [node], "edges": []}
    data |= {where: "A\u0000B"} if where != "label" else {}
    response = cast.client_for(cast.alice).post(reverse("scenarios:import"), {"text": json.dumps(data)})
    assert response.status_code == 400
    assert "cannot contain NUL" in response.text
    assert not Scenario.objects.exists()
