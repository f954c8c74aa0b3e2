"""The Redis channel layer as Scenery configures it (channels_redis's Pub/Sub layer as shipped,
settings.CHANNEL_LAYERS) carries what Scenery sends over it: executor wake-ups to every listening
worker, live events to every member of a scenario's group and to nobody else, and nothing to a
channel nobody listens on (wake-ups and live events are hints: the database is the truth). Against
the real Redis of REDIS_URL; each test has a channel prefix of its own."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.conf import settings

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer needs REDIS_URL")


def layer(prefix: str = "") -> RedisPubSubChannelLayer:
    """A layer as a process gets it from the settings; layers of one `prefix` are processes of one site."""
    config: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    assert config["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    return RedisPubSubChannelLayer(
        **{**config["CONFIG"], "prefix": prefix or f"scenery-test-{uuid.uuid4().hex}:"}
    )


async def received(made: RedisPubSubChannelLayer, channel: str) -> dict[str, Any]:
    return await asyncio.wait_for(made.receive(channel), timeout=5)


async def listening(made: RedisPubSubChannelLayer, channel: str) -> asyncio.Task[dict[str, Any]]:
    """A receive that has subscribed (Pub/Sub delivers only to whoever listens when it is sent)."""
    task = asyncio.ensure_future(made.receive(channel))
    await asyncio.sleep(0.2)
    return task


async def test_wake_ups_reach_every_listening_worker_in_order():
    site = f"scenery-test-{uuid.uuid4().hex}:"
    workers, web = [layer(site), layer(site)], layer(site)
    first = [await listening(worker, "wake-ups") for worker in workers]
    await web.send("wake-ups", {"type": "executor.wake", "pks": ["1"]})
    await web.send("wake-ups", {"type": "executor.wake", "pks": ["2"]})
    for worker, task in zip(workers, first, strict=True):
        assert await asyncio.wait_for(task, timeout=5) == {"type": "executor.wake", "pks": ["1"]}
        assert await received(worker, "wake-ups") == {"type": "executor.wake", "pks": ["2"]}
    for made in [*workers, web]:
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


async def test_a_message_to_a_channel_nobody_listens_on_is_dropped_not_kept():
    made = layer()
    await made.send("nobody", {"type": "executor.wake", "pks": ["lost"]})
    later = await listening(made, "nobody")
    await made.send("nobody", {"type": "executor.wake", "pks": ["heard"]})
    assert await asyncio.wait_for(later, timeout=5) == {"type": "executor.wake", "pks": ["heard"]}
    await made.flush()


def test_the_wake_up_channel_is_the_sites_own_as_its_groups_are():
    # Plain channel names are server-wide in Pub/Sub: a site on another Redis database number (whose
    # layer has another prefix) must not wake this site's workers.
    from durable import executor

    layer_settings: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    prefix = layer_settings["CONFIG"]["prefix"]
    assert executor.wake_channel() == f"{prefix}executor"
