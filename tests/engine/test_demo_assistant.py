"""The demo's second scenario, "Ask an assistant": a webhook answered by an assistant of the built-in
gateway on the offline model, through the Ask assistant node."""

from __future__ import annotations

import re

import httpx
import pytest

from gateway.models import Assistant, Thread
from scenarios.models import Execution, Scenario
from teams.models import Team
from tests.engine.conftest import runs_of
from tests.engine.test_commands import _command


def _printed(out: str, label: str) -> str:
    match = re.search(rf"{label}:\s+(\S+)", out)
    assert match, out
    return match.group(1)


def test_the_demo_installs_ask_an_assistant_once_with_its_assistant_and_prints_its_webhook(db):
    first = _command("demo", "--port", "8123")
    second = _command("demo", "--port", "8123")
    team = Team.objects.get(name="Demo team")
    scenario = Scenario.objects.get(team=team, name="Ask an assistant")
    [assistant] = Assistant.objects.filter(team=team)
    assert assistant.name == "Scenery demo assistant" and assistant.model == "scenery-echo"
    params = {n.number: (n.kind, n.params, n.credential_id is not None) for n in scenario.nodes.all()}
    assert params == {
        1: ("webhook.trigger", {"sample": {"question": "What can Scenery do?"}}, False),
        2: (
            "openai.ask_assistant",
            {
                "assistant_id": assistant.id,
                "content": '{{ trim($1.body.question ?? "What can Scenery do?") }}',
                "wait_seconds": 120,
            },
            True,
        ),
        3: ("webhook.response", {"status": 200, "body": "{{$2.answer}}"}, False),
    }
    assert scenario.active and scenario.edges.count() == 2
    webhook = f"http://127.0.0.1:8123/hooks/{scenario.webhook_token}"
    assert _printed(first, "Assistant webhook") == _printed(second, "Assistant webhook") == webhook
    assert f"curl -X POST {webhook} " in second
    assert _printed(second, "Username") == "demo"


@pytest.mark.django_db(transaction=True)
def test_ask_an_assistant_answers_a_webhook_through_the_built_in_gateway(asgi_server):
    out = _command("demo", "--host", "127.0.0.1", "--port", str(asgi_server.port))
    webhook = _printed(out, "Assistant webhook")
    response = httpx.post(webhook, json={"question": "  Which nodes are new?  "}, timeout=60)
    assert response.status_code == 200, response.text
    assert response.text == "Echo: Which nodes are new?"
    execution = Execution.objects.get(scenario__name="Ask an assistant")
    assert execution.status == Execution.Status.SUCCEEDED
    answer = runs_of(execution)[2].output
    assert answer["status"] == "completed" and answer["answer"] == "Echo: Which nodes are new?"
    assert Thread.objects.filter(pk=answer["thread_id"]).exists()

    # No question at all: the default in the expression asks the sample one.
    response = httpx.post(webhook, json={}, timeout=60)
    assert response.status_code == 200 and response.text == "Echo: What can Scenery do?"
