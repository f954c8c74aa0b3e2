"""Builders for the editor's tests: the demo scenario (webhook → Send Message → Webhook response) and
running an execution to its end in the test thread."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.urls import reverse

from scenarios.models import Edge, Execution, Node, Scenario
from scenarios.runtime import jobs
from scenarios.runtime.engine import run_execution
from teams.models import Credential, Team
from tests.waiting import wait_for_end

TRIGGER = "webhook.trigger"
SEND = "openai.send_message"
RESPOND = "webhook.response"
THREAD = "openai.create_thread"


def build(
    team: Team,
    nodes: Mapping[int, tuple[str, Mapping[str, Any]] | tuple[str, Mapping[str, Any], Credential | None]],
    edges: list[tuple[int, int]] | tuple[()] = (),
    name: str = "Demo",
) -> Scenario:
    scenario = Scenario.objects.create(team=team, name=name)
    made: dict[int, Node] = {}
    for number, spec in nodes.items():
        credential = spec[2] if len(spec) > 2 else None
        made[number] = Node.objects.create(
            scenario=scenario,
            number=number,
            kind=spec[0],
            params=dict(spec[1]),
            credential=credential,
            position_x=number * 300.0,
            position_y=100.0,
        )
    for source, target in edges:
        Edge.objects.create(scenario=scenario, source=made[source], target=made[target])
    return scenario


def demo(team: Team, credential: Credential | None = None) -> Scenario:
    return build(
        team,
        {
            1: (TRIGGER, {}),
            2: (SEND, {"message": "{{$1.body.question}}"}, credential),
            3: (RESPOND, {"status": 200, "body": "{{$2.reply}}"}),
        },
        [(1, 2), (2, 3)],
    )


def run_to_end(execution: Execution) -> Execution:
    """Run the execution here, or (when a live server's executor took it first) wait for its end."""
    lease = jobs.claim("editor-tests", 30)
    if lease is not None:
        assert lease.pk == execution.pk
        async_to_sync(run_execution)(lease)
    return wait_for_end(execution.pk)


def save(client: Client, scenario: Scenario, payload: dict[str, Any]) -> Any:
    return client.post(
        reverse("scenarios:graph", args=[scenario.pk]), json.dumps(payload), content_type="application/json"
    )


def current_payload(scenario: Scenario) -> dict[str, Any]:
    """The graph as the canvas would send it back unchanged."""
    scenario.refresh_from_db()
    return {
        "version": scenario.version,
        "nodes": [
            {
                "key": str(n.pk),
                "id": str(n.pk),
                "number": n.number,
                "kind": n.kind,
                "x": n.position_x,
                "y": n.position_y,
            }
            for n in scenario.nodes.all()
        ],
        "edges": [{"source": str(e.source_id), "target": str(e.target_id)} for e in scenario.edges.all()],
    }


@pytest.fixture
def scenario(cast: Any) -> Scenario:
    return demo(cast.team)
