"""Calling webhooks of the live ASGI server in the hostile-input tests, and waiting for what they started."""

from __future__ import annotations

import time
from typing import Any

from scenarios.models import Execution, Scenario
from teams.models import Team
from tests.engine.conftest import build


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


def wait_for_end(execution_id: Any, timeout: float = 20) -> Execution:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = Execution.objects.get(pk=execution_id)
        if execution.is_terminal:
            return execution
        time.sleep(0.05)
    raise AssertionError(f"execution {execution_id} did not end within {timeout} s")


def wait_until_all_ended(timeout: float = 30) -> None:
    """Let every execution finish, so none is still running when the test's tables are flushed."""
    deadline = time.monotonic() + timeout
    while Execution.objects.exclude(status__in=Execution.TERMINAL).exists():
        if time.monotonic() > deadline:
            raise AssertionError("executions were still running at the end of the test")
        time.sleep(0.05)
