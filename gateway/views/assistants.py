"""/v1/assistants: create, list, retrieve, modify, delete."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http.response import HttpResponseBase

from gateway import resources, upstream
from gateway.api import Call, list_page, ok, owned
from gateway.models import Assistant
from gateway.validation import check_tools

FIELDS = (
    "model",
    "name",
    "description",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
    "reasoning_effort",
)


@transaction.atomic
def _create(team_id: Any, data: dict[str, Any]) -> dict[str, Any]:
    assistant = Assistant(
        team_id=team_id, tool_resources=resources.resolve(team_id, data.get("tool_resources"))
    )
    for field in FIELDS:
        if data.get(field) is not None:
            setattr(assistant, field, data[field])
    assistant.save()
    return assistant.as_api()


@transaction.atomic
def _modify(team_id: Any, assistant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    assistant = owned(Assistant, team_id, assistant_id, "assistant")
    for field in FIELDS:
        if field in data:
            value = data[field]
            if value is None and field in ("model", "tools", "metadata"):
                continue  # not nullable on the object
            setattr(assistant, field, value)
    if "tool_resources" in data:
        assistant.tool_resources = resources.update(team_id, assistant.tool_resources, data["tool_resources"])
    assistant.save()
    return assistant.as_api()


def _delete(team_id: Any, assistant_id: str) -> dict[str, Any]:
    owned(Assistant, team_id, assistant_id, "assistant").delete()
    return {"id": assistant_id, "object": "assistant.deleted", "deleted": True}


async def create(call: Call) -> HttpResponseBase:
    data = call.body("CreateAssistantRequest")
    check_tools(data.get("tools"))
    await upstream.check_model(call.team_id, data["model"])
    return ok(await sync_to_async(_create)(call.team_id, data))


async def listing(call: Call) -> HttpResponseBase:
    rows = Assistant.objects.filter(team_id=call.team_id)
    return ok(await sync_to_async(list_page)(rows, call.request.GET.dict(), Assistant.as_api))


async def retrieve(call: Call, assistant_id: str) -> HttpResponseBase:
    assistant = await sync_to_async(owned)(Assistant, call.team_id, assistant_id, "assistant")
    return ok(assistant.as_api())


async def modify(call: Call, assistant_id: str) -> HttpResponseBase:
    data = call.body("ModifyAssistantRequest")
    check_tools(data.get("tools"))
    if data.get("model") is not None:
        await upstream.check_model(call.team_id, data["model"])
    return ok(await sync_to_async(_modify)(call.team_id, assistant_id, data))


async def delete(call: Call, assistant_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_delete)(call.team_id, assistant_id))
