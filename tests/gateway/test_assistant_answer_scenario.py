"""The seed's function-calling flow finished on the canvas: a webhook's question goes to an assistant
that calls a function; Wait for run routes requires_action to Submit Tool Outputs, and the second
Wait for run's answer is the webhook's response. Against the built-in gateway."""

from __future__ import annotations

import httpx
import pytest

from scenarios.models import Execution, NodeRun
from teams.models import Credential
from tests.engine.conftest import build
from tests.waiting import wait_for_end

pytestmark = pytest.mark.django_db(transaction=True)

WEATHER = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
NS = NodeRun.Status


def test_a_function_call_is_answered_through_wait_for_run_and_submit_tool_outputs(
    cast, asgi_server, base_url, key, executor_running
):
    gateway = Credential(team=cast.team, name="Gateway", base_url=base_url, default_model="scenery-echo")
    gateway.set_secret(key)
    gateway.save()
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.create_assistant", {"model": "scenery-echo", "functions": WEATHER}, gateway),
            3: ("openai.create_thread", {"new_message": True, "content": "{{$1.body.question}}"}, gateway),
            4: ("openai.create_run", {"thread_id": "{{$3.id}}", "assistant_id": "{{$2.id}}"}, gateway),
            5: ("openai.wait_for_run", {"thread_id": "{{$3.id}}", "run_id": "{{$4.id}}"}, gateway),
            6: (
                "openai.submit_tool_outputs",
                {
                    "thread_id": "{{$3.id}}",
                    "run_id": "{{$4.id}}",
                    "tool_outputs": [
                        {"tool_call_id": "{{$5.tool_calls.0.id}}", "output": "{{$1.body.weather}}"}
                    ],
                },
                gateway,
            ),
            7: ("openai.wait_for_run", {"thread_id": "{{$3.id}}", "run_id": "{{$4.id}}"}, gateway),
            8: ("openai.list_messages", {"thread_id": "{{$3.id}}", "order": "asc"}, gateway),
            9: ("webhook.response", {"body": "{{ $7.answer }} | {{ length($8.texts) }}"}),
        },
        [
            (1, 2),
            (1, 3),
            (2, 4),
            (3, 4),
            (4, 5),
            (5, 6, "requires_action"),
            (6, 7),
            (7, 8, "completed"),
            (8, 9),
        ],
    )

    answer = httpx.post(
        f"{asgi_server.url}/hooks/{scenario.webhook_token}",
        json={"question": "Call get_weather for Paris", "weather": "22 degrees and sunny"},
        timeout=60,
    )

    assert answer.status_code == 200, answer.text
    text, count = (part.strip() for part in answer.text.split("|"))
    assert "22 degrees and sunny" in text and count == "2"
    execution = wait_for_end(Execution.objects.get(scenario=scenario).pk)
    assert execution.status == Execution.Status.SUCCEEDED, execution.error
    runs = {run.node_number: run for run in execution.node_runs.all()}
    first, second = runs[5].output or {}, runs[7].output or {}
    assert first["status"] == "requires_action" and second["status"] == "completed"
    assert all(run.status == NS.SUCCEEDED for run in runs.values())
    assert key not in str([(r.params, r.output) for r in runs.values()])
