"""The Redis channel layer as Scenery configures it (channels_redis as shipped, settings.CHANNEL_LAYERS)
carries what Scenery sends over it: executor wake-ups to one worker, live events to every member of a
scenario's group. Against the real Redis of REDIS_URL; each test has a key prefix of its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer needs REDIS_URL")


def layer() -> RedisChannelLayer:
    config: Any = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    hosts = config["hosts"]
    return RedisChannelLayer(hosts=hosts, prefix=f"scenery-test-{uuid.uuid4().hex}:")


async def received(made: RedisChannelLayer, channel: str) -> dict[str, Any]:
    return await asyncio.wait_for(made.receive(channel), timeout=5)


async def test_a_wake_up_sent_to_the_executor_channel_is_received_once_in_order():
    made = layer()
    await made.send("wake-ups", {"type": "executor.wake", "pk": "1"})
    await made.send("wake-ups", {"type": "executor.wake", "pk": "2"})
    assert await received(made, "wake-ups") == {"type": "executor.wake", "pk": "1"}
    assert await received(made, "wake-ups") == {"type": "executor.wake", "pk": "2"}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(made.receive("wake-ups"), timeout=0.3)
    await made.flush()


async def test_live_events_reach_every_member_of_the_group_and_nobody_else():
    made = layer()
    members = [await made.new_channel() for _ in range(3)]
    outsider = await made.new_channel()
    for channel in members:
        await made.group_add("scenario-1", channel)
    await made.group_send("scenario-1", {"type": "scenario.event", "n": 1})
    for channel in members:
        assert await received(made, channel) == {"type": "scenario.event", "n": 1}
    await made.send(outsider, {"type": "only.this"})
    assert await received(made, outsider) == {"type": "only.this"}  # the group message never came
    await made.flush()
