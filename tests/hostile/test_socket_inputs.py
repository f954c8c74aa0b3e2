"""Hostile WebSocket clients over a real socket (uvicorn, the project's ASGI stack): reaching for
another team's executions, garbage, oversized frames and floods (items 25 and 26 of the list)."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from config.asgi import router
from scenarios.models import Execution, Scenario
from scenarios.runtime import jobs
from scenarios.runtime.consumers import CLOSE_FORBIDDEN
from scenarios.runtime.engine import create_execution, run_execution
from teams.models import Membership, Role, User
from tests.engine.conftest import build
from tests.hostile.webhook_calls import hook_url, responder
from tests.waiting import HANG, wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]


def _socket(server: Any, scenario: Scenario, user: User) -> ClientConnection:
    client = Client()
    client.force_login(user)
    headers = {"Cookie": f"sessionid={client.cookies['sessionid'].value}", "Origin": server.url}
    url = f"{server.ws_url}/ws/scenarios/{scenario.id}/"
    # No client-side size limit: what is refused must be refused by the server.
    return connect(url, additional_headers=headers, max_size=None, open_timeout=10)


def _frames_until_the_end_of(ws: ClientConnection, execution_id: str) -> list[dict[str, Any]]:
    """Every frame up to the one saying that `execution_id` ended."""
    frames = []
    while True:
        frames.append(json.loads(ws.recv(timeout=HANG)))
        execution = frames[-1].get("execution") or {}
        if execution.get("id") == execution_id and execution.get("status") in Execution.TERMINAL:
            return frames


def _frames(ws: ClientConnection, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every frame until the socket has been quiet for `quiet` seconds (for what must not come)."""
    frames = []
    while True:
        try:
            frames.append(json.loads(ws.recv(timeout=quiet)))
        except TimeoutError:
            return frames


def _close_code_within(ws: ClientConnection, seconds: float) -> int | None:
    """The close code once the server closes the socket, None if it is still open after `seconds`."""
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            ws.recv(timeout=max(0.01, deadline - time.monotonic()))
    except TimeoutError:
        return None
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else 1006
    return None


def _server_is_fine(server: Any, scenario: Scenario, user: User) -> None:
    with _socket(server, scenario, user) as ws:
        assert json.loads(ws.recv(timeout=HANG))["type"] == "state"
    assert httpx.get(f"{server.url}/login/", timeout=10).status_code == 200


# -- 25. another team's executions -----------------------------------------------------------------


def test_naming_another_teams_scenario_or_execution_on_ones_own_socket_streams_nothing_of_it(
    asgi_server, cast
):
    alices = responder(cast.team, body="alice's answer")
    mallorys = responder(cast.other_team)
    earlier = httpx.post(hook_url(asgi_server, alices), json={}, timeout=30)
    wait_for_end(earlier.headers["x-execution-id"])
    with (
        _socket(asgi_server, mallorys, cast.mallory) as spy,
        _socket(asgi_server, alices, cast.alice) as owner,
    ):
        assert json.loads(spy.recv(timeout=HANG)) == {"type": "state", "execution": None, "nodes": []}
        assert json.loads(owner.recv(timeout=HANG))["execution"]["id"] == earlier.headers["x-execution-id"]
        for ask in (
            {"type": "state", "scenario_id": str(alices.id)},
            {"type": "state", "scenario": str(alices.id), "execution_id": earlier.headers["x-execution-id"]},
            {"type": "subscribe", "group": alices.group_name},
            {"type": "subscribe", "execution_id": earlier.headers["x-execution-id"]},
            {"type": "scenario.event", "events": [{"type": "state"}]},
        ):
            spy.send(json.dumps(ask))
        answer = httpx.post(hook_url(asgi_server, alices), json={}, timeout=30)
        assert answer.text == "alice's answer"
        new_id = answer.headers["x-execution-id"]
        seen_by_owner = _frames_until_the_end_of(owner, new_id)
        seen_by_spy = _frames(spy)
    assert any(
        f.get("execution_id") == new_id or (f.get("execution") or {}).get("id") == new_id
        for f in seen_by_owner
    )
    leaked = json.dumps(seen_by_spy)
    assert new_id not in leaked and earlier.headers["x-execution-id"] not in leaked
    assert "alice's answer" not in leaked
    assert all(f == {"type": "state", "execution": None, "nodes": []} for f in seen_by_spy)


def test_a_stranger_cannot_open_the_socket_of_another_teams_scenario_over_the_wire(asgi_server, cast):
    alices = responder(cast.team)
    with pytest.raises(InvalidStatus) as refused:
        _socket(asgi_server, alices, cast.mallory)
    assert refused.value.response.status_code == 403
    assert not Execution.objects.exists()


# -- 26. garbage, oversized frames, floods --------------------------------------------------------


def test_a_malformed_frame_ends_that_connection_and_the_server_carries_on(asgi_server, cast):
    scenario = responder(cast.team)
    with _socket(asgi_server, scenario, cast.alice) as ws:
        ws.recv(timeout=HANG)
        ws.send("{not json")
        assert _close_code_within(ws, HANG) is not None
    _server_is_fine(asgi_server, scenario, cast.alice)


def test_a_malformed_frame_is_answered_with_a_proper_close_code(asgi_server, cast):
    scenario = responder(cast.team)
    with _socket(asgi_server, scenario, cast.alice) as ws:
        ws.recv(timeout=HANG)
        ws.send("{not json")
        assert _close_code_within(ws, HANG) in (1003, 1007, 1008)


def test_a_10_mb_frame_closes_the_connection(asgi_server, cast):
    scenario = responder(cast.team)
    with _socket(asgi_server, scenario, cast.alice) as ws:
        ws.recv(timeout=HANG)
        code: int | None
        try:
            ws.send(json.dumps({"type": "state", "pad": "x" * 10_000_000}))
        except ConnectionClosed as exc:  # closed while the frame was still going out
            code = exc.rcvd.code if exc.rcvd is not None else 1006
        else:
            code = _close_code_within(ws, HANG)
        assert code in (1008, 1009)
    _server_is_fine(asgi_server, scenario, cast.alice)


def test_a_flood_of_frames_closes_the_connection(asgi_server, cast):
    scenario = responder(cast.team)
    with _socket(asgi_server, scenario, cast.alice) as ws:
        ws.recv(timeout=HANG)
        answered, closed = 0, False
        try:
            for _ in range(1000):
                ws.send('{"type": "state"}')  # the server may close before all are sent
            while True:
                ws.recv(timeout=HANG)
                answered += 1
        except TimeoutError:
            pass
        except ConnectionClosed:
            closed = True
        assert closed and answered < 1000, f"{answered} answers, still open"
    _server_is_fine(asgi_server, scenario, cast.alice)


# -- 24. removed mid-stream --------------------------------------------------------------------------


async def _live_socket(scenario: Scenario, user: User) -> WebsocketCommunicator:
    """A connected socket of `user` on `scenario` (the project's ASGI router), its state frame read."""
    client = await sync_to_async(Client)()
    await sync_to_async(client.force_login)(user)
    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    socket = WebsocketCommunicator(router, f"/ws/scenarios/{scenario.id}/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from())["type"] == "state"
    return socket


async def _echo_scenario(team: Any) -> Scenario:
    return await sync_to_async(build)(team, {1: ("test.trigger", {}), 2: ("test.echo", {"a": "x"})}, [(1, 2)])


async def _run(scenario: Scenario) -> None:
    await sync_to_async(create_execution)(scenario, Execution.Trigger.MANUAL, {})
    lease = await sync_to_async(jobs.claim)("hostile-test", 30)
    assert lease is not None
    await run_execution(lease)


FORBIDDEN = {"type": "websocket.close", "code": CLOSE_FORBIDDEN}
# The default recheck (at least 30 s) moved beyond any wait's hang guard: a socket closed within
# the wait was closed by the change itself, not by the backstop.
NO_RECHECK = 10 * HANG


@pytest.mark.usefixtures("no_background_executor")
async def test_a_member_removed_mid_stream_gets_no_further_frame_with_the_default_recheck(cast, settings):
    assert settings.SCENARIO_SOCKET_RECHECK_SECONDS >= 30
    settings.SCENARIO_SOCKET_RECHECK_SECONDS = NO_RECHECK
    scenario = await _echo_scenario(cast.team)
    socket = await _live_socket(scenario, cast.bob)
    try:
        await sync_to_async(Membership.objects.filter(team=cast.team, user=cast.bob).delete)()
        assert await socket.receive_output(timeout=HANG) == FORBIDDEN
        await _run(scenario)
        assert await socket.receive_nothing(timeout=0.5), "a removed member still receives frames"
    finally:
        await socket.disconnect()


@pytest.mark.usefixtures("no_background_executor")
async def test_other_members_changes_a_new_role_or_leaving_another_team_keep_the_socket_open(cast):
    scenario = await _echo_scenario(cast.team)
    socket = await _live_socket(scenario, cast.bob)
    try:
        await sync_to_async(Membership.objects.filter(team=cast.team, user=cast.carol).delete)()
        bobs = await sync_to_async(Membership.objects.get)(team=cast.team, user=cast.bob)
        bobs.role = Role.VIEWER
        await sync_to_async(bobs.save)()
        elsewhere = await sync_to_async(Membership.objects.create)(team=cast.other_team, user=cast.bob)
        await sync_to_async(elsewhere.delete)()
        assert await socket.receive_nothing(timeout=0.3)
        await _run(scenario)
        assert (await socket.receive_json_from(timeout=HANG))["type"] == "execution"
    finally:
        await socket.disconnect()


@pytest.mark.usefixtures("no_background_executor")
async def test_deleting_the_team_closes_every_members_socket_at_once(cast, settings):
    assert settings.SCENARIO_SOCKET_RECHECK_SECONDS >= 30
    settings.SCENARIO_SOCKET_RECHECK_SECONDS = NO_RECHECK
    scenario = await _echo_scenario(cast.team)
    sockets = [await _live_socket(scenario, user) for user in (cast.alice, cast.carol)]
    await sync_to_async(cast.team.delete)()
    for socket in sockets:
        assert await socket.receive_output(timeout=HANG) == FORBIDDEN
        await socket.disconnect()


@pytest.mark.usefixtures("no_background_executor")
async def test_a_lost_wake_up_neither_fails_the_removal_nor_keeps_the_socket_open(
    cast, settings, monkeypatch, caplog
):
    settings.SCENARIO_SOCKET_RECHECK_SECONDS = 0.3  # the backstop, for when the wake-up is lost
    scenario = await _echo_scenario(cast.team)
    socket = await _live_socket(scenario, cast.bob)

    async def redis_is_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")

    monkeypatch.setattr(get_channel_layer(), "group_send", redis_is_down)
    bobs = await sync_to_async(Membership.objects.get)(team=cast.team, user=cast.bob)
    alice = await sync_to_async(cast.client_for)(cast.alice)
    removed = await sync_to_async(alice.post)(reverse("teams:member_remove", args=[cast.team.pk, bobs.pk]))
    assert removed.status_code == 302
    assert not await sync_to_async(Membership.objects.filter(pk=bobs.pk).exists)()
    assert "not sent to their sockets" in caplog.text
    assert await socket.receive_output(timeout=HANG) == FORBIDDEN
    await socket.disconnect()
