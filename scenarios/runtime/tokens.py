"""A running node's live text (a model's tokens, `NodeContext.tokens`), relayed from the process that
executes the run to whoever shows it early; never stored (the node's output holds the whole text).

- To a webhook caller answered as server-sent events (scenarios/runtime/sse.py): each token at once,
  over the channel layer to the execution's group (`group_name`), so it reaches the web process
  holding the caller whichever process executes. Only the nodes upstream of such a Webhook response
  node send there.
- To the editor's live run: batched per BATCH_SECONDS into one `tokens` event per node on the
  scenario's group (shape in scenarios/runtime/events.py), and flushed before the node's own events.

Both are best effort, like every live event: the database stays the truth.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import get_channel_layer

from nodes.types import webhook
from scenarios.runtime import events
from scenarios.snapshot import Plan, node_kind_of

log = logging.getLogger(__name__)

BATCH_SECONDS = 0.05
TOKEN = "execution.token"  # the group message type, {"type": TOKEN, "node": n, "text": "..."}


def group_name(execution_id: Any) -> str:
    return f"execution-tokens.{execution_id}"


def sse_response(plan: Plan) -> int | None:
    """The Webhook response node of the run that answers as server-sent events, if any."""
    for number in sorted(plan.run_set()):
        spec = plan.nodes[number]
        if node_kind_of(spec["kind"]) == "response" and webhook.streams(spec.get("params")):
            return number
    return None


def tokens_event(execution_id: Any, node: int, text: str) -> dict[str, Any]:
    return {
        "type": "tokens",
        "seq": events.next_seq(),
        "execution_id": str(execution_id),
        "node": node,
        "text": text,
    }


class Relay:
    """One execution's tokens, from its running nodes to the webhook caller and the editor."""

    def __init__(self, execution_id: Any, plan: Plan, live_group: str) -> None:
        self.execution_id = execution_id
        self.group = group_name(execution_id)
        self.live_group = live_group
        response = sse_response(plan)
        self.for_caller = plan.ancestors(response) if response is not None else set()
        self.pending: dict[int, str] = {}
        self.timer: asyncio.TimerHandle | None = None

    async def hook(self, node: int) -> Callable[[str], Awaitable[None]] | None:
        """The `NodeContext.tokens` of `node` as it starts: None when nobody may listen (then a model
        node asks for one whole answer, which costs less than a stream). A node upstream of an SSE
        response always streams: its caller may join the execution's group a moment after it started."""
        if get_channel_layer() is None:
            return None
        if node in self.for_caller or await events.heard(self.live_group):
            return functools.partial(self.token, node)
        return None

    async def token(self, node: int, text: str) -> None:
        """A running node's new text (its `NodeContext.tokens`)."""
        layer = get_channel_layer()
        if layer is None or not text:
            return
        if node in self.for_caller and events.has_members(self.group):
            try:
                await layer.group_send(self.group, {"type": TOKEN, "node": node, "text": text})
            except Exception:  # the caller still gets the whole body at the end
                log.warning("token of execution %s not sent", self.execution_id, exc_info=True)
        if await events.heard(self.live_group):
            self.pending[node] = self.pending.get(node, "") + text
            if self.timer is None:
                self.timer = asyncio.get_running_loop().call_later(BATCH_SECONDS, self._flush_soon)

    def _flush_soon(self) -> None:
        self.timer = None
        events.publish_soon(self.live_group, self._take())

    async def flush(self) -> None:
        """Send the editor the text still batched (before the nodes' own events)."""
        self.close()
        await events.publish(self.live_group, self._take())

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _take(self) -> list[dict[str, Any]]:
        batch = [tokens_event(self.execution_id, node, text) for node, text in sorted(self.pending.items())]
        self.pending.clear()
        return batch
