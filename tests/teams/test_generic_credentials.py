"""Credentials of generic kinds (bearer, basic, header, query parameter) for the HTTP Request node:
the form asks for each kind's fields, stores the secret encrypted and bound to its origin, and never
shows it again."""

from __future__ import annotations

import pytest
from django.urls import reverse

from teams.models import Credential
from tests.engine.conftest import build

pytestmark = pytest.mark.django_db

TOKEN = "tok-generic-secret-5678"


def data(**changes: str) -> dict[str, str]:
    return {
        "kind": "header",
        "name": "Weather API",
        "base_url": "https://api.weather.example",
        "auth_name": "X-API-Key",
        "default_model": "",
        "secret": TOKEN,
    } | changes


def test_an_admin_adds_a_header_credential_bound_to_its_host_and_never_sees_the_secret_again(cast):
    client = cast.client_for(cast.alice)
    response = client.post(reverse("teams:credential_new"), data(), follow=True)
    assert response.status_code == 200
    credential = Credential.objects.get(name="Weather API")
    assert (credential.kind, credential.auth_name) == ("header", "X-API-Key")
    assert TOKEN not in credential.secret_encrypted
    assert credential.get_secret() == TOKEN
    assert credential.origin == "https://api.weather.example:443"
    page = client.get(reverse("teams:credential_edit", args=[credential.id])).content.decode()
    assert TOKEN not in page and "•••• 5678" in page
    assert "A header" in client.get(reverse("teams:credentials")).content.decode()


@pytest.mark.parametrize(
    ("kind", "auth_name", "message"),
    [
        ("header", "", "Header name: required for this kind of credential."),
        ("header", "Bad Header", "&#x27;Bad Header&#x27; is not a valid header name."),
        ("header", "Host", "Scenery sets Host itself; choose another header."),
        ("basic", "", "User name: required for this kind of credential."),
        ("basic", "ann:x", "User name: no colons, line breaks or control characters."),
        ("query", "", "Parameter name: required for this kind of credential."),
    ],
)
def test_each_kind_asks_for_its_own_name_field(cast, kind, auth_name, message):
    response = cast.client_for(cast.alice).post(
        reverse("teams:credential_new"), data(kind=kind, auth_name=auth_name)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Credential.objects.exists()


def test_a_generic_credential_needs_its_secret(cast):
    response = cast.client_for(cast.alice).post(
        reverse("teams:credential_new"), data(kind="bearer", secret="")
    )
    assert response.status_code == 400
    assert "Enter the token, password or value this credential sends." in response.content.decode()


def test_a_bearer_credential_keeps_no_name_or_model(cast):
    cast.client_for(cast.alice).post(
        reverse("teams:credential_new"), data(kind="bearer", auth_name="ignored", default_model="gpt-x")
    )
    credential = Credential.objects.get()
    assert (credential.kind, credential.auth_name, credential.default_model) == ("bearer", "", "")


def test_the_form_marks_which_kinds_use_which_fields(cast):
    page = cast.client_for(cast.alice).get(reverse("teams:credential_new")).content.decode()
    assert 'data-kinds="basic header query"' in page
    assert 'data-kinds="openai"' in page
    assert "credential_kinds.js" in page


def test_an_editor_cannot_add_a_generic_credential(cast):
    response = cast.client_for(cast.bob).post(reverse("teams:credential_new"), data())
    assert response.status_code == 403
    assert not Credential.objects.exists()


def test_the_http_nodes_add_new_opens_a_generic_credential_and_offers_no_gateway(cast):
    scenario = build(cast.team, {1: ("manual.trigger", {}), 2: ("http.request", {})}, [(1, 2)])
    node = scenario.nodes.get(number=2)
    client = cast.client_for(cast.alice)
    inspector = client.get(
        reverse("scenarios:inspector", args=[scenario.pk, node.pk]), HTTP_HX_REQUEST="true"
    )
    html = inspector.content.decode()
    assert "&amp;kind=bearer" in html
    assert "Use Scenery&#x27;s built-in gateway" not in html and "Use Scenery's built-in gateway" not in html
    inline = client.get(reverse("teams:credential_new") + f"?inline=1&scenario={scenario.pk}&kind=bearer")
    assert '<option value="bearer" selected>' in inline.content.decode()
    assert (
        'value="https://api.openai.com/v1"' not in inline.content.decode()
    )  # a generic kind has no default host
