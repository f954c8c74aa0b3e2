"""Code and Edit fields in whole scenarios: called through a webhook over a real ASGI server, and
run once from the inspector with the latest upstream output."""

from __future__ import annotations

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from scenarios.models import Execution, NodeRun, Scenario
from tests.engine.conftest import build, runs_of
from tests.waiting import wait_for_end

HX = {"HTTP_HX_REQUEST": "true"}
SHOUT = 'console.log("shouting", $2.name);\nreturn { text: $2.name.toUpperCase() + "!", age: $2.age + 1 };'


def shouting(cast) -> Scenario:
    """Trigger on Webhook → Edit fields (name, age as a number) → Code → Webhook response."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "data.set",
                {
                    "input": "{{$1.body}}",
                    "include": "none",
                    "fields": [
                        {"name": "name", "type": "text", "value": "{{$1.body.name}}"},
                        {"name": "age", "type": "number", "value": "{{$1.body.age}}"},
                    ],
                },
            ),
            3: ("data.code", {"code": SHOUT}),
            4: ("webhook.response", {"status": 200, "body": "{{$3.result}}"}),
        },
        [(1, 2), (2, 3), (3, 4)],
    )


@pytest.mark.django_db(transaction=True)
def test_a_webhook_through_edit_fields_and_code_gets_the_codes_result(asgi_server, cast):
    scenario = shouting(cast)
    hook = f"{asgi_server.url}/hooks/{scenario.webhook_token}"

    answer = httpx.post(hook, json={"name": "ada", "age": "36"}, timeout=20)

    assert (answer.status_code, answer.json()) == (200, {"text": "ADA!", "age": 37})
    runs = runs_of(wait_for_end(answer.headers["x-execution-id"]))
    assert runs[2].output == {"name": "ada", "age": 36}
    assert runs[3].output["console"] == ["shouting ada"]


@pytest.mark.django_db(transaction=True)
def test_a_webhook_whose_value_does_not_convert_fails_naming_the_field(asgi_server, cast):
    scenario = shouting(cast)
    hook = f"{asgi_server.url}/hooks/{scenario.webhook_token}"

    answer = httpx.post(hook, json={"name": "ada", "age": "old"}, timeout=20)

    execution = wait_for_end(answer.headers.get("x-execution-id") or answer.json().get("execution_id"))
    assert execution.status == Execution.Status.FAILED
    runs = runs_of(execution)
    assert runs[2].error["message"] == "Fields to set: Field 'age' (number): 'old' is not a number."
    assert 3 not in runs or runs[3].status != NodeRun.Status.SUCCEEDED


def recorded_trigger_output(scenario: Scenario, output: dict) -> None:
    """A succeeded run of trigger $1 with `output`: what Run once takes as the upstream output."""
    now = timezone.now()
    execution = Execution.objects.create(
        scenario=scenario, trigger="manual", status="succeeded", started_at=now, finished_at=now
    )
    NodeRun.objects.create(
        execution=execution,
        node_number=1,
        node_kind="webhook.trigger",
        status="succeeded",
        output=output,
        started_at=now,
        finished_at=now,
    )


def _run_once_url(scenario: Scenario, number: int) -> str:
    return reverse("scenarios:run_once", args=[scenario.pk, scenario.nodes.get(number=number).pk])


@pytest.mark.django_db
def test_run_once_of_a_code_node_shows_its_result_and_console(cast):
    scenario = build(cast.team, {1: ("webhook.trigger", {}), 2: ("data.code", {})}, [(1, 2)])
    recorded_trigger_output(scenario, {"body": {"question": "why"}})
    code = 'console.log("asked:", $1.body.question);\nreturn {length: $1.body.question.length};'

    response = cast.client_for(cast.bob).post(_run_once_url(scenario, 2), {"code": code, "version": 1}, **HX)

    html = response.content.decode()
    assert response.status_code == 200 and 'data-status="succeeded"' in html
    assert "asked: why" in html
    run = NodeRun.objects.get(execution__trigger="run_once", node_number=2)
    assert run.output == {"result": {"length": 3}, "console": ["asked: why"]}


@pytest.mark.django_db
def test_run_once_of_code_that_throws_shows_the_error_with_its_line(cast):
    scenario = build(cast.team, {1: ("webhook.trigger", {}), 2: ("data.code", {})}, [(1, 2)])
    recorded_trigger_output(scenario, {"body": {}})
    code = "const q = $1.body.question;\nreturn q.length;"

    response = cast.client_for(cast.bob).post(_run_once_url(scenario, 2), {"code": code, "version": 1}, **HX)

    html = response.content.decode()
    assert 'data-status="failed"' in html
    assert "cannot read property &#x27;length&#x27; of undefined (line 2)" in html
    run = NodeRun.objects.get(execution__trigger="run_once", node_number=2)
    assert (run.error or {})["line"] == 2


@pytest.mark.django_db
def test_a_stranger_cannot_run_a_code_node_once(cast):
    scenario = build(cast.team, {1: ("webhook.trigger", {}), 2: ("data.code", {})}, [(1, 2)])
    response = cast.client_for(cast.mallory).post(
        _run_once_url(scenario, 2), {"code": "return 1", "version": 1}, **HX
    )
    assert response.status_code == 404
    assert not NodeRun.objects.filter(node_number=2).exists()


@pytest.mark.django_db
def test_run_once_of_edit_fields_without_an_input_edits_the_latest_output_just_before(cast):
    scenario = build(cast.team, {1: ("webhook.trigger", {}), 2: ("data.set", {})}, [(1, 2)])
    recorded_trigger_output(scenario, {"body": {"name": "ada"}})
    data = {
        "include": "except",
        "drop": "body",
        "fields-name": ["name"],
        "fields-type": ["text"],
        "fields-value": ["{{$1.body.name}}"],
        "version": 1,
    }

    response = cast.client_for(cast.bob).post(_run_once_url(scenario, 2), data, **HX)

    assert response.status_code == 200
    run = NodeRun.objects.get(execution__trigger="run_once", node_number=2)
    assert (run.status, run.output) == (NodeRun.Status.SUCCEEDED, {"name": "ada"})
