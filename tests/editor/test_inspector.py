"""The inspector: a node's form from its type's fields, saving it, run once, and the data picker."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from nodes.transport import http
from nodes.transport.http import forget_models
from scenarios.models import Execution, NodeRun, Scenario
from teams.models import Credential
from tests.editor.conftest import SEND, THREAD, TRIGGER, build, demo
from tests.engine.conftest import build as build_with_ports

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def _fresh_model_lists():
    forget_models()
    yield
    forget_models()


def url(scenario: Scenario, number: int, name: str = "scenarios:inspector") -> str:
    return reverse(name, args=[scenario.pk, scenario.nodes.get(number=number).pk])


def html_of(response: Any) -> str:
    return response.content.decode()


def succeeded(scenario: Scenario, number: int, output: Any, trigger: str = "manual") -> NodeRun:
    now = timezone.now()
    execution = Execution.objects.create(
        scenario=scenario, trigger=trigger, status="succeeded", started_at=now, finished_at=now
    )
    return NodeRun.objects.create(
        execution=execution,
        node_number=number,
        node_kind=scenario.nodes.get(number=number).kind,
        status="succeeded",
        output=output,
        started_at=now,
        finished_at=now,
    )


def test_a_viewer_sees_the_form_read_only(cast, scenario):
    response = cast.client_for(cast.carol).get(url(scenario, 2), **HX)
    assert response.status_code == 200
    html = html_of(response)
    assert '<label class="field__label" for="id_message">Message' in html
    assert "{{$1.body.question}}" in html
    assert "<fieldset disabled>" in html
    assert "Run once" not in html


def test_a_stranger_gets_404_and_a_node_of_another_scenario_too(cast, scenario):
    assert cast.client_for(cast.mallory).get(url(scenario, 2)).status_code == 404
    assert (
        cast.client_for(cast.mallory).post(url(scenario, 2), {"message": "x", "version": 1}).status_code
        == 404
    )
    other = demo(cast.team)
    wrong = reverse("scenarios:inspector", args=[scenario.pk, other.nodes.get(number=2).pk])
    assert cast.client_for(cast.alice).get(wrong).status_code == 404


def test_a_viewer_cannot_save_or_run(cast, scenario):
    client = cast.client_for(cast.carol)
    assert client.post(url(scenario, 2), {"message": "x", "version": 1}).status_code == 403
    assert (
        client.post(url(scenario, 2, "scenarios:run_once"), {"message": "x", "version": 1}).status_code == 403
    )
    assert scenario.nodes.get(number=2).params == {"message": "{{$1.body.question}}"}


def test_saving_stores_params_bumps_the_version_and_tells_the_canvas(cast, stub_credential):
    scenario = demo(cast.team)
    data = {
        "label": "Ask the model",
        "credential": str(stub_credential.pk),
        "message": "Hi {{$1.body.name}}",
        "model": "",
        "version": 1,
    }
    response = cast.client_for(cast.bob).post(url(scenario, 2), data, **HX)
    assert response.status_code == 200
    node = scenario.nodes.get(number=2)
    assert node.label == "Ask the model" and node.credential == stub_credential
    assert node.params["message"] == "Hi {{$1.body.name}}"
    scenario.refresh_from_db()
    assert scenario.version == 2 and scenario.updated_by == cast.bob
    assert response["X-Scenario-Version"] == "2"
    event = json.loads(response["HX-Trigger"])["scenery:nodeSaved"]
    assert event["id"] == str(node.pk) and event["title"] == "Ask the model" and event["version"] == 2
    assert "Saved." in html_of(response)


def test_saving_nothing_new_leaves_the_version_alone(cast, scenario):
    data = {"label": "", "message": "{{$1.body.question}}", "version": 1}
    response = cast.client_for(cast.bob).post(url(scenario, 2), data, **HX)
    assert response.status_code == 200
    assert "HX-Trigger" not in response
    scenario.refresh_from_db()
    assert scenario.version == 1


def test_a_bad_reference_is_shown_at_the_field_and_what_was_typed_is_kept(cast, scenario):
    typed = "Tell me about {{$9.topic}}"
    response = cast.client_for(cast.bob).post(url(scenario, 2), {"message": typed, "version": 1}, **HX)
    assert response.status_code == 200
    html = html_of(response)
    field = re.search(
        r'<div class="field field--long_text field--invalid" data-field="message".*?</div>', html, re.S
    )
    assert field, "the message field is not marked invalid"
    assert "refers to node $9, which does not exist" in field.group(0)
    assert typed in field.group(0)
    assert "Nothing was saved" in html
    assert scenario.nodes.get(number=2).params == {"message": "{{$1.body.question}}"}


def test_a_required_field_shown_by_a_toggle_is_required_and_the_rest_is_kept(cast):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (THREAD, {})}, [(1, 2)])
    data = {
        "new_message": "on",
        "content": "",
        "metadata-key": ["topic"],
        "metadata-value": ["billing"],
        "role": "user",
        "version": 1,
    }
    html = html_of(cast.client_for(cast.bob).post(url(scenario, 2), data, **HX))
    content = re.search(r'data-field="content".*?</div>\s*</div>', html, re.S)
    assert content and "This field is required." in content.group(0)
    assert 'value="topic"' in html and 'value="billing"' in html
    assert 'name="new_message" checked' in html or re.search(r'name="new_message"[^>]*checked', html)
    assert scenario.nodes.get(number=2).params == {}


def test_a_stale_version_is_refused_with_409_keeping_the_input(cast, scenario):
    response = cast.client_for(cast.bob).post(
        url(scenario, 3), {"status": "200", "body": "new text", "version": 0}, **HX
    )
    assert response.status_code == 409
    assert response["X-Scenario-Version"] == "1"
    html = html_of(response)
    assert "changed elsewhere" in html and "new text" in html
    assert scenario.nodes.get(number=3).params == {"status": 200, "body": "{{$2.reply}}"}


def test_the_webhook_trigger_shows_its_url_curl_and_last_payloads(cast, scenario):
    client = cast.client_for(cast.carol)
    html = html_of(client.get(url(scenario, 1), **HX))
    hook = f"http://testserver/hooks/{scenario.webhook_token}"
    assert f'value="{hook}"' in html
    assert f"curl -X POST '{hook}'" in html
    assert "No calls yet" in html
    Execution.objects.create(
        scenario=scenario,
        trigger="webhook",
        status="succeeded",
        input={"method": "POST", "body": {"question": "Why?"}},
    )
    html = html_of(client.get(url(scenario, 1), **HX))
    assert "No calls yet" not in html
    assert "&quot;Why?&quot;" in html


def test_the_data_picker_offers_upstream_outputs_as_expressions(cast, scenario):
    succeeded(scenario, 1, {"method": "POST", "body": {"question": "Hi", "a key": [{"name": "x"}]}})
    html = html_of(cast.client_for(cast.carol).get(url(scenario, 3), **HX))
    for expression in ("{{$1.body.question}}", "{{$1.body[&quot;a key&quot;].0.name}}", "{{$1.body}}"):
        assert f'data-expr="{expression}"' in html, expression
    # $2 is upstream of $3 too, but has not run: the picker says how to get its output.
    assert "Run this node once (or the whole scenario)" in html


def test_the_picker_offers_only_upstream_nodes(cast, scenario):
    succeeded(scenario, 3, {"status": 200})
    html = html_of(cast.client_for(cast.carol).get(url(scenario, 2), **HX))
    assert 'data-expr="{{$3' not in html


def test_the_model_list_comes_from_the_credentials_provider(cast, stub_credential, stub_provider):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (SEND, {"message": "x"}, stub_credential)}, [(1, 2)])
    html = html_of(cast.client_for(cast.carol).get(url(scenario, 2), **HX))
    assert '<option value="stub-model">' in html and '<option value="stub-model-large">' in html


def test_a_model_list_that_cannot_load_says_so_and_allows_free_entry(
    cast, stub_credential, stub_provider, monkeypatch
):
    # The retries' real backoff (3.5-7 s with jitter) would sometimes outlast the inspector's
    # 6 s budget and give the "took too long" message instead; this test is about the failure.
    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(http, "_pause", no_wait)
    stub_provider.script(
        "/v1/models", [(500, {"error": {"message": "down", "type": "server_error"}}, {})] * 4
    )
    scenario = build(
        cast.team,
        {1: (TRIGGER, {}), 2: (SEND, {"message": "x", "model": "my-model"}, stub_credential)},
        [(1, 2)],
    )
    html = html_of(cast.client_for(cast.carol).get(url(scenario, 2), **HX))
    assert "Could not load the model list of" in html and "You can still type a model ID" in html
    assert 'value="my-model"' in html


def test_without_a_credential_the_model_field_says_how_to_get_a_list(cast, scenario):
    html = html_of(cast.client_for(cast.carol).get(url(scenario, 2), **HX))
    assert "Choose a credential to load its models, or type a model ID." in html


@pytest.mark.django_db(transaction=True)
def test_run_once_saves_the_form_then_shows_the_output(cast, stub_credential, stub_provider):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (SEND, {}, stub_credential)}, [(1, 2)])
    data = {"credential": str(stub_credential.pk), "message": "What is 2+2?", "version": 1}
    response = cast.client_for(cast.bob).post(url(scenario, 2, "scenarios:run_once"), data, **HX)
    assert response.status_code == 200
    html = html_of(response)
    assert 'data-status="succeeded"' in html
    assert "echo: What is 2+2?" in html
    assert stub_provider.last("/v1/chat/completions").body["messages"][-1]["content"] == "What is 2+2?"
    run = NodeRun.objects.get(execution__scenario=scenario, node_number=2)
    assert run.execution.trigger == "run_once" and run.status == "succeeded"
    assert scenario.nodes.get(number=2).params["message"] == "What is 2+2?"


@pytest.mark.django_db(transaction=True)
def test_a_provider_error_shows_status_type_message_and_the_request_without_secrets(
    cast, stub_credential, stub_provider
):
    stub_provider.script(
        "/v1/chat/completions",
        [
            (
                401,
                {
                    "error": {
                        "message": "Incorrect API key provided",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                },
                {},
            )
        ],
    )
    scenario = build(
        cast.team, {1: (TRIGGER, {}), 2: (SEND, {"message": "Hello"}, stub_credential)}, [(1, 2)]
    )
    html = html_of(
        cast.client_for(cast.bob).post(
            url(scenario, 2, "scenarios:run_once"),
            {"credential": str(stub_credential.pk), "message": "Hello", "version": 1},
            **HX,
        )
    )
    assert 'data-status="failed"' in html
    assert "Incorrect API key provided" in html
    assert "<dt>status</dt><dd>401</dd>" in html
    assert "invalid_request_error" in html
    assert "Request parameters (resolved)" in html
    assert "sk-stub-secret-wxyz9876" not in html


@pytest.mark.django_db(transaction=True)
def test_run_once_with_an_invalid_form_runs_nothing(cast, stub_credential, stub_provider):
    scenario = build(
        cast.team, {1: (TRIGGER, {}), 2: (SEND, {"message": "Hello"}, stub_credential)}, [(1, 2)]
    )
    response = cast.client_for(cast.bob).post(
        url(scenario, 2, "scenarios:run_once"),
        {"credential": str(stub_credential.pk), "message": "", "version": 1},
        **HX,
    )
    assert "This field is required." in html_of(response)
    assert not [r for r in stub_provider.requests if r.path.endswith("/chat/completions")]
    assert not Execution.objects.filter(scenario=scenario).exists()


def test_choosing_a_credential_in_the_form_loads_its_models(cast, stub_credential, stub_provider, scenario):
    models = reverse("scenarios:node_models", args=[scenario.pk, scenario.nodes.get(number=2).pk])
    client = cast.client_for(cast.bob)
    assert client.get(models, {"credential": str(stub_credential.pk)}).json() == {
        "models": ["stub-model", "stub-model-large"],
        "error": "",
    }
    assert client.get(models).json()["error"] == "Choose a credential to load its models, or type a model ID."
    assert cast.client_for(cast.carol).get(models, {"credential": str(stub_credential.pk)}).status_code == 403


def test_another_teams_credential_is_never_used_for_a_model_list(cast, stub_provider, scenario):
    foreign = Credential(team=cast.other_team, name="Mallory's", base_url=stub_provider.base_url)
    foreign.set_secret("sk-mallory-secret-1234")
    foreign.save()
    models = reverse("scenarios:node_models", args=[scenario.pk, scenario.nodes.get(number=2).pk])
    data = cast.client_for(cast.bob).get(models, {"credential": str(foreign.pk)}).json()
    assert data["models"] == [] and "Choose a credential" in data["error"]
    assert not stub_provider.requests


def _with_error_route(team) -> Scenario:
    """$1 trigger → $2 Filter following its error port → $3 response, from the "error" port."""
    return build_with_ports(
        team,
        {
            1: (TRIGGER, {}),
            2: (
                "flow.filter",
                {"conditions": {"combine": "and", "rules": []}, "settings_on_error": "error_port"},
            ),
            3: ("webhook.response", {"status": 500, "body": "{{$2.error.message}}"}),
        },
        [(1, 2), (2, 3, "error")],
    )


def test_choosing_error_port_in_the_node_settings_tells_the_canvas_the_new_port(cast):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: ("flow.filter", {})}, [(1, 2)])
    conditions = json.dumps({"combine": "and", "rules": [{"left": "a", "op": "equals", "right": "a"}]})
    data = {
        "conditions": conditions,
        "settings_on_error": "error_port",
        "settings_retries": "1",
        "version": 1,
    }

    response = cast.client_for(cast.bob).post(url(scenario, 2), data, **HX)

    assert response.status_code == 200, html_of(response)
    event = json.loads(response["HX-Trigger"])["scenery:nodeSaved"]
    assert event["outputs"] == ["main", "error"]
    assert scenario.nodes.get(number=2).params["settings_retries"] == 1


def test_an_on_error_change_that_would_drop_a_connected_error_port_is_refused_naming_it(cast):
    scenario = _with_error_route(cast.team)
    conditions = json.dumps({"combine": "and", "rules": [{"left": "a", "op": "equals", "right": "a"}]})
    data = {"conditions": conditions, "settings_on_error": "stop", "version": 1}

    response = cast.client_for(cast.bob).post(url(scenario, 2), data, **HX)

    assert "$2&#x27;s port “error” is connected: remove that connection first." in html_of(response)
    assert scenario.nodes.get(number=2).params["settings_on_error"] == "error_port"
