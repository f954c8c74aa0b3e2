"""/v1/vector_stores: create, list, retrieve, modify, delete (file search's stores of files)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.http.response import HttpResponseBase
from django.utils import timezone

from gateway import resources
from gateway.api import Call, list_page, ok, owned
from gateway.models import VectorStore


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
