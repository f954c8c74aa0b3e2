"""A run as OpenAI's server-sent events, from the database and the run's deltas (so any process can
stream a run that any worker executes).

The worker writes rows; this loop polls them and turns each change into the documented events:
thread.run.*, thread.run.step.* (with a delta for tool calls), thread.message.created / in_progress /
delta / completed, and finally `done` with `[DONE]`. A message's text arrives as the model makes it:
each token the worker publishes on the channel layer becomes a `thread.message.delta` at once (see
gateway/deltas.py); whatever the deltas missed comes from the stored message when it is finished.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

from gateway import deltas, ids
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
    finished: set[str] = field(default_factory=set)  # messages whose end was sent
    shown: deltas.Shown = field(default_factory=deltas.Shown)


def _snapshot(run_id: str) -> tuple[Run | None, list[RunStep], dict[str, Message]]:
    run = Run.objects.filter(pk=run_id).first()
    if run is None:
        return None, [], {}
    steps = list(RunStep.objects.filter(run_id=run_id).order_by("created_at", "id"))
    messages = {m.id: m for m in Message.objects.filter(run_id=run_id)}
    return run, steps, messages


def _delta(message_id: str, part: dict[str, Any]) -> bytes:
    delta = {"id": message_id, "object": "thread.message.delta", "delta": {"content": [part]}}
    return event("thread.message.delta", delta)


def _text_delta(
    message_id: str, value: str, annotations: list[dict[str, Any]] | None = None, index: int = 0
) -> bytes:
    return _delta(
        message_id,
        {"index": index, "type": "text", "text": {"value": value, "annotations": annotations or []}},
    )


def _message_end(message: Message, shown: deltas.Shown) -> list[bytes]:
    """The rest of a finished message (text the deltas did not bring, annotations, other parts), then
    its end event."""
    out = []
    for index, part in enumerate(message.content):
        if part.get("type") != "text":
            out.append(_delta(message.id, {"index": index, **part}))
            continue
        text = part["text"]["value"]
        rest = shown.rest(message.id, text) if index == 0 else text  # only the first part is streamed
        annotations = [{"index": i, **a} for i, a in enumerate(part["text"].get("annotations", []))]
        if rest or annotations:
            out.append(_text_delta(message.id, rest, annotations, index))
    out.append(event(f"thread.message.{message.status}", message.as_api()))
    return out


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


def _message_opening(message: Message) -> list[bytes]:
    opening = {**message.as_api(), "status": "in_progress", "content": [], "completed_at": None}
    opening.update(incomplete_at=None, incomplete_details=None)
    return [event("thread.message.created", opening), event("thread.message.in_progress", opening)]


def _step_events(step: RunStep, seen: _Seen, messages: dict[str, Message]) -> list[bytes]:
    out: list[bytes] = []
    message = None
    if step.type == "message_creation":
        message = messages.get(step.step_details["message_creation"]["message_id"])
    if step.id not in seen.steps:
        opening = {**step.as_api(), "status": "in_progress", "completed_at": None}
        if step.type == "tool_calls":
            opening["step_details"] = {"type": "tool_calls", "tool_calls": []}
        out += [event("thread.run.step.created", opening), event("thread.run.step.in_progress", opening)]
        delta = _step_delta(step)
        if delta is not None:
            out.append(event("thread.run.step.delta", delta))
        if message is not None:
            seen.shown.follow(message.id)
            out += _message_opening(message)
        seen.steps[step.id] = "in_progress"
    if (
        message is not None
        and message.status != Message.Status.IN_PROGRESS
        and message.id not in seen.finished
    ):
        seen.finished.add(message.id)
        out += _message_end(message, seen.shown)
    if step.status in STEP_END_EVENTS and seen.steps[step.id] != step.status:
        out.append(event(f"thread.run.step.{step.status}", step.as_api()))
        seen.steps[step.id] = step.status
    return out


def _in_progress(run: Run) -> dict[str, Any]:
    """The run as it was while in progress (before its outcome was known)."""
    cleared = ("required_action", "last_error", "completed_at", "failed_at", "cancelled_at", "usage")
    return {
        **run.as_api(),
        **dict.fromkeys(cleared),
        "status": "in_progress",
        "incomplete_details": None,
        "expires_at": ids.unix(run.expires_at),
    }


async def run_events(
    run: Run, prelude: list[bytes] | None = None, resumed_at: datetime | None = None
) -> AsyncIterator[bytes]:
    """Events of `run` (as the request left it: queued) until it ends or needs tool outputs, then
    `done`. A run resumed (after tool outputs) at `resumed_at` is not announced again, nor are the
    steps it made before."""
    for item in prelude or []:
        yield item
    seen = _Seen(run_status=run.status)
    if resumed_at is not None:
        _, steps, _ = await sync_to_async(_snapshot)(run.id)
        # The tool step these outputs completed is still to be announced as completed (with them).
        seen.steps = {
            step.id: step.status
            if step.completed_at is None or step.completed_at < resumed_at
            else RunStep.Status.IN_PROGRESS
            for step in steps
            if step.created_at < resumed_at
        }
    else:
        yield event("thread.run.created", run.as_api())
    yield event(f"thread.run.{run.status}", run.as_api())
    async with deltas.subscribed(run.id) as arriving:
        async for item in _follow(run, seen, arriving):
            yield item
    yield event("done", "[DONE]")


async def _follow(run: Run, seen: _Seen, arriving: asyncio.Queue[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The run's events until it ends or needs tool outputs: rows read every POLL_SECONDS (and at once
    when a delta names a message not announced yet), deltas sent as they arrive."""
    loop = asyncio.get_running_loop()
    waiting: list[dict[str, Any]] = []  # deltas of messages not announced yet
    next_look = loop.time()
    while True:
        if loop.time() >= next_look:
            items, ended = await _look(run, seen)
            for item in items:
                yield item
            if ended:
                return
            next_look = loop.time() + POLL_SECONDS
            for delta in [d for d in waiting if d["message_id"] in seen.shown.lengths]:
                waiting.remove(delta)
                if delta["message_id"] not in seen.finished and (text := seen.shown.new_text(delta)):
                    yield _text_delta(delta["message_id"], text)
        try:
            delta = await asyncio.wait_for(arriving.get(), timeout=max(0.0, next_look - loop.time()))
        except TimeoutError:
            continue
        if delta["message_id"] not in seen.shown.lengths:
            waiting.append(delta)
            next_look = loop.time()
        elif delta["message_id"] not in seen.finished and (text := seen.shown.new_text(delta)):
            yield _text_delta(delta["message_id"], text)


async def _look(run: Run, seen: _Seen) -> tuple[list[bytes], bool]:
    """The events of what changed in the database since the last look, and whether the stream ends."""
    current, steps, messages = await sync_to_async(_snapshot)(run.id)
    if current is None:
        error = {
            "message": f"No run found with id '{run.id}'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
        return [event("error", error)], True
    out: list[bytes] = []
    ended = current.status in Run.TERMINAL or current.status == Run.Status.REQUIRES_ACTION
    if current.status != seen.run_status and not ended:
        out.append(event(f"thread.run.{current.status}", current.as_api()))
    elif ended and current.started_at and seen.run_status == Run.Status.QUEUED:
        # It went through in_progress between two looks; say so, as the protocol does.
        out.append(event("thread.run.in_progress", _in_progress(current)))
    for step in steps:
        out += _step_events(step, seen, messages)
    seen.run_status = current.status
    if ended:
        out.append(event(f"thread.run.{current.status}", current.as_api()))
    return out, ended
