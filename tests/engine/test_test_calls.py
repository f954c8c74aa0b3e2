"""Listening for a test call: the next webhook call becomes the trigger's test data and runs nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from scenarios.models import Execution, Node, Scenario
from tests.engine.conftest import build

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]


def _scenario(cast) -> Scenario:
    return build(cast.team, {1: ("webhook.trigger", {}), 2: ("test.echo", {"q": "{{$1.body.q}}"})}, [(1, 2)])


def _listen_url(scenario: Scenario) -> str:
    trigger = scenario.nodes.get(number=1)
    return reverse("scenarios:test_call", args=[scenario.pk, trigger.pk])


def _call(server, scenario: Scenario, body: dict) -> httpx.Response:
    return httpx.post(f"{server.url}/hooks/{scenario.webhook_token}", json=body, timeout=30)


def test_an_editor_listens_and_the_next_call_becomes_the_test_data_without_an_execution(
    asgi_server, cast, alice_client
):
    scenario = _scenario(cast)
    bob = cast.client_for(cast.bob)
    assert "Listening for a test call" in bob.post(_listen_url(scenario)).content.decode()

    captured = _call(asgi_server, scenario, {"q": "sample"})
    assert captured.status_code == 200 and "did not run" in captured.json()["message"]
    assert Node.objects.get(scenario=scenario, number=1).params["sample"] == {"q": "sample"}
    assert not Execution.objects.filter(scenario=scenario).exists()
    scenario.refresh_from_db()
    assert scenario.test_call_until is None and scenario.version == 2  # a stale page's save is refused

    page = alice_client.get(_listen_url(scenario) + "?waiting=1")
    assert "Test call received" in page.content.decode()
    assert "scenery:testCallReceived" in page["HX-Trigger"]

    ran = _call(asgi_server, scenario, {"q": "real"})
    assert ran.status_code == 202 and Execution.objects.filter(scenario=scenario).count() == 1


def test_of_calls_racing_while_listening_exactly_one_is_taken(asgi_server, cast):
    scenario = _scenario(cast)
    cast.client_for(cast.bob).post(_listen_url(scenario))
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda n: _call(asgi_server, scenario, {"q": n}).status_code, range(6)))
    assert sorted(answers) == [200] + [202] * 5
    assert Execution.objects.filter(scenario=scenario).count() == 5


def test_listening_that_ran_out_or_was_stopped_lets_calls_run(asgi_server, cast):
    scenario = _scenario(cast)
    bob = cast.client_for(cast.bob)
    bob.post(_listen_url(scenario))
    Scenario.objects.filter(pk=scenario.pk).update(test_call_until=timezone.now() - timedelta(seconds=1))
    assert _call(asgi_server, scenario, {"q": 1}).status_code == 202
    page = bob.get(_listen_url(scenario) + "?waiting=1").content.decode()
    assert "No test call came in time" in page

    bob.post(_listen_url(scenario))
    assert "Listen for a test call" in bob.post(_listen_url(scenario), {"stop": "1"}).content.decode()
    assert _call(asgi_server, scenario, {"q": 2}).status_code == 202
    assert "sample" not in Node.objects.get(scenario=scenario, number=1).params


def test_a_viewer_sees_whether_it_listens_but_cannot_start_and_a_stranger_gets_404(cast):
    scenario = _scenario(cast)
    carol, mallory = cast.client_for(cast.carol), cast.client_for(cast.mallory)
    assert carol.post(_listen_url(scenario)).status_code == 403
    assert carol.get(_listen_url(scenario)).status_code == 200
    assert mallory.get(_listen_url(scenario)).status_code == 404
    assert Scenario.objects.get(pk=scenario.pk).test_call_until is None


def test_only_a_webhook_trigger_listens(cast):
    scenario = _scenario(cast)
    echo = scenario.nodes.get(number=2)
    response = cast.client_for(cast.bob).post(reverse("scenarios:test_call", args=[scenario.pk, echo.pk]))
    assert response.status_code == 400 and "Only a Trigger on Webhook" in response.content.decode()
