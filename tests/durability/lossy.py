"""A channel layer that drops every second message it is asked to send: the "resilience testing"
mode the Channels layer spec suggests. Wake-ups are hints; the tests prove losing them loses nothing.
It wraps the layer Scenery configures with Redis (channels_redis's Pub/Sub layer)."""

from __future__ import annotations

from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer


class HalfDeafRedisChannelLayer:
    sent = 0
    dropped = 0

    def __init__(self, **config: Any) -> None:
        self.layer = RedisPubSubChannelLayer(**config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layer, name)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        cls = type(self)
        if (cls.sent + cls.dropped) % 2:
            cls.dropped += 1
            return
        cls.sent += 1
        await self.layer.send(channel, message)
