"""A 200-node scenario opens whole, X6 renders only what is in view, and panning, fitting and dragging
work at that size. (How fast is a benchmark's question, not a test's: nothing here races a clock.)"""

from __future__ import annotations

import pytest

from scenarios.models import Edge, Node, Scenario
from tests.browser.editor_page import EditorPage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def big_scenario(team) -> Scenario:
    scenario = Scenario.objects.create(team=team, name="Two hundred")
    nodes = [
        Node(
            scenario=scenario,
            number=n,
            kind="webhook.trigger" if n == 1 else "webhook.response",
            params={} if n == 1 else {"status": 200, "body": f"node {n}"},
            position_x=((n - 1) % 20) * 340.0,
            position_y=((n - 1) // 20) * 140.0,
        )
        for n in range(1, 201)
    ]
    Node.objects.bulk_create(nodes)
    made = {n.number: n for n in scenario.nodes.all()}
    Edge.objects.bulk_create(
        [
            Edge(scenario=scenario, source=made[1], target=made[n])
            for n in range(2, 201)
            if n == 2 or (n - 1) % 20 == 0
        ]
        + [Edge(scenario=scenario, source=made[n], target=made[n + 1]) for n in range(2, 200) if n % 20 != 0]
    )
    return scenario


RENDERED = "document.querySelectorAll('#canvas g.x6-node').length"
TWO_FRAMES = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"


def test_a_200_node_scenario_opens_whole_draws_what_is_in_view_and_can_be_edited(cast, open_tab):
    scenario = big_scenario(cast.team)
    edges = scenario.edges.count()
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    tab.page.wait_for_function("window.scenery.graph.getNodes().length === 200")
    tab.shot("40-two-hundred-nodes")

    # Zoomed in on one corner, only the nodes in view are in the DOM.
    tab.js("() => { const g = window.scenery.graph; g.zoomTo(1); g.positionPoint({x: 0, y: 0}, 40, 40); }")
    tab.page.wait_for_function(f"{RENDERED} > 0 && {RENDERED} < 60")

    # Panned and zoomed out to fit (as far as the zoom goes), the nodes now in view are drawn.
    tab.js(
        "() => { const g = window.scenery.graph; g.translateBy(-400, -200); g.zoomToFit({ padding: 40 }); }"
    )
    tab.page.wait_for_function(f"{RENDERED} > 60")

    tab.js("() => { const g = window.scenery.graph; g.zoomTo(1); g.positionPoint({x: 0, y: 0}, 60, 60); }")
    tab.js(TWO_FRAMES)  # the view has been drawn where it now is
    box = editor.node(1).bounding_box()
    assert box
    tab.page.mouse.move(box["x"] + 30, box["y"] + 30)
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + 30, box["y"] + 90, steps=6)
    tab.page.mouse.up()
    editor.wait_saved()
    assert scenario.nodes.get(number=1).position_y > 20
    assert scenario.edges.count() == edges
