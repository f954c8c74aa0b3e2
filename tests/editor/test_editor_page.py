"""The editor page and its outline: the canvas's data, the catalog, and the accessible list of nodes
and connections with its own forms."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib.staticfiles import finders
from django.urls import reverse

from scenarios.models import Scenario
from tests.editor.conftest import RESPOND, TRIGGER, build

HX = {"HTTP_HX_REQUEST": "true"}


def graph_data(html: str) -> dict:
    match = re.search(r'<script id="graph-data" type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


def test_the_editor_embeds_the_graph_and_serves_its_scripts_from_the_app(cast, scenario):
    response = cast.client_for(cast.alice).get(reverse("scenarios:editor", args=[scenario.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    data = graph_data(html)
    assert data["version"] == 1 and [n["number"] for n in data["nodes"]] == [1, 2, 3]
    assert '<script src="/static/vendor/x6/x6.min.js">' in html
    assert '<script type="module" src="/static/scenery/editor.js">' in html
    for path in (
        "vendor/x6/x6.min.js",
        "vendor/dagre/dagre.min.js",
        "scenery/editor.js",
        "scenery/layout.js",
        "scenery/canvas.js",
        "scenery/live.js",
        "scenery/app.css",
    ):
        assert finders.find(path), f"{path} is not served by the app"


def test_no_asset_comes_from_another_host(cast, scenario):
    html = cast.client_for(cast.alice).get(reverse("scenarios:editor", args=[scenario.pk])).content.decode()
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources


def test_the_catalog_groups_node_types_by_app(cast, scenario):
    html = cast.client_for(cast.alice).get(reverse("scenarios:editor", args=[scenario.pk])).content.decode()
    groups = re.findall(r'<section class="catalog-group" data-app="([^"]+)">', html)
    assert groups == ["ChatGPT Assistant", "Flow", "Manual", "Webhook"]
    assert 'data-kind="openai.create_thread"' in html and 'data-kind="webhook.trigger"' in html
    assert 'data-kind="flow.switch"' in html and 'data-kind="manual.trigger"' in html
    assert html.count('class="catalog-item"') == 19


def test_a_viewer_gets_the_editor_without_editing_tools(cast, scenario):
    html = cast.client_for(cast.carol).get(reverse("scenarios:editor", args=[scenario.pk])).content.decode()
    assert 'data-can-edit="false"' in html
    assert "catalog-item" not in html and "Run scenario" not in html and 'aria-label="Undo"' not in html
    assert "view only" in html


def test_a_stranger_gets_404(cast, scenario):
    assert (
        cast.client_for(cast.mallory).get(reverse("scenarios:editor", args=[scenario.pk])).status_code == 404
    )
    assert (
        cast.client_for(cast.mallory).get(reverse("scenarios:outline", args=[scenario.pk])).status_code == 404
    )


def test_the_outline_lists_nodes_and_connections(cast, scenario):
    html = (
        cast.client_for(cast.carol)
        .get(reverse("scenarios:outline", args=[scenario.pk]), **HX)
        .content.decode()
    )
    assert "$1 Trigger on Webhook → $2 Send Message" in html
    assert "$2 Send Message → $3 Webhook response" in html
    assert 'aria-label="Open $3 Webhook response"' in html
    assert "outline-connect" not in html and "Delete" not in html  # a viewer gets no forms


def outline_post(client, scenario: Scenario, name: str, data: dict, *args) -> Any:
    response = client.post(reverse(f"scenarios:{name}", args=[scenario.pk, *args]), data, **HX)
    assert response.status_code in (200, 409)
    return response


def test_the_outline_connects_and_disconnects_through_the_same_checks(cast):
    scenario = build(cast.team, {1: (TRIGGER, {}), 2: (RESPOND, {}), 3: (RESPOND, {})}, [(1, 2)])
    client = cast.client_for(cast.bob)
    response = outline_post(client, scenario, "outline_connect", {"source": 2, "target": 3, "version": 1})
    assert response["X-Scenario-Version"] == "2"
    assert "scenery:graphChanged" in response["HX-Trigger"]
    assert sorted(scenario.edges.values_list("source__number", "target__number")) == [(1, 2), (2, 3)]

    refused = outline_post(client, scenario, "outline_connect", {"source": 3, "target": 1, "version": 2})
    assert "$1 is a trigger" in refused.content.decode()
    cycle = outline_post(client, scenario, "outline_connect", {"source": 3, "target": 2, "version": 2})
    assert "cycle" in cycle.content.decode()
    assert scenario.edges.count() == 2

    outline_post(client, scenario, "outline_disconnect", {"version": 2}, 1, 2)
    assert list(scenario.edges.values_list("source__number", "target__number")) == [(2, 3)]


def test_the_outline_adds_and_deletes_nodes(cast):
    scenario = build(cast.team, {1: (TRIGGER, {})})
    client = cast.client_for(cast.bob)
    outline_post(client, scenario, "outline_add_node", {"kind": "webhook.response", "version": 1})
    assert list(scenario.nodes.values_list("number", "kind")) == [(1, TRIGGER), (2, RESPOND)]
    outline_post(client, scenario, "outline_delete_node", {"version": 2}, 1)
    assert list(scenario.nodes.values_list("number", flat=True)) == [2]


def test_an_outline_change_on_a_stale_version_is_409(cast, scenario):
    response = outline_post(cast.client_for(cast.bob), scenario, "outline_delete_node", {"version": 0}, 3)
    assert response.status_code == 409
    assert scenario.nodes.count() == 3


def test_a_viewer_cannot_change_the_outline(cast, scenario):
    client = cast.client_for(cast.carol)
    args = [scenario.pk]
    assert (
        client.post(
            reverse("scenarios:outline_connect", args=args), {"source": 3, "target": 2, "version": 1}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("scenarios:outline_delete_node", args=[*args, 3]), {"version": 1}).status_code
        == 403
    )
    assert scenario.nodes.count() == 3
