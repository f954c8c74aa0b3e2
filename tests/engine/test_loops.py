"""Loop over items and Aggregate, run by the real engine: each item's node runs kept as rows, the
collected list in item order, routes and error ports inside a loop, a loop inside an IF's branch, and
bad lists named by node and field."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from scenarios.models import Execution, NodeRun, Scenario
from scenarios.portable import export_scenario, import_scenario
from scenarios.snapshot import save_problems, snapshot_of
from tests.engine.conftest import CALLS, build, runs_of, start_and_run
from tests.engine.test_flow import conditions, posted
from tests.live_events import heard_in
from tests.waiting import wait_until

pytestmark = pytest.mark.usefixtures("test_nodes", "no_background_executor")

ES, NS = Execution.Status, NodeRun.Status


def iterations_of(execution: Execution, number: int) -> list[Any]:
    """The runs of node `number` inside loops, by item."""
    return list(
        NodeRun.in_loops.filter(execution=execution, node_number=number, iteration__isnull=False).order_by(
            "iteration"
        )
    )


def greeter(cast, **loop: Any) -> Scenario:
    """$1 webhook → $2 Loop over body.names; item → $3 echo "Hi {{$item}} #{{$index}}" → $4 Aggregate
    (collects $3.params.text); $4 → $5 response with the list."""
    return build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.names}}", **loop}),
            3: ("test.echo", {"text": "Hi {{$item}} #{{$index}}", "v": "{{$2}}"}),
            4: ("flow.aggregate", {"value": "{{$3.params.text}}"}),
            5: ("webhook.response", {"body": "{{$4}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4), (4, 5)],
    )


def test_a_loop_runs_its_body_once_per_item_and_the_aggregate_collects_in_item_order(cast):
    execution = start_and_run(greeter(cast), posted({"names": ["Ann", "Bo", "Cy"]}))

    assert execution.status == ES.SUCCEEDED, execution.error
    runs = runs_of(execution)
    assert runs[2].output == ["Ann", "Bo", "Cy"] and runs[2].ports == ["done"]
    assert runs[4].output == ["Hi Ann #0", "Hi Bo #1", "Hi Cy #2"]
    assert (execution.response or {})["body"] == ["Hi Ann #0", "Hi Bo #1", "Hi Cy #2"]
    # Inside the body, the Loop's own output is the current item.
    assert [run.output["params"]["v"] for run in iterations_of(execution, 3)] == ["Ann", "Bo", "Cy"]
    assert 3 not in runs  # the body's runs are per item, not one run of the execution
    assert CALLS[f"{execution.id}:3"] == 3


def test_concurrent_items_still_aggregate_in_item_order(cast):
    names = [f"n{i}" for i in range(25)]
    execution = start_and_run(greeter(cast, mode="concurrent", concurrency=5), posted({"names": names}))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output == [f"Hi n{i} #{i}" for i in range(25)]
    assert len(iterations_of(execution, 3)) == 25


def test_an_empty_list_runs_no_item_and_aggregates_an_empty_list(cast):
    execution = start_and_run(greeter(cast), posted({"names": []}))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output == []
    assert iterations_of(execution, 3) == []


def test_a_loop_over_something_not_a_list_fails_naming_the_node_and_field(cast):
    execution = start_and_run(greeter(cast), posted({"names": {"a": 1}}))

    assert execution.status == ES.FAILED
    runs = runs_of(execution)
    assert runs[2].error["fields"] == {"items": [runs[2].error["message"]]}
    assert "Items: a Loop over items needs a list, but this is dict data" in runs[2].error["message"]
    assert execution.error.startswith("$2 Loop over items failed: Items:")
    assert runs[4].status == NS.SKIPPED and runs[5].status == NS.SKIPPED


def test_a_list_over_the_limit_is_refused_before_any_item_runs(cast):
    execution = start_and_run(greeter(cast), posted({"names": list(range(1001))}))

    assert execution.status == ES.FAILED
    assert "Items: the list has 1,001 items, over the limit of 1,000 per loop." in execution.error
    assert iterations_of(execution, 3) == []


def test_a_failing_item_fails_the_loop_naming_the_item_and_the_node(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.items}}"}),
            3: ("test.echo", {"v": "{{$item.missing}}"}),
            4: ("flow.aggregate", {}),
        },
        [(1, 2), (2, 3, "item"), (3, 4)],
    )
    execution = start_and_run(scenario, posted({"items": [{"missing": 1}, {"other": 2}, {"missing": 3}]}))

    assert execution.status == ES.FAILED
    assert "Item 2 of 3 ($index 1): $3 Echo failed: {{$item.missing}}: $item has no 'missing'." in (
        execution.error
    )
    # Items stop once one failed: the third did not run.
    assert [run.iteration for run in iterations_of(execution, 3)] == [0, 1]
    assert runs_of(execution)[4].status == NS.SKIPPED


def test_a_failure_inside_a_loop_goes_down_the_nodes_error_port_and_the_loop_goes_on(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.flags}}"}),
            3: ("test.risky", {"fail": "{{$item}}"}),
            4: ("flow.aggregate", {}),
        },
        [(1, 2), (2, 3, "item"), (3, 4), (3, 4, "error")],
    )
    execution = start_and_run(scenario, posted({"flags": [False, True, False]}))

    assert execution.status == ES.SUCCEEDED, execution.error
    collected = runs_of(execution)[4].output
    assert collected[0] == {"ok": True} and collected[2] == {"ok": True}
    assert collected[1]["error"]["message"] == "The risky thing broke."
    assert [run.ports for run in iterations_of(execution, 3)] == [["main"], ["error"], ["main"]]


def test_a_filter_inside_a_loop_leaves_its_items_out_of_the_aggregate(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.ages}}"}),
            3: ("flow.filter", {"conditions": conditions("{{$item}}", "gte", "18", "number")}),
            4: ("flow.aggregate", {"value": "{{$index}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4)],
    )
    execution = start_and_run(scenario, posted({"ages": [12, 30, 17, 45]}))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output == [1, 3]
    skipped = [run.iteration for run in iterations_of(execution, 4) if run.status == NS.SKIPPED]
    assert skipped == [0, 2]


def test_a_loop_inside_an_if_branch_runs_only_when_its_route_is_taken_and_a_merge_follows(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.if", {"conditions": conditions("{{$1.body.many}}", "is_true", type="boolean")}),
            3: ("flow.loop", {"items": "{{$1.body.items}}"}),
            4: ("test.echo", {"n": "{{$item}}"}),
            5: ("flow.aggregate", {"value": "{{$4.params.n}}"}),
            6: ("test.echo", {"v": "one"}),
            7: ("flow.merge", {"inputs": "$5, $6.params.v"}),
        },
        [(1, 2), (2, 3, "true"), (3, 4, "item"), (4, 5), (2, 6, "false"), (5, 7), (6, 7)],
    )
    many = start_and_run(scenario, posted({"many": True, "items": [1, 2]}))
    one = start_and_run(scenario, posted({"many": False, "items": [1, 2]}))

    assert many.status == ES.SUCCEEDED, many.error
    assert runs_of(many)[7].output == [1, 2]
    assert one.status == ES.SUCCEEDED, one.error
    runs = runs_of(one)
    assert runs[3].status == NS.SKIPPED and runs[5].status == NS.SKIPPED
    assert runs[5].error["message"] == "Skipped: $3 Loop over items was skipped (its route was not taken)."
    assert runs[7].output == ["one"]
    assert iterations_of(one, 4) == []


def test_the_done_port_goes_on_with_the_whole_list_after_every_item(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": '["a", "b"]'}),
            3: ("test.echo", {"v": "{{$item}}"}),
            4: ("flow.aggregate", {}),
            5: ("test.echo", {"items": "{{$2}}", "join": "{{$4}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4), (2, 5, "done"), (4, 5)],
    )
    execution = start_and_run(scenario, posted({}))

    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[5].output["params"]["items"] == ["a", "b"]
    assert [v["params"]["v"] for v in runs_of(execution)[5].output["params"]["join"]] == ["a", "b"]


def test_an_exported_loop_imports_and_runs_the_same(cast):
    data = json.loads(json.dumps(export_scenario(greeter(cast))))
    copy = import_scenario(data, cast.team, cast.alice)

    execution = start_and_run(copy, posted({"names": ["Ann"]}))

    assert snapshot_of(copy)["edges"] == [[1, 2], [2, 3, "item"], [3, 4], [4, 5]]
    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output == ["Hi Ann #0"]


def test_a_live_run_says_which_item_its_loop_is_at_and_shows_its_body_nodes(cast):
    group = Scenario.group_name_for(greeter_id := greeter(cast).pk)

    def events_of(heard: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
        return [
            event
            for message in list(heard)
            for event in message.get("events", [message])
            if isinstance(event, dict) and event.get("type") == kind
        ]

    def progress(heard: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e["node"]["progress"] for e in events_of(heard, "node") if "progress" in e["node"]]

    with heard_in(group) as heard:
        execution = start_and_run(Scenario.objects.get(pk=greeter_id), posted({"names": ["a", "b", "c"]}))
        assert execution.status == ES.SUCCEEDED
        wait_until(lambda: {"item": 3, "of": 3} in progress(heard), "the loop's last progress event")
        wait_until(lambda: events_of(heard, "execution"), "the run's end")

    assert progress(heard)[-1] == {"item": 3, "of": 3}, heard[:3]
    body = [event["node"] for event in events_of(heard, "node") if event["node"]["node"] == 3]
    # The body's node, as the latest item left it, with how many items have ended.
    assert body[-1]["items"] == 3 and body[-1]["output"]["params"]["text"] == "Hi c #2"


# -- shapes refused when saving ------------------------------------------------------------------


def _problems(cast, nodes: dict[int, Any], edges: list[Any]) -> list[str]:
    return save_problems(snapshot_of(build(cast.team, nodes, edges)))


def test_a_loop_inside_another_loop_is_refused_as_not_nested_yet(cast):
    problems = _problems(
        cast,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.a}}"}),
            3: ("flow.loop", {"items": "{{$item.b}}"}),
            4: ("test.echo", {}),
            5: ("flow.aggregate", {}),
            6: ("flow.aggregate", {}),
        },
        [(1, 2), (2, 3, "item"), (3, 4, "item"), (4, 5), (3, 6, "done"), (5, 6)],
    )

    assert any("$3 Loop over items: loops cannot be nested yet" in p for p in problems), problems


def test_a_loop_body_must_end_in_one_aggregate(cast):
    problems = _problems(
        cast,
        {1: ("webhook.trigger", {}), 2: ("flow.loop", {"items": "[]"}), 3: ("test.echo", {})},
        [(1, 2), (2, 3, "item")],
    )

    assert problems == ["$2 Loop over items: the nodes after its “item” port must end in an Aggregate."]


def test_a_body_node_taking_input_from_outside_the_loop_is_refused(cast):
    problems = _problems(
        cast,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "[]"}),
            3: ("test.echo", {}),
            4: ("flow.aggregate", {}),
        },
        [(1, 2), (2, 3, "item"), (1, 3), (3, 4)],
    )

    assert problems == [
        "$3 Echo runs once per item of $2 Loop over items, so it can take input only from the loop's "
        "“item” port or the nodes after it, not from $1 Trigger on Webhook."
    ]


def test_item_outside_a_loop_and_an_aggregate_without_a_loop_are_refused(cast):
    problems = _problems(
        cast,
        {1: ("webhook.trigger", {}), 2: ("test.echo", {"v": "{{$item.name}}"}), 3: ("flow.aggregate", {})},
        [(1, 2), (2, 3)],
    )

    assert problems == [
        "$3 Aggregate ends a loop: put it after the nodes of a Loop over items' “item” port.",
        "$2 Echo: {{$item.name}} exists only in the nodes after a Loop over items' “item” port.",
    ]


# -- history -------------------------------------------------------------------------------------


def test_history_shows_a_loops_items_fifty_at_a_time(cast):
    execution = start_and_run(greeter(cast), posted({"names": [f"n{i}" for i in range(120)]}))
    assert execution.status == ES.SUCCEEDED, execution.error
    client = cast.client_for(cast.carol)  # a viewer may read history
    url = reverse("scenarios:run_iterations", args=[execution.scenario_id, execution.pk, 2])

    detail = client.get(reverse("scenarios:run_detail", args=[execution.scenario_id, execution.pk]))
    first = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    last = client.get(url + "?page=3", HTTP_HX_REQUEST="true").content.decode()

    assert url in detail.content.decode()
    # On the canvas, the body's node says how its items went.
    assert detail.context["overlay"]["3"] == {
        "status": "succeeded",
        "items": 120,
        "duration_ms": None,
        "ports": None,
    }
    assert 'class="loop-item"' not in detail.content.decode()  # items are paged, not on the run page
    assert "Items 1–50 of 120" in first and first.count('class="loop-item"') == 50
    assert "Hi n49 #49" in first and "Hi n50 #50" not in first
    assert "?page=2" in first and "Page 1 of 3" in first
    assert "Items 101–120 of 120" in last and last.count('class="loop-item"') == 20
    assert "Hi n119 #119" in last and "?page=2" in last


def test_a_failed_item_is_marked_in_history(cast):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": "{{$1.body.items}}"}),
            3: ("test.echo", {"v": "{{$item.name}}"}),
            4: ("flow.aggregate", {}),
        },
        [(1, 2), (2, 3, "item"), (3, 4)],
    )
    execution = start_and_run(scenario, posted({"items": [{"name": "a"}, {}]}))
    url = reverse("scenarios:run_iterations", args=[scenario.pk, execution.pk, 2])

    page = cast.client_for(cast.alice).get(url).content.decode()

    assert "Items 1–2 of 2" in page
    assert page.count("status-failed") >= 2  # the item and its node
    assert "{{$item.name}}: $item has no &#x27;name&#x27;." in page


def test_strangers_cannot_see_a_loops_items_and_a_node_that_is_no_loop_has_none(cast):
    execution = start_and_run(greeter(cast), posted({"names": ["a"]}))
    url = reverse("scenarios:run_iterations", args=[execution.scenario_id, execution.pk, 2])
    not_a_loop = reverse("scenarios:run_iterations", args=[execution.scenario_id, execution.pk, 3])

    assert cast.client_for(cast.mallory).get(url).status_code == 404
    assert "No item has run." in cast.client_for(cast.alice).get(not_a_loop).content.decode()


def test_a_loop_with_an_empty_items_field_is_refused_naming_the_field(cast):
    problems = _problems(
        cast,
        {
            1: ("webhook.trigger", {}),
            2: ("flow.loop", {"items": " "}),
            3: ("flow.aggregate", {}),
        },
        [(1, 2), (2, 3, "item")],
    )

    assert problems == [
        "$2 Loop over items: Items is empty; name the list to go through, such as {{$1.body.items}}."
    ]


def test_deleting_a_scenario_deletes_its_loops_item_runs_too(cast):
    scenario = greeter(cast)
    execution = start_and_run(scenario, posted({"names": ["a", "b"]}))
    assert NodeRun.in_loops.filter(execution=execution, iteration__isnull=False).count() == 4

    scenario.delete()

    assert not NodeRun.in_loops.filter(execution_id=execution.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_run_command_runs_a_loop_from_a_manual_trigger(cast):
    scenario = build(
        cast.team,
        {
            1: ("manual.trigger", {"sample": {"cities": ["Lyon", "Oslo"]}}),
            2: ("flow.loop", {"items": "{{$1.body.cities}}", "mode": "concurrent", "concurrency": 2}),
            3: ("test.echo", {"text": "{{$index}}: {{$item}}"}),
            4: ("flow.aggregate", {"value": "{{$3.params.text}}"}),
        },
        [(1, 2), (2, 3, "item"), (3, 4)],
    )
    out = io.StringIO()
    call_command("scenario", "run", str(scenario.id), stdout=out)

    execution = Execution.objects.get(scenario=scenario)
    assert execution.status == ES.SUCCEEDED, execution.error
    assert runs_of(execution)[4].output == ["0: Lyon", "1: Oslo"]
    assert "Execution succeeded" in out.getvalue()
