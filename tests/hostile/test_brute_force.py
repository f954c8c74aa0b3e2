"""Brute force against sign-in, password reset and gateway keys: past a number of attempts per
account and per address, more are refused with a clear message — the right password too — until
THROTTLE_SECONDS have passed (issue 16, item 2; item 42 of the map)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from gateway.models import GatewayKey
from tests.conftest import PASSWORD

THROTTLED = "Too many failed sign-ins for this account or from your address."


def sign_in(username: str, password: str, address: str = "203.0.113.7") -> tuple[Client, str]:
    client = Client(REMOTE_ADDR=address)
    response = client.post(reverse("teams:login"), {"username": username, "password": password})
    return client, response.content.decode()


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused_with_a_clear_message(cast, settings):
    for _ in range(settings.THROTTLE_ACCOUNT_ATTEMPTS):
        client, page = sign_in("alice", "wrong")
        assert not signed_in(client) and THROTTLED not in page
    client, page = sign_in("alice", PASSWORD)
    assert not signed_in(client)
    assert THROTTLED in page and "Try again in 15 minutes." in page


def test_the_account_stays_refused_from_another_address_and_under_another_spelling(cast, settings):
    for _ in range(settings.THROTTLE_ACCOUNT_ATTEMPTS):
        sign_in("alice", "wrong", address="203.0.113.7")
    client, page = sign_in("ALICE", PASSWORD, address="198.51.100.9")
    assert not signed_in(client) and THROTTLED in page


def test_other_accounts_still_sign_in_and_a_success_clears_the_accounts_count(cast, settings):
    for _ in range(settings.THROTTLE_ACCOUNT_ATTEMPTS - 1):
        sign_in("alice", "wrong")
    assert signed_in(sign_in("bob", PASSWORD)[0])
    assert signed_in(sign_in("alice", PASSWORD)[0])
    for _ in range(settings.THROTTLE_ACCOUNT_ATTEMPTS - 1):
        sign_in("alice", "wrong")
    assert signed_in(sign_in("alice", PASSWORD)[0])


def test_one_address_trying_many_accounts_is_refused_for_all_of_them(cast, settings):
    for number in range(settings.THROTTLE_ADDRESS_ATTEMPTS):
        sign_in(f"nobody{number}", "wrong", address="203.0.113.66")
    client, page = sign_in("carol", PASSWORD, address="203.0.113.66")
    assert not signed_in(client) and THROTTLED in page
    assert signed_in(sign_in("carol", PASSWORD, address="203.0.113.67")[0])


def test_password_reset_requests_are_refused_past_the_limit_and_send_nothing_more(cast, settings):
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.THROTTLE_ACCOUNT_ATTEMPTS):
        response = client.post(reverse("teams:password_reset"), {"email": "alice@example.com"})
        assert response.status_code == 302
    sent = len(mail.outbox)
    assert sent == settings.THROTTLE_ACCOUNT_ATTEMPTS
    response = client.post(reverse("teams:password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 200
    assert "Too many password reset requests" in response.content.decode()
    assert len(mail.outbox) == sent


def _models(client: Client, key: str):
    return client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db(transaction=True)
def test_wrong_gateway_keys_from_one_address_get_429_in_openais_envelope(cast, settings):
    _, good = GatewayKey.issue(cast.team, "Tests")
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(settings.THROTTLE_ADDRESS_ATTEMPTS - 1):
        assert _models(client, "sk-scenery-wrong").status_code == 401
    refused = _models(client, "sk-scenery-wrong")
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(settings.THROTTLE_SECONDS)
    error = refused.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "incorrect API keys" in error["message"]
    assert _models(Client(REMOTE_ADDR="198.51.100.9"), "sk-scenery-wrong").status_code == 401
    assert _models(client, good).status_code == 200
