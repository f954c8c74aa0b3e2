"""Running a scenario from the editor and its execution history."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from scenarios.models import Execution, NodeRun
from tests.editor.conftest import SEND, TRIGGER, build, demo, run_to_end

HX = {"HTTP_HX_REQUEST": "true"}


def test_the_run_dialog_offers_the_last_webhook_payload(cast, scenario):
    client = cast.client_for(cast.bob)
    html = client.get(reverse("scenarios:run", args=[scenario.pk]), **HX).content.decode()
    assert "&quot;method&quot;: &quot;POST&quot;" in html and "&quot;body&quot;: {}" in html
    payload = {"method": "POST", "headers": {}, "query": {}, "body": {"question": "Where is my order?"}}
    Execution.objects.create(scenario=scenario, trigger="webhook", status="succeeded", input=payload)
    html = client.get(reverse("scenarios:run", args=[scenario.pk]), **HX).content.decode()
    assert "Where is my order?" in html and "last payload the webhook received" in html


def test_invalid_sample_json_is_shown_at_the_field_and_kept(cast, scenario):
    typed = '{"body": {"question": "Hi"}'
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:run", args=[scenario.pk]), {"sample_input": typed}, **HX
    )
    html = response.content.decode()
    assert "The sample input is not valid JSON" in html
    assert "{&quot;body&quot;: {&quot;question&quot;: &quot;Hi&quot;}" in html
    assert not Execution.objects.exists()


def test_a_sample_that_is_not_an_object_is_refused(cast, scenario):
    html = (
        cast.client_for(cast.bob)
        .post(reverse("scenarios:run", args=[scenario.pk]), {"sample_input": "[1, 2]"}, **HX)
        .content.decode()
    )
    assert "must be a JSON object" in html
    assert not Execution.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_running_creates_a_manual_execution_with_the_sample_and_it_runs(cast, stub_credential, stub_provider):
    scenario = demo(cast.team, stub_credential)
    sample = {"method": "POST", "headers": {}, "query": {}, "body": {"question": "2+2?"}}
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:run", args=[scenario.pk]), {"sample_input": json.dumps(sample)}, **HX
    )
    execution = Execution.objects.get(scenario=scenario)
    assert execution.trigger == "manual" and execution.input == sample and execution.created_by == cast.bob
    event = json.loads(response["HX-Trigger"])["scenery:runStarted"]
    assert event == {"execution": str(execution.pk), "status": "queued"}
    assert "Run started" in response.content.decode()
    execution = run_to_end(execution)
    assert execution.status == "succeeded"
    assert execution.response is not None and execution.response["body"] == "echo: 2+2?"


def test_a_scenario_that_cannot_run_says_why_and_the_attempt_is_in_history(cast):
    scenario = build(cast.team, {1: (SEND, {"message": "hi"})})
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:run", args=[scenario.pk]), {"sample_input": "{}"}, **HX
    )
    html = response.content.decode()
    assert "no trigger" in html
    assert Execution.objects.get(scenario=scenario).status == "failed"


def test_a_viewer_cannot_run_a_scenario(cast, scenario):
    client = cast.client_for(cast.carol)
    assert client.get(reverse("scenarios:run", args=[scenario.pk])).status_code == 403
    assert (
        client.post(reverse("scenarios:run", args=[scenario.pk]), {"sample_input": "{}"}).status_code == 403
    )
    assert not Execution.objects.exists()


def finished(scenario, trigger="webhook", status="succeeded", input=None) -> Execution:
    now = timezone.now()
    execution = Execution.objects.create(
        scenario=scenario,
        trigger=trigger,
        status=status,
        input=input or {"body": {"question": "Hi"}},
        started_at=now,
        finished_at=now + timedelta(milliseconds=1234),
    )
    NodeRun.objects.create(
        execution=execution,
        node_number=1,
        node_kind=TRIGGER,
        status="succeeded",
        params={},
        output={"body": {"question": "Hi"}},
        started_at=now,
        finished_at=now,
    )
    NodeRun.objects.create(
        execution=execution,
        node_number=2,
        node_kind=SEND,
        status="failed",
        params={"message": "Hi", "model": "gpt-x"},
        error={"message": "Rate limited", "status": 429, "type": "rate_limit_error"},
        started_at=now,
        finished_at=now,
    )
    return execution


def test_the_history_lists_every_execution_with_trigger_status_and_duration(cast, scenario):
    finished(scenario)
    finished(scenario, trigger="manual", status="failed")
    html = cast.client_for(cast.carol).get(reverse("scenarios:runs", args=[scenario.pk])).content.decode()
    assert html.count('class="execution-row') == 2
    assert "Webhook" in html and "Manual" in html and "1234 ms" in html


def test_a_run_shows_each_nodes_resolved_input_output_and_error(cast, scenario):
    execution = finished(scenario)
    client = cast.client_for(cast.carol)
    html = client.get(
        reverse("scenarios:run_detail", args=[scenario.pk, execution.pk]), **HX
    ).content.decode()
    assert "Input (resolved parameters)" in html and "gpt-x" in html
    assert "Rate limited" in html and "<dt>status</dt><dd>429</dd>" in html
    overlay = json.loads(html.split('data-overlay="')[1].split('"')[0].replace("&quot;", '"'))
    assert overlay == {
        "1": {"status": "succeeded", "duration_ms": 0, "ports": None},
        "2": {"status": "failed", "duration_ms": 0, "ports": None},
    }
    assert "Re-run with the same input" not in html  # a viewer
    page = client.get(reverse("scenarios:run_detail", args=[scenario.pk, execution.pk])).content.decode()
    assert "<!doctype html>" in page and "Rate limited" in page


def test_rerun_starts_a_new_execution_with_the_same_input(cast, scenario):
    execution = finished(scenario, input={"body": {"question": "Again?"}})
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:rerun", args=[scenario.pk, execution.pk]), **HX
    )
    again = Execution.objects.exclude(pk=execution.pk).get()
    assert again.trigger == "rerun" and again.input == {"body": {"question": "Again?"}}
    assert "scenery:runStarted" in response["HX-Trigger"]


def test_history_is_scoped_to_the_team(cast, scenario):
    execution = finished(scenario)
    client = cast.client_for(cast.mallory)
    assert client.get(reverse("scenarios:runs", args=[scenario.pk])).status_code == 404
    assert client.get(reverse("scenarios:run_detail", args=[scenario.pk, execution.pk])).status_code == 404
    assert client.post(reverse("scenarios:rerun", args=[scenario.pk, execution.pk])).status_code == 404
    other = demo(cast.team)
    wrong = reverse("scenarios:run_detail", args=[other.pk, execution.pk])
    assert cast.client_for(cast.alice).get(wrong).status_code == 404
    assert (
        cast.client_for(cast.carol)
        .post(reverse("scenarios:rerun", args=[scenario.pk, execution.pk]))
        .status_code
        == 403
    )


def test_the_history_pages_back_through_older_runs(cast, scenario):
    base = timezone.now()
    ids = []
    for minute in range(55):
        execution = Execution.objects.create(scenario=scenario, trigger="webhook", status="succeeded")
        Execution.objects.filter(pk=execution.pk).update(created_at=base - timedelta(minutes=minute))
        ids.append(str(execution.pk))
    client = cast.client_for(cast.carol)
    first = client.get(reverse("scenarios:runs", args=[scenario.pk])).content.decode()
    assert first.count('class="execution-row') == 50
    assert f"?before={ids[49]}" in first
    older = client.get(reverse("scenarios:runs", args=[scenario.pk]), {"before": ids[49]}).content.decode()
    assert older.count('class="execution-row') == 5
    assert all(i in older for i in ids[50:]) and ids[0] not in older
    assert "Older runs" not in older
