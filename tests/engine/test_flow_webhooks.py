"""Whole scenarios with IF and Switch called through their webhook, over a real ASGI server."""

from __future__ import annotations

import httpx
import pytest

from scenarios.models import NodeRun
from tests.engine.conftest import build, runs_of
from tests.engine.test_flow import age_check, conditions
from tests.waiting import wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

NS = NodeRun.Status


def test_a_webhook_through_an_if_gets_the_answer_of_the_route_taken(asgi_server, cast):
    scenario = age_check(cast)
    hook = f"{asgi_server.url}/hooks/{scenario.webhook_token}"

    adult = httpx.post(hook, json={"age": 30}, timeout=20)
    minor = httpx.post(hook, json={"age": 12}, timeout=20)

    assert (adult.status_code, adult.text) == (200, "adult")
    assert (minor.status_code, minor.text) == (200, "minor")
    runs = runs_of(wait_for_end(minor.headers["x-execution-id"]))
    assert runs[2].ports == ["false"]
    assert runs[3].status == NS.SKIPPED
    assert runs[3].error["message"] == "Skipped: route 'true' of $2 IF was not taken."


def test_a_webhook_through_a_switch_is_answered_by_the_matching_route_or_the_fallback(asgi_server, cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "flow.switch",
                {
                    "mode": "first",
                    "route1_name": "Refund",
                    "route1_conditions": conditions(
                        "{{$1.body.subject}}", "matches", "(?i)refund|money back"
                    ),
                    "route2_name": "Bug",
                    "route2_conditions": conditions("{{$1.body.subject}}", "contains", "error"),
                },
            ),
            3: ("webhook.response", {"body": "to billing"}),
            4: ("webhook.response", {"body": "to engineering"}),
            5: ("webhook.response", {"body": "to the front desk"}),
        },
        [(1, 2), (2, 3, "route1"), (2, 4, "route2"), (2, 5, "fallback")],
    )
    hook = f"{asgi_server.url}/hooks/{scenario.webhook_token}"

    answers = [
        httpx.post(hook, json={"subject": s}, timeout=20).text for s in ("REFUND please", "an error", "hi")
    ]

    assert answers == ["to billing", "to engineering", "to the front desk"]
