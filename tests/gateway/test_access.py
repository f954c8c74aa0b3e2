"""Who may call the gateway: team keys (hashed, revocable), the beta header, and team isolation."""

from __future__ import annotations

import hashlib

import httpx
import openai
import pytest

from gateway.models import GatewayKey
from gateway.provisioning import ensure_team_gateway_key
from tests.gateway.conftest import BETA, message_of

pytestmark = pytest.mark.django_db(transaction=True)


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "param", "code"}
    return body["error"]


def test_a_request_without_a_key_is_refused_with_openai_401(base_url):
    response = httpx.get(f"{base_url}/assistants", headers=BETA)
    assert response.status_code == 401
    assert "didn't provide an API key" in error_of(response)["message"]


def test_an_unknown_key_is_refused_and_not_echoed(base_url):
    wrong = "sk-scenery-not-a-real-key-0123456789"
    response = httpx.get(f"{base_url}/files", headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "invalid_api_key"
    assert wrong not in response.text


def test_a_key_is_stored_only_as_its_hash_with_a_visible_prefix(cast):
    key, plaintext = GatewayKey.issue(cast.team, "CI")
    assert plaintext.startswith("sk-scenery-")
    assert key.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext.startswith(key.prefix) and len(key.prefix) < len(plaintext) - 20
    stored = GatewayKey.objects.filter(pk=key.pk).values().get()
    assert not any(plaintext in str(value) for value in stored.values())


def test_a_revoked_key_stops_working_at_once(cast, base_url):
    key, plaintext = GatewayKey.issue(cast.team, "Short-lived")
    headers = {"Authorization": f"Bearer {plaintext}"}
    assert httpx.get(f"{base_url}/files", headers=headers).status_code == 200
    key.revoke()
    assert httpx.get(f"{base_url}/files", headers=headers).status_code == 401


def test_using_a_key_records_when_it_was_last_used(cast, raw, key):
    stored = GatewayKey.objects.get(key_hash=hashlib.sha256(key.encode()).hexdigest())
    assert stored.last_used_at is None
    raw.get("/files")
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_assistants_and_threads_need_the_beta_header_but_files_do_not(raw):
    for path in ("/assistants", "/threads/thread_x/messages"):
        response = raw.get(path)
        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "invalid_beta"
        assert error["message"] == (
            "You must provide the 'OpenAI-Beta' header to access the Assistants API. Please try again by "
            "setting the header 'OpenAI-Beta: assistants=v2'."
        )
    old = raw.post("/threads", headers={"OpenAI-Beta": "assistants=v1"})
    assert old.status_code == 400 and error_of(old)["code"] == "invalid_beta"
    assert raw.get("/files").status_code == 200


def test_another_teams_objects_are_404_exactly_like_unknown_ids(client, other_client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create()
    file = client.files.create(file=("a.txt", b"alpha"), purpose="assistants")

    with pytest.raises(openai.NotFoundError) as stranger:
        other_client.beta.assistants.retrieve(assistant.id)
    with pytest.raises(openai.NotFoundError) as unknown:
        other_client.beta.assistants.retrieve("asst_doesnotexist")
    assert message_of(stranger) == f"No assistant found with id '{assistant.id}'."
    assert message_of(unknown) == "No assistant found with id 'asst_doesnotexist'."

    for attempt in (
        lambda: other_client.beta.threads.retrieve(thread.id),
        lambda: other_client.beta.threads.messages.list(thread.id),
        lambda: other_client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id),
        lambda: other_client.beta.assistants.update(assistant.id, name="taken"),
        lambda: other_client.beta.assistants.delete(assistant.id),
        lambda: other_client.files.retrieve(file.id),
        lambda: other_client.files.content(file.id),
        lambda: other_client.files.delete(file.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert other_client.beta.assistants.list().data == []
    assert other_client.files.list().data == []
    # Nothing of alice's was touched.
    assert client.beta.assistants.retrieve(assistant.id).name is None
    assert client.files.retrieve(file.id).id == file.id


def test_a_team_cannot_use_another_teams_assistant_on_its_own_thread(client, other_client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    own_thread = other_client.beta.threads.create()
    with pytest.raises(openai.NotFoundError):
        other_client.beta.threads.runs.create(thread_id=own_thread.id, assistant_id=assistant.id)


def test_provisioning_issues_a_working_key_and_revokes_the_previous_one(cast, settings, base_url):
    settings.SCENERY_BASE_URL = "http://gateway.example:8000/"
    url, first = ensure_team_gateway_key(cast.team)
    assert url == "http://gateway.example:8000/v1"
    _, second = ensure_team_gateway_key(cast.team)
    assert first != second
    assert httpx.get(f"{base_url}/models", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    assert httpx.get(f"{base_url}/models", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert GatewayKey.objects.filter(team=cast.team, name="Demo", revoked=False).count() == 1


def test_unknown_paths_and_methods_answer_in_openai_error_format(raw):
    missing = raw.get("/no-such-endpoint")
    assert missing.status_code == 404
    assert error_of(missing)["message"] == "Invalid URL (GET /v1/no-such-endpoint)"
    wrong_method = raw.put("/files")
    assert wrong_method.status_code == 405
    error_of(wrong_method)
