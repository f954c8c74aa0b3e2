"""The embedded default's channel layer: in memory in each web process, with group messages and
specific-channel messages crossing to the sibling processes on the same SQLite file. Here two
layers in one test stand for two processes (each serves its own Unix socket in a shared directory);
tests/engine/test_web_processes.py runs the real thing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from scenarios import sibling_layer
from scenarios.sibling_layer import SiblingChannelLayer


@pytest.fixture(autouse=True)
def quick_discovery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sibling_layer, "DISCOVER_SECONDS", 0.05)


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[tuple[SiblingChannelLayer, SiblingChannelLayer]]:
    one, two = SiblingChannelLayer(str(tmp_path)), SiblingChannelLayer(str(tmp_path))
    await one.serve()
    await two.serve()
    await until(lambda: one.node in two._peers and two.node in one._peers, "the siblings to meet")
    yield one, two
    await one.stop()
    await two.stop()


async def until(condition: Callable[[], Any], what: str, timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
    assert condition(), what


async def received(layer: SiblingChannelLayer, channel: str) -> dict[str, Any]:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


async def test_a_group_message_reaches_a_member_in_the_sibling_process(pair):
    one, two = pair
    member = await two.new_channel()
    assert not one.heard("scenario-1")
    await two.group_add("scenario-1", member)
    await until(lambda: one.heard("scenario-1"), "the sibling's interest to arrive")
    await one.group_send("scenario-1", {"type": "scenario.events", "events": [{"n": 1}]})
    assert await received(two, member) == {"type": "scenario.events", "events": [{"n": 1}]}


async def test_members_on_both_sides_each_get_the_message_once(pair):
    one, two = pair
    here, there = await one.new_channel(), await two.new_channel()
    await one.group_add("g", here)
    await two.group_add("g", there)
    await until(lambda: "g" in one._interest.get(two.node, ()), "the interest")
    await one.group_send("g", {"type": "x", "n": 1})
    assert await received(one, here) == {"type": "x", "n": 1}
    assert await received(two, there) == {"type": "x", "n": 1}
    await asyncio.sleep(0.1)
    assert one.channels.get(here) is None and two.channels.get(there) is None  # nothing twice


async def test_a_group_nobody_listens_to_is_not_heard_and_costs_no_forwarding(pair):
    one, two = pair
    member = await two.new_channel()
    await two.group_add("g", member)
    await until(lambda: one.heard("g"), "the interest")
    await two.group_discard("g", member)
    await until(lambda: not one.heard("g"), "the interest to go")
    written: list[bytes] = []
    writer = one._peers[two.node]
    original = writer.write

    def write(data: bytes) -> None:
        written.append(data)
        original(data)

    writer.write = write
    await one.group_send("g", {"type": "x"})
    assert written == []


async def test_a_message_to_a_specific_channel_goes_to_the_process_that_made_it(pair):
    one, two = pair
    channel = await two.new_channel("websocket.")
    await one.send(channel, {"type": "hello"})
    assert await received(two, channel) == {"type": "hello"}
    assert one.channels.get(channel) is None


async def test_plain_channels_stay_in_their_process(pair):
    one, two = pair
    await one.send("wake-ups", {"type": "wake"})
    assert await received(one, "wake-ups") == {"type": "wake"}
    assert two.channels.get("wake-ups") is None


async def test_a_group_message_sent_from_another_thread_goes_through_the_serving_loop(pair):
    one, two = pair
    member = await two.new_channel()
    await two.group_add("g", member)
    await until(lambda: one.heard("g"), "the interest")
    thread = threading.Thread(target=async_to_sync(one.group_send), args=("g", {"type": "from-a-thread"}))
    thread.start()
    await asyncio.to_thread(thread.join)
    assert await received(two, member) == {"type": "from-a-thread"}


async def test_a_stopped_sibling_is_forgotten_and_sending_to_it_does_not_fail(pair):
    one, two = pair
    member = await two.new_channel()
    await two.group_add("g", member)
    await until(lambda: one.heard("g"), "the interest")
    await two.stop()
    await until(lambda: two.node not in one._peers and not one.heard("g"), "the sibling to be forgotten")
    await one.group_send("g", {"type": "x"})
    await one.send(member, {"type": "x"})


async def test_the_socket_of_a_process_that_died_is_cleaned_up(tmp_path: Path):
    import socket

    stale = tmp_path / "p1x00000000.sock"
    left = socket.socket(socket.AF_UNIX)
    left.bind(str(stale))  # bound, never listening: what a killed process leaves behind
    left.close()
    layer = SiblingChannelLayer(str(tmp_path))
    await layer.serve()
    try:
        await until(lambda: not stale.exists(), "the stale socket to be removed")
        assert layer._peers == {}
    finally:
        await layer.stop()


async def test_a_sibling_that_sends_garbage_is_disconnected_and_the_layer_carries_on(pair):
    one, two = pair
    assert two._path is not None
    reader, writer = await asyncio.open_unix_connection(str(two._path))
    writer.write(b"\x00\x00\x00\x05hello")
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""  # closed by `two`
    channel = await two.new_channel()
    await one.send(channel, {"type": "still-working"})
    assert await received(two, channel) == {"type": "still-working"}


async def test_an_oversized_frame_is_refused_without_reading_it(pair):
    _, two = pair
    assert two._path is not None
    reader, writer = await asyncio.open_unix_connection(str(two._path))
    writer.write((sibling_layer.MAX_FRAME + 1).to_bytes(4, "big"))
    assert await asyncio.wait_for(reader.read(), timeout=5) == b""


async def test_without_serving_it_is_the_plain_in_memory_layer(tmp_path: Path):
    one, two = SiblingChannelLayer(str(tmp_path)), SiblingChannelLayer(str(tmp_path))
    await two.serve()
    try:
        member = await one.new_channel()
        await one.group_add("g", member)
        await one.group_send("g", {"type": "x"})
        assert await received(one, member) == {"type": "x"}
        assert list(tmp_path.iterdir()) == [tmp_path / f"{two.node}.sock"]
        await asyncio.sleep(0.2)
        assert not two.heard("g")
    finally:
        await two.stop()


async def test_a_slow_sibling_loses_messages_instead_of_holding_the_sender(pair, monkeypatch):
    one, two = pair
    member = await two.new_channel()
    await two.group_add("g", member)
    await until(lambda: one.heard("g"), "the interest")
    monkeypatch.setattr(sibling_layer, "MAX_BUFFERED", 0)
    transport = one._peers[two.node].transport
    monkeypatch.setattr(transport, "get_write_buffer_size", lambda: 1)
    await one.group_send("g", {"type": "dropped"})
    monkeypatch.undo()
    await one.group_send("g", {"type": "delivered"})
    assert await received(two, member) == {"type": "delivered"}


def test_the_directory_is_one_per_sqlite_file_and_none_for_other_databases(settings):
    from django.db import connections

    layer = SiblingChannelLayer()
    connection = connections["default"]
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():  # type: ignore[attr-defined]
        directory = layer.directory()
        assert directory is not None and len(str(directory)) < 60
        assert directory == SiblingChannelLayer().directory()
    else:
        assert layer.directory() is None
