"""/v1/vector_stores: create, list, retrieve, modify, delete (file search's stores of files); their
files (add, list, retrieve, update attributes, remove), file batches (create, retrieve, cancel, list
files) and search."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.http.response import HttpResponseBase
from django.utils import timezone

from gateway import file_batches, resources, search
from gateway.api import Call, list_page, ok, owned
from gateway.errors import GatewayError, invalid
from gateway.models import VectorStore, VectorStoreFile, VectorStoreFileBatch


def _create(team_id: Any, data: dict[str, Any]) -> dict[str, Any]:
    store = resources.create_vector_store(
        team_id,
        file_ids=data.get("file_ids") or [],
        name=data.get("name") or "",
        description=data.get("description") or "",
        metadata=data.get("metadata"),
        expires_after=data.get("expires_after"),
        chunking_strategy=data.get("chunking_strategy"),
    )
    return store.as_api()


def _list(team_id: Any, params: dict[str, str]) -> dict[str, Any]:
    return list_page(VectorStore.objects.filter(team_id=team_id), params, VectorStore.as_api)


def _retrieve(team_id: Any, store_id: str) -> dict[str, Any]:
    return owned(VectorStore, team_id, store_id, "vector_store").as_api()


def _modify(team_id: Any, store_id: str, data: dict[str, Any]) -> dict[str, Any]:
    store = owned(VectorStore, team_id, store_id, "vector_store")
    if data.get("name") is not None:
        store.name = data["name"]
    if data.get("metadata") is not None:
        store.metadata = data["metadata"]
    if "expires_after" in data:
        store.expires_after = data["expires_after"]
        store.expires_at = (
            timezone.now() + timedelta(days=data["expires_after"]["days"]) if data["expires_after"] else None
        )
    store.save()
    return store.as_api()


def _delete(team_id: Any, store_id: str) -> dict[str, Any]:
    owned(VectorStore, team_id, store_id, "vector_store").delete()
    return {"id": store_id, "object": "vector_store.deleted", "deleted": True}


async def create(call: Call) -> HttpResponseBase:
    return ok(await sync_to_async(_create)(call.team_id, call.body("CreateVectorStoreRequest")))


async def listing(call: Call) -> HttpResponseBase:
    return ok(await sync_to_async(_list)(call.team_id, call.request.GET.dict()))


async def retrieve(call: Call, vector_store_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_retrieve)(call.team_id, vector_store_id))


async def modify(call: Call, vector_store_id: str) -> HttpResponseBase:
    data = call.body("UpdateVectorStoreRequest")
    return ok(await sync_to_async(_modify)(call.team_id, vector_store_id, data))


async def delete(call: Call, vector_store_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_delete)(call.team_id, vector_store_id))


# -- files --------------------------------------------------------------------------------------------

FILE_STATUSES = VectorStoreFile.Status.values


def _entry(store: VectorStore, file_id: str) -> VectorStoreFile:
    entry = store.entries.select_related("file").filter(file_id=file_id).first()
    if entry is None:
        raise GatewayError(f"No file found with id '{file_id}' in vector store '{store.id}'.", status=404)
    return entry


def _add_file(team_id: Any, store_id: str, data: dict[str, Any]) -> dict[str, Any]:
    store = owned(VectorStore, team_id, store_id, "vector_store")
    resources.check_chunking(data.get("chunking_strategy"))
    (file,) = resources.team_files(team_id, [data["file_id"]], "file_id")
    entry = resources.add_file(store, file, data.get("chunking_strategy"), data.get("attributes"))
    return entry.as_api()


def _entries(rows: Any, params: dict[str, str]) -> dict[str, Any]:
    wanted = params.get("filter")
    if wanted:
        if wanted not in FILE_STATUSES:
            supported = ", ".join(f"'{s}'" for s in FILE_STATUSES)
            raise invalid(
                f"Invalid value: '{wanted}'. Supported values are: {supported}.", "filter", "invalid_value"
            )
        rows = rows.filter(status=wanted)
    return list_page(rows.select_related("file"), params, VectorStoreFile.as_api, key="file_id")


def _list_files(team_id: Any, store_id: str, params: dict[str, str]) -> dict[str, Any]:
    store = owned(VectorStore, team_id, store_id, "vector_store")
    return _entries(store.entries.all(), params)


def _retrieve_file(team_id: Any, store_id: str, file_id: str) -> dict[str, Any]:
    return _entry(owned(VectorStore, team_id, store_id, "vector_store"), file_id).as_api()


def _update_file(team_id: Any, store_id: str, file_id: str, data: dict[str, Any]) -> dict[str, Any]:
    entry = _entry(owned(VectorStore, team_id, store_id, "vector_store"), file_id)
    entry.attributes = data["attributes"]
    entry.save(update_fields=["attributes"])
    return entry.as_api()


def _remove_file(team_id: Any, store_id: str, file_id: str) -> dict[str, Any]:
    _entry(owned(VectorStore, team_id, store_id, "vector_store"), file_id).delete()  # the file itself stays
    return {"id": file_id, "object": "vector_store.file.deleted", "deleted": True}


async def add_file(call: Call, vector_store_id: str) -> HttpResponseBase:
    data = call.body("CreateVectorStoreFileRequest")
    return ok(await sync_to_async(_add_file)(call.team_id, vector_store_id, data))


async def list_files(call: Call, vector_store_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_list_files)(call.team_id, vector_store_id, call.request.GET.dict()))


async def retrieve_file(call: Call, vector_store_id: str, file_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_retrieve_file)(call.team_id, vector_store_id, file_id))


async def update_file(call: Call, vector_store_id: str, file_id: str) -> HttpResponseBase:
    data = call.body("UpdateVectorStoreFileAttributesRequest")
    return ok(await sync_to_async(_update_file)(call.team_id, vector_store_id, file_id, data))


async def remove_file(call: Call, vector_store_id: str, file_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_remove_file)(call.team_id, vector_store_id, file_id))


# -- file batches ---------------------------------------------------------------------------------------


def _batch(team_id: Any, store_id: str, batch_id: str) -> VectorStoreFileBatch:
    store = owned(VectorStore, team_id, store_id, "vector_store")
    batch = store.batches.filter(pk=batch_id).first()
    if batch is None:
        raise GatewayError(
            f"No file batch found with id '{batch_id}' in vector store '{store.id}'.", status=404
        )
    return batch


def _create_batch(team_id: Any, store_id: str, data: dict[str, Any]) -> VectorStoreFileBatch:
    store = owned(VectorStore, team_id, store_id, "vector_store")
    strategy, attributes = data.get("chunking_strategy"), data.get("attributes")
    resources.check_chunking(strategy)
    if data.get("file_ids") and data.get("files"):
        raise invalid("Give either 'file_ids' or 'files', not both.", "files")
    if data.get("file_ids"):
        files = resources.team_files(team_id, data["file_ids"], "file_ids")
        items = [(file, strategy, attributes) for file in files]
    else:
        items = []
        for index, item in enumerate(data["files"]):
            resources.check_chunking(item.get("chunking_strategy"), f"files[{index}].chunking_strategy")
            (file,) = resources.team_files(team_id, [item["file_id"]], f"files[{index}].file_id")
            items.append(
                (file, item.get("chunking_strategy") or strategy, item.get("attributes") or attributes)
            )
    return file_batches.create(store, items)


def _retrieve_batch(team_id: Any, store_id: str, batch_id: str) -> dict[str, Any]:
    return _batch(team_id, store_id, batch_id).as_api()


def _cancel_batch(team_id: Any, store_id: str, batch_id: str) -> dict[str, Any]:
    return file_batches.cancel(_batch(team_id, store_id, batch_id)).as_api()


def _batch_files(team_id: Any, store_id: str, batch_id: str, params: dict[str, str]) -> dict[str, Any]:
    return _entries(_batch(team_id, store_id, batch_id).entries.all(), params)


def _processed(batch: VectorStoreFileBatch) -> dict[str, Any]:
    return file_batches.process(batch).as_api()


async def create_batch(call: Call, vector_store_id: str) -> HttpResponseBase:
    data = call.body("CreateVectorStoreFileBatchRequest")
    batch = await sync_to_async(_create_batch)(call.team_id, vector_store_id, data)
    return ok(await sync_to_async(_processed)(batch))


async def retrieve_batch(call: Call, vector_store_id: str, batch_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_retrieve_batch)(call.team_id, vector_store_id, batch_id))


async def cancel_batch(call: Call, vector_store_id: str, batch_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_cancel_batch)(call.team_id, vector_store_id, batch_id))


async def batch_files(call: Call, vector_store_id: str, batch_id: str) -> HttpResponseBase:
    params = call.request.GET.dict()
    return ok(await sync_to_async(_batch_files)(call.team_id, vector_store_id, batch_id, params))


# -- search -------------------------------------------------------------------------------------------


def _search(team_id: Any, store_id: str, data: dict[str, Any]) -> dict[str, Any]:
    store = owned(VectorStore, team_id, store_id, "vector_store")
    query = data["query"]
    queries = [query] if isinstance(query, str) else list(query)
    ranking = data.get("ranking_options") or {}
    hits = search.search(
        [store.id],
        " ".join(queries),
        int(data.get("max_num_results") or 10),
        float(ranking.get("score_threshold") or 0.0),
        data.get("filters"),
    )
    attributes = dict(store.entries.values_list("file_id", "attributes"))
    return {
        "object": "vector_store.search_results.page",
        "search_query": queries,  # used as given: this server does not rewrite queries
        "data": [
            {
                "file_id": hit.file_id,
                "filename": hit.filename,
                "score": hit.score,
                "attributes": attributes.get(hit.file_id) or {},
                "content": [{"type": "text", "text": hit.content}],
            }
            for hit in hits
        ],
        "has_more": False,
        "next_page": None,
    }


async def search_store(call: Call, vector_store_id: str) -> HttpResponseBase:
    data = call.body("VectorStoreSearchRequest")
    return ok(await sync_to_async(_search)(call.team_id, vector_store_id, data))
