"""With a shared channel layer, a run sends live events and streams its model's text only while an
editor page watches its scenario (scenarios/runtime/presence.py). `SharedLayer` is the in-memory
layer as Scenery sees Redis: group members are elsewhere, so only the pages' marks tell."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import InMemoryChannelLayer
from django.core.cache import cache

from durable import groups
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import presence
from tests.engine.conftest import ask_scenario
from tests.engine.test_live_socket import _run, _socket
from tests.live_events import heard_in
from tests.waiting import HANG, eventually, wait_until

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]


class SharedLayer:
    """The in-memory layer, not recognisable as one: Scenery treats it as a shared (Redis) layer."""

    def __init__(self, **config: Any) -> None:
        self.layer = InMemoryChannelLayer(**config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layer, name)


@pytest.fixture
def shared_layer(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "tests.engine.test_presence.SharedLayer"}}


def _streamed(stub_provider: Any) -> bool:
    return bool(stub_provider.last("/v1/chat/completions").body.get("stream"))


@pytest.mark.usefixtures("shared_layer")
async def test_a_run_nobody_watches_sends_no_live_events_and_asks_for_one_whole_answer(
    cast, stub_credential, stub_provider
):
    scenario = await sync_to_async(ask_scenario)(cast.team, stub_credential)
    async with groups.listening(Scenario.group_name_for(scenario.id)) as queue:  # a listener, not a page
        execution = await _run(scenario, {"body": {"question": "anyone there?"}})
        assert queue.empty()

    assert execution.status == Execution.Status.SUCCEEDED
    assert not _streamed(stub_provider)


@pytest.mark.usefixtures("shared_layer")
def test_a_run_a_page_watches_sends_its_events_and_streams_its_text(cast, stub_credential, stub_provider):
    scenario = ask_scenario(cast.team, stub_credential)
    with heard_in(Scenario.group_name_for(scenario.id)) as heard:
        execution = asyncio.run(_run(scenario, {"body": {"question": "anyone there?"}}))
        wait_until(
            lambda: any(
                e["type"] == "execution" and e["execution"]["status"] == "succeeded" for e in _events(heard)
            ),
            "the run's end, live",
        )

    assert execution.status == Execution.Status.SUCCEEDED
    assert _streamed(stub_provider)
    assert {"tokens", "node", "execution"} <= {event["type"] for event in _events(heard)}


def _events(heard: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for message in list(heard) for event in message["events"]]


@pytest.mark.usefixtures("shared_layer")
async def test_an_open_page_marks_its_scenario_watched_for_every_process(cast, stub_credential):
    scenario = await sync_to_async(ask_scenario)(cast.team, stub_credential)
    group = Scenario.group_name_for(scenario.id)
    assert not await presence.watched(group)

    socket = await _socket(scenario, cast.carol)
    assert (await socket.connect())[0]
    presence.forget()  # as a process that never asked before: it reads the mark
    assert await presence.watched(group)
    await socket.disconnect()


@pytest.mark.usefixtures("shared_layer")
async def test_a_page_is_sent_the_state_again_once_runs_elsewhere_have_noticed_it(
    cast, stub_credential, monkeypatch
):
    """A worker that read "nobody watches" just before the page opened commits without sending
    events: the page still gets that commit, in a second state."""
    monkeypatch.setattr(presence, "NOTICED_WITHIN", 0.1)
    scenario = await sync_to_async(ask_scenario)(cast.team, stub_credential)
    socket = await _socket(scenario, cast.carol)
    assert (await socket.connect())[0]
    first = await socket.receive_json_from(timeout=HANG)
    assert first == {"type": "state", "execution": None, "nodes": []}

    execution = await sync_to_async(_ran_unannounced)(scenario)  # a run elsewhere, unheard
    second = await socket.receive_json_from(timeout=HANG)
    await socket.disconnect()

    assert second["type"] == "state"
    assert second["execution"]["id"] == str(execution.id)
    assert second["execution"]["status"] == "succeeded"
    assert [node["status"] for node in second["nodes"]] == ["succeeded"]


@pytest.mark.usefixtures("shared_layer")
async def test_an_open_page_renews_its_mark_and_a_closed_one_stops(cast, stub_credential, monkeypatch):
    monkeypatch.setattr(presence, "NOTICED_WITHIN", 0.01)
    monkeypatch.setattr(presence, "RENEW_SECONDS", 0.05)
    scenario = await sync_to_async(ask_scenario)(cast.team, stub_credential)
    group = Scenario.group_name_for(scenario.id)
    socket = await _socket(scenario, cast.carol)
    assert (await socket.connect())[0]
    await sync_to_async(cache.delete)(f"scenery:watched:{group}")  # as if the mark had lapsed
    await eventually(lambda: sync_to_async(presence.read_mark)(group), "the page to renew its mark")

    await socket.disconnect()
    await sync_to_async(cache.delete)(f"scenery:watched:{group}")
    await asyncio.sleep(3 * presence.RENEW_SECONDS)  # three renewal periods, no page left to renew
    assert not await sync_to_async(presence.read_mark)(group)


def _ran_unannounced(scenario: Scenario) -> Execution:
    execution = Execution.objects.create(
        scenario=scenario, snapshot={}, trigger=Execution.Trigger.MANUAL, status=Execution.Status.SUCCEEDED
    )
    NodeRun.objects.create(
        execution=execution, node_number=1, node_kind="webhook.trigger", status="succeeded"
    )
    return execution


@pytest.mark.usefixtures("shared_layer")
async def test_a_process_reads_a_mark_at_most_once_per_refresh_and_then_sees_it(monkeypatch):
    reads: list[str] = []
    read_mark = presence.read_mark

    def counted(group: str) -> bool:
        reads.append(group)
        return read_mark(group)

    monkeypatch.setattr(presence, "read_mark", counted)
    assert not await presence.watched("scenario-x")
    await sync_to_async(presence.write_mark)("scenario-x")  # a page in another process
    assert not await presence.watched("scenario-x")  # remembered
    assert reads == ["scenario-x"]

    monkeypatch.setattr(presence, "REFRESH_SECONDS", 0.0)
    assert await presence.watched("scenario-x")
    assert reads == ["scenario-x", "scenario-x"]


async def test_a_cache_that_cannot_answer_counts_as_watched(monkeypatch):
    def broken(group: str) -> Any:
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(presence, "read_mark", broken)
    monkeypatch.setattr(presence, "write_mark", broken)
    await presence.watch("scenario-y")  # a page's mark is lost, and nothing raises
    presence.forget()
    assert await presence.watched("scenario-y")
