"""Ids and tokens in URLs that no database row can hold: a NUL character (%00) must look exactly like an
unknown id, on SQLite and on PostgreSQL alike (items 4 and 27 of the list)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import AsyncClient, Client

from gateway.models import GatewayKey
from scenarios.models import Execution
from tests.hostile.webhook_calls import responder

POSTGRES = connection.vendor == "postgresql"
BETA = {"OpenAI-Beta": "assistants=v2"}


def _answer(response) -> tuple[int, bytes]:
    return response.status_code, response.content


def test_a_webhook_token_with_a_nul_character_gets_the_same_404_as_an_unknown_one(cast):
    responder(cast.team)
    client = Client(raise_request_exception=False)
    unknown = _answer(client.post("/hooks/no-such-token", {}, content_type="application/json"))
    assert unknown[0] == 404
    for token in ("a%00b", "%00", "no-such-token%00"):
        assert _answer(client.post(f"/hooks/{token}", {}, content_type="application/json")) == unknown, token
    assert not Execution.objects.exists()


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
    assert client.get("/teams/%00/").status_code == client.get("/teams/no-such-team/").status_code == 404
    assert client.get("/v1/models/m", headers={"Authorization": "Bearer sk-\x00x"}).status_code == 401


def test_a_gateway_path_with_a_nul_character_is_an_unknown_url_with_or_without_a_key(cast):
    # The gateway tells anyone that it serves no such URL, as for /v1/no-such-endpoint: no id is looked up.
    client = Client(raise_request_exception=False)
    unknown = client.get("/v1/no-such-endpoint")
    for key in ("", "Bearer sk-\x00x", f"Bearer {GatewayKey.issue(cast.team, 'hostile')[1]}"):
        response = client.get("/v1/models/m%00", headers={"Authorization": key})
        assert response.status_code == unknown.status_code == 404
        assert response.json()["error"] == {
            **unknown.json()["error"],
            "message": "Invalid URL (GET /v1/models/m\x00)",
        }


@pytest.mark.django_db(transaction=True)
async def test_the_asgi_stack_answers_a_nul_in_a_path_the_same_way():
    client = AsyncClient(raise_request_exception=False)
    unknown = await client.post("/hooks/no-such-token", {}, content_type="application/json")
    nul = await client.post("/hooks/a%00b", {}, content_type="application/json")
    assert (nul.status_code, nul.content) == (unknown.status_code, unknown.content) == (404, unknown.content)
    gateway = await client.get("/v1/assistants/asst_%00")
    assert gateway.status_code == 404 and gateway.json()["error"]["type"] == "invalid_request_error"
    assert (await client.get("/invitations/ab%00c/")).status_code == 404
