"""Threads and messages: life cycle, attachments, filters, and the lock while a run is active."""

from __future__ import annotations

import openai
import pytest

from tests.gateway.conftest import BETA, message_of
from tests.openapi_spec import validate_response

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_a_thread_is_created_with_messages_retrieved_modified_and_deleted(client, raw):
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "Hello", "metadata": {"n": "1"}}],
        metadata={"topic": "greeting"},
    )
    assert thread.id.startswith("thread_")
    body = raw.get(f"/threads/{thread.id}", headers=BETA).json()
    validate_response("ThreadObject", body)
    assert body["metadata"] == {"topic": "greeting"}
    (message,) = client.beta.threads.messages.list(thread.id).data
    assert (
        message.content[0].text.value == "Hello" and message.run_id is None and message.assistant_id is None
    )
    assert message.metadata == {"n": "1"}

    assert client.beta.threads.update(thread.id, metadata={"topic": "changed"}).metadata == {
        "topic": "changed"
    }
    deleted = raw.delete(f"/threads/{thread.id}", headers=BETA).json()
    validate_response("DeleteThreadResponse", deleted)
    assert deleted == {"id": thread.id, "object": "thread.deleted", "deleted": True}
    with pytest.raises(openai.NotFoundError) as gone:
        client.beta.threads.retrieve(thread.id)
    assert message_of(gone) == f"No thread found with id '{thread.id}'."


def test_a_thread_can_be_created_with_no_body_at_all(raw):
    response = raw.post("/threads", headers=BETA)
    assert response.status_code == 200
    validate_response("ThreadObject", response.json())


def test_messages_are_created_listed_retrieved_modified_and_deleted(client, raw):
    thread = client.beta.threads.create()
    first = client.beta.threads.messages.create(thread.id, role="user", content="one")
    second = client.beta.threads.messages.create(
        thread.id, role="assistant", content=[{"type": "text", "text": "two"}], metadata={"k": "v"}
    )
    assert first.id.startswith("msg_")
    body = raw.get(f"/threads/{thread.id}/messages/{second.id}", headers=BETA).json()
    validate_response("MessageObject", body)
    assert body["role"] == "assistant" and body["content"][0]["text"] == {"value": "two", "annotations": []}
    listing = raw.get(f"/threads/{thread.id}/messages", headers=BETA).json()
    validate_response("ListMessagesResponse", listing)
    assert [m["id"] for m in listing["data"]] == [second.id, first.id]

    modified = client.beta.threads.messages.update(first.id, thread_id=thread.id, metadata={"seen": "yes"})
    assert modified.metadata == {"seen": "yes"}
    content_change = raw.post(
        f"/threads/{thread.id}/messages/{first.id}", headers=BETA, json={"content": "x"}
    )
    assert content_change.status_code == 400 and content_change.json()["error"]["param"] == "content"

    deleted = raw.delete(f"/threads/{thread.id}/messages/{first.id}", headers=BETA).json()
    validate_response("DeleteMessageResponse", deleted)
    assert deleted["object"] == "thread.message.deleted"
    assert [m.id for m in client.beta.threads.messages.list(thread.id)] == [second.id]


def test_a_message_of_one_thread_is_not_found_through_another(client):
    one, two = client.beta.threads.create(), client.beta.threads.create()
    message = client.beta.threads.messages.create(one.id, role="user", content="hi")
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.messages.retrieve(message.id, thread_id=two.id)


def test_system_messages_and_more_than_ten_attachments_are_refused(client, raw):
    thread = client.beta.threads.create()
    system = raw.post(f"/threads/{thread.id}/messages", headers=BETA, json={"role": "system", "content": "x"})
    assert system.status_code == 400
    assert (
        system.json()["error"]["message"]
        == "Invalid value: 'system'. Supported values are: 'user' and 'assistant'."
    )
    file = client.files.create(file=("a.txt", b"alpha"), purpose="assistants")
    attachments = [{"file_id": file.id, "tools": [{"type": "file_search"}]}] * 11
    many = raw.post(
        f"/threads/{thread.id}/messages",
        headers=BETA,
        json={"role": "user", "content": "x", "attachments": attachments},
    )
    assert many.status_code == 400 and many.json()["error"]["param"] == "attachments"
    unknown = raw.post(
        f"/threads/{thread.id}/messages",
        headers=BETA,
        json={"role": "user", "content": "x", "attachments": [{"file_id": "file-nope", "tools": []}]},
    )
    assert unknown.status_code == 400 and "file-nope" in unknown.json()["error"]["message"]
    assert client.beta.threads.messages.list(thread.id).data == []


def test_attachments_go_to_the_threads_tools(client):
    notes = client.files.create(file=("notes.txt", b"Mars is red."), purpose="assistants")
    data = client.files.create(file=("data.csv", b"a,b\n1,2\n"), purpose="assistants")
    thread = client.beta.threads.create()
    message = client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="see files",
        attachments=[
            {"file_id": notes.id, "tools": [{"type": "file_search"}]},
            {"file_id": data.id, "tools": [{"type": "code_interpreter"}]},
        ],
    )
    assert [a.file_id for a in message.attachments] == [notes.id, data.id]
    resources = client.beta.threads.retrieve(thread.id).tool_resources
    (store_id,) = resources.file_search.vector_store_ids
    assert client.vector_stores.retrieve(store_id).file_counts.completed == 1
    assert resources.code_interpreter.file_ids == [data.id]


def test_messages_can_be_filtered_by_run(client):
    assistant = client.beta.assistants.create(model="scenery-echo")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "first"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    client.beta.threads.messages.create(thread.id, role="user", content="second")
    by_run = client.beta.threads.messages.list(thread.id, run_id=run.id).data
    assert [m.content[0].text.value for m in by_run] == ["Echo: first"]
    assert len(client.beta.threads.messages.list(thread.id).data) == 3


def test_a_thread_is_locked_while_a_run_is_active(client):
    assistant = client.beta.assistants.create(model="scenery-echo", tools=[WEATHER])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "call get_weather for Paris"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "requires_action"

    with pytest.raises(openai.BadRequestError) as message_refused:
        client.beta.threads.messages.create(thread.id, role="user", content="hello?")
    assert message_of(message_refused) == f"Can't add messages to {thread.id} while a run {run.id} is active."
    with pytest.raises(openai.BadRequestError) as run_refused:
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
    assert message_of(run_refused) == f"Thread {thread.id} already has an active run {run.id}."

    client.beta.threads.runs.cancel(run.id, thread_id=thread.id)
    client.beta.threads.messages.create(thread.id, role="user", content="unlocked again")
