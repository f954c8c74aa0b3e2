"""A credential's key is bound to the scheme, host and port it was entered for: an http downgrade, a
new port or host without entering the key again is refused at the form, and a base URL changed
behind the form's back leaves the key unusable rather than sent there (issue 16, item 4; item 44)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from teams import crypto
from teams.models import Credential
from tests.teams.conftest import SECRET, world

__all__ = ["world"]


@pytest.fixture
def openai_credential(world) -> Credential:
    """Alice's team's OpenAI credential, its key entered for https://api.openai.com."""
    return world.credential


def edit(cast, credential: Credential, base_url: str, secret: str = ""):
    data = {"name": credential.name, "base_url": base_url, "default_model": "", "secret": secret}
    return cast.client_for(cast.alice).post(reverse("teams:credential_edit", args=[credential.id]), data)


def test_an_http_downgrade_without_the_key_is_refused_saying_so(cast, openai_credential):
    response = edit(cast, openai_credential, "http://api.openai.com/v1")
    assert response.status_code == 400
    assert "now points to http://api.openai.com instead of https://api.openai.com" in response.text
    assert "Enter the key again" in response.text
    assert "The stored key cannot be used" not in response.text  # it can, where it was entered for
    openai_credential.refresh_from_db()
    assert openai_credential.base_url == "https://api.openai.com/v1"


@pytest.mark.parametrize("base_url", ["https://api.openai.com:8443/v1", "https://api.openai.example/v1"])
def test_a_new_port_or_host_without_the_key_is_refused(cast, openai_credential, base_url):
    assert edit(cast, openai_credential, base_url).status_code == 400


@pytest.mark.parametrize("base_url", ["https://api.openai.com:443/v1", "https://API.openai.com/v2"])
def test_the_same_origin_spelled_otherwise_keeps_the_key(cast, openai_credential, base_url):
    assert edit(cast, openai_credential, base_url).status_code == 302
    openai_credential.refresh_from_db()
    assert openai_credential.get_secret() == SECRET


def test_entering_the_key_again_allows_the_move(cast, openai_credential):
    assert (
        edit(cast, openai_credential, "http://api.openai.com/v1", secret="sk-proj-AGAIN-5e6f7a8b").status_code
        == 302
    )
    openai_credential.refresh_from_db()
    assert openai_credential.get_secret() == "sk-proj-AGAIN-5e6f7a8b"


def test_a_port_that_is_not_a_number_is_a_clear_error(cast, openai_credential):
    response = edit(cast, openai_credential, "https://api.openai.com:99999/v1")
    assert response.status_code == 400 and "The port must be a number" in response.text


def test_a_base_url_changed_behind_the_forms_back_makes_the_key_unusable_not_sent(cast, openai_credential):
    Credential.objects.filter(pk=openai_credential.pk).update(base_url="http://api.openai.com/v1")
    moved = Credential.objects.get(pk=openai_credential.pk)
    with pytest.raises(crypto.SecretUnreadable, match="entered for https://api.openai.com:443"):
        moved.get_secret()
    assert moved.needs_reentry
    page = cast.client_for(cast.alice).get(reverse("teams:credential_edit", args=[moved.id]))
    assert "The stored key cannot be used as it is" in page.text
    assert moved.readable_secret() == SECRET  # still found and redacted wherever it appears
