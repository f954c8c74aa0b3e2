"""/v1/threads/{thread_id}/messages: create, list (with run_id), retrieve, modify (metadata), delete."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http.response import HttpResponseBase

from gateway import lifecycle
from gateway.api import Call, list_page, ok, owned
from gateway.models import Message, Thread
from gateway.threads import add_message


def _create(team_id: Any, thread_id: str, data: dict[str, Any]) -> dict[str, Any]:
    thread = owned(Thread, team_id, thread_id, "thread")
    with transaction.atomic():
        lifecycle.lock(thread.pk)
        lifecycle.check_unlocked_for_message(thread)
        return add_message(thread, data).as_api()


def _list(team_id: Any, thread_id: str, params: dict[str, str]) -> dict[str, Any]:
    thread = owned(Thread, team_id, thread_id, "thread")
    rows = Message.objects.filter(thread=thread)
    if params.get("run_id"):
        rows = rows.filter(run_id=params["run_id"])
    return list_page(rows, params, Message.as_api)


def _message(team_id: Any, thread_id: str, message_id: str) -> Message:
    owned(Thread, team_id, thread_id, "thread")
    return owned(Message, team_id, message_id, "message", thread_id=thread_id)


def _modify(team_id: Any, thread_id: str, message_id: str, data: dict[str, Any]) -> dict[str, Any]:
    message = _message(team_id, thread_id, message_id)
    if data.get("metadata") is not None:
        message.metadata = data["metadata"]
        message.save(update_fields=["metadata"])
    return message.as_api()


def _delete(team_id: Any, thread_id: str, message_id: str) -> dict[str, Any]:
    _message(team_id, thread_id, message_id).delete()
    return {"id": message_id, "object": "thread.message.deleted", "deleted": True}


async def create(call: Call, thread_id: str) -> HttpResponseBase:
    data = call.body("CreateMessageRequest")
    return ok(await sync_to_async(_create)(call.team_id, thread_id, data))


async def listing(call: Call, thread_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_list)(call.team_id, thread_id, call.request.GET.dict()))


async def retrieve(call: Call, thread_id: str, message_id: str) -> HttpResponseBase:
    message = await sync_to_async(_message)(call.team_id, thread_id, message_id)
    return ok(message.as_api())


async def modify(call: Call, thread_id: str, message_id: str) -> HttpResponseBase:
    data = call.body("ModifyMessageRequest")
    return ok(await sync_to_async(_modify)(call.team_id, thread_id, message_id, data))


async def delete(call: Call, thread_id: str, message_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_delete)(call.team_id, thread_id, message_id))
