"""The per-scenario WebSocket, through the project's real ASGI stack (origin check, session auth)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from config.asgi import router
from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import consumers, jobs
from scenarios.runtime.engine import create_execution, run_execution
from teams.models import Membership
from tests.engine.conftest import build
from tests.waiting import HANG

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("test_nodes", "no_background_executor"),
]

SECRET = "sk-test-secret-abcd1234"
NOT_YET = (NodeRun.Status.QUEUED, NodeRun.Status.RUNNING)


def _scenario(cast, credential) -> Scenario:
    return build(
        cast.team,
        {1: ("test.trigger", {}), 2: ("test.secret", {}, credential), 3: ("test.echo", {"a": "{{$2.echo}}"})},
        [(1, 2), (2, 3)],
    )


def _session_of(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _socket(
    scenario: Scenario, user: Any = None, origin: bytes = b"http://127.0.0.1"
) -> WebsocketCommunicator:
    headers = [(b"origin", origin)]
    if user is not None:
        session = await sync_to_async(_session_of)(user)
        headers.append((b"cookie", f"sessionid={session}".encode()))
    return WebsocketCommunicator(router, f"/ws/scenarios/{scenario.id}/", headers=headers)


async def _run(scenario: Scenario, input: dict[str, Any] | None = None) -> Execution:
    execution = await sync_to_async(create_execution)(
        scenario, Execution.Trigger.MANUAL, input or {"hello": "world"}
    )
    lease = await sync_to_async(jobs.claim)("worker", 30)
    assert lease is not None
    await run_execution(lease)
    await sync_to_async(execution.refresh_from_db)()
    return execution


async def _until_the_run_ends(socket: WebsocketCommunicator, nodes: int) -> list[dict[str, Any]]:
    """Every event until the execution's end and the end of each of its `nodes` have arrived (in
    whichever order the engine sends them)."""
    received: list[dict[str, Any]] = []

    def ended(event: dict[str, Any]) -> bool:
        if event["type"] == "execution":
            return event["execution"]["status"] in Execution.TERMINAL
        return event["type"] == "node" and event["node"]["status"] not in NOT_YET

    while sum(ended(event) for event in received) < 1 + nodes:
        received.append(await socket.receive_json_from(timeout=HANG))
    return received


async def test_a_member_gets_the_state_first_then_every_event(cast, credential):
    scenario = await sync_to_async(_scenario)(cast, credential)
    socket = await _socket(scenario, cast.carol)  # a viewer may watch
    connected, _ = await socket.connect()
    assert connected
    assert await socket.receive_json_from() == {"type": "state", "execution": None, "nodes": []}

    execution = await _run(scenario)
    events = await _until_the_run_ends(socket, nodes=3)
    await socket.disconnect()

    assert SECRET not in str(events)
    assert [e["execution"]["status"] for e in events if e["type"] == "execution"][-2:] == [
        "running",
        "succeeded",
    ]
    finished = [e for e in events if e["type"] == "node" and e["node"]["status"] == "succeeded"]
    assert [e["node"]["node"] for e in finished] == [1, 2, 3]
    assert all(e["execution_id"] == str(execution.id) for e in finished)
    assert finished[1]["node"]["output"]["echo"] == "key=••••"


async def test_a_reconnecting_page_gets_the_latest_execution_and_its_nodes(cast, credential):
    scenario = await sync_to_async(_scenario)(cast, credential)
    execution = await _run(scenario)
    socket = await _socket(scenario, cast.alice)
    connected, _ = await socket.connect()
    assert connected
    state = await socket.receive_json_from()
    await socket.disconnect()
    assert state["type"] == "state"
    assert state["execution"]["id"] == str(execution.id)
    assert state["execution"]["status"] == "succeeded"
    assert [(n["node"], n["status"]) for n in state["nodes"]] == [
        (1, "succeeded"),
        (2, "succeeded"),
        (3, "succeeded"),
    ]
    assert SECRET not in str(state)


async def test_a_stranger_and_an_anonymous_visitor_are_refused(cast, credential):
    scenario = await sync_to_async(_scenario)(cast, credential)
    for user in (cast.mallory, None):
        socket = await _socket(scenario, user)
        connected, code = await socket.connect()
        assert not connected
        assert code == 4403


async def test_an_unknown_scenario_is_refused_like_a_foreign_one(cast, credential):
    scenario = await sync_to_async(_scenario)(cast, credential)
    await sync_to_async(Scenario.objects.filter(pk=scenario.pk).delete)()
    socket = await _socket(scenario, cast.alice)
    connected, code = await socket.connect()
    assert (connected, code) == (False, 4403)


async def test_a_socket_from_another_site_is_refused(cast, credential):
    scenario = await sync_to_async(_scenario)(cast, credential)
    socket = await _socket(scenario, cast.alice, origin=b"https://evil.example")
    connected, _ = await socket.connect()
    assert not connected


async def test_a_member_removed_from_the_team_is_disconnected(cast, credential, settings):
    settings.SCENARIO_SOCKET_RECHECK_SECONDS = 0.1
    scenario = await sync_to_async(_scenario)(cast, credential)
    socket = await _socket(scenario, cast.bob)
    connected, _ = await socket.connect()
    assert connected
    await socket.receive_json_from()
    await sync_to_async(Membership.objects.filter(team=cast.team, user=cast.bob).delete)()
    closed = await socket.receive_output(timeout=HANG)
    assert closed == {"type": "websocket.close", "code": 4403}
    await _run(scenario)
    assert await socket.receive_nothing(timeout=0.3)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"text_data": "{not json"}, 1007),
        ({"text_data": json.dumps({"type": "state", "pad": "x" * 10_000})}, 1009),
        ({"bytes_data": b"\x00\x01"}, 1003),
    ],
)
async def test_a_malformed_oversized_or_binary_frame_closes_the_socket(cast, credential, frame, code):
    scenario = await sync_to_async(_scenario)(cast, credential)
    socket = await _socket(scenario, cast.alice)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await socket.send_to(**frame)
    assert await socket.receive_output(timeout=HANG) == {"type": "websocket.close", "code": code}


async def test_a_page_may_ask_for_the_state_again_but_not_flood(cast, credential):
    scenario = await sync_to_async(_scenario)(cast, credential)
    socket = await _socket(scenario, cast.alice)
    assert (await socket.connect())[0]
    await socket.receive_json_from()
    await socket.send_json_to({"type": "state"})
    assert (await socket.receive_json_from())["type"] == "state"
    for _ in range(50):
        await socket.send_json_to({"type": "state"})
    outputs = []
    while True:
        output = await socket.receive_output(timeout=HANG)
        outputs.append(output)
        if output["type"] == "websocket.close":
            break
    assert outputs[-1] == {"type": "websocket.close", "code": 1008}
    assert len(outputs) <= consumers.BURST_FRAMES + 1
