"""Calling webhooks of the live ASGI server in the hostile-input tests, and waiting for what they started."""

from __future__ import annotations

from typing import Any

from scenarios.models import Execution, Scenario
from teams.models import Team
from tests.engine.conftest import build
from tests.waiting import wait_for_end, wait_until

__all__ = ["hook_url", "responder", "wait_for_end", "wait_until_all_ended"]


def hook_url(server: Any, scenario: Scenario) -> str:
    return f"{server.url}/hooks/{scenario.webhook_token}"


def responder(team: Team, body: str = "{{$1.body}}", **more: Any) -> Scenario:
    """Trigger on Webhook → Webhook response answering `body`."""
    return build(
        team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {"status": 200, "body": body, **more})},
        [(1, 2)],
        name="Responder",
    )


def wait_until_all_ended() -> None:
    """Let every execution finish, so none is still running when the test's tables are flushed."""
    wait_until(
        lambda: not Execution.objects.exclude(status__in=Execution.TERMINAL).exists(),
        "every execution to end before the tables are flushed",
    )
