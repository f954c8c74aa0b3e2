"""One team's flood on its webhook costs another team no more than a small bounded delay: at most
WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK calls of one webhook are in flight; a call over that waits in line
for a slot (WEBHOOK_DOOR_WAIT_SECONDS, at most WEBHOOK_DOOR_LINE calls), and is otherwise refused
with 429 + Retry-After before its body is read, after a pause; another team's call is admitted and
answered beside the flood (issue 16, item 8; item 48 of the map). `make bench` measures team B's
p99 during team A's flood."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from scenarios.models import Execution, Scenario
from scenarios.runtime import backlog
from tests.engine.conftest import build, node_type
from tests.hostile.webhook_calls import hook_url, responder, wait_until_all_ended
from tests.waiting import HANG, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]


class Gate:
    """A node type that holds each run until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = 0

    async def execute(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        self.entered += 1
        await asyncio.to_thread(self.opened.wait, HANG)
        return {"held": True}


def gated(team: Any) -> Scenario:
    return build(
        team,
        {1: ("webhook.trigger", {}), 2: ("test.gate", {}), 3: ("webhook.response", {"body": "done"})},
        [(1, 2), (2, 3)],
    )


def call(server: Any, scenario: Scenario) -> httpx.Response:
    return httpx.post(hook_url(server, scenario), json={}, timeout=HANG * 2)


@pytest.fixture
def door(settings: Any) -> Any:
    settings.WEBHOOK_DOOR_WAIT_SECONDS = 0
    settings.WEBHOOK_REFUSAL_PAUSE_SECONDS = 0
    return settings


def test_with_one_webhook_at_its_limit_its_next_call_gets_429_and_another_teams_call_is_answered(
    asgi_server, cast, door
):
    door.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 3
    gate = Gate()
    with node_type("test.gate", gate.execute):
        flooded = gated(cast.team)
        other = responder(cast.other_team, body="answered")
        with ThreadPoolExecutor(3) as pool:
            try:
                held = [pool.submit(call, asgi_server, flooded) for _ in range(3)]
                wait_until(lambda: gate.entered == 3, "three calls held in their scenario")
                refused = call(asgi_server, flooded)
                assert refused.status_code == 429
                assert refused.headers["Retry-After"] == "1"
                assert "already answering 3 calls" in refused.json()["error"]
                answered = call(asgi_server, other)
                assert answered.status_code == 200 and answered.text == "answered"
            finally:
                gate.opened.set()
            assert [f.result().status_code for f in held] == [200, 200, 200]
        assert Execution.objects.filter(scenario=flooded).count() == 3  # the refused call left no row
        assert call(asgi_server, flooded).status_code == 200
        wait_until_all_ended()


def test_a_call_over_the_limit_waits_in_line_and_is_answered_when_a_slot_frees(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 1
    settings.WEBHOOK_DOOR_WAIT_SECONDS = HANG
    gate = Gate()
    with node_type("test.gate", gate.execute):
        flooded = gated(cast.team)
        token = flooded.webhook_token
        with ThreadPoolExecutor(2) as pool:
            try:
                first = pool.submit(call, asgi_server, flooded)
                wait_until(lambda: gate.entered == 1, "the first call held in its scenario")
                second = pool.submit(call, asgi_server, flooded)
                wait_until(lambda: backlog.in_line(token) == 2, "the second call waiting in line")
                assert gate.entered == 1  # it waits at the door, not in the scenario
                assert Execution.objects.filter(scenario=flooded).count() == 1
            finally:
                gate.opened.set()
            assert first.result().status_code == 200
            assert second.result().status_code == 200 and second.result().text == "done"
        assert gate.entered == 2
        assert backlog.in_line(token) == 0  # the door is forgotten once nobody uses it
        wait_until_all_ended()


def test_with_the_line_full_a_call_is_refused_at_once_while_the_line_still_waits(asgi_server, cast, settings):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 1
    settings.WEBHOOK_DOOR_WAIT_SECONDS = HANG
    settings.WEBHOOK_DOOR_LINE = 1
    settings.WEBHOOK_REFUSAL_PAUSE_SECONDS = 0
    gate = Gate()
    with node_type("test.gate", gate.execute):
        flooded = gated(cast.team)
        token = flooded.webhook_token
        with ThreadPoolExecutor(2) as pool:
            try:
                first = pool.submit(call, asgi_server, flooded)
                wait_until(lambda: gate.entered == 1, "the first call held in its scenario")
                second = pool.submit(call, asgi_server, flooded)
                wait_until(lambda: backlog.in_line(token) == 2, "the second call waiting in line")
                refused = call(asgi_server, flooded)
                assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
                assert not second.done()  # still in line: the refusal did not wait for it
            finally:
                gate.opened.set()
            assert [first.result().status_code, second.result().status_code] == [200, 200]
        assert Execution.objects.filter(scenario=flooded).count() == 2
        wait_until_all_ended()


def test_a_call_refused_at_the_door_is_answered_before_its_body_is_sent(asgi_server, cast, door):
    door.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 1
    gate = Gate()
    with node_type("test.gate", gate.execute):
        flooded = gated(cast.team)
        with ThreadPoolExecutor(1) as pool:
            try:
                held = pool.submit(call, asgi_server, flooded)
                wait_until(lambda: gate.entered == 1, "the first call held in its scenario")
                with socket.create_connection(("127.0.0.1", asgi_server.port), timeout=HANG) as sock:
                    # Only the head: a server that waited for the promised body would never answer.
                    sock.sendall(
                        f"POST /hooks/{flooded.webhook_token} HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n".encode()
                    )
                    head = b""
                    while b"\r\n\r\n" not in head:
                        chunk = sock.recv(65536)
                        assert chunk, "the server closed the connection without answering"
                        head += chunk
                status_line, *header_lines = head.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
                assert status_line.split()[1] == "429"
                assert "connection: close" in (line.lower() for line in header_lines)
            finally:
                gate.opened.set()
            assert held.result().status_code == 200
        assert Execution.objects.filter(scenario=flooded).count() == 1
        wait_until_all_ended()


def test_a_refused_call_gets_its_429_only_after_the_refusal_pause(asgi_server, cast, door):
    door.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 1
    door.WEBHOOK_REFUSAL_PAUSE_SECONDS = 0.3
    gate = Gate()
    with node_type("test.gate", gate.execute):
        flooded = gated(cast.team)
        with ThreadPoolExecutor(1) as pool:
            try:
                held = pool.submit(call, asgi_server, flooded)
                wait_until(lambda: gate.entered == 1, "the first call held in its scenario")
                started = time.monotonic()
                refused = call(asgi_server, flooded)
                # A lower bound only: the refusal waited at least its pause (however busy the machine).
                assert time.monotonic() - started >= 0.3
                assert refused.status_code == 429
            finally:
                gate.opened.set()
            assert held.result().status_code == 200
        wait_until_all_ended()
