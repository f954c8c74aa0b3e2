"""The canvas: delete and undo/redo with the keyboard, refused connections, multi-select with
copy/paste into another scenario, drag from the catalog, and the 409 of a stale tab."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from scenarios.models import Scenario
from tests.browser.editor_page import EditorPage, data_of
from tests.editor.conftest import build, demo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _with_the_last_node_deleted(cast, open_tab):
    scenario = demo(cast.team)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.click_node(3)
    tab.page.keyboard.press("Delete")
    editor.wait_saved()
    return scenario, tab, editor


def test_delete_key_undo_and_redo_are_saved(cast, open_tab):
    scenario, tab, editor = _with_the_last_node_deleted(cast, open_tab)
    assert editor.numbers() == [1, 2]
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 2]
    assert scenario.edges.count() == 1

    tab.page.keyboard.press("Control+z")
    editor.wait_saved()
    assert editor.numbers() == [1, 2, 3] and editor.edges() == [(1, 2), (2, 3)]
    restored = scenario.nodes.get(number=3)
    assert restored.params == {"status": 200, "body": "{{$2.reply}}"}
    assert sorted(scenario.edges.values_list("source__number", "target__number")) == [(1, 2), (2, 3)]

    tab.page.keyboard.press("Control+Shift+z")
    editor.wait_saved()
    assert editor.numbers() == [1, 2]
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 2]
    tab.shot("10-after-redo-delete")


def test_a_node_added_after_deleting_the_last_one_does_not_take_its_number(cast, open_tab):
    scenario, tab, editor = _with_the_last_node_deleted(cast, open_tab)
    item = tab.page.locator(".catalog-item", has_text="Webhook response")
    item.drag_to(tab.page.locator("#canvas"), target_position={"x": 500, "y": 300})
    editor.wait_saved()
    assert editor.numbers() == [1, 2, 4]  # $3's runs and {{$3...}} keep meaning the deleted node
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 2, 4]
    expect(editor.node(4)).to_contain_text("$4")


def test_the_delete_button_removes_the_selection(cast, open_tab):
    scenario = demo(cast.team)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    editor.click_node(2)
    tab.page.get_by_role("button", name="Delete selection").click()
    editor.wait_saved()
    assert editor.numbers() == [1, 3] and editor.edges() == []
    assert scenario.edges.count() == 0
    # $3 still says {{$2.reply}}: the editor says what would stop the scenario from running.
    problems = tab.page.locator("#problems-button")
    expect(problems).to_have_text("1 problem")
    problems.click()
    expect(tab.page.locator("#problems-list")).to_contain_text("$2")


def test_a_cycle_and_a_connection_into_a_trigger_are_refused_with_a_message(cast, open_tab):
    scenario = demo(cast.team)
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    version = editor.version()
    editor.connect(3, 2)
    expect(tab.page.locator("#banner")).to_contain_text("would make a cycle")
    tab.shot("11-cycle-refused")
    editor.drag(editor.port(3, "out"), editor.node(1))
    expect(tab.page.locator("#banner")).to_contain_text("$1 is a trigger")
    assert editor.edges() == [(1, 2), (2, 3)]
    tab.page.wait_for_timeout(800)
    assert editor.version() == version
    assert scenario.edges.count() == 2


def test_rubber_band_select_then_copy_and_paste_into_another_scenario(cast, open_tab):
    source = demo(cast.team)
    target = build(
        cast.team, {1: ("webhook.trigger", {}), 2: ("webhook.response", {})}, [(1, 2)], name="Other"
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, source).open()
    # Drag a rubber band from blank canvas around $2 and $3.
    two, three = editor.node(2).bounding_box(), editor.node(3).bounding_box()
    assert two and three
    tab.page.mouse.move(two["x"] - 20, two["y"] - 30)
    tab.page.mouse.down()
    tab.page.mouse.move(three["x"] + three["width"] + 20, three["y"] + three["height"] + 30, steps=10)
    tab.page.mouse.up()
    selected = tab.js(
        "() => window.scenery.selection.getSelectedCells().filter(c => c.isNode()).map(c => c.getData().number)"
    )
    assert sorted(selected) == [2, 3]
    tab.page.keyboard.press("Control+c")
    expect(tab.page.locator("#banner")).to_contain_text("Copied 2 nodes")

    other = EditorPage(tab, target).open()
    tab.page.locator("#canvas").click(position={"x": 20, "y": 20})
    tab.page.keyboard.press("Control+v")
    expect(tab.page.locator("#banner")).to_contain_text("Pasted 2 nodes as $3, $4")
    other.wait_saved()
    assert other.numbers() == [1, 2, 3, 4]
    assert other.edges() == [(1, 2), (3, 4)]
    pasted = {n.number: n for n in target.nodes.all()}
    assert pasted[3].kind == "openai.send_message" and pasted[4].kind == "webhook.response"
    # The expression that named the copied $2 now names its copy, $3; one naming $1 stays as it was.
    assert pasted[4].params["body"] == "{{$3.reply}}"
    assert pasted[3].params["message"] == "{{$1.body.question}}"
    assert sorted(target.edges.values_list("source__number", "target__number")) == [(1, 2), (3, 4)]
    tab.shot("12-pasted-into-other-scenario")
    # Undo takes the paste back as one step.
    tab.page.keyboard.press("Control+z")
    other.wait_saved()
    assert sorted(target.nodes.values_list("number", flat=True)) == [1, 2]


def test_dragging_a_catalog_item_onto_the_canvas_adds_it_there(cast, open_tab):
    scenario = Scenario.objects.create(team=cast.team, name="Empty")
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    item = tab.page.locator(".catalog-item", has_text="Create Thread")
    item.drag_to(tab.page.locator("#canvas"), target_position={"x": 300, "y": 200})
    editor.wait_saved()
    node = scenario.nodes.get()
    assert node.number == 1 and node.kind == "openai.create_thread"
    box = editor.node(1).bounding_box()
    canvas = tab.page.locator("#canvas").bounding_box()
    assert box and canvas
    # Dropped where the pointer was (the node is centred on it).
    assert abs(box["x"] + box["width"] / 2 - (canvas["x"] + 300)) < 40
    assert abs(box["y"] + box["height"] / 2 - (canvas["y"] + 200)) < 40


def test_catalog_search_filters_by_app_and_title(cast, open_tab):
    scenario = Scenario.objects.create(team=cast.team, name="Empty")
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    tab.page.get_by_label("Search nodes").fill("delete thread")
    assert tab.page.locator(".catalog-item:visible .catalog-title").all_inner_texts() == ["Delete Thread"]
    expect(tab.page.locator('.catalog-group[data-app="Webhook"]')).to_be_hidden()
    tab.page.get_by_label("Search nodes").fill("webhook")
    assert sorted(tab.page.locator(".catalog-item:visible .catalog-title").all_inner_texts()) == [
        "Trigger on Webhook",
        "Webhook response",
    ]
    tab.page.get_by_label("Search nodes").fill("zzzz")
    expect(tab.page.locator(".catalog-none")).to_be_visible()


def test_a_second_tab_gets_409_and_is_told_instead_of_overwriting(cast, open_tab):
    scenario = demo(cast.team)
    first = open_tab(cast.bob)
    second = open_tab(cast.bob, context=first.context)
    second.allow_errors(r"409")
    a, b = EditorPage(first, scenario).open(), EditorPage(second, scenario).open()

    box = a.node(1).bounding_box()
    assert box
    first.page.mouse.move(box["x"] + 30, box["y"] + 30)
    first.page.mouse.down()
    first.page.mouse.move(box["x"] + 30, box["y"] + 160, steps=8)
    first.page.mouse.up()
    a.wait_saved()
    moved_to = scenario.nodes.get(number=1).position_y

    box = b.node(3).bounding_box()
    assert box
    second.page.mouse.move(box["x"] + 30, box["y"] + 30)
    second.page.mouse.down()
    second.page.mouse.move(box["x"] + 30, box["y"] - 120, steps=8)
    second.page.mouse.up()
    banner = second.page.locator("#banner")
    expect(banner).to_contain_text("changed elsewhere")
    expect(banner.get_by_role("button", name="Reload")).to_be_visible()
    expect(second.page.locator("#save-state")).to_contain_text("Not saved")
    second.shot("13-second-tab-409")
    assert scenario.nodes.get(number=1).position_y == moved_to
    assert scenario.nodes.get(number=3).position_y == 100.0

    banner.get_by_role("button", name="Reload").click()
    second.page.wait_for_function(f"window.scenery && window.scenery.autosave.version === {a.version()}")
    assert data_of(second.page, 1)["number"] == 1


def test_the_canvas_goes_from_node_to_node_moves_and_opens_details_from_the_keyboard(cast, open_tab):
    scenario = demo(cast.team)
    tab = open_tab(cast.bob)
    EditorPage(tab, scenario).open()
    tab.page.locator("#canvas").focus()
    announce = tab.page.locator("#canvas-announce")
    tab.page.keyboard.press("ArrowRight")  # nothing chosen yet: the first node
    expect(announce).to_contain_text("$1 Trigger on Webhook")
    tab.page.keyboard.press("ArrowRight")
    expect(announce).to_have_text(re.compile(r"^\$2 Send Message, .*after \$1, before \$3\.$"))
    expect(tab.page.locator('#inspector[data-node-number="2"]')).to_be_visible()
    tab.page.keyboard.press("ArrowLeft")
    expect(announce).to_contain_text("$1 Trigger on Webhook")
    tab.page.keyboard.press("ArrowLeft")
    expect(announce).to_have_text("Nothing further left of $1.")

    tab.page.keyboard.press("ArrowRight")
    expect(tab.page.locator('#inspector[data-node-number="2"]')).to_be_visible()
    before = scenario.nodes.get(number=2).position_y
    tab.page.keyboard.press("Shift+ArrowDown")
    tab.page.wait_for_function("window.scenery.autosave.version > 1")
    assert scenario.nodes.get(number=2).position_y == before + 16
    tab.page.keyboard.press("Enter")
    expect(tab.page.get_by_label("Node title")).to_be_focused()
    tab.shot("15-keyboard-canvas")


def test_the_outline_is_a_keyboard_way_to_open_connect_and_delete(cast, open_tab):
    scenario = build(
        cast.team,
        {1: ("webhook.trigger", {}), 2: ("webhook.response", {}), 3: ("webhook.response", {})},
        [(1, 2)],
    )
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()
    tab.page.get_by_role("tab", name="Outline").click()
    outline = tab.page.locator("#outline")
    expect(outline).to_contain_text("$1 Trigger on Webhook → $2 Webhook response")
    outline.get_by_label("From", exact=True).select_option("2")
    outline.get_by_label("To", exact=True).select_option("3")
    outline.get_by_role("button", name="Connect", exact=True).click()
    expect(outline).to_contain_text("$2 Webhook response → $3 Webhook response")
    tab.page.wait_for_function("window.scenery.edgesByNumber().length === 2")
    assert editor.edges() == [(1, 2), (2, 3)]
    outline.get_by_label("From", exact=True).select_option("3")
    outline.get_by_label("To", exact=True).select_option("1")
    outline.get_by_role("button", name="Connect", exact=True).click()
    expect(outline.locator(".field-error")).to_contain_text("$1 is a trigger")
    outline.get_by_role("button", name="Open $3 Webhook response").click()
    expect(tab.page.locator('#inspector[data-node-number="3"]')).to_be_visible()
    outline.get_by_role("button", name="Delete $3", exact=True).click()
    expect(outline).not_to_contain_text("$3 Webhook response")
    tab.page.wait_for_function("window.scenery.graph.getNodes().length === 2")
    assert sorted(scenario.nodes.values_list("number", flat=True)) == [1, 2]
    tab.shot("14-outline")
    # The canvas keeps working after the outline changed it (its version followed).
    editor.click_node(2)
    tab.page.keyboard.press("Delete")
    editor.wait_saved()
    assert list(scenario.nodes.values_list("number", flat=True)) == [1]


def test_an_edge_is_deleted_by_selecting_it_or_by_its_remove_button(cast, open_tab):
    scenario = demo(cast.team)
    for node in scenario.nodes.all():
        node.position_x = node.number * 460.0
        node.save()
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, scenario).open()

    def edge_point(source: int, target: int, ratio: float) -> tuple[float, float]:
        """A point on the connection from $source's output to $target's input (both at mid-height)."""
        point = tab.js(
            """([s, t, ratio]) => {
                const scenery = window.scenery;
                const from = scenery.cellByNumber(s).getBBox().getRightMiddle();
                const to = scenery.cellByNumber(t).getBBox().getLeftMiddle();
                const p = { x: from.x + (to.x - from.x) * ratio, y: from.y + (to.y - from.y) * ratio };
                const client = scenery.graph.localToClient(p);
                return [client.x, client.y];
            }""",
            [source, target, ratio],
        )
        return point[0], point[1]

    # Clicked away from its middle (where the remove button appears), the edge is selected.
    editor.show_both(2, 3)
    x, y = edge_point(2, 3, 0.2)
    # X6 renders what is in view a moment later: wait until the connection is under the pointer.
    tab.page.wait_for_function(
        "([x, y]) => document.elementFromPoint(x, y)?.closest('#canvas .x6-edge')", arg=[x, y]
    )
    tab.page.mouse.move(x, y)
    tab.page.mouse.click(x, y)
    tab.page.wait_for_function("window.scenery.selection.getSelectedCells().some((c) => c.isEdge())")
    tab.page.keyboard.press("Delete")
    tab.page.wait_for_function("window.scenery.graph.getEdges().length === 1")
    editor.wait_saved()
    assert editor.edges() == [(1, 2)]
    assert list(scenario.edges.values_list("source__number", "target__number")) == [(1, 2)]

    editor.show_both(1, 2)
    x, y = edge_point(1, 2, 0.5)
    tab.page.mouse.move(x, y)
    remove = tab.page.locator("#canvas .x6-edge-tool-remove, #canvas [data-tool-name='button-remove']").first
    expect(remove).to_be_visible()
    remove.click()
    editor.wait_saved()
    assert editor.edges() == []
    assert scenario.edges.count() == 0
