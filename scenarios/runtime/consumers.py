"""The per-scenario WebSocket: live events of a scenario's executions, for members of its team.

On connect it first sends the persisted state of the latest execution (so a reconnecting page
recovers what it missed), then forwards the scenario's group events (shapes in scenarios/runtime/events.py).
A user removed from the team is disconnected at once: every socket also joins its user's group, and a
committed change of a membership wakes that group to check access again (`membership_changed`). The
periodic re-check stays as the backstop for a lost wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404

from scenarios.models import Execution, Scenario
from scenarios.runtime import events, presence
from teams.models import Membership
from teams.scoping import get_scoped

log = logging.getLogger(__name__)

# Close codes (4000-4999 are the application's): not allowed (anonymous, stranger or removed).
CLOSE_FORBIDDEN = 4403
# The page only ever sends {"type": "state"}: anything big, malformed or frequent is closed.
MAX_FRAME_CHARS = 4096
BURST_FRAMES = 5  # frames allowed at once, then one per FRAME_INTERVAL seconds
FRAME_INTERVAL = 1.0
CLOSE_UNSUPPORTED, CLOSE_INVALID, CLOSE_POLICY, CLOSE_TOO_BIG = 1003, 1007, 1008, 1009
MEMBERSHIP_CHANGED = "membership.changed"  # handled by ScenarioConsumer.membership_changed


def user_group_name(user_id: Any) -> str:
    return f"user-{user_id}"


class ScenarioConsumer(AsyncJsonWebsocketConsumer):
    scenario_id: str = ""
    team_id: str = ""
    group: str = ""
    user_group: str = ""
    _recheck: asyncio.Task[None] | None = None
    _presence: asyncio.Task[None] | None = None
    _closed = False
    _allowance = float(BURST_FRAMES)
    _last_frame = 0.0

    async def connect(self) -> None:
        self.scenario_id = str(self.scope["url_route"]["kwargs"]["scenario_id"])
        user = self.scope.get("user")
        if getattr(user, "is_authenticated", False):
            # Joined before the check: a removal committed from now on reaches this socket, one
            # committed before is seen by the check.
            self.user_group = user_group_name(user.pk)
            await self.channel_layer.group_add(self.user_group, self.channel_name)
        team_id = await self.visible_team()
        if team_id is None:
            await self.leave_groups()
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.team_id = team_id
        self.group = Scenario.group_name_for(self.scenario_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        shared = not isinstance(self.channel_layer, InMemoryChannelLayer)
        if shared:
            await presence.watch(self.group)
        await self.accept()
        # Events that arrive meanwhile are handled after this method: the state always comes first.
        state = await self.state()
        await self.send_json(state)
        loop = asyncio.get_running_loop()
        self._recheck = loop.create_task(self.recheck_membership())
        if shared:
            self._presence = loop.create_task(self.keep_watching(state))

    async def disconnect(self, code: int) -> None:
        for task in (self._recheck, self._presence):
            if task is not None:
                task.cancel()
        await self.leave_groups()

    async def leave_groups(self) -> None:
        for group in (self.group, self.user_group):
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)
        self.group = self.user_group = ""

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
        for event in message["events"]:
            if self._closed:
                return
            await self.send_json(event)

    async def membership_changed(self, message: dict[str, Any]) -> None:
        # Only a wake-up: the database says whether the user may still see the scenario.
        if message.get("team_id") == self.team_id and not self._closed:
            await self.close_unless_allowed()

    async def allowed(self) -> bool:
        return await self.visible_team() is not None

    @database_sync_to_async
    def visible_team(self) -> str | None:
        """The scenario's team id when the user may see the scenario, else None."""
        user = self.scope.get("user")
        try:
            scenario, _ = get_scoped(user, Scenario.objects.all(), pk=self.scenario_id)
        except (Http404, PermissionDenied):
            return None
        return str(scenario.team_id)

    @database_sync_to_async
    def state(self) -> dict[str, Any]:
        execution = Execution.objects.filter(scenario_id=self.scenario_id).order_by("-created_at").first()
        runs = list(execution.node_runs.all()) if execution is not None else []
        return events.state_event(execution, runs)

    async def close_unless_allowed(self) -> bool:
        """Close the socket when its user may no longer see the scenario; True while it stays open."""
        if await self.allowed():
            return True
        if not self._closed:
            with contextlib.suppress(Exception):
                await self.refuse(CLOSE_FORBIDDEN)
        await self.leave_groups()
        return False

    async def keep_watching(self, sent: dict[str, Any]) -> None:
        """Keep the scenario marked watched while the socket is open (scenarios/runtime/presence.py).
        Runs that committed before they noticed the mark sent no events: once every process has
        noticed it, the state is sent again if it changed since `sent`."""
        await asyncio.sleep(presence.NOTICED_WITHIN)
        if not self._closed and self.group and (state := await self.state()) != sent:
            await self.send_json(state)
        while True:
            await asyncio.sleep(presence.RENEW_SECONDS)
            if self._closed or not self.group:
                return
            await presence.watch(self.group)

    async def recheck_membership(self) -> None:
        while True:
            await asyncio.sleep(settings.SCENARIO_SOCKET_RECHECK_SECONDS)
            if not await self.close_unless_allowed():
                return


# -- waking a user's sockets when a membership changes ----------------------------------------------


def on_membership_change(sender: type[Membership], instance: Membership, **kwargs: Any) -> None:
    """Receiver of Membership's post_save (a role change) and post_delete (removal, also of a whole
    team or user): once committed, the user's sockets on that team's scenarios check their access."""
    if kwargs.get("created"):
        return
    user_id, team_id = instance.user_id, str(instance.team_id)
    transaction.on_commit(lambda: wake_sockets_of(user_id, team_id), using=kwargs.get("using"))


def wake_sockets_of(user_id: Any, team_id: str) -> None:
    """Never raises: the removal is already committed, and the periodic re-check closes the sockets
    should this message be lost (Redis down)."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": MEMBERSHIP_CHANGED, "team_id": team_id}
    try:
        async_to_sync(layer.group_send)(user_group_name(user_id), message)
    except Exception:
        log.warning("membership change of user %s not sent to their sockets", user_id, exc_info=True)
