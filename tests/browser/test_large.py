"""A 200-node scenario opens quickly and stays responsive (X6 renders only what is in view)."""

from __future__ import annotations

import time

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


def test_a_200_node_scenario_opens_and_stays_responsive(cast, open_tab):
    scenario = big_scenario(cast.team)
    edges = scenario.edges.count()
    tab = open_tab(cast.bob)
    started = time.monotonic()
    editor = EditorPage(tab, scenario).open()
    tab.page.wait_for_function("window.scenery.graph.getNodes().length === 200")
    opened = time.monotonic() - started
    assert opened < 8, f"opening took {opened:.1f} s"
    tab.shot("40-two-hundred-nodes")

    # Zoomed in on one corner, only the nodes in view are in the DOM.
    tab.js("() => { const g = window.scenery.graph; g.zoomTo(1); g.positionPoint({x: 0, y: 0}, 40, 40); }")
    tab.page.wait_for_timeout(300)
    rendered = tab.js("() => document.querySelectorAll('#canvas g.x6-node').length")
    assert rendered < 60, f"{rendered} nodes rendered while zoomed in"

    # Panning, zooming to fit and dragging a node each answer within a frame budget.
    elapsed = tab.js(
        """async () => {
            const g = window.scenery.graph;
            const t0 = performance.now();
            g.translateBy(-400, -200);
            g.zoomToFit({ padding: 40, maxScale: 1 });
            await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
            return performance.now() - t0;
        }"""
    )
    assert elapsed < 1500, f"pan and fit took {elapsed:.0f} ms"

    tab.js("() => { const g = window.scenery.graph; g.zoomTo(1); g.positionPoint({x: 0, y: 0}, 60, 60); }")
    tab.page.wait_for_timeout(200)
    box = editor.node(1).bounding_box()
    assert box
    tab.page.mouse.move(box["x"] + 30, box["y"] + 30)
    tab.page.mouse.down()
    tab.page.mouse.move(box["x"] + 30, box["y"] + 90, steps=6)
    tab.page.mouse.up()
    started = time.monotonic()
    editor.wait_saved()
    assert time.monotonic() - started < 5
    assert scenario.nodes.get(number=1).position_y > 20
    assert scenario.edges.count() == edges
