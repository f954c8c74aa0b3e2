from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.urls import reverse

from teams import crypto
from teams.models import Credential, Membership, Role
from tests.teams.conftest import SECRET

pytestmark = pytest.mark.django_db

NEW_SECRET = "sk-proj-NEWSECRET-9c1d2e3f"


def form_data(credential: Credential | None = None, **changes: str) -> dict[str, str]:
    data = {"name": "OpenAI", "base_url": "https://api.openai.com/v1", "default_model": "", "secret": ""}
    if credential is not None:
        data |= {
            "name": credential.name,
            "base_url": credential.base_url,
            "default_model": credential.default_model,
        }
    return data | changes


def edit_url(credential: Credential) -> str:
    return reverse("teams:credential_edit", args=[credential.id])


def test_an_admin_adds_a_credential_and_its_secret_never_comes_back(cast):
    client = cast.client_for(cast.alice)
    response = client.post(
        reverse("teams:credential_new"), form_data(name="Main", secret=NEW_SECRET), follow=True
    )
    assert response.status_code == 200
    credential = Credential.objects.get(name="Main")
    assert credential.team == cast.team
    assert credential.get_secret() == NEW_SECRET
    assert NEW_SECRET not in credential.secret_encrypted
    pages = [response, client.get(reverse("teams:credentials")), client.get(edit_url(credential))]
    pages.append(client.get(reverse("teams:credential_delete", args=[credential.id])))
    for page in pages:
        assert page.status_code == 200
        assert NEW_SECRET not in page.text
        assert NEW_SECRET[:-4] not in page.text
    assert "•••• 2e3f" in pages[1].text


def test_a_form_with_errors_does_not_echo_the_secret(cast, world):
    response = cast.client_for(cast.alice).post(
        reverse("teams:credential_new"), form_data(name=world.credential.name, secret=NEW_SECRET)
    )
    assert response.status_code == 400
    assert f"already has a credential named “{world.credential.name}”" in response.text
    assert NEW_SECRET not in response.text


def test_saving_with_an_empty_secret_keeps_the_old_one(cast, world):
    client = cast.client_for(cast.alice)
    response = client.post(edit_url(world.credential), form_data(world.credential, name="Renamed"))
    assert response.status_code == 302
    world.credential.refresh_from_db()
    assert world.credential.name == "Renamed"
    assert world.credential.get_secret() == SECRET


def test_a_new_secret_replaces_the_old_one(cast, world):
    cast.client_for(cast.alice).post(
        edit_url(world.credential), form_data(world.credential, secret=NEW_SECRET)
    )
    world.credential.refresh_from_db()
    assert world.credential.get_secret() == NEW_SECRET
    assert world.credential.masked == "•••• 2e3f"


def test_the_stored_secret_can_be_removed_explicitly(cast, world):
    cast.client_for(cast.alice).post(
        edit_url(world.credential), form_data(world.credential, clear_secret="on")
    )
    world.credential.refresh_from_db()
    assert world.credential.get_secret() == ""
    assert world.credential.masked == "(no secret)"


def test_moving_the_base_url_to_another_host_needs_the_secret_again(cast, world):
    client = cast.client_for(cast.alice)
    moved = form_data(world.credential, base_url="https://attacker.example/v1")
    response = client.post(edit_url(world.credential), moved)
    assert response.status_code == 400
    assert "now points to attacker.example instead of api.openai.com" in response.text
    world.credential.refresh_from_db()
    assert world.credential.base_url == "https://api.openai.com/v1"
    assert client.post(edit_url(world.credential), moved | {"secret": NEW_SECRET}).status_code == 302
    world.credential.refresh_from_db()
    assert world.credential.host == "attacker.example"
    assert world.credential.get_secret() == NEW_SECRET


def test_a_port_change_is_a_host_change_but_a_path_change_is_not(cast, world):
    client = cast.client_for(cast.alice)
    assert (
        client.post(
            edit_url(world.credential), form_data(world.credential, base_url="https://api.openai.com:8443/v1")
        ).status_code
        == 400
    )
    assert (
        client.post(
            edit_url(world.credential), form_data(world.credential, base_url="https://API.openai.com/v2")
        ).status_code
        == 302
    )
    world.credential.refresh_from_db()
    assert world.credential.get_secret() == SECRET


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("ftp://api.openai.com/v1", "Use an http:// or https:// URL"),
        ("https://user:sk-inurl@api.openai.com/v1", "not in the URL"),
        ("https://api.openai.com/v1?key=1", "cannot have a query"),
    ],
)
def test_bad_base_urls_are_refused(cast, base_url, message):
    response = cast.client_for(cast.alice).post(reverse("teams:credential_new"), form_data(base_url=base_url))
    assert response.status_code == 400
    assert message in response.text
    assert "sk-inurl" not in response.text
    assert not Credential.objects.exists()


def test_a_secret_with_a_line_break_is_refused(cast):
    response = cast.client_for(cast.alice).post(
        reverse("teams:credential_new"), form_data(secret="sk-abc\r\nX-Evil: 1")
    )
    assert response.status_code == 400
    assert "line break" in response.text


def test_the_team_is_never_taken_from_the_form(cast):
    cast.client_for(cast.alice).post(
        reverse("teams:credential_new"), form_data(name="Mine", team=str(cast.other_team.id))
    )
    assert Credential.objects.get(name="Mine").team == cast.team


def test_editors_and_viewers_see_the_list_but_cannot_manage(cast, world):
    for user in (cast.bob, cast.carol):
        client = cast.client_for(user)
        page = client.get(reverse("teams:credentials"))
        assert page.status_code == 200 and "OpenAI" in page.text
        assert edit_url(world.credential) not in page.text
        assert client.get(reverse("teams:credential_new")).status_code == 403
        assert client.post(reverse("teams:credential_new"), form_data(name="x")).status_code == 403
        assert (
            client.post(
                edit_url(world.credential), form_data(world.credential, secret="sk-x-12345678")
            ).status_code
            == 403
        )
    world.credential.refresh_from_db()
    assert world.credential.get_secret() == SECRET


def test_another_teams_credential_is_not_found(cast, world):
    mallory = cast.client_for(cast.mallory)
    for url in (edit_url(world.credential), reverse("teams:credential_delete", args=[world.credential.id])):
        assert mallory.get(url).status_code == 404
        assert mallory.post(url, form_data(secret="sk-evil-00000000")).status_code == 404
    assert "OpenAI" not in mallory.get(reverse("teams:credentials")).text
    assert Credential.objects.filter(pk=world.credential.pk).exists()


def test_deleting_warns_about_the_nodes_using_it_and_unlinks_them(cast, world):
    client = cast.client_for(cast.alice)
    url = reverse("teams:credential_delete", args=[world.credential.id])
    page = client.get(url)
    assert "Used by 1 node." in page.text and "Support bot" in page.text
    assert client.post(url)["Location"] == reverse("teams:credentials")
    assert not Credential.objects.filter(pk=world.credential.pk).exists()
    world.node.refresh_from_db()
    assert world.node.credential is None


def test_an_undecryptable_credential_shows_needs_reentry_not_an_error(cast, world, settings):
    settings.CREDENTIAL_KEYS = [Fernet.generate_key().decode()]
    crypto.reset_keys()
    try:
        client = cast.client_for(cast.alice)
        page = client.get(reverse("teams:credentials"))
        assert page.status_code == 200 and "needs re-entry" in page.text
        assert client.get(edit_url(world.credential)).status_code == 200
        response = client.post(edit_url(world.credential), form_data(world.credential, secret=NEW_SECRET))
        assert response.status_code == 302
        world.credential.refresh_from_db()
        assert world.credential.get_secret() == NEW_SECRET
        assert "needs re-entry" not in client.get(reverse("teams:credentials")).text
    finally:
        crypto.reset_keys()


# ---- inline creation from the node inspector


def inline_data(**changes: str) -> dict[str, str]:
    return {f"new-credential-{key}": value for key, value in form_data(None, **changes).items()}


def test_the_inline_form_is_a_fragment_with_prefixed_fields(cast):
    page = cast.client_for(cast.alice).get(reverse("teams:credential_new") + "?inline=1&select=id_credential")
    assert page.status_code == 200
    assert "<html" not in page.text
    assert 'hx-post="/credentials/new/?inline=1&amp;select=id_credential"' in page.text
    assert 'hx-trigger="submit consume"' in page.text  # never also submits the inspector's form
    assert 'name="new-credential-secret"' in page.text


def test_inline_creation_confirms_and_sends_the_option_to_the_select(cast):
    url = reverse("teams:credential_new") + "?inline=1&select=id_credential"
    response = cast.client_for(cast.alice).post(url, inline_data(name="Inline", secret=NEW_SECRET))
    credential = Credential.objects.get(name="Inline")
    assert credential.get_secret() == NEW_SECRET
    assert response.status_code == 200
    assert "Saved “Inline”; it is now selected." in response.text
    option = f'<div hx-swap-oob="beforeend:#id_credential"><option value="{credential.id}" selected>Inline (api.openai.com)</option></div>'
    assert option in response.text
    event = {"credentialCreated": {"id": str(credential.id), "name": "Inline", "select": "id_credential"}}
    assert json.loads(response["HX-Trigger"]) == event
    assert NEW_SECRET not in response.text + response["HX-Trigger"]


def test_inline_errors_come_back_in_the_fragment_and_odd_select_ids_are_dropped(cast):
    url = reverse("teams:credential_new") + "?inline=1&select=x%22%20onmouseover%3D"
    response = cast.client_for(cast.alice).post(url, inline_data(name="", secret=NEW_SECRET))
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert NEW_SECRET not in response.text
    assert "onmouseover" not in response.text
    assert "HX-Trigger" not in response


def test_inline_creation_for_a_scenario_goes_to_the_scenarios_team(cast, world):
    Membership.objects.create(team=cast.other_team, user=cast.alice, role=Role.VIEWER)
    client = cast.client_for(cast.alice)
    session = client.session
    session["current_team"] = str(cast.other_team.id)
    session.save()
    url = reverse("teams:credential_new") + f"?inline=1&scenario={world.scenario.id}"
    assert client.post(url, inline_data(name="For the scenario")).status_code == 200
    assert Credential.objects.get(name="For the scenario").team == cast.team


def test_inline_creation_for_another_teams_scenario_is_not_found(cast, world):
    url = reverse("teams:credential_new") + f"?inline=1&scenario={world.scenario.id}"
    assert cast.client_for(cast.mallory).post(url, inline_data(name="Evil")).status_code == 404
    assert cast.client_for(cast.mallory).get(url).status_code == 404
    url = reverse("teams:credential_new") + "?inline=1&scenario=nonsense"
    assert cast.client_for(cast.alice).get(url).status_code == 404
    assert not Credential.objects.filter(name="Evil").exists()


def test_an_editor_cannot_create_inline_either(cast, world):
    url = reverse("teams:credential_new") + f"?inline=1&scenario={world.scenario.id}"
    assert cast.client_for(cast.bob).post(url, inline_data(name="Nope")).status_code == 403
    assert not Credential.objects.filter(name="Nope").exists()


def test_an_editor_asking_for_the_inline_form_is_told_whom_to_ask(cast):
    url = reverse("teams:credential_new") + "?inline=1&select=id_credential"
    page = cast.client_for(cast.bob).get(url)
    assert page.status_code == 200
    assert "Only admins and owners of Alice&#x27;s team add credentials" in page.text
    assert "<input" not in page.text
    refused = cast.client_for(cast.bob).post(url, inline_data(name="Sneaky", secret=NEW_SECRET))
    assert refused.status_code == 403
    assert not Credential.objects.filter(name="Sneaky").exists()


def test_a_viewer_and_a_stranger_still_cannot_open_the_inline_form(cast):
    from scenarios.models import Scenario

    scenario = Scenario.objects.create(team=cast.team, name="Alice's")
    url = reverse("teams:credential_new") + f"?inline=1&select=id_credential&scenario={scenario.pk}"
    assert cast.client_for(cast.carol).get(url).status_code == 403
    assert cast.client_for(cast.mallory).get(url).status_code == 404
