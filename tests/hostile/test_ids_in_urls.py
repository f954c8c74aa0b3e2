"""Ids and tokens in URLs that no database row can hold: a NUL character (%00) must look exactly like an
unknown id, on SQLite and on PostgreSQL alike (items 4 and 27 of the list)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client

from gateway.models import GatewayKey
from scenarios.models import Execution
from tests.hostile.webhook_calls import responder

POSTGRES = connection.vendor == "postgresql"
BETA = {"OpenAI-Beta": "assistants=v2"}


def _answer(response) -> tuple[int, bytes]:
    return response.status_code, response.content


@pytest.mark.xfail(
    POSTGRES,
    strict=True,
    reason="scenarios/webhooks.py _start looks the token up as it came in the URL; PostgreSQL text "
    "cannot hold NUL, so /hooks/a%00b makes the query fail and the caller gets a 500",
)
def test_a_webhook_token_with_a_nul_character_gets_the_same_404_as_an_unknown_one(cast):
    responder(cast.team)
    client = Client(raise_request_exception=False)
    unknown = _answer(client.post("/hooks/no-such-token", {}, content_type="application/json"))
    assert unknown[0] == 404
    for token in ("a%00b", "%00", "no-such-token%00"):
        assert _answer(client.post(f"/hooks/{token}", {}, content_type="application/json")) == unknown, token
    assert not Execution.objects.exists()


@pytest.mark.xfail(
    POSTGRES,
    strict=True,
    reason="gateway/views: object ids from the URL go into queries as they are; PostgreSQL text cannot "
    "hold NUL, so GET /v1/assistants/asst_%00 (and threads, messages, files, vector stores) is a 500 "
    "instead of OpenAI's 404",
)
@pytest.mark.parametrize(
    ("path", "unknown"),
    [
        ("/v1/assistants/asst_%00", "/v1/assistants/asst_unknown"),
        ("/v1/threads/thread_%00", "/v1/threads/thread_unknown"),
        ("/v1/threads/thread_%00/messages", "/v1/threads/thread_unknown/messages"),
        ("/v1/files/file-%00", "/v1/files/file-unknown"),
        ("/v1/files/file-%00/content", "/v1/files/file-unknown/content"),
        ("/v1/vector_stores/vs_%00", "/v1/vector_stores/vs_unknown"),
    ],
)
def test_a_gateway_id_with_a_nul_character_is_a_404_like_an_unknown_one(cast, path, unknown):
    _, key = GatewayKey.issue(cast.team, "hostile")
    client = Client(raise_request_exception=False, headers={"Authorization": f"Bearer {key}", **BETA})
    expected = client.get(unknown)
    assert expected.status_code == 404
    response = client.get(path)
    assert response.status_code == 404, response.content[:200]
    assert response.json()["error"]["type"] == expected.json()["error"]["type"]


def test_other_tokens_with_a_nul_character_are_plain_404s(cast):
    client = cast.client_for(cast.alice)
    client.raise_request_exception = False
    assert client.get("/invitations/ab%00c/").status_code == 404
    assert client.get("/v1/models/m%00", headers={"Authorization": "Bearer sk-\x00x"}).status_code == 401
