"""One team's flood on its webhook costs another team no more than a small bounded delay: at most
WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK calls of one webhook are in flight, more get 429 + Retry-After at
the door, and another team's call is admitted and answered beside the flood (issue 16, item 8;
item 48 of the map). `make bench` measures team B's p99 during team A's flood."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from scenarios.models import Execution
from tests.engine.conftest import build, node_type
from tests.hostile.webhook_calls import hook_url, responder, wait_until_all_ended
from tests.waiting import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]


class Gate:
    """A node type that holds each run until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.entered = 0

    async def execute(self, ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
        self.entered += 1
        await asyncio.to_thread(self.opened.wait, 60)
        return {"held": True}


def test_with_one_webhook_at_its_limit_its_next_call_gets_429_and_another_teams_call_is_answered(
    asgi_server, cast, settings
):
    settings.WEBHOOK_MAX_IN_FLIGHT_PER_WEBHOOK = 3
    gate = Gate()
    with node_type("test.gate", gate.execute):
        flooded = build(
            cast.team,
            {1: ("webhook.trigger", {}), 2: ("test.gate", {}), 3: ("webhook.response", {"body": "done"})},
            [(1, 2), (2, 3)],
        )
        other = responder(cast.other_team, body="answered")
        call = lambda scenario: httpx.post(hook_url(asgi_server, scenario), json={}, timeout=60)  # noqa: E731
        with ThreadPoolExecutor(3) as pool:
            try:
                held = [pool.submit(call, flooded) for _ in range(3)]
                wait_until(lambda: gate.entered == 3, "three calls held in their scenario")
                refused = call(flooded)
                assert refused.status_code == 429
                assert refused.headers["Retry-After"] == "1"
                assert "already answering 3 calls" in refused.json()["error"]
                answered = call(other)
                assert answered.status_code == 200 and answered.text == "answered"
            finally:
                gate.opened.set()
            assert [f.result().status_code for f in held] == [200, 200, 200]
        assert Execution.objects.filter(scenario=flooded).count() == 3  # the refused call left no row
        assert call(flooded).status_code == 200
        wait_until_all_ended()
