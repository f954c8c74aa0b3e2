"""Ids and tokens in URLs that no database row can hold: a NUL character (%00) must look exactly like an
unknown id, on SQLite and on PostgreSQL alike (items 4 and 27 of the list). In the gateway's query
strings and JSON bodies, where ids, names and texts are read, NUL is a clear 400 on both databases."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient, Client

from gateway.models import Assistant, GatewayKey, Message, VectorStore, VectorStoreFile
from scenarios.models import Execution
from scenarios.runtime import webhooks
from tests.hostile.webhook_calls import responder

BETA = {"OpenAI-Beta": "assistants=v2"}


def _answer(response) -> tuple[int, bytes]:
    return response.status_code, response.content


async def _hook(token: str) -> tuple[int, bytes]:
    """A POST to the webhook endpoint (plain ASGI, before Django), the path decoded as servers do."""
    headers = [(b"content-type", b"application/json")]
    response = await HttpCommunicator(
        webhooks.app, "POST", webhooks.url_for(token), b"{}", headers
    ).get_response()
    return response["status"], response["body"]


def test_a_webhook_token_with_a_nul_character_gets_the_same_404_as_an_unknown_one(cast):
    responder(cast.team)
    unknown = async_to_sync(_hook)("no-such-token")
    assert unknown[0] == 404
    for token in ("a\x00b", "\x00", "no-such-token\x00"):
        assert async_to_sync(_hook)(token) == unknown, token
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
    unknown = await _hook("no-such-token")
    assert await _hook("a\x00b") == unknown and unknown[0] == 404
    gateway = await client.get("/v1/assistants/asst_%00")
    assert gateway.status_code == 404 and gateway.json()["error"]["type"] == "invalid_request_error"
    assert (await client.get("/invitations/ab%00c/")).status_code == 404


def _gateway(cast) -> Client:
    _, key = GatewayKey.issue(cast.team, "hostile")
    return Client(raise_request_exception=False, headers={"Authorization": f"Bearer {key}", **BETA})


@pytest.mark.parametrize(
    ("method", "path", "body", "param"),
    [
        ("get", "/v1/assistants?after=asst_%00", None, "after"),
        ("get", "/v1/vector_stores?limit=2&before=vs_%00", None, "before"),
        ("get", "/v1/threads/{thread}/messages?run_id=run_%00", None, "run_id"),
        ("post", "/v1/threads/runs", {"assistant_id": "asst_\x00"}, "assistant_id"),
        ("post", "/v1/threads/{thread}/runs", {"assistant_id": "asst_\x00"}, "assistant_id"),
        ("post", "/v1/vector_stores", {"file_ids": ["file-\x00"]}, "file_ids[0]"),
        ("post", "/v1/assistants", {"model": "m", "metadata": {"k\x00": "v"}}, "metadata.k\\u0000"),
        ("post", "/v1/assistants", {"model": "m", "name": "a\x00b"}, "name"),
        ("post", "/v1/threads/{thread}/messages", {"role": "user", "content": "a\x00b"}, "content"),
    ],
)
def test_a_nul_in_a_gateway_query_or_body_is_a_clear_400_and_nothing_is_stored(
    cast, method, path, body, param
):
    client = _gateway(cast)
    thread = client.post("/v1/threads", "{}", content_type="application/json").json()["id"]
    url = path.format(thread=thread)
    if body is None:
        response = client.get(url)
    else:
        response = client.post(url, json.dumps(body), content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = response.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, "invalid_value")
    assert "NUL character" in error["message"]
    assert (
        not Assistant.objects.exists() and not Message.objects.exists() and not VectorStore.objects.exists()
    )


def test_a_file_with_nul_bytes_is_not_indexed_and_says_why(cast):
    client = _gateway(cast)
    upload = SimpleUploadedFile("notes.txt", b"hello\x00world")
    file_id = client.post("/v1/files", {"purpose": "assistants", "file": upload}).json()["id"]
    response = client.post(
        "/v1/vector_stores", json.dumps({"file_ids": [file_id]}), content_type="application/json"
    )
    assert response.status_code == 200, response.content[:300]
    assert response.json()["file_counts"]["failed"] == 1
    entry = VectorStoreFile.objects.get(file_id=file_id)
    assert entry.status == VectorStoreFile.Status.FAILED
    assert entry.last_error == {
        "code": "unsupported_file",
        "message": "notes.txt is not a UTF-8 text file; this server searches text files only.",
    }
