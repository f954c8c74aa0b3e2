from __future__ import annotations

import re

import pytest
from django.urls import reverse

from gateway.models import GatewayConfig, GatewayKey

pytestmark = pytest.mark.django_db


def issue(client, name="CI"):
    response = client.post(reverse("teams:gateway_key_new"), {"name": name})
    assert response.status_code == 201, response.text
    match = re.search(r'value="(sk-scenery-[^"]+)"', response.text)
    assert match, "the key is shown once"
    return match.group(1)


def test_an_admin_creates_a_key_that_is_shown_once_and_stored_hashed(cast):
    client = cast.client_for(cast.alice)
    plaintext = issue(client)
    key = GatewayKey.objects.get(team=cast.team, name="CI")
    assert plaintext not in key.key_hash and plaintext != key.prefix
    assert GatewayKey.authenticate(plaintext) == key
    page = client.get(reverse("teams:gateway"))
    assert page.status_code == 200
    assert plaintext not in page.text and key.prefix in page.text
    assert "/v1" in page.text


def test_a_revoked_key_stops_working(cast):
    client = cast.client_for(cast.alice)
    plaintext = issue(client)
    key = GatewayKey.objects.get(name="CI")
    assert client.post(reverse("teams:gateway_key_revoke", args=[key.pk])).status_code == 302
    assert GatewayKey.authenticate(plaintext) is None
    assert "revoked" in client.get(reverse("teams:gateway")).text


def test_editors_see_keys_but_cannot_create_or_revoke_them(cast):
    key, _ = GatewayKey.issue(cast.team, "Existing")
    bob = cast.client_for(cast.bob)
    assert "Existing" in bob.get(reverse("teams:gateway")).text
    assert bob.post(reverse("teams:gateway_key_new"), {"name": "x"}).status_code == 403
    assert bob.post(reverse("teams:gateway_key_revoke", args=[key.pk])).status_code == 403
    key.refresh_from_db()
    assert not key.revoked and not GatewayKey.objects.filter(name="x").exists()


def test_another_teams_key_is_not_found(cast):
    key, _ = GatewayKey.issue(cast.team, "Alice's")
    assert (
        cast.client_for(cast.mallory).post(reverse("teams:gateway_key_revoke", args=[key.pk])).status_code
        == 404
    )
    key.refresh_from_db()
    assert not key.revoked
    assert "Alice&#x27;s" not in cast.client_for(cast.mallory).get(reverse("teams:gateway")).text


def test_a_key_is_issued_for_the_current_team_whatever_is_posted(cast):
    issue(cast.client_for(cast.alice), name="Mine")
    cast.client_for(cast.alice).post(
        reverse("teams:gateway_key_new"), {"name": "Also", "team": cast.other_team.id}
    )
    assert set(GatewayKey.objects.filter(name__in=["Mine", "Also"]).values_list("team", flat=True)) == {
        cast.team.id
    }


def test_the_provider_is_one_of_the_teams_own_credentials(cast, world):
    client = cast.client_for(cast.alice)
    url = reverse("teams:gateway_settings")
    response = client.post(url, {"provider": str(world.other_credential.id), "default_model": ""})
    assert response.status_code == 400
    assert "Select a valid choice" in response.text
    assert GatewayConfig.for_team(cast.team).provider is None
    assert (
        client.post(url, {"provider": str(world.credential.id), "default_model": "gpt-x"}).status_code == 302
    )
    config = GatewayConfig.for_team(cast.team)
    assert (config.provider, config.default_model) == (world.credential, "gpt-x")
    assert "sk-mallory" not in client.get(reverse("teams:gateway")).text
