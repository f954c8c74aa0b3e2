"""A whole Loop over items scenario called through its webhook, over a real ASGI server."""

from __future__ import annotations

import httpx
import pytest

from scenarios.models import NodeRun
from tests.engine.conftest import build
from tests.engine.test_flow import conditions
from tests.waiting import wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]


def test_a_webhook_caller_gets_the_list_its_loop_aggregated(asgi_server, cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.orders}}", "mode": "concurrent", "concurrency": 3}),
            3: ("flow.if", {"conditions": conditions("{{$item.total}}", "gt", "100", "number")}),
            4: ("test.echo", {"v": "{{$item.id}} needs review"}),
            5: ("test.echo", {"v": "{{$item.id}} ok"}),
            6: ("flow.aggregate", {}),
            7: ("webhook.response", {"body": "{{$6}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4, "true"), (3, 5, "false"), (4, 6), (5, 6), (6, 7)],
    )
    orders = [{"id": f"o{i}", "total": total} for i, total in enumerate([50, 150, 99, 300, 10])]

    answer = httpx.post(
        f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"orders": orders}, timeout=30
    )

    assert answer.status_code == 200, answer.text
    assert [item["params"]["v"] for item in answer.json()] == [
        "o0 ok",
        "o1 needs review",
        "o2 ok",
        "o3 needs review",
        "o4 ok",
    ]
    execution = wait_for_end(answer.headers["x-execution-id"])
    items = NodeRun.in_loops.filter(execution=execution, node_number=3).count()
    assert items == 5
