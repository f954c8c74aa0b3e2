"""The per-scenario WebSocket: live events of a scenario's executions, for members of its team.

On connect it first sends the persisted state of the latest execution (so a reconnecting page
recovers what it missed), then forwards the scenario's group events (shapes in scenarios/events.py).
Membership is re-checked periodically; a user removed from the team is disconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.http import Http404

from scenarios import events
from scenarios.models import Execution, Scenario
from teams.scoping import get_scoped

# Close codes (4000-4999 are the application's): not allowed (anonymous, stranger or removed).
CLOSE_FORBIDDEN = 4403
# The page only ever sends {"type": "state"}: anything big, malformed or frequent is closed.
MAX_FRAME_CHARS = 4096
BURST_FRAMES = 5  # frames allowed at once, then one per FRAME_INTERVAL seconds
FRAME_INTERVAL = 1.0
CLOSE_UNSUPPORTED, CLOSE_INVALID, CLOSE_POLICY, CLOSE_TOO_BIG = 1003, 1007, 1008, 1009


class ScenarioConsumer(AsyncJsonWebsocketConsumer):
    scenario_id: str = ""
    group: str = ""
    _recheck: asyncio.Task[None] | None = None
    _closed = False
    _allowance = float(BURST_FRAMES)
    _last_frame = 0.0

    async def connect(self) -> None:
        self.scenario_id = str(self.scope["url_route"]["kwargs"]["scenario_id"])
        if not await self.allowed():
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = Scenario.group_name_for(self.scenario_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # Events that arrive meanwhile are handled after this method: the state always comes first.
        await self.send_json(await self.state())
        self._recheck = asyncio.get_running_loop().create_task(self.recheck_membership())

    async def disconnect(self, code: int) -> None:
        if self._recheck is not None:
            self._recheck.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        if self._closed:
            return
        if text_data is None:
            await self.refuse(CLOSE_UNSUPPORTED)
        elif len(text_data) > MAX_FRAME_CHARS:
            await self.refuse(CLOSE_TOO_BIG)
        elif not self.within_rate():
            await self.refuse(CLOSE_POLICY)
        else:
            try:
                content = json.loads(text_data)
            except (ValueError, RecursionError):
                await self.refuse(CLOSE_INVALID)
                return
            await self.receive_json(content)

    def within_rate(self) -> bool:
        """A token bucket: BURST_FRAMES at once, refilled at one frame per FRAME_INTERVAL."""
        now = time.monotonic()
        self._allowance = min(BURST_FRAMES, self._allowance + (now - self._last_frame) / FRAME_INTERVAL)
        self._last_frame = now
        if self._allowance < 1:
            return False
        self._allowance -= 1
        return True

    async def refuse(self, code: int) -> None:
        self._closed = True
        await self.close(code=code)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The page may ask for the state again (e.g. after its tab slept); nothing else is accepted.
        if isinstance(content, dict) and content.get("type") == "state":
            await self.send_json(await self.state())

    async def scenario_event(self, message: dict[str, Any]) -> None:
        if not self._closed:
            await self.send_json(message["event"])

    @database_sync_to_async
    def allowed(self) -> bool:
        user = self.scope.get("user")
        try:
            get_scoped(user, Scenario.objects.all(), pk=self.scenario_id)
        except Http404:
            return False
        return True

    @database_sync_to_async
    def state(self) -> dict[str, Any]:
        execution = Execution.objects.filter(scenario_id=self.scenario_id).order_by("-created_at").first()
        runs = list(execution.node_runs.all()) if execution is not None else []
        return events.state_event(execution, runs)

    async def recheck_membership(self) -> None:
        while True:
            await asyncio.sleep(settings.SCENARIO_SOCKET_RECHECK_SECONDS)
            if not await self.allowed():
                with contextlib.suppress(Exception):
                    await self.refuse(CLOSE_FORBIDDEN)
                if self.group:
                    await self.channel_layer.group_discard(self.group, self.channel_name)
                    self.group = ""
                return
