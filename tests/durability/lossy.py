"""A channel layer that drops every second message it is asked to send: the "resilience testing"
mode the Channels layer spec suggests. Wake-ups are hints; the tests prove losing them loses nothing."""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer


class HalfDeafRedisChannelLayer(RedisChannelLayer):
    sent = 0
    dropped = 0

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        cls = type(self)
        if (cls.sent + cls.dropped) % 2:
            cls.dropped += 1
            return
        cls.sent += 1
        await super().send(channel, message)
