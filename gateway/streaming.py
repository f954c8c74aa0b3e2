"""A run as OpenAI's server-sent events, read from the database (so any machine can stream any run).

The worker writes rows; this loop polls them and turns each change into the documented events:
thread.run.*, thread.run.step.* (with a delta for tool calls), thread.message.created / in_progress /
delta / completed, and finally `done` with `[DONE]`. A message's text arrives as one delta.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from gateway.models import Message, Run, RunStep

POLL_SECONDS = 0.1
STEP_END_EVENTS = {"completed", "failed", "cancelled", "expired"}


def event(name: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"event: {name}\ndata: {payload}\n\n".encode()


def response(events: AsyncIterator[bytes]) -> StreamingHttpResponse:
    answer = StreamingHttpResponse(events, content_type="text/event-stream")
    answer["Cache-Control"] = "no-cache"
    answer["X-Accel-Buffering"] = "no"
    return answer


@dataclass
class _Seen:
    run_status: str | None = None
    steps: dict[str, str] = field(default_factory=dict)
    messages: set[str] = field(default_factory=set)


def _snapshot(run_id: str) -> tuple[Run | None, list[RunStep], dict[str, Message]]:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None, [], {}
    steps = list(RunStep.objects.filter(run_id=run_id).order_by("created_at", "id"))
    messages = {m.id: m for m in Message.objects.filter(run_id=run_id)}
    return run, steps, messages


def _message_delta(message: Message) -> dict[str, Any]:
    parts = []
    for index, part in enumerate(message.content):
        if part.get("type") == "text":
            annotations = [{"index": i, **a} for i, a in enumerate(part["text"].get("annotations", []))]
            parts.append(
                {
                    "index": index,
                    "type": "text",
                    "text": {"value": part["text"]["value"], "annotations": annotations},
                }
            )
        else:
            parts.append({"index": index, **part})
    return {"id": message.id, "object": "thread.message.delta", "delta": {"content": parts}}


def _step_delta(step: RunStep) -> dict[str, Any] | None:
    calls = step.step_details.get("tool_calls") if step.type == "tool_calls" else None
    if not calls:
        return None
    delta_calls = []
    for index, call in enumerate(calls):
        if call.get("type") == "file_search":
            delta_calls.append({"index": index, "id": call["id"], "type": "file_search", "file_search": {}})
        else:
            delta_calls.append({"index": index, **call})
    return {
        "id": step.id,
        "object": "thread.run.step.delta",
        "delta": {"step_details": {"type": "tool_calls", "tool_calls": delta_calls}},
    }


def _message_events(message: Message) -> list[bytes]:
    opening = {**message.as_api(), "status": "in_progress", "content": [], "completed_at": None}
    opening.update(incomplete_at=None, incomplete_details=None)
    return [
        event("thread.message.created", opening),
        event("thread.message.in_progress", opening),
        event("thread.message.delta", _message_delta(message)),
        event(f"thread.message.{message.status}", message.as_api()),
    ]


def _step_events(step: RunStep, seen: _Seen, messages: dict[str, Message]) -> list[bytes]:
    out: list[bytes] = []
    if step.id not in seen.steps:
        opening = {**step.as_api(), "status": "in_progress", "completed_at": None}
        if step.type == "tool_calls":
            opening["step_details"] = {"type": "tool_calls", "tool_calls": []}
        out += [event("thread.run.step.created", opening), event("thread.run.step.in_progress", opening)]
        delta = _step_delta(step)
        if delta is not None:
            out.append(event("thread.run.step.delta", delta))
        if step.type == "message_creation":
            message = messages.get(step.step_details["message_creation"]["message_id"])
            if message is not None:
                seen.messages.add(message.id)
                out += _message_events(message)
        seen.steps[step.id] = "in_progress"
    if step.status in STEP_END_EVENTS and seen.steps[step.id] != step.status:
        out.append(event(f"thread.run.step.{step.status}", step.as_api()))
        seen.steps[step.id] = step.status
    return out


async def run_events(
    run_id: str, prelude: list[bytes] | None = None, resume: bool = False
) -> AsyncIterator[bytes]:
    """Events of the run until it ends or needs tool outputs; then `done`. With `resume` (after tool
    outputs) the steps that already exist are not told again, nor is the run's creation."""
    for item in prelude or []:
        yield item
    seen = _Seen()
    if resume:
        _, steps, _ = await sync_to_async(_snapshot)(run_id)
        seen.steps = {step.id: step.status for step in steps}
        seen.run_status = ""
    while True:
        run, steps, messages = await sync_to_async(_snapshot)(run_id)
        if run is None:
            error = {
                "message": f"No run found with id '{run_id}'.",
                "type": "invalid_request_error",
                "param": None,
                "code": None,
            }
            yield event("error", error)
            break
        if seen.run_status is None:
            yield event("thread.run.created", run.as_api())
        status_changed = run.status != seen.run_status
        if status_changed and run.status not in Run.TERMINAL and run.status != Run.Status.REQUIRES_ACTION:
            yield event(f"thread.run.{run.status}", run.as_api())
        for step in steps:
            for item in _step_events(step, seen, messages):
                yield item
        seen.run_status = run.status
        if run.status in Run.TERMINAL or run.status == Run.Status.REQUIRES_ACTION:
            yield event(f"thread.run.{run.status}", run.as_api())
            break
        await asyncio.sleep(POLL_SECONDS)
    yield event("done", "[DONE]")
