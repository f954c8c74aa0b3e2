"""On a shared channel layer (Redis: a page's socket may be in another process), a scenario's live
events are built and its model nodes stream only while an editor page somewhere marks the scenario
watched; a webhook caller's stream is always heard. The in-memory layer sees its members itself."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from scenarios.models import Scenario
from scenarios.runtime import events, tokens
from scenarios.snapshot import Plan, snapshot_of
from tests.engine.conftest import ask_scenario
from tests.engine.test_live_socket import _socket

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any layer but the in-memory one counts as shared: its members are out of sight."""
    layer = object()
    monkeypatch.setattr(events, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(tokens, "get_channel_layer", lambda: layer)


def a_scenario_group() -> str:
    return Scenario.group_name_for(uuid.uuid4())


def test_on_a_shared_layer_a_scenario_nobody_watches_is_not_heard_until_a_page_marks_it(shared_layer):
    group = a_scenario_group()
    assert not events.heard(group)
    async_to_sync(events.watch)(group)
    assert events.heard(group)


def test_on_a_shared_layer_a_model_node_asks_for_one_whole_answer_unless_someone_watches(
    shared_layer, cast, credential
):
    scenario = ask_scenario(cast.team, credential)
    plan = Plan.of(snapshot_of(scenario))
    group = Scenario.group_name_for(scenario.id)
    assert tokens.Relay("e1", plan, group).hook(2) is None
    async_to_sync(events.watch)(group)
    assert tokens.Relay("e2", plan, group).hook(2) is not None


def test_on_a_shared_layer_a_webhook_caller_s_stream_is_always_heard(shared_layer):
    assert events.heard(tokens.group_name(uuid.uuid4()))


def test_when_the_mark_cannot_be_read_the_events_are_sent(shared_layer, monkeypatch):
    def down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(cache, "get", down)
    assert events.heard(a_scenario_group())


@pytest.mark.usefixtures("test_nodes")
def test_an_editor_page_that_connects_marks_its_scenario_watched(shared_layer, cast):
    scenario = Scenario.objects.create(team=cast.team, name="Watched")
    group = Scenario.group_name_for(scenario.id)
    assert not events.heard(group)

    async def open_page() -> None:
        socket = await _socket(scenario, cast.alice)
        connected, _ = await socket.connect()
        assert connected
        await socket.disconnect()

    async_to_sync(open_page)()
    assert events.heard(group)
