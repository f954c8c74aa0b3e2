"""Ports in the editor: the canvas's graph names each node's output ports and each edge's port, a
save keeps them and refuses a port the node lacks, and the outline connects port by port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import reverse

from scenarios.models import Edge, Scenario
from tests.editor.conftest import RESPOND, TRIGGER, build, current_payload, save
from tests.editor.test_editor_page import HX, outline_post
from tests.ports import BRANCH, branch_type


@pytest.fixture
def branching(cast) -> Iterator[Scenario]:
    """$1 trigger → $2 Branch, with $3 and $4 responses not yet connected."""
    with branch_type():
        yield build(
            cast.team, {1: (TRIGGER, {}), 2: (BRANCH, {}), 3: (RESPOND, {}), 4: (RESPOND, {})}, [(1, 2)]
        )


def key(scenario: Scenario, number: int) -> str:
    return str(scenario.nodes.get(number=number).pk)


def edges(scenario: Scenario) -> list[tuple[int, int, str]]:
    return sorted(scenario.edges.values_list("source__number", "target__number", "source_port"))


def connect(scenario: Scenario, source: int, target: int, port: str) -> None:
    Edge.objects.create(
        scenario=scenario,
        source=scenario.nodes.get(number=source),
        target=scenario.nodes.get(number=target),
        source_port=port,
    )


def payload_with(scenario: Scenario, *extra: dict[str, Any]) -> dict[str, Any]:
    payload = current_payload(scenario)
    payload["edges"] = [
        {"source": key(scenario, s), "target": key(scenario, t), "port": p} for s, t, p in edges(scenario)
    ] + list(extra)
    return payload


def test_the_graph_names_each_nodes_ports_and_each_edges_port(cast, branching):
    connect(branching, 2, 3, "false")
    data = cast.client_for(cast.carol).get(reverse("scenarios:graph", args=[branching.pk])).json()

    assert [n["outputs"] for n in data["nodes"]] == [["main"], ["true", "false"], ["main"], ["main"]]
    assert {(e["source"], e["target"], e["port"]) for e in data["edges"]} == {
        (key(branching, 1), key(branching, 2), "main"),
        (key(branching, 2), key(branching, 3), "false"),
    }


def test_a_save_keeps_the_port_of_each_edge(cast, branching):
    payload = payload_with(
        branching,
        {"source": key(branching, 2), "target": key(branching, 3), "port": "true"},
        {"source": key(branching, 2), "target": key(branching, 4), "port": "false"},
    )
    response = save(cast.client_for(cast.bob), branching, payload)

    assert response.status_code == 200, response.content
    assert edges(branching) == [(1, 2, "main"), (2, 3, "true"), (2, 4, "false")]


def test_an_edge_saved_without_a_port_leaves_from_the_default_one(cast, branching):
    payload = current_payload(branching)
    payload["edges"].append({"source": key(branching, 3), "target": key(branching, 4)})
    assert save(cast.client_for(cast.bob), branching, payload).status_code == 200
    assert (3, 4, "main") in edges(branching)


def test_a_port_the_node_type_lacks_is_refused_naming_the_node_and_port(cast, branching):
    payload = payload_with(
        branching, {"source": key(branching, 2), "target": key(branching, 3), "port": "maybe"}
    )
    response = save(cast.client_for(cast.bob), branching, payload)

    assert response.status_code == 400
    assert response.json()["error"] == (
        "$2 Branch has no output port 'maybe' (its ports: true, false): connect one of those instead."
    )
    assert edges(branching) == [(1, 2, "main")]


def test_duplicates_are_per_port(cast, branching):
    both = payload_with(
        branching,
        {"source": key(branching, 2), "target": key(branching, 3), "port": "true"},
        {"source": key(branching, 2), "target": key(branching, 3), "port": "false"},
    )
    client = cast.client_for(cast.bob)
    assert save(client, branching, both).status_code == 200
    assert edges(branching) == [(1, 2, "main"), (2, 3, "false"), (2, 3, "true")]

    twice = payload_with(
        branching, {"source": key(branching, 2), "target": key(branching, 3), "port": "true"}
    )
    response = save(client, branching, twice)
    assert response.status_code == 400
    assert response.json()["error"] == "$2's port 'true' is already connected to $3."


def test_the_outline_connects_from_a_named_port_and_lists_it(cast, branching):
    client = cast.client_for(cast.bob)
    html = client.get(reverse("scenarios:outline", args=[branching.pk]), **HX).content.decode()
    assert '<option value="2:true">$2 Branch (true)</option>' in html
    assert '<option value="2:false">$2 Branch (false)</option>' in html
    assert '<option value="3">$3 Webhook response</option>' in html  # one port: no port named

    response = outline_post(
        client, branching, "outline_connect", {"source": "2:false", "target": 3, "version": 1}
    )
    assert edges(branching) == [(1, 2, "main"), (2, 3, "false")]
    assert (
        '$2 Branch <span class="port-name">(false)</span> → $3 Webhook response' in response.content.decode()
    )

    refused = outline_post(
        client, branching, "outline_connect", {"source": "2:maybe", "target": 3, "version": 2}
    )
    assert (
        "$2 Branch has no output port &#x27;maybe&#x27; (its ports: true, false)" in refused.content.decode()
    )
    outline_post(client, branching, "outline_connect", {"source": "2:true", "target": 3, "version": 2})
    outline_post(client, branching, "outline_disconnect", {"version": 3, "port": "false"}, 2, 3)
    assert edges(branching) == [(1, 2, "main"), (2, 3, "true")]


def test_a_duplicated_scenario_keeps_the_ports(cast, branching):
    connect(branching, 2, 4, "false")
    response = cast.client_for(cast.bob).post(reverse("scenarios:duplicate", args=[branching.pk]), **HX)
    assert response.status_code == 200
    copy = Scenario.objects.get(name=f"{branching.name} (copy)")
    assert edges(copy) == [(1, 2, "main"), (2, 4, "false")]
