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

# A node title smaller than this on screen is hard to read (issue 17: "Fit zooms to 0.55 where node
# text is unreadable").
READABLE_PX = 12


def in_view(tab, number: int) -> bool:
    return bool(
        tab.js(
            """(n) => { const g = window.scenery.graph; const c = window.scenery.cellByNumber(n);
                return g.getGraphArea().containsRect(c.getBBox()); }""",
            number,
        )
    )


def title_px(tab, number: int) -> float:
    """The font size of node `number`'s title as drawn on screen, in CSS pixels (X6 draws the nodes
    in view a moment after the view moves)."""
    title = EditorPage(tab, None).node(number).locator("text[font-size]").first  # type: ignore[arg-type]
    expect(title).to_be_attached()
    return float(title.evaluate("(t) => parseFloat(t.getAttribute('font-size')) * t.getScreenCTM().a"))


def in_a_row(scenario: Scenario, gap: float) -> None:
    for node in Node.objects.filter(scenario=scenario):
        node.position_x, node.position_y = node.number * gap, 100
        node.save(update_fields=["position_x", "position_y"])


def positions(scenario: Scenario) -> dict[int, tuple[float, float]]:
    return {n.number: (n.position_x, n.position_y) for n in Node.objects.filter(scenario=scenario)}


def test_fit_shows_a_scenario_that_fits_whole_with_readable_titles(cast, open_tab):
    scenario = build(cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {})}, [(1, 2)])
    in_a_row(scenario, 320)
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    tab.js("() => window.scenery.graph.zoomTo(0.3)")
    tab.page.get_by_role("button", name="Fit to screen").click()
    assert in_view(tab, 1) and in_view(tab, 2)
    assert title_px(tab, 1) >= READABLE_PX


def test_fit_of_a_scenario_too_wide_to_read_whole_keeps_titles_readable_and_starts_at_the_trigger(
    cast, open_tab
):
    # A webhook response first, so the start is found by kind, not by number.
    nodes: dict[int, tuple[str, dict[str, object]]] = {
        n: ("webhook.trigger" if n == 5 else "webhook.response", {}) for n in range(1, 13)
    }
    scenario = build(cast.team, nodes, [(5, n) for n in range(1, 13) if n != 5])
    in_a_row(scenario, 360)
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    tab.js("() => window.scenery.graph.zoomTo(1.5)")
    tab.page.get_by_role("button", name="Fit to screen").click()
    assert title_px(tab, 5) >= READABLE_PX
    tab.shot("canvas-fit-too-wide")
    assert tab.js("() => window.scenery.graph.zoom()") <= 1
    assert in_view(tab, 5), "the trigger is out of view"
    # The trigger sits at the left, so what follows it is in view too.
    assert in_view(tab, 6)


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


def test_tidy_up_is_undone_in_one_step_and_the_undo_is_saved(cast, open_tab):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {}), 3: ("webhook.response", {})},
        [(1, 2), (2, 3)],
    )
    piled = {1: (500.0, 110.0), 2: (260.0, 120.0), 3: (20.0, 130.0)}
    for node in Node.objects.filter(scenario=scenario):
        node.position_x, node.position_y = piled[node.number]
        node.save(update_fields=["position_x", "position_y"])
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    undo = tab.page.get_by_role("button", name="Undo", exact=True)
    expect(undo).to_be_disabled()
    tab.page.get_by_role("button", name="Tidy up").click()
    editor.wait_saved()
    version = editor.version()
    assert positions(scenario) != piled

    undo.click()
    tab.page.wait_for_function("(v) => window.scenery.autosave.version > v", arg=version)
    editor.wait_saved()
    assert positions(scenario) == piled
    expect(undo).to_be_disabled()


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


def test_the_minimap_hides_while_the_canvas_is_empty(cast, open_tab):
    scenario = Scenario.objects.create(team=cast.team, name="Empty", created_by=cast.alice)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    minimap = tab.page.locator("#minimap")
    expect(minimap).to_be_hidden()
    editor.add_from_catalog("Webhook response")
    expect(minimap).to_be_visible()


def test_a_new_node_comes_into_view_beside_the_one_before_with_readable_titles(cast, open_tab):
    scenario = Scenario.objects.create(team=cast.team, name="Empty", created_by=cast.alice)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    numbers = [editor.add_from_catalog("Webhook response") for _ in range(6)]
    assert title_px(tab, numbers[-1]) >= READABLE_PX
    # The newest node and the one before it are both in view.
    assert in_view(tab, numbers[-1]) and in_view(tab, numbers[-2])
    tab.shot("canvas-new-node-in-view")
