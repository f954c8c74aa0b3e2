"""A run's message text as the model makes it, carried over the channel layer (a group per run) from
the process executing the run to the processes holding its streaming clients.

The database stays the truth: the finished message is stored there, and the deltas are only for
showing it early. They are best effort: each carries its offset in the text, and every
KEYFRAME_SECONDS one also carries the whole text so far, so a client that joined late (or missed a
message) shows the text so far at the next keyframe, then the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from channels.layers import get_channel_layer

from durable import groups

log = logging.getLogger(__name__)

KEYFRAME_SECONDS = 0.25
EVENT_TYPE = "gateway.run.delta"


def group_name(run_id: str) -> str:
    return f"gateway-run.{run_id}"


class Publisher:
    """Sends one run's text deltas to its group (nothing happens without a channel layer)."""

    def __init__(self, run_id: str) -> None:
        self.layer = get_channel_layer()
        self.group = group_name(run_id)
        self.text = ""
        self.keyframe_at = time.monotonic()

    def restart(self) -> None:
        """A new message begins (its offsets start again at 0)."""
        self.text = ""
        self.keyframe_at = time.monotonic()

    async def publish(self, message_id: str, piece: str) -> None:
        offset = len(self.text)
        self.text += piece
        if self.layer is None:
            return
        event: dict[str, Any] = {
            "type": EVENT_TYPE,
            "message_id": message_id,
            "offset": offset,
            "piece": piece,
        }
        now = time.monotonic()
        if offset and now - self.keyframe_at >= KEYFRAME_SECONDS:
            event["text"] = self.text
            self.keyframe_at = now
        try:
            await self.layer.group_send(self.group, event)
        except Exception:  # the stored message still arrives; only its early display is lost
            log.warning("gateway run delta not sent to %s", self.group, exc_info=True)


@dataclass
class Shown:
    """How much of each message's text one client has been sent."""

    lengths: dict[str, int] = field(default_factory=dict)

    def follow(self, message_id: str) -> None:
        self.lengths.setdefault(message_id, 0)

    def new_text(self, event: dict[str, Any]) -> str:
        """The text this delta event adds for the client ("" for a repeat, or after a gap until the
        next keyframe fills it)."""
        shown = self.lengths[event["message_id"]]
        text = event.get("text")
        if isinstance(text, str):
            added = text[shown:]
        else:
            offset, piece = int(event["offset"]), str(event["piece"])
            added = piece[shown - offset :] if offset <= shown < offset + len(piece) else ""
        self.lengths[event["message_id"]] = shown + len(added)
        return added

    def rest(self, message_id: str, text: str) -> str:
        """What the finished message's text adds to what was shown."""
        shown = self.lengths.get(message_id, 0)
        self.lengths[message_id] = len(text)
        return text[shown:]


def subscribed(run_id: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]:
    """The run's delta events, queued as they arrive, while the block runs."""
    return groups.listening(group_name(run_id))
