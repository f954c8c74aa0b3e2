"""HTTP Request in whole scenarios: called through a webhook over a real ASGI server, run once from the
inspector, and failing with an error that names the node and the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.urls import reverse

from scenarios.models import NodeRun
from teams.models import Credential
from tests.engine.conftest import build, runs_of, start_and_run
from tests.stub_provider import Recorded
from tests.waiting import wait_for_end

pytestmark = pytest.mark.django_db(transaction=True)

HX = {"HTTP_HX_REQUEST": "true"}


def lookup_scenario(cast: Any, base_url: str, credential: Credential | None = None) -> Any:
    """Webhook → HTTP Request (POST JSON built from the call) → Webhook response with its answer."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "http.request",
                {
                    "method": "POST",
                    "url": f"{base_url}/lookup",
                    "body_kind": "json",
                    "body_json": '{"customer": "{{$1.body.customer}}"}',
                    "response": "json",
                },
                credential,
            ),
            3: ("webhook.response", {"status": 200, "body": "{{$2.body.plan}}"}),
        },
        [(1, 2), (2, 3)],
    )


def test_a_webhook_call_goes_through_an_http_request_and_gets_its_answer(asgi_server, cast, stub_provider):
    def plan(rec: Recorded) -> tuple[int, Any, dict[str, str]]:
        return 200, {"plan": f"gold for {rec.body['customer']}"}, {}

    stub_provider.handlers["/v1/lookup"] = plan
    credential = Credential(team=cast.team, name="Lookup", kind="bearer", base_url=stub_provider.base_url)
    credential.set_secret("lookup-token-1234")
    credential.save()
    scenario = lookup_scenario(cast, stub_provider.base_url, credential)

    answer = httpx.post(
        f"{asgi_server.url}/hooks/{scenario.webhook_token}", json={"customer": "ann"}, timeout=20
    )

    assert (answer.status_code, answer.text) == (200, "gold for ann")
    assert stub_provider.last("/v1/lookup").headers["authorization"] == "Bearer lookup-token-1234"
    runs = runs_of(wait_for_end(answer.headers["x-execution-id"]))
    assert runs[2].output["status"] == 200
    assert "lookup-token-1234" not in str(runs[2].output) + str(runs[2].params)


def test_a_failing_request_names_the_node_and_the_field_and_keeps_the_run(cast, stub_provider):
    scenario = build(
        cast.team,
        {
            1: ("manual.trigger", {}),
            2: (
                "http.request",
                {"method": "POST", "url": "{{$1.body.where}}", "body_kind": "json", "body_json": "{}"},
            ),
        },
        [(1, 2)],
    )
    execution = start_and_run(scenario, {"body": {"where": "ftp://example.com/"}})
    run = runs_of(execution)[2]
    assert execution.status == "failed" and run.status == NodeRun.Status.FAILED
    assert "URL: 'ftp://example.com/' is not an http:// or https:// URL" in run.error["message"]
    assert "url" in run.error["fields"]
    assert run.params["url"] == "ftp://example.com/"  # what was tried is kept


def test_run_once_calls_the_address_and_shows_the_answer(cast, stub_provider):
    stub_provider.handlers["/v1/ping"] = lambda rec: (200, {"pong": True}, {})
    scenario = build(cast.team, {1: ("manual.trigger", {}), 2: ("http.request", {})}, [(1, 2)])
    node = scenario.nodes.get(number=2)
    data = {
        "method": "GET",
        "url": f"{stub_provider.base_url}/ping",
        "body_kind": "none",
        "response": "json",
        "timeout": "30",
        "retries": "0",
        "pagination": "none",
        "max_pages": "10",
        "version": 1,
    }
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:run_once", args=[scenario.pk, node.pk]), data, **HX
    )
    assert response.status_code == 200
    assert 'data-status="succeeded"' in response.content.decode()
    run = NodeRun.objects.get(execution__scenario=scenario, node_number=2)
    assert (run.output or {}).get("body") == {"pong": True}
    assert stub_provider.last("/v1/ping").method == "GET"
