"""Ports on the canvas: labelled output ports, an edge drawn from a named port that survives a
reload, arrowheads, and a live run that greys the route not taken (and history that says why)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from scenarios.models import Scenario
from tests.browser.editor_page import EditorPage
from tests.editor.conftest import RESPOND, TRIGGER, build
from tests.ports import BRANCH, branch_type

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def branching(cast) -> Iterator[Scenario]:
    """$1 webhook → $2 Branch (takes "false"); $3 and $4 answer "yes" and "no", $4 not yet connected."""
    with branch_type():
        scenario = build(
            cast.team,
            {
                1: (TRIGGER, {}),
                2: (BRANCH, {"when": False}),
                3: (RESPOND, {"status": 200, "body": "yes"}),
                4: (RESPOND, {"status": 200, "body": "no"}),
            },
            [(1, 2)],
        )
        # The two answers one above the other, right of the branch.
        scenario.nodes.filter(number=3).update(position_x=960, position_y=0)
        scenario.nodes.filter(number=4).update(position_x=960, position_y=200)
        yield scenario


def shot(tab: Any, name: str) -> None:
    """For people to look at (the test asserts nothing about it)."""
    tab.page.wait_for_timeout(400)  # let the canvas draw what a fit brought into view
    tab.shot(name)


def edge_attr(tab: Any, source: int, target: int, path: str) -> Any:
    return tab.js(
        """([s, t, path]) => {
            const edge = window.scenery.graph.getEdges().find((e) =>
                e.getSourceCell().getData().number === s && e.getTargetCell().getData().number === t);
            return edge ? edge.attr(path) : undefined;
        }""",
        [source, target, path],
    )


def test_an_edge_drawn_from_a_named_port_is_saved_and_drawn_from_it_after_a_reload(cast, branching, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, branching).open()
    assert editor.port(2, "out:true").count() == 1 and editor.port(2, "out:false").count() == 1
    expect(editor.node(2).locator(".x6-port-label", has_text="false")).to_be_visible()
    expect(editor.node(3).locator(".x6-port-label:visible")).to_have_count(0)  # one port: no label

    editor.drag(editor.port(2, "out:true"), editor.port(3, "in"))
    editor.drag(editor.port(2, "out:false"), editor.port(4, "in"))
    editor.wait_saved()
    assert sorted(branching.edges.values_list("source__number", "target__number", "source_port")) == [
        (1, 2, "main"),
        (2, 3, "true"),
        (2, 4, "false"),
    ]

    # The same port twice is refused; the other port to the same node is a connection of its own.
    editor.drag(editor.port(2, "out:true"), editor.port(3, "in"))
    expect(tab.page.locator("#banner")).to_contain_text("$2's port 'true' is already connected to $3.")

    tab.page.reload()
    tab.page.wait_for_function("window.scenery && window.scenery.ready")
    assert sorted(editor.edges(), key=str) == sorted([(1, 2), (2, 3, "true"), (2, 4, "false")], key=str)
    assert edge_attr(tab, 2, 4, "line/targetMarker/name") == "block"  # an arrowhead on every edge
    # From the keyboard, a node says which port each of its connections leaves from.
    tab.page.locator("#canvas").focus()
    tab.page.keyboard.press("ArrowRight")
    tab.page.keyboard.press("ArrowRight")
    expect(tab.page.locator("#canvas-announce")).to_have_text(
        re.compile(r"^\$2 Branch, .*after \$1, before \$3 \(true\), \$4 \(false\)\.$")
    )
    shot(tab, "canvas-ports-desktop")


def test_undo_and_copy_paste_keep_the_port(cast, branching, open_tab):
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, branching).open()
    editor.drag(editor.port(2, "out:false"), editor.port(4, "in"))
    editor.wait_saved()
    tab.js(
        "() => window.scenery.selection.reset(window.scenery.graph.getNodes().filter(c => [2, 4].includes(c.getData().number)))"
    )
    tab.page.keyboard.press("Control+c")
    tab.page.keyboard.press("Control+v")
    editor.wait_saved()
    assert (5, 6, "false") in editor.edges()
    assert (5, 6, "false") in branching.edges.values_list("source__number", "target__number", "source_port")

    tab.page.keyboard.press("Control+z")  # the paste
    editor.wait_saved()
    tab.page.keyboard.press("Control+z")  # the connection
    editor.wait_saved()
    assert not branching.edges.filter(source_port="false").exists()
    tab.page.keyboard.press("Control+Shift+z")
    editor.wait_saved()
    assert list(branching.edges.filter(source_port="false").values_list("target__number", flat=True)) == [4]


def test_a_live_run_greys_the_route_not_taken_and_history_says_why(cast, branching, open_tab, asgi_server):
    two, three, four = (branching.nodes.get(number=n) for n in (2, 3, 4))
    branching.edges.create(source=two, target=three, source_port="true")
    branching.edges.create(source=two, target=four, source_port="false")
    tab = open_tab(cast.bob)
    editor = EditorPage(tab, branching).open()
    tab.page.get_by_role("tab", name="Outline").click()
    expect(tab.page.locator("#outline")).to_contain_text("$2 Branch (false) → $4 Webhook response")

    answer = httpx.post(f"{asgi_server.url}/hooks/{branching.webhook_token}", json={}, timeout=60)
    assert answer.text == "no"
    editor.wait_status(4, "succeeded")
    editor.wait_status(3, "skipped")
    tab.page.wait_for_function(
        """() => window.scenery.graph.getEdges().some((e) => e.getData() && e.getData().notTaken)"""
    )
    assert edge_attr(tab, 2, 3, "line/strokeDasharray") == "5 4"  # the route not taken
    assert not edge_attr(tab, 2, 4, "line/strokeDasharray")
    expect(editor.live_row(3)).to_contain_text("Skipped: route 'true' of $2 Branch was not taken.")
    expect(editor.live_row(2)).to_contain_text("→ false")
    shot(tab, "live-route-not-taken-desktop")
    tab.js(
        "() => { const g = window.scenery.graph; g.zoomTo(1.6); g.centerCell(window.scenery.cellByNumber(2)); }"
    )
    shot(tab, "live-route-not-taken-zoomed")

    tab.page.get_by_role("button", name="Runs", exact=True).click()
    tab.page.locator("#runs-body .execution-row").first.click()
    detail = tab.page.locator("#run-detail")
    expect(detail.locator('.node-run[data-number="3"] .skip-reason')).to_have_text(
        "Skipped: route 'true' of $2 Branch was not taken."
    )
    expect(detail.locator('.node-run[data-number="2"] .route-pill')).to_have_text("→ false")
    shot(tab, "history-skipped-desktop")

    phone = open_tab(cast.bob, width=390, height=844)
    EditorPage(phone, branching).open()
    shot(phone, "canvas-ports-phone")
    phone.goto(f"/scenarios/{branching.pk}/runs/")
    phone.page.locator(".execution-row").first.click()
    phone.page.locator('.node-run[data-number="3"] summary').click()
    expect(phone.page.locator('.node-run[data-number="3"] .skip-reason')).to_be_visible()
    phone.shot("history-skipped-phone")
