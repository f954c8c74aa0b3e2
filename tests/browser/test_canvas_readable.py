"""A readable canvas (issue 17, item 8): Fit stops at readable text, Tidy up lays nodes out left to
right with dagre, a backward edge goes around nodes, the minimap hides while empty, and a new node
comes into view beside its neighbours."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from scenarios.models import Edge, Node, Scenario
from tests.browser.editor_page import EditorPage
from tests.editor.conftest import build

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READABLE = 0.6


def in_view(tab, number: int) -> bool:
    return bool(
        tab.js(
            """(n) => { const g = window.scenery.graph; const c = window.scenery.cellByNumber(n);
                return g.getGraphArea().containsRect(c.getBBox()); }""",
            number,
        )
    )


def test_fit_never_zooms_below_readable_text(cast, open_tab):
    scenario = build(cast.team, {n: ("webhook.response", {}) for n in range(1, 13)})
    Node.objects.filter(scenario=scenario).update(position_y=100)
    for node in Node.objects.filter(scenario=scenario):
        node.position_x = node.number * 700
        node.save(update_fields=["position_x"])
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    tab.page.get_by_role("button", name="Fit to screen").click()
    assert tab.js("() => window.scenery.graph.zoom()") >= READABLE


def test_tidy_up_lays_the_nodes_out_left_to_right_and_saves_it(cast, stub_credential, open_tab):
    scenario = build(
        cast.team,
        {
            1: ("webhook.trigger", {}),
            2: ("openai.send_message", {"message": "Hi"}, stub_credential),
            3: ("webhook.response", {}),
        },
        [(1, 2), (2, 3)],
    )
    # Piled up in reverse order.
    for node, x in zip(
        Node.objects.filter(scenario=scenario).order_by("number"), (500, 260, 20), strict=True
    ):
        node.position_x, node.position_y = x, 100 + node.number * 10
        node.save(update_fields=["position_x", "position_y"])
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    tab.page.get_by_role("button", name="Tidy up").click()
    editor.wait_saved()
    tab.shot("newcomer-tidy-up")
    xs = {n.number: n.position_x for n in Node.objects.filter(scenario=scenario)}
    assert xs[1] < xs[2] < xs[3]
    widths = tab.js("() => window.scenery.graph.getNodes().map(c => c.getSize().width)")
    assert xs[2] - xs[1] > max(widths) and xs[3] - xs[2] > max(widths), "nodes overlap or touch"


def test_an_edge_running_backwards_is_routed_around_the_nodes(cast, open_tab):
    scenario = build(cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {})})
    Node.objects.filter(scenario=scenario, number=1).update(position_x=600)
    Node.objects.filter(scenario=scenario, number=2).update(position_x=0)
    Edge.objects.create(
        scenario=scenario,
        source=Node.objects.get(scenario=scenario, number=1),
        target=Node.objects.get(scenario=scenario, number=2),
    )
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    router = tab.js("() => window.scenery.graph.getEdges()[0].getRouter()")
    assert router and router["name"] == "manhattan"
    tab.shot("newcomer-backward-edge")


def test_the_minimap_hides_while_the_canvas_is_empty_and_a_new_node_comes_into_view(cast, open_tab):
    scenario = Scenario.objects.create(team=cast.team, name="Empty", created_by=cast.alice)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    minimap = tab.page.locator("#minimap")
    expect(minimap).to_be_hidden()
    numbers = [editor.add_from_catalog("Webhook response") for _ in range(6)]
    expect(minimap).to_be_visible()
    assert tab.js("() => window.scenery.graph.zoom()") >= READABLE
    # The newest node and the one before it are both in view.
    assert in_view(tab, numbers[-1]) and in_view(tab, numbers[-2])
