"""Saving the canvas: positions, nodes and edges, checked against the scenario's version."""

from __future__ import annotations

import json
from typing import Any

from django.urls import reverse

from nodes.registry import NODE_TYPES
from scenarios.models import Node, Scenario
from teams.models import Credential
from tests.editor.conftest import RESPOND, SEND, TRIGGER, build, current_payload, save

THREAD_KIND = "openai.create_thread"


def node_id(scenario: Scenario, number: int) -> str:
    return str(scenario.nodes.get(number=number).pk)


def test_the_graph_lists_nodes_edges_and_version(cast, scenario):
    data = cast.client_for(cast.carol).get(reverse("scenarios:graph", args=[scenario.pk])).json()
    assert data["version"] == 1
    assert [(n["number"], n["kind"], n["title"]) for n in data["nodes"]] == [
        (1, TRIGGER, "Trigger on Webhook"),
        (2, SEND, "Send Message"),
        (3, RESPOND, "Webhook response"),
    ]
    assert data["nodes"][0]["trigger"] is True and data["nodes"][1]["trigger"] is False
    assert {(e["source"], e["target"]) for e in data["edges"]} == {
        (node_id(scenario, 1), node_id(scenario, 2)),
        (node_id(scenario, 2), node_id(scenario, 3)),
    }


def test_moving_nodes_saves_positions_and_bumps_the_version(cast, scenario):
    payload = current_payload(scenario)
    payload["nodes"][0].update(x=12.5, y=-40)
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 200, response.content
    assert response.json()["version"] == 2
    node = scenario.nodes.get(number=1)
    assert (node.position_x, node.position_y) == (12.5, -40)
    scenario.refresh_from_db()
    assert scenario.version == 2 and scenario.updated_by == cast.bob


def test_a_stale_save_is_refused_with_409_and_changes_nothing(cast, scenario):
    client = cast.client_for(cast.bob)
    first = current_payload(scenario)
    stale = json.loads(json.dumps(first))
    first["nodes"][0]["x"] = 500
    assert save(client, scenario, first).status_code == 200
    stale["nodes"][0]["x"] = 999
    stale["edges"] = []
    response = save(cast.client_for(cast.alice), scenario, stale)
    assert response.status_code == 409
    assert "changed elsewhere" in response.json()["error"]
    assert response.json()["version"] == 2
    assert scenario.nodes.get(number=1).position_x == 500
    assert scenario.edges.count() == 2


def test_new_nodes_get_created_with_their_number_and_default_params(cast, scenario):
    payload = current_payload(scenario)
    payload["nodes"].append({"key": "x6-new", "id": None, "number": 4, "kind": THREAD_KIND, "x": 1, "y": 2})
    payload["edges"].append({"source": node_id(scenario, 2), "target": "x6-new"})
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 200, response.content
    created = Node.objects.get(scenario=scenario, number=4)
    assert created.kind == THREAD_KIND
    assert created.params == NODE_TYPES[THREAD_KIND].defaults()
    mapping = {n["key"]: n for n in response.json()["nodes"]}
    assert mapping["x6-new"]["id"] == str(created.pk) and mapping["x6-new"]["number"] == 4
    assert scenario.edges.filter(source__number=2, target__number=4).exists()


def test_nodes_left_out_of_a_save_are_deleted_with_their_edges(cast, scenario):
    payload = current_payload(scenario)
    payload["nodes"] = [n for n in payload["nodes"] if n["number"] != 2]
    payload["edges"] = []
    assert save(cast.client_for(cast.bob), scenario, payload).status_code == 200
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 3]
    assert scenario.edges.count() == 0


def test_a_node_restored_by_undo_comes_back_with_its_params(cast, scenario):
    client = cast.client_for(cast.bob)
    payload = current_payload(scenario)
    deleted = next(n for n in payload["nodes"] if n["number"] == 2)
    payload["nodes"].remove(deleted)
    payload["edges"] = []
    assert save(client, scenario, payload).status_code == 200
    # The browser still has the node's last known data and sends it back with its old id.
    restored = {**deleted, "params": {"message": "{{$1.body.question}}"}, "key": "cell-2"}
    again = current_payload(scenario)
    again["nodes"].append(restored)
    again["edges"] = [{"source": node_id(scenario, 1), "target": "cell-2"}]
    response = save(client, scenario, again)
    assert response.status_code == 200, response.content
    node = scenario.nodes.get(number=2)
    assert node.params == {"message": "{{$1.body.question}}"}
    assert str(node.pk) != deleted["id"]  # a fresh id: the browser never chooses ids
    assert scenario.edges.filter(source__number=1, target__number=2).exists()


def test_only_the_deleted_node_itself_gets_its_number_back(cast, scenario):
    client = cast.client_for(cast.bob)
    payload = current_payload(scenario)
    deleted = next(n for n in payload["nodes"] if n["number"] == 3)
    payload["nodes"].remove(deleted)
    payload["edges"] = payload["edges"][:1]
    assert save(client, scenario, payload).status_code == 200
    again = current_payload(scenario)
    impostor = {**deleted, "key": "other", "id": "not-the-deleted-one"}
    again["nodes"].append(impostor)
    response = save(client, scenario, again)
    assert {n["key"]: n["number"] for n in response.json()["nodes"]}["other"] == 4


def test_a_cycle_is_refused_with_a_message(cast, scenario):
    payload = current_payload(scenario)
    payload["edges"].append({"source": node_id(scenario, 3), "target": node_id(scenario, 2)})
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 400
    assert "cycle" in response.json()["error"]
    assert "$2" in response.json()["error"] and "$3" in response.json()["error"]
    scenario.refresh_from_db()
    assert scenario.version == 1 and scenario.edges.count() == 2


def test_a_self_loop_is_refused(cast, scenario):
    payload = current_payload(scenario)
    payload["edges"].append({"source": node_id(scenario, 2), "target": node_id(scenario, 2)})
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 400
    assert response.json()["error"] == "$2 cannot be connected to itself."


def test_nothing_can_connect_into_a_trigger(cast, scenario):
    payload = current_payload(scenario)
    payload["edges"].append({"source": node_id(scenario, 3), "target": node_id(scenario, 1)})
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 400
    assert "$1 is a trigger" in response.json()["error"]


def test_a_duplicate_edge_is_refused(cast, scenario):
    payload = current_payload(scenario)
    payload["edges"].append(dict(payload["edges"][0]))
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 400
    assert "already connected" in response.json()["error"]


def test_unknown_kinds_and_bad_positions_are_refused(cast, scenario):
    client = cast.client_for(cast.bob)
    cases = [
        ({"key": "a", "number": 9, "kind": "nope.nope", "x": 0, "y": 0}, "no node type"),
        ({"key": "a", "number": 9, "kind": SEND, "x": "left", "y": 0}, "must be a number"),
        ({"key": "a", "number": 9, "kind": SEND, "x": 0, "y": 0, "params": [1]}, "JSON object"),
    ]
    for extra, message in cases:
        payload = current_payload(scenario)
        payload["nodes"].append(extra)
        response = save(client, scenario, payload)
        assert response.status_code == 400, extra
        assert message in response.json()["error"], (extra, response.json())
    assert scenario.nodes.count() == 3


def test_a_new_node_with_a_number_in_use_gets_the_next_free_one_instead_of_being_lost(cast, scenario):
    payload = current_payload(scenario)
    payload["nodes"].append({"key": "a", "number": 2, "kind": SEND, "x": 0, "y": 0})
    payload["nodes"].append({"key": "b", "number": 2, "kind": SEND, "x": 0, "y": 0})
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 200, response.content
    numbers = {n["key"]: n["number"] for n in response.json()["nodes"]}
    assert (numbers["a"], numbers["b"]) == (4, 5)
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 2, 3, 4, 5]
    assert response.json()["highest_number"] == 5


def _delete_the_last_node(client, scenario: Scenario) -> None:
    payload = current_payload(scenario)
    payload["nodes"] = [n for n in payload["nodes"] if n["number"] != 3]
    payload["edges"] = payload["edges"][:1]
    assert save(client, scenario, payload).status_code == 200
    scenario.refresh_from_db()


def test_a_deleted_nodes_number_is_never_given_to_another_node(cast, scenario):
    client = cast.client_for(cast.bob)
    _delete_the_last_node(client, scenario)
    assert scenario.next_node_number() == 4  # not 3, which {{$3...}} and the runs of $3 still name
    again = current_payload(scenario)
    again["nodes"].append({"key": "stale-tab", "number": 3, "kind": RESPOND, "x": 0, "y": 0})
    response = save(client, scenario, again)
    assert response.status_code == 200, response.content
    assert {n["key"]: n["number"] for n in response.json()["nodes"]}["stale-tab"] == 4
    graph = client.get(reverse("scenarios:graph", args=[scenario.pk])).json()
    assert graph["highest_number"] == 4


def test_adding_from_the_outline_after_deleting_the_last_node_takes_a_new_number(cast, scenario):
    client = cast.client_for(cast.bob)
    _delete_the_last_node(client, scenario)
    response = client.post(
        reverse("scenarios:outline_add_node", args=[scenario.pk]),
        {"kind": RESPOND, "version": scenario.version},
    )
    assert response.status_code == 200
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 2, 4]


def test_a_save_without_a_version_or_json_is_refused(cast, scenario):
    client = cast.client_for(cast.bob)
    payload = current_payload(scenario)
    del payload["version"]
    assert save(client, scenario, payload).status_code == 400
    response = client.post(
        reverse("scenarios:graph", args=[scenario.pk]), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("The save is not valid JSON")


def test_a_pasted_credential_of_another_team_is_dropped(cast, scenario):
    foreign = Credential(team=cast.other_team, name="Mallory's key", base_url="https://api.example.com/v1")
    foreign.set_secret("sk-mallory-0000000")
    foreign.save()
    own = Credential(team=cast.team, name="Ours", base_url="https://api.example.com/v1")
    own.set_secret("sk-ours-111111111")
    own.save()
    payload = current_payload(scenario)
    payload["nodes"] += [
        {"key": "p1", "number": 4, "kind": SEND, "x": 0, "y": 0, "credential": str(foreign.pk)},
        {"key": "p2", "number": 5, "kind": SEND, "x": 0, "y": 0, "credential": str(own.pk)},
    ]
    assert save(cast.client_for(cast.bob), scenario, payload).status_code == 200
    assert scenario.nodes.get(number=4).credential is None
    assert scenario.nodes.get(number=5).credential == own


def test_existing_nodes_keep_their_params_whatever_the_canvas_sends(cast, scenario):
    payload = current_payload(scenario)
    for node in payload["nodes"]:
        node["params"] = {"message": "overwritten"}
        node["kind"] = RESPOND
    assert save(cast.client_for(cast.bob), scenario, payload).status_code == 200
    node = scenario.nodes.get(number=2)
    assert node.kind == SEND and node.params == {"message": "{{$1.body.question}}"}


def test_a_viewer_cannot_save_and_a_stranger_gets_404(cast, scenario):
    payload = current_payload(scenario)
    payload["edges"] = []
    assert save(cast.client_for(cast.carol), scenario, payload).status_code == 403
    assert save(cast.client_for(cast.mallory), scenario, payload).status_code == 404
    assert (
        cast.client_for(cast.mallory).get(reverse("scenarios:graph", args=[scenario.pk])).status_code == 404
    )
    assert scenario.edges.count() == 2


def test_a_large_scenario_saves_in_one_request(cast):
    nodes: dict[int, tuple[str, dict[str, Any]]] = {1: (TRIGGER, {})}
    nodes |= {n: (RESPOND, {"status": 200}) for n in range(2, 201)}
    big = build(cast.team, nodes, [(1, n) for n in range(2, 201)])
    payload = current_payload(big)
    for node in payload["nodes"]:
        node["x"] += 10
    response = save(cast.client_for(cast.bob), big, payload)
    assert response.status_code == 200
    assert big.nodes.filter(position_x__gte=10).count() == 200
    assert big.edges.count() == 199


def test_a_save_reports_what_would_stop_the_scenario_from_running(cast, scenario):
    payload = current_payload(scenario)
    payload["nodes"] = [n for n in payload["nodes"] if n["number"] != 2]
    payload["edges"] = []
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 200
    assert any("$2" in p and "does not exist" in p for p in response.json()["problems"])


def test_a_pasted_node_with_code_in_braces_is_refused(cast, scenario):
    payload = current_payload(scenario)
    payload["nodes"].append(
        {
            "key": "p",
            "number": 4,
            "kind": RESPOND,
            "x": 0,
            "y": 0,
            "params": {"body": "{{ __import__('os') }}"},
        }
    )
    response = save(cast.client_for(cast.bob), scenario, payload)
    assert response.status_code == 400
    assert (
        response.json()["error"].startswith("$4: ") and "not a valid expression" in response.json()["error"]
    )
    assert scenario.nodes.count() == 3


def test_upgrading_remembers_the_numbers_of_nodes_deleted_before_but_still_in_the_history(cast, scenario):
    from importlib import import_module

    from django.apps import apps

    from scenarios.models import Execution, NodeRun

    execution = Execution.objects.create(scenario=scenario, snapshot={}, input={})
    NodeRun.objects.create(execution=execution, node_number=7, node_kind=SEND, attempt=1)
    Scenario.objects.filter(pk=scenario.pk).update(highest_node_number=0)
    import_module("scenarios.migrations.0005_highest_node_number").remember_numbers_used(apps, None)
    scenario.refresh_from_db()
    assert scenario.highest_node_number == 7 and scenario.next_node_number() == 8
