"""Scenery's Redis channel layer keeps channels_redis's behaviour (delivery, capacity, expiry, groups,
process-specific channels) in fewer round trips to Redis. Against the real Redis of REDIS_URL; each
test has a key prefix of its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from channels.exceptions import ChannelFull
from django.conf import settings

from scenarios.channel_layer import RedisChannelLayer

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis channel layer needs REDIS_URL")


def layer(**config: Any) -> RedisChannelLayer:
    return RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=f"scenery-test-{uuid.uuid4().hex}:", **config)


def counted(made: RedisChannelLayer) -> list[str]:
    """The commands the layer sends to Redis one at a time (a pipeline counts once)."""
    connection = made.connection(0)
    sent: list[str] = []
    single, pipeline = connection.execute_command, connection.pipeline

    async def execute_command(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return await single(*args, **options)

    def piped(*args: Any, **options: Any) -> Any:
        sent.append("PIPELINE")
        return pipeline(*args, **options)

    connection.execute_command = execute_command
    connection.pipeline = piped
    return sent


async def received(made: RedisChannelLayer, channel: str) -> dict[str, Any]:
    return await asyncio.wait_for(made.receive(channel), timeout=5)


async def test_a_message_sent_to_a_channel_is_received_once_in_one_round_trip():
    made = layer()
    sent = counted(made)
    await made.send("wake-ups", {"type": "executor.wake", "pk": "1"})
    assert sent == ["EVAL"]
    await made.send("wake-ups", {"type": "executor.wake", "pk": "2"})
    assert await received(made, "wake-ups") == {"type": "executor.wake", "pk": "1"}
    assert await received(made, "wake-ups") == {"type": "executor.wake", "pk": "2"}
    await made.flush()


async def test_a_process_specific_channel_gets_its_own_messages():
    made = layer()
    mine, other = await made.new_channel(), await made.new_channel()
    await made.send(other, {"type": "for.other"})
    await made.send(mine, {"type": "for.me"})
    assert await received(made, mine) == {"type": "for.me"}
    assert await received(made, other) == {"type": "for.other"}
    await made.flush()


async def test_a_full_channel_refuses_a_message_and_keeps_the_ones_it_has():
    made = layer(capacity=2)
    await made.send("full", {"type": "one"})
    await made.send("full", {"type": "two"})
    with pytest.raises(ChannelFull):
        await made.send("full", {"type": "three"})
    assert [(await received(made, "full"))["type"] for _ in range(2)] == ["one", "two"]
    await made.send("full", {"type": "room again"})
    assert (await received(made, "full"))["type"] == "room again"
    await made.flush()


async def test_expired_messages_are_dropped_and_do_not_count_against_capacity():
    made = layer(capacity=1, expiry=60)
    key = made.prefix + "stale"
    await made.connection(0).zadd(key, {made.serialize({"type": "stale"}): time.time() - 120})
    await made.send("stale", {"type": "fresh"})  # the stale one went first: there was room
    assert (await received(made, "stale"))["type"] == "fresh"
    assert await made.connection(0).zcard(key) == 0
    await made.flush()


async def test_a_group_message_reaches_every_member_and_nobody_else_in_two_round_trips():
    made = layer()
    members = [await made.new_channel() for _ in range(3)]
    outsider = await made.new_channel()
    for channel in members:
        await made.group_add("scenario-1", channel)
    sent = counted(made)
    await made.group_send("scenario-1", {"type": "live.events", "n": 1})
    assert sent == ["PIPELINE", "EVAL"]
    for channel in members:
        assert await received(made, channel) == {"type": "live.events", "n": 1}
    await made.send(outsider, {"type": "only.this"})
    assert await received(made, outsider) == {"type": "only.this"}  # the group message never came
    await made.flush()


async def test_a_group_nobody_is_in_costs_one_round_trip_and_sends_nothing():
    made = layer()
    sent = counted(made)
    await made.group_send("empty", {"type": "live.events"})
    assert sent == ["PIPELINE"]
    await made.flush()


async def test_a_full_member_misses_a_group_message_the_others_get():
    made = layer(capacity=1)
    # Plain names: a process's specific channels share one Redis key, so one capacity.
    full, free = "waiters.full", "waiters.free"
    for channel in (full, free):
        await made.group_add("g", channel)
    await made.send(full, {"type": "already here"})
    await made.group_send("g", {"type": "group"})
    assert await received(made, free) == {"type": "group"}
    assert await received(made, full) == {"type": "already here"}
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(made.receive(full), timeout=0.3)
    await made.flush()


async def test_members_that_left_or_expired_get_nothing():
    made = layer(group_expiry=60)
    left, stale, stays = [await made.new_channel() for _ in range(3)]
    for channel in (left, stays):
        await made.group_add("g", channel)
    await made.group_discard("g", left)
    await made.connection(0).zadd(made._group_key("g"), {stale: time.time() - 120})
    await made.group_send("g", {"type": "group"})
    assert await received(made, stays) == {"type": "group"}
    assert await made.connection(0).zscore(made._group_key("g"), stale) is None
    for channel in (left, stale):
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(made.receive(channel), timeout=0.2)
    await made.flush()
