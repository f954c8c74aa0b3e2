"""Run scenario (sub-scenarios), whole scenarios through a webhook over the real ASGI server and its
in-process executor: the child's answer comes back to the parent, the two are linked both ways, and
depth, cycles, unknown names and failing children are clear errors naming the node and field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from django.urls import reverse

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.runtime import events
from scenarios.runtime.subscenarios import MAX_DEPTH
from tests.engine.conftest import build, runs_of
from tests.waiting import wait_for_end

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_nodes")]

ES, NS, T = Execution.Status, NodeRun.Status, Execution.Trigger


def caller(team, name: str, target: str, respond: bool = True, **settings: Any) -> Scenario:
    """$1 webhook → $2 Run scenario `target` with the body → $3 Webhook response of its result."""
    nodes: dict[int, Any] = {
        1: ("webhook.trigger", {}),
        2: ("flow.run_scenario", {"scenario": target, "input": "{{$1.body}}", **settings}),
    }
    edges: list[Any] = [(1, 2)]
    if respond:
        nodes[3] = ("webhook.response", {"status": 200, "body": "{{$2.result}}"})
        edges.append((2, 3))
    return build(team, nodes, edges, name=name)


def shouter(team, name: str = "Shout", respond: bool = True) -> Scenario:
    """$1 manual trigger → $2 echo; answering "<word>!" when it responds."""
    nodes: dict[int, Any] = {1: ("manual.trigger", {}), 2: ("test.echo", {"v": "{{$1.body.word}}"})}
    edges: list[Any] = [(1, 2)]
    if respond:
        nodes[3] = ("webhook.response", {"status": 200, "body": "{{$1.body.word}}!"})
        edges.append((2, 3))
    return build(team, nodes, edges, name=name)


def call(server, scenario: Scenario, body: Any) -> tuple[httpx.Response, Execution]:
    response = httpx.post(f"{server.url}/hooks/{scenario.webhook_token}", json=body, timeout=60)
    # A scenario that answers names its execution in a header; one that does not, in its 202 body.
    execution_id = response.headers.get("x-execution-id") or response.json()["execution_id"]
    return response, wait_for_end(execution_id)


def test_the_child_scenarios_response_comes_back_to_the_caller_and_both_are_linked(asgi_server, cast):
    parent_scenario = caller(cast.team, "Greeter", "Shout")
    shouter(cast.team)

    response, parent = call(asgi_server, parent_scenario, {"word": "hello"})

    assert response.status_code == 200, response.text
    assert response.text == "hello!"
    [child] = Execution.objects.filter(parent=parent)
    assert child.trigger == T.SUBSCENARIO and child.parent_node == 2 and child.depth == 1
    assert child.input["body"] == {"word": "hello"}
    assert runs_of(parent)[2].output == {"execution_id": str(child.pk), "result": "hello!"}


def test_without_a_webhook_response_the_result_is_the_childs_last_node_output(asgi_server, cast):
    parent_scenario = caller(cast.team, "Greeter", "Shout")
    shouter(cast.team, respond=False)

    response, parent = call(asgi_server, parent_scenario, {"word": "hi"})

    assert parent.status == ES.SUCCEEDED, parent.error
    assert runs_of(parent)[2].output["result"] == {"params": {"v": "hi"}, "node": 2}
    assert response.json()["params"] == {"v": "hi"}


def test_a_scenario_calling_itself_fails_naming_the_node_and_field(asgi_server, cast):
    loop = caller(cast.team, "Loop", "Loop", respond=False)

    _, execution = call(asgi_server, loop, {"x": 1})

    assert execution.status == ES.FAILED
    run = runs_of(execution)[2]
    assert run.error["fields"] == {"scenario": ["A scenario cannot call itself, directly or through others."]}
    assert "Scenario: 'Loop' is already running in this chain of calls (Loop → Loop)" in execution.error
    assert execution.error.startswith("$2 Run scenario failed")
    assert not Execution.objects.filter(parent=execution).exists()


def test_a_cycle_through_another_scenario_is_refused_before_it_runs_again(asgi_server, cast):
    first = caller(cast.team, "Ping", "Pong", respond=False)
    caller(cast.team, "Pong", "Ping", respond=False)

    _, execution = call(asgi_server, first, {})

    assert execution.status == ES.FAILED
    assert "(Ping → Pong → Ping)" in execution.error
    assert Execution.objects.count() == 2  # Ping, then Pong, whose call back to Ping was refused


def test_calls_nest_at_most_five_deep(asgi_server, cast):
    names = [f"Level {n}" for n in range(MAX_DEPTH + 2)]
    for name, target in zip(names, names[1:], strict=False):
        caller(cast.team, name, target, respond=False)
    shouter(cast.team, names[-1], respond=False)

    _, top = call(asgi_server, Scenario.objects.get(name=names[0]), {"word": "deep"})

    assert top.status == ES.FAILED
    assert f"'{names[-1]}' would run {MAX_DEPTH + 1} calls deep" in top.error
    assert Execution.objects.filter(depth=MAX_DEPTH).count() == 1
    assert not Execution.objects.filter(depth__gt=MAX_DEPTH).exists()


def test_a_failing_child_fails_the_node_with_the_childs_error(asgi_server, cast):
    parent_scenario = caller(cast.team, "Greeter", "Broken", respond=False)
    build(cast.team, {1: ("manual.trigger", {}), 2: ("test.fail", {})}, [(1, 2)], name="Broken")

    _, parent = call(asgi_server, parent_scenario, {})

    assert parent.status == ES.FAILED
    error = runs_of(parent)[2].error
    assert error["message"] == "The scenario 'Broken' failed: $2 Fail failed: The thing refused."
    assert error["execution_id"] == str(Execution.objects.get(parent=parent).pk)


def test_a_failing_child_can_be_caught_by_the_error_port(asgi_server, cast):
    parent_scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.run_scenario", {"scenario": "Broken", "settings_on_error": "error_port"}),
            3: ("webhook.response", {"status": 502, "body": "{{$2.error.message}}"}),
        },
        [(1, 2), (2, 3, "error")],
    )
    build(cast.team, {1: ("manual.trigger", {}), 2: ("test.fail", {})}, [(1, 2)], name="Broken")

    response, parent = call(asgi_server, parent_scenario, {})

    assert response.status_code == 502
    assert response.text.startswith("The scenario 'Broken' failed")
    assert parent.status == ES.SUCCEEDED


def test_an_unknown_or_other_teams_scenario_is_not_found(asgi_server, cast):
    shouter(cast.other_team, "Mallory's")
    parent_scenario = caller(cast.team, "Greeter", "Mallory's", respond=False)

    _, parent = call(asgi_server, parent_scenario, {})

    assert parent.status == ES.FAILED
    assert runs_of(parent)[2].error["message"] == "Scenario: this team has no scenario named 'Mallory's'."
    assert not Execution.objects.filter(scenario__team=cast.other_team).exists()


def test_the_parents_history_links_to_the_child_and_the_child_back_to_the_parent(asgi_server, cast):
    parent_scenario = caller(cast.team, "Greeter", "Shout")
    child_scenario = shouter(cast.team)
    _, parent = call(asgi_server, parent_scenario, {"word": "hey"})
    child = Execution.objects.get(parent=parent)
    alice, mallory = cast.client_for(cast.alice), cast.client_for(cast.mallory)
    parent_page = reverse("scenarios:run_detail", args=[parent_scenario.pk, parent.pk])
    child_page = reverse("scenarios:run_detail", args=[child_scenario.pk, child.pk])

    seen_parent = alice.get(parent_page).content.decode()
    seen_child = alice.get(child_page).content.decode()

    assert child_page in seen_parent and "$2 ran “Shout”" in seen_parent
    assert parent_page in seen_child and "Called from $2 in the" in seen_child
    assert mallory.get(child_page).status_code == 404


def test_the_live_run_says_which_scenario_the_node_waits_for(asgi_server, cast, monkeypatch):
    published: list[dict[str, Any]] = []

    async def publish(group: str, batch: Any) -> None:
        published.extend(batch)

    monkeypatch.setattr(events, "publish", publish)
    parent_scenario = caller(cast.team, "Greeter", "Shout")
    shouter(cast.team)

    _, parent = call(asgi_server, parent_scenario, {"word": "yo"})

    child = Execution.objects.get(parent=parent)
    news = [e["node"]["progress"] for e in published if "progress" in e.get("node", {})]
    assert {"text": "waiting for “Shout”", "execution_id": str(child.pk)} in news
