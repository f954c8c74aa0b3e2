"""Run once in the inspector for the assistant nodes, against the built-in gateway: the form is
saved, the node runs with the trigger's test data through a function, and the page shows the answer."""

from __future__ import annotations

import pytest
from django.urls import reverse

from gateway.provisioning import ensure_assistant
from scenarios.models import NodeRun
from teams.models import Credential
from tests.engine.conftest import build

pytestmark = pytest.mark.django_db(transaction=True)
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def gateway(cast, base_url, key, executor_running) -> Credential:
    credential = Credential(team=cast.team, name="Gateway", base_url=base_url, default_model="scenery-echo")
    credential.set_secret(key)
    credential.save()
    return credential


def test_ask_assistant_runs_once_from_the_inspector_with_a_function_in_its_message(cast, gateway):
    assistant_id = ensure_assistant(cast.team, "Helper", "Answer briefly.")
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {"sample": {"question": "  where is lyon?  "}}),
            2: ("openai.ask_assistant", {}, gateway),
        },
        [(1, 2)],
    )
    node = scenario.nodes.get(number=2)
    data = {
        "credential": str(gateway.pk),
        "assistant_id": assistant_id,
        "content": "{{ upper(trim($1.body.question)) }}",
        "wait_seconds": "60",
        "version": scenario.version,
    }
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:run_once", args=[scenario.pk, node.pk]), data, **HX
    )
    assert response.status_code == 200
    assert 'data-status="succeeded"' in response.content.decode()
    run = NodeRun.objects.get(execution__scenario=scenario, node_number=2)
    assert run.status == NodeRun.Status.SUCCEEDED
    assert (run.output or {})["answer"] == "Echo: WHERE IS LYON?"
    assert ensure_assistant(cast.team, "Helper", "Other") == assistant_id  # found again, not a second one


def test_wait_for_run_run_once_with_an_unknown_run_shows_the_providers_error(cast, gateway):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("openai.wait_for_run", {}, gateway)},
        [(1, 2)],
    )
    node = scenario.nodes.get(number=2)
    data = {
        "credential": str(gateway.pk),
        "thread_id": "thread_nope",
        "run_id": "run_nope",
        "wait_seconds": "5",
        "version": scenario.version,
    }
    response = cast.client_for(cast.bob).post(
        reverse("scenarios:run_once", args=[scenario.pk, node.pk]), data, **HX
    )
    html = response.content.decode()
    assert 'data-status="failed"' in html and "thread_nope" in html
    assert NodeRun.objects.get(execution__scenario=scenario, node_number=2).status == NodeRun.Status.FAILED
