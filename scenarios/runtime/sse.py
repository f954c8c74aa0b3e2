"""A webhook answered as server-sent events (the Webhook response node's "Answer as: Server-sent
events"): the caller gets `text/event-stream` at once, then

    event: token      data: {"node": 2, "text": "Hel"}        as the nodes upstream make their text
    event: response   data: {"status": 200, "body": ...}       the Webhook response node's answer
or  event: error      data: {"error": "...", "node": 2, "execution_id": "..."}   when the run failed
                      (the node is the one that failed), was cancelled, or did not answer in time

and the stream ends. The answer is read from the database as for any webhook (scenarios/runtime/
waiting.py); the tokens come over the channel layer (scenarios/runtime/tokens.py). A replay of the
same Idempotency-Key gets the answer alone, as one event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from durable import groups
from durable.executor import db
from scenarios.models import Execution, NodeRun
from scenarios.runtime import tokens, waiting
from scenarios.snapshot import Plan


@dataclass
class Streamed:
    """A webhook answer sent as it comes: the headers at once, then `chunks`."""

    chunks: AsyncIterator[bytes]
    stack: contextlib.AsyncExitStack
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, send: Any, receive: Any) -> None:
        """Send it over ASGI until its end or until the caller goes away, then let go of what it
        listened to (the run goes on either way)."""
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()
        ]
        gone = asyncio.create_task(_disconnected(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            while True:
                step = asyncio.ensure_future(anext(self.chunks, None))
                await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
                if not step.done():  # the caller went away
                    step.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await step
                    return
                chunk = step.result()
                if chunk is None:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            gone.cancel()
            await self.stack.aclose()


async def _disconnected(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def answers_as_events(execution: Execution) -> bool:
    return tokens.sse_response(Plan.of(execution.snapshot)) is not None


def event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


async def open_stream(execution: Execution, deadline: float, *, replay: bool = False) -> Streamed:
    """Start listening for the execution's tokens (unless `replay`) and answer; call it before
    awaiting anything else once the execution exists, so that no token is missed."""
    stack = contextlib.AsyncExitStack()
    queue = (
        None if replay else await stack.enter_async_context(groups.listening(tokens.group_name(execution.id)))
    )
    waiter = await stack.enter_async_context(waiting.waiter(execution.id))
    headers = {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        "X-Accel-Buffering": "no",  # proxies must pass each event on as it comes
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "X-Execution-Id": str(execution.id),
    }
    return Streamed(_events(execution, queue, waiter, deadline), stack, headers)


async def _events(
    execution: Execution,
    queue: asyncio.Queue[dict[str, Any]] | None,
    waiter: waiting.Waiter,
    deadline: float,
) -> AsyncIterator[bytes]:
    yield b": the answer follows as server-sent events\n\n"  # the caller sees the stream open at once
    answered: Execution | None = execution
    if not (execution.is_terminal or execution.response is not None):
        answer = asyncio.create_task(waiter.answer(deadline))
        try:
            while queue is not None:
                token = asyncio.create_task(queue.get())
                await asyncio.wait({answer, token}, return_when=asyncio.FIRST_COMPLETED)
                if not token.done():
                    token.cancel()
                    break
                yield event("token", {"node": token.result()["node"], "text": token.result()["text"]})
            answered = await answer
        finally:
            answer.cancel()
    while queue is not None and not queue.empty():  # tokens that came with the answer
        message = queue.get_nowait()
        yield event("token", {"node": message["node"], "text": message["text"]})
    yield await _final(execution, answered, deadline)


async def _final(execution: Execution, answered: Execution | None, deadline: float) -> bytes:
    execution_id = str(execution.id)
    if answered is None:
        return event(
            "error",
            {
                "error": f"The scenario did not answer within {deadline:g} seconds; it goes on running.",
                "execution_id": execution_id,
            },
        )
    if answered.response is not None:
        response = answered.response
        return event("response", {"status": int(response.get("status") or 200), "body": response.get("body")})
    if answered.status == Execution.Status.CANCELLED:
        message = f"The run was cancelled before it answered. {answered.error}".strip()
        return event("error", {"error": message, "execution_id": execution_id})
    failed = await db(_failed_node, execution_id)
    message = answered.error or "The scenario failed before its Webhook response node answered."
    return event("error", {"error": message, "node": failed, "execution_id": execution_id})


def _failed_node(execution_id: str) -> int | None:
    runs = NodeRun.objects.filter(execution_id=execution_id, status=NodeRun.Status.FAILED)
    return runs.order_by("node_number").values_list("node_number", flat=True).first()
