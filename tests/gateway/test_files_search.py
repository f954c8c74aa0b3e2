"""Files (kept in the database), vector stores, and file search with citations."""

from __future__ import annotations

from datetime import timedelta

import openai
import pytest
from django.utils import timezone

from gateway import runner, search
from gateway.models import Chunk, File, FileContent
from tests.gateway.conftest import BETA, message_of
from tests.openapi_spec import validate_response

pytestmark = pytest.mark.django_db(transaction=True)

PLANETS = (
    b"Mercury is the closest planet to the Sun. Venus has a thick atmosphere of carbon dioxide.\n\n"
    b"Mars is called the red planet because of iron oxide dust.\n"
)
GARDEN = (
    b"Tomatoes need six hours of sun a day. Basil grows well next to tomatoes.\n\n"
    b"The secret garden password is marigold, and the gate opens at dawn.\n"
)


def test_a_file_is_uploaded_listed_retrieved_downloaded_and_deleted(client, raw):
    file = client.files.create(file=("planets.txt", PLANETS, "text/plain"), purpose="assistants")
    assert file.id.startswith("file-") and file.bytes == len(PLANETS) and file.filename == "planets.txt"
    validate_response("OpenAIFile", raw.get(f"/files/{file.id}").json())
    assert FileContent.objects.get(file_id=file.id).data == PLANETS  # the database holds the bytes

    other = client.files.create(file=("data.jsonl", b"{}\n"), purpose="batch")
    listing = raw.get("/files").json()
    validate_response("ListFilesResponse", listing)
    assert [f["id"] for f in listing["data"]] == [other.id, file.id]
    assert [f.id for f in client.files.list(purpose="assistants")] == [file.id]

    content = client.files.content(file.id)
    assert content.content == PLANETS
    download = raw.get(f"/files/{file.id}/content")
    assert download.headers["content-type"].startswith("text/plain")
    assert download.headers["content-disposition"] == 'attachment; filename="planets.txt"'

    deleted = raw.delete(f"/files/{file.id}").json()
    validate_response("DeleteFileResponse", deleted)
    assert deleted == {"id": file.id, "object": "file", "deleted": True}
    with pytest.raises(openai.NotFoundError) as gone:
        client.files.retrieve(file.id)
    assert message_of(gone) == f"No such File object: {file.id}"
    assert not FileContent.objects.filter(file_id=file.id).exists()


def test_bad_uploads_are_refused_and_nothing_is_stored(client, raw, settings):
    bad_purpose = raw.post("/files", data={"purpose": "memes"}, files={"file": ("a.txt", b"x")})
    assert bad_purpose.status_code == 400 and bad_purpose.json()["error"]["param"] == "purpose"
    no_file = raw.post("/files", data={"purpose": "assistants"}, files={"other": ("a.txt", b"x")})
    assert no_file.status_code == 400 and no_file.json()["error"]["param"] == "other"
    settings.GATEWAY_MAX_FILE_BYTES = 10
    too_big = raw.post("/files", data={"purpose": "assistants"}, files={"file": ("a.txt", b"x" * 11)})
    assert too_big.status_code == 400 and "too large" in too_big.json()["error"]["message"]
    assert client.files.list().data == []


def test_downloading_assistants_files_can_be_switched_off(client, settings):
    file = client.files.create(file=("a.txt", b"secret plans"), purpose="assistants")
    settings.GATEWAY_ALLOW_ASSISTANTS_FILE_DOWNLOAD = False
    with pytest.raises(openai.BadRequestError) as refused:
        client.files.content(file.id)
    assert message_of(refused) == "Not allowed to download files of purpose: assistants"


def test_vector_stores_are_created_retrieved_modified_listed_and_deleted(client, raw):
    file = client.files.create(file=("planets.txt", PLANETS), purpose="assistants")
    picture = client.files.create(file=("pixel.png", b"\x89PNG\r\n\x1a\n\x00\xff\xfe"), purpose="assistants")
    store = client.vector_stores.create(name="Space", file_ids=[file.id, picture.id], metadata={"k": "v"})
    assert store.id.startswith("vs_")
    body = raw.get(f"/vector_stores/{store.id}").json()
    validate_response("VectorStoreObject", body)
    # A binary file cannot be searched: it is counted as failed, not silently dropped.
    assert body["file_counts"] == {"in_progress": 0, "completed": 1, "failed": 1, "cancelled": 0, "total": 2}
    assert body["usage_bytes"] == len(PLANETS)
    assert client.vector_stores.update(store.id, name="Planets").name == "Planets"
    assert [s.id for s in client.vector_stores.list()] == [store.id]
    deleted = raw.delete(f"/vector_stores/{store.id}").json()
    validate_response("DeleteVectorStoreResponse", deleted)
    assert not Chunk.objects.filter(entry__vector_store_id=store.id).exists()
    unknown = raw.post("/vector_stores", json={"file_ids": ["file-nope"]})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "file_ids[0]"


def test_the_full_text_index_ranks_the_relevant_chunk_first(client):
    planets = client.files.create(file=("planets.txt", PLANETS), purpose="assistants")
    garden = client.files.create(file=("garden.txt", GARDEN), purpose="assistants")
    store = client.vector_stores.create(
        file_ids=[planets.id, garden.id],
        chunking_strategy={
            "type": "static",
            "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0},
        },
    )
    hits = search.search([store.id], "What is the garden password?", limit=5)
    assert hits[0].file_id == garden.id and "marigold" in hits[0].content
    assert all(0 <= hit.score <= 1 for hit in hits)
    assert search.search([store.id], "zeppelin", limit=5) == []


def test_file_search_answers_with_a_citation_of_the_file(client, raw):
    planets = client.files.create(file=("planets.txt", PLANETS), purpose="assistants")
    garden = client.files.create(file=("garden.txt", GARDEN), purpose="assistants")
    assistant = client.beta.assistants.create(
        model="scenery-echo",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [planets.id, garden.id]}]}},
    )
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "What is the garden password?"}]
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"

    text = client.beta.threads.messages.list(thread.id).data[0].content[0].text
    assert "marigold" in text.value
    (citation,) = text.annotations
    assert citation.type == "file_citation" and citation.file_citation.file_id == garden.id
    assert text.value[citation.start_index : citation.end_index] == citation.text

    steps = raw.get(f"/threads/{thread.id}/runs/{run.id}/steps?order=asc", headers=BETA).json()["data"]
    search_call = steps[0]["step_details"]["tool_calls"][0]
    assert search_call["type"] == "file_search"
    assert search_call["file_search"]["results"][0]["file_id"] == garden.id
    assert "content" not in search_call["file_search"]["results"][0]
    for step in steps:
        validate_response("RunStepObject", step)
    included = client.beta.threads.runs.steps.list(
        run.id,
        thread_id=thread.id,
        order="asc",
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    ).data[0]
    results = included.step_details.tool_calls[0].file_search.results
    assert "marigold" in results[0].content[0].text


def test_files_attached_to_a_message_are_searched_and_cited(client, provider, stub_provider):
    garden = client.files.create(file=("garden.txt", GARDEN), purpose="assistants")
    assistant = client.beta.assistants.create(model="stub-model", tools=[{"type": "file_search"}])
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(
        thread.id,
        role="user",
        content="When does the gate open?",
        attachments=[{"file_id": garden.id, "tools": [{"type": "file_search"}]}],
    )
    stub_provider.handlers["/v1/chat/completions"] = lambda rec: (
        200,
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": "stub-model",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "At dawn 【1†source】."},
                    "finish_reason": "stop",
                }
            ],
        },
        {},
    )
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    sent = stub_provider.last("/v1/chat/completions").body["messages"]
    excerpts = [m for m in sent if m["role"] == "system" and "【1†source】 file: garden.txt" in m["content"]]
    assert excerpts and "gate opens at dawn" in excerpts[0]["content"]
    text = client.beta.threads.messages.list(thread.id).data[0].content[0].text
    assert [a.file_citation.file_id for a in text.annotations] == [garden.id]
    assert text.annotations[0].text == "【1†source】"


def test_threads_and_assistants_take_one_vector_store_and_twenty_code_files(client, raw):
    file = client.files.create(file=("a.txt", b"alpha"), purpose="assistants")
    one = client.vector_stores.create(file_ids=[file.id])
    two = client.vector_stores.create(file_ids=[file.id])
    both = {"tool_resources": {"file_search": {"vector_store_ids": [one.id, two.id]}}}
    assert raw.post("/threads", headers=BETA, json=both).status_code == 400
    too_many = {"tool_resources": {"code_interpreter": {"file_ids": [file.id] * 21}}}
    assert raw.post("/threads", headers=BETA, json=too_many).status_code == 400
    twenty = {"tool_resources": {"code_interpreter": {"file_ids": [file.id] * 20}}}
    assert raw.post("/threads", headers=BETA, json=twenty).status_code == 200


def test_a_file_with_an_expiry_disappears_once_it_has_expired(client):
    file = client.files.create(
        file=("a.txt", b"short-lived"),
        purpose="assistants",
        expires_after={"anchor": "created_at", "seconds": 3600},
    )
    assert file.expires_at == file.created_at + 3600
    File.objects.filter(pk=file.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    runner.sweep()
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(file.id)
