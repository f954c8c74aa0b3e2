"""/v1/threads: create, retrieve, modify, delete; /v1/threads/runs: create a thread and run it."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.db import transaction
from django.http.response import HttpResponseBase

from gateway import lifecycle, resources, streaming
from gateway.api import Call, ok, owned
from gateway.models import Assistant, Run, Thread
from gateway.threads import create_thread
from gateway.validation import check_tools


def _create(team_id: Any, data: dict[str, Any]) -> dict[str, Any]:
    return create_thread(team_id, data).as_api()


@transaction.atomic
def _modify(team_id: Any, thread_id: str, data: dict[str, Any]) -> dict[str, Any]:
    thread = owned(Thread, team_id, thread_id, "thread")
    if "tool_resources" in data:
        thread.tool_resources = resources.update(team_id, thread.tool_resources, data["tool_resources"])
    if data.get("metadata") is not None:
        thread.metadata = data["metadata"]
    thread.save()
    return thread.as_api()


def _delete(team_id: Any, thread_id: str) -> dict[str, Any]:
    owned(Thread, team_id, thread_id, "thread").delete()
    return {"id": thread_id, "object": "thread.deleted", "deleted": True}


def _create_and_run(team_id: Any, data: dict[str, Any]) -> tuple[Thread, Run]:
    assistant = owned(Assistant, team_id, data["assistant_id"], "assistant")
    check_tools(data.get("tools"))
    with transaction.atomic():
        thread = create_thread(team_id, data.get("thread") or {}, "thread")
        run_fields = {k: v for k, v in data.items() if k not in ("assistant_id", "thread", "stream")}
        run = lifecycle.create_run(thread, assistant, run_fields)
    return thread, run


async def create(call: Call) -> HttpResponseBase:
    return ok(await sync_to_async(_create)(call.team_id, call.body("CreateThreadRequest")))


async def retrieve(call: Call, thread_id: str) -> HttpResponseBase:
    thread = await sync_to_async(owned)(Thread, call.team_id, thread_id, "thread")
    return ok(thread.as_api())


async def modify(call: Call, thread_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_modify)(call.team_id, thread_id, call.body("ModifyThreadRequest")))


async def delete(call: Call, thread_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_delete)(call.team_id, thread_id))


async def create_and_run(call: Call) -> HttpResponseBase:
    data = call.body("CreateThreadAndRunRequest")
    thread, run = await sync_to_async(_create_and_run)(call.team_id, data)
    if data.get("stream"):
        return streaming.response(
            streaming.run_events(run, [streaming.event("thread.created", thread.as_api())])
        )
    return ok(run.as_api())
