"""Whole scenarios with IF, Switch, Filter, Merge and the Manual trigger, run by the real engine: the
route each picks, what is skipped, a merge after an IF, and bad data named by node, field and
condition."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.management import call_command
from django.urls import reverse

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.portable import export_scenario, import_scenario
from scenarios.runtime.engine import run_node_once
from scenarios.snapshot import snapshot_of
from tests.engine.conftest import build, run_now, runs_of, start_and_run

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status


def conditions(
    left: str, op: str, right: Any = "", type: str = "text", combine: str = "and"
) -> dict[str, Any]:
    return {"combine": combine, "rules": [{"left": left, "op": op, "right": right, "type": type}]}


def posted(body: Any) -> dict[str, Any]:
    """The input a webhook call with this JSON body gives."""
    return {"method": "POST", "headers": {"content-type": "application/json"}, "query": {}, "body": body}


def age_check(cast) -> Scenario:
    """$1 webhook → $2 IF age ≥ 18; true → $3 response "adult", false → $4 response "minor"."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.if", {"conditions": conditions("{{$1.body.age}}", "gte", "18", "number")}),
            3: ("webhook.response", {"status": 200, "body": "adult"}),
            4: ("webhook.response", {"status": 200, "body": "minor"}),
        },
        [(1, 2), (2, 3, "true"), (2, 4, "false")],
    )


def test_a_filter_that_fails_ends_its_route_quietly_and_the_execution_succeeds(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.filter", {"conditions": conditions("{{$1.body.plan}}", "equals", "pro")}),
            3: ("test.echo", {"q": "{{$1.body.name}}"}),
        },
        [(1, 2), (2, 3)],
    )
    passed = start_and_run(scenario, posted({"plan": "pro", "name": "Ann"}))
    stopped = start_and_run(scenario, posted({"plan": "free", "name": "Bo"}))

    assert passed.status == ES.SUCCEEDED and runs_of(passed)[3].output["params"] == {"q": "Ann"}
    assert stopped.status == ES.SUCCEEDED, stopped.error
    runs = runs_of(stopped)
    assert runs[2].status == NS.SUCCEEDED and runs[2].ports == []
    assert runs[3].status == NS.SKIPPED
    assert runs[3].error["message"] == "Skipped: route 'main' of $2 Filter was not taken."


def _merge_after_if(cast, mode: str = "append") -> Scenario:
    """$1 → $2 IF vip; true → $3 echo, false → $4 echo; $3, $4 → $5 Merge → $6 response."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.if", {"conditions": conditions("{{$1.body.vip}}", "is_true", type="boolean")}),
            3: ("test.echo", {"v": "lounge"}),
            4: ("test.echo", {"v": "coupon"}),
            5: ("flow.merge", {"inputs": "$1.body.items, $3.params, $4.params", "mode": mode}),
            6: ("webhook.response", {"body": "{{$5}}"}),
        },
        [(1, 2), (2, 3, "true"), (2, 4, "false"), (3, 5), (4, 5), (5, 6)],
    )


def test_a_merge_after_an_if_combines_what_arrived_from_the_route_taken(cast):
    vip = start_and_run(_merge_after_if(cast), posted({"vip": True, "items": ["a", "b"]}))
    other = start_and_run(_merge_after_if(cast), posted({"vip": "false", "items": []}))

    assert vip.status == ES.SUCCEEDED, vip.error
    assert runs_of(vip)[5].output == ["a", "b", {"v": "lounge"}]
    assert (vip.response or {})["body"] == ["a", "b", {"v": "lounge"}]
    assert runs_of(other)[5].output == [{"v": "coupon"}]
    assert runs_of(other)[3].status == NS.SKIPPED


def test_a_merge_by_key_joins_two_branches_that_both_ran(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("test.echo", {"items": "{{$1.body.users}}"}),
            3: ("test.echo", {"items": "{{$1.body.plans}}"}),
            4: ("flow.merge", {"inputs": "$2.params.items, $3.params.items", "mode": "key", "key": "id"}),
        },
        [(1, 2), (1, 3), (2, 4), (3, 4)],
    )
    body = {"users": [{"id": 1, "name": "Ann"}, {"id": 2, "name": "Bo"}], "plans": [{"id": 2, "plan": "pro"}]}

    execution = start_and_run(scenario, posted(body))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output == [{"id": 2, "name": "Bo", "plan": "pro"}]


def test_data_of_the_wrong_type_fails_the_if_with_the_field_and_condition_named(cast):
    execution = start_and_run(age_check(cast), posted({"age": "abc"}))

    assert execution.status == ES.FAILED
    assert execution.error == (
        "$2 IF failed: Some fields are not valid. Conditions: Condition 1: the left value 'abc' is not a number."
    )
    runs = runs_of(execution)
    assert runs[2].error["fields"] == {"conditions": ["Condition 1: the left value 'abc' is not a number."]}
    assert runs[2].params["conditions"]["rules"][0]["left"] == "abc"  # what it was given is kept
    assert runs[3].status == runs[4].status == NS.SKIPPED


def test_a_regular_expression_arriving_through_an_expression_is_checked_when_resolved(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: (
                "flow.filter",
                {"conditions": conditions("{{$1.body.text}}", "matches", "{{$1.body.pattern}}")},
            ),
        },
        [(1, 2)],
    )
    execution = start_and_run(scenario, posted({"text": "x", "pattern": "(oops"}))

    assert execution.status == ES.FAILED
    assert "$2 Filter failed: Some fields are not valid. Conditions: Condition 1: the regular expression" in (
        execution.error
    )


@pytest.mark.django_db(transaction=True)
def test_the_run_command_starts_a_manual_trigger_with_its_sample_input(cast):
    scenario = build(
        cast.team,
        {
            1: ("manual.trigger", {"sample": {"question": "What is Scenery?"}}),
            2: ("flow.if", {"conditions": conditions("{{$1.body.question}}", "ends_with", "?")}),
            3: ("test.echo", {"q": "{{$1.body.question}}"}),
        },
        [(1, 2), (2, 3, "true")],
    )
    out = io.StringIO()
    call_command("scenario", "run", str(scenario.id), stdout=out)

    execution = Execution.objects.get(scenario=scenario)
    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[3].output["params"] == {"q": "What is Scenery?"}
    assert "Execution succeeded" in out.getvalue()


def test_run_scenario_from_the_editor_starts_a_manual_trigger(cast):
    scenario = build(
        cast.team,
        {1: ("manual.trigger", {"sample": {"n": 5}}), 2: ("test.echo", {"n": "{{$1.body.n}}"})},
        [(1, 2)],
    )
    response = cast.client_for(cast.bob).post(
        f"/scenarios/{scenario.pk}/run/", {"sample_input": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200, response.content
    created = Execution.objects.get(scenario=scenario)
    assert created.status == ES.QUEUED, created.error
    execution = run_now(created)
    assert execution.trigger == Execution.Trigger.MANUAL and execution.status == ES.SUCCEEDED
    assert runs_of(execution)[2].output["params"] == {"n": 5}


def test_the_run_dialog_offers_the_manual_triggers_sample_to_edit(cast):
    scenario = build(cast.team, {1: ("manual.trigger", {"sample": {"question": "Where is my order?"}})}, [])
    html = (
        cast.client_for(cast.bob)
        .get(f"/scenarios/{scenario.pk}/run/", HTTP_HX_REQUEST="true")
        .content.decode()
    )
    assert "Where is my order?" in html


def test_a_switch_exported_and_imported_keeps_its_routes_and_ports(cast):
    scenario = build(
        cast.team,
        {
            1: ("manual.trigger", {"sample": {"n": 1}}),
            2: (
                "flow.switch",
                {"mode": "every", "route1_name": "One", "route1_conditions": conditions("a", "equals", "a")},
            ),
            3: ("flow.merge", {"inputs": "$1, $2", "mode": "append"}),
        },
        [(1, 2), (2, 3, "route1"), (2, 3, "fallback")],
    )
    data = json.loads(json.dumps(export_scenario(scenario)))
    copy = import_scenario(data, cast.team, cast.alice)

    assert snapshot_of(copy)["edges"] == snapshot_of(scenario)["edges"]
    assert copy.nodes.get(number=2).params == scenario.nodes.get(number=2).params
    execution = start_and_run(copy)
    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[2].ports == ["route1"]


@pytest.mark.django_db(transaction=True)
def test_run_once_on_an_if_shows_which_route_its_conditions_pick_with_the_test_data(cast):
    scenario = age_check(cast)
    scenario.nodes.filter(number=1).update(params={"sample": {"age": 12}})
    run = async_to_sync(run_node_once)(scenario.nodes.get(number=2), cast.bob)
    assert run.status == NS.SUCCEEDED and run.ports == ["false"]
    node = scenario.nodes.get(number=2)
    page = cast.client_for(cast.carol).get(reverse("scenarios:inspector", args=[scenario.pk, node.pk]))
    assert "Route taken:" in page.content.decode() and "→ false" in page.content.decode()
