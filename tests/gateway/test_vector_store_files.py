"""A vector store's files, file batches and search, through the official client."""

from __future__ import annotations

import io

import openai
import pytest

from gateway import file_batches
from gateway.models import File, VectorStore, VectorStoreFile, VectorStoreFileBatch
from tests.openapi_spec import validate_response

pytestmark = pytest.mark.django_db(transaction=True)

TIDES = b"Tides are caused by the gravity of the Moon. Spring tides come at full and new moon.\n"
BEES = b"Honey bees dance to tell the hive where the flowers are.\n"


def text_file(name: str, data: bytes) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_upload_and_poll_fills_an_existing_store_that_search_then_finds(client, raw):
    store = client.vector_stores.create(name="Nature")
    batch = client.vector_stores.file_batches.upload_and_poll(
        store.id, files=[text_file("tides.txt", TIDES), text_file("bees.txt", BEES)]
    )
    assert batch.status == "completed" and batch.id.startswith("vsfb_")
    assert (batch.file_counts.completed, batch.file_counts.total, batch.file_counts.in_progress) == (2, 2, 0)
    validate_response(
        "VectorStoreFileBatchObject", raw.get(f"/vector_stores/{store.id}/file_batches/{batch.id}").json()
    )
    listed = raw.get(f"/vector_stores/{store.id}/file_batches/{batch.id}/files").json()
    validate_response("ListVectorStoreFilesResponse", listed)
    assert sorted(File.objects.get(pk=e["id"]).filename for e in listed["data"]) == ["bees.txt", "tides.txt"]

    refreshed = client.vector_stores.retrieve(store.id)
    assert refreshed.file_counts.completed == 2 and refreshed.usage_bytes == len(TIDES) + len(BEES)
    page = client.vector_stores.search(store.id, query="what causes tides")
    validate_response(
        "VectorStoreSearchResultsPage",
        raw.post(f"/vector_stores/{store.id}/search", json={"query": "moon"}).json(),
    )
    assert page.data[0].filename == "tides.txt" and "gravity of the Moon" in page.data[0].content[0].text
    assert page.search_query == ["what causes tides"]


def test_a_file_is_added_listed_retrieved_given_attributes_and_removed(client, raw):
    store = client.vector_stores.create(name="Docs")
    tides = client.files.create(file=("tides.txt", TIDES, "text/plain"), purpose="assistants")
    picture = client.files.create(
        file=("dot.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"), purpose="assistants"
    )

    added = client.vector_stores.files.create(store.id, file_id=tides.id, attributes={"topic": "sea"})
    assert (added.id, added.status, added.usage_bytes, added.attributes) == (
        tides.id,
        "completed",
        len(TIDES),
        {"topic": "sea"},
    )
    validate_response("VectorStoreFileObject", raw.get(f"/vector_stores/{store.id}/files/{tides.id}").json())
    failed = client.vector_stores.files.create(store.id, file_id=picture.id)
    assert failed.status == "failed" and failed.last_error.code == "unsupported_file"

    assert [f.id for f in client.vector_stores.files.list(store.id, order="asc")] == [tides.id, picture.id]
    assert [f.id for f in client.vector_stores.files.list(store.id, filter="failed")] == [picture.id]
    assert [f.id for f in client.vector_stores.files.list(store.id, order="asc", after=tides.id)] == [
        picture.id
    ]
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.completed, counts.failed, counts.total) == (1, 1, 2)

    updated = client.vector_stores.files.update(
        file_id=tides.id, vector_store_id=store.id, attributes={"topic": "moon"}
    )
    assert updated.attributes == {"topic": "moon"}
    deleted = client.vector_stores.files.delete(file_id=tides.id, vector_store_id=store.id)
    assert deleted.deleted is True and deleted.object == "vector_store.file.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(file_id=tides.id, vector_store_id=store.id)
    assert client.files.retrieve(tides.id).id == tides.id  # removing it from the store keeps the file
    assert client.vector_stores.search(store.id, query="tides").data == []


def test_search_keeps_to_files_whose_attributes_match_the_filters(client):
    store = client.vector_stores.create(name="Mixed")
    for name, data, year in (
        ("old.txt", b"Moon facts from long ago.", 1990),
        ("new.txt", b"Moon facts of today.", 2024),
    ):
        file = client.files.create(file=(name, data, "text/plain"), purpose="assistants")
        client.vector_stores.files.create(
            store.id, file_id=file.id, attributes={"year": year, "kind": "facts"}
        )

    def found(filters: dict) -> list[str]:
        return sorted(
            hit.filename
            for hit in client.vector_stores.search(store.id, query="moon facts", filters=filters).data
        )

    assert found({"type": "gte", "key": "year", "value": 2000}) == ["new.txt"]
    assert found(
        {
            "type": "and",
            "filters": [
                {"type": "eq", "key": "kind", "value": "facts"},
                {"type": "lt", "key": "year", "value": 2000},
            ],
        }
    ) == ["old.txt"]
    assert found({"type": "eq", "key": "kind", "value": "fiction"}) == []
    assert len(client.vector_stores.search(store.id, query="moon", max_num_results=1).data) == 1


def test_cancelling_a_batch_stops_the_files_whose_turn_has_not_come(client, cast):
    store = client.vector_stores.create(name="Slow")
    uploads = [
        client.files.create(file=(f"{i}.txt", TIDES, "text/plain"), purpose="assistants") for i in range(3)
    ]
    waiting = file_batches.create(
        VectorStore.objects.get(pk=store.id), [(File.objects.get(pk=u.id), None, None) for u in uploads]
    )
    assert (
        client.vector_stores.file_batches.retrieve(
            waiting.id, vector_store_id=store.id
        ).file_counts.in_progress
        == 3
    )

    cancelled = client.vector_stores.file_batches.cancel(waiting.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 3
    file_batches.process(VectorStoreFileBatch.objects.get(pk=waiting.id))  # the processing request carries on
    assert set(VectorStoreFile.objects.filter(batch_id=waiting.id).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert (
        client.vector_stores.file_batches.retrieve(waiting.id, vector_store_id=store.id).status == "cancelled"
    )
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.file_batches.cancel(waiting.id, vector_store_id=store.id)


def test_a_batch_names_the_missing_file_and_refuses_a_large_overlap(client):
    store = client.vector_stores.create(name="Strict")
    with pytest.raises(openai.BadRequestError) as missing:
        client.vector_stores.file_batches.create(store.id, file_ids=["file-nope"])
    assert missing.value.body["param"] == "file_ids[0]"  # type: ignore[index]
    tides = client.files.create(file=("tides.txt", TIDES, "text/plain"), purpose="assistants")
    with pytest.raises(openai.BadRequestError) as overlap:
        client.vector_stores.files.create(
            store.id,
            file_id=tides.id,
            chunking_strategy={
                "type": "static",
                "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 60},
            },
        )
    assert overlap.value.body["param"] == "chunking_strategy.static.chunk_overlap_tokens"  # type: ignore[index]
    assert not VectorStoreFileBatch.objects.exists() and not VectorStoreFile.objects.exists()


def test_another_teams_store_files_and_batches_are_not_found(client, other_client):
    store = client.vector_stores.create(name="Mine")
    batch = client.vector_stores.file_batches.upload_and_poll(store.id, files=[text_file("tides.txt", TIDES)])
    for attempt in (
        lambda: other_client.vector_stores.files.list(store.id),
        lambda: other_client.vector_stores.file_batches.retrieve(batch.id, vector_store_id=store.id),
        lambda: other_client.vector_stores.search(store.id, query="tides"),
        lambda: other_client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id),
    ):
        with pytest.raises(openai.NotFoundError):
            attempt()
