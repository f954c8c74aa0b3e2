"""/v1/threads/{thread_id}/runs: create, list, retrieve, modify (metadata), cancel, submit tool outputs;
and the run's steps."""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from gateway import lifecycle, streaming
from gateway.api import Call, list_page, ok, owned
from gateway.errors import invalid
from gateway.models import Assistant, Run, RunStep, Thread
from gateway.validation import check_tools

SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"


def _thread(team_id: Any, thread_id: str) -> Thread:
    return owned(Thread, team_id, thread_id, "thread")


def _run(team_id: Any, thread_id: str, run_id: str) -> Run:
    _thread(team_id, thread_id)
    lifecycle.expire_overdue(run_id=run_id)
    return owned(Run, team_id, run_id, "run", thread_id=thread_id)


def _create(team_id: Any, thread_id: str, data: dict[str, Any]) -> Run:
    thread = _thread(team_id, thread_id)
    assistant = owned(Assistant, team_id, data["assistant_id"], "assistant")
    check_tools(data.get("tools"))
    return lifecycle.create_run(thread, assistant, {k: v for k, v in data.items() if k != "stream"})


def _list(team_id: Any, thread_id: str, params: dict[str, str]) -> dict[str, Any]:
    thread = _thread(team_id, thread_id)
    lifecycle.expire_overdue(thread_id=thread.pk)
    return list_page(Run.objects.filter(thread=thread), params, Run.as_api)


def _modify(team_id: Any, thread_id: str, run_id: str, data: dict[str, Any]) -> dict[str, Any]:
    run = _run(team_id, thread_id, run_id)
    if data.get("metadata") is not None:
        Run.objects.filter(pk=run.pk).update(metadata=data["metadata"])
        run.metadata = data["metadata"]
    return run.as_api()


def _includes_content(request: HttpRequest) -> bool:
    """Whether `include[]` asks for the file-search results' content (the one value OpenAI knows)."""
    asked = request.GET.getlist("include[]") + request.GET.getlist("include")
    for index, value in enumerate(asked):
        if value != SEARCH_CONTENT:
            raise invalid(
                f"Invalid value: '{value}'. Supported values are: '{SEARCH_CONTENT}'.",
                f"include[{index}]",
                "invalid_value",
            )
    return bool(asked)


def _steps(
    team_id: Any, thread_id: str, run_id: str, params: dict[str, str], content: bool
) -> dict[str, Any]:
    run = _run(team_id, thread_id, run_id)
    return list_page(RunStep.objects.filter(run=run), params, lambda step: step.as_api(content))


def _step(team_id: Any, thread_id: str, run_id: str, step_id: str, content: bool) -> dict[str, Any]:
    run = _run(team_id, thread_id, run_id)
    return owned(RunStep, team_id, step_id, "step", run=run).as_api(content)


async def create(call: Call, thread_id: str) -> HttpResponseBase:
    _includes_content(call.request)
    data = call.body("CreateRunRequest")
    run = await sync_to_async(_create)(call.team_id, thread_id, data)
    if data.get("stream"):
        return streaming.response(streaming.run_events(run))
    return ok(run.as_api())


async def listing(call: Call, thread_id: str) -> HttpResponseBase:
    return ok(await sync_to_async(_list)(call.team_id, thread_id, call.request.GET.dict()))


async def retrieve(call: Call, thread_id: str, run_id: str) -> HttpResponseBase:
    run = await sync_to_async(_run)(call.team_id, thread_id, run_id)
    return ok(run.as_api())


async def modify(call: Call, thread_id: str, run_id: str) -> HttpResponseBase:
    data = call.body("ModifyRunRequest")
    return ok(await sync_to_async(_modify)(call.team_id, thread_id, run_id, data))


async def cancel(call: Call, thread_id: str, run_id: str) -> HttpResponseBase:
    run = await sync_to_async(_run)(call.team_id, thread_id, run_id)
    return ok((await sync_to_async(lifecycle.cancel)(run)).as_api())


async def submit_tool_outputs(call: Call, thread_id: str, run_id: str) -> HttpResponseBase:
    data = call.body("SubmitToolOutputsRunRequest")
    run = await sync_to_async(_run)(call.team_id, thread_id, run_id)
    resumed_at = timezone.now()
    run = await sync_to_async(lifecycle.submit_tool_outputs)(run, data["tool_outputs"])
    if data.get("stream"):
        return streaming.response(streaming.run_events(run, resumed_at=resumed_at))
    return ok(run.as_api())


async def steps(call: Call, thread_id: str, run_id: str) -> HttpResponseBase:
    params = call.request.GET.dict()
    content = _includes_content(call.request)
    return ok(await sync_to_async(_steps)(call.team_id, thread_id, run_id, params, content))


async def step(call: Call, thread_id: str, run_id: str, step_id: str) -> HttpResponseBase:
    content = _includes_content(call.request)
    return ok(await sync_to_async(_step)(call.team_id, thread_id, run_id, step_id, content))
